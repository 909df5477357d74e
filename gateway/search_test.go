package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// searchWorld is a circle owned by alice with bob as a plain member, a
// channel hidden from members, one they see but may not read, a voice
// stream, a DM between alice and bob, and carol, who belongs to none.
type searchWorld struct {
	s                             *oshitest.Server
	alice, bob, carol             *client.Client
	circle                        string
	general, hidden, noRead, dmID string
	voice                         string
}

func newSearchWorld(t *testing.T, ctx context.Context) *searchWorld {
	t.Helper()
	s := oshitest.NewServer(t, server.Config{})
	w := &searchWorld{s: s}
	_, w.alice = s.User("alice")
	_, w.bob = s.User("bob")
	_, w.carol = s.User("carol")
	circle, err := w.alice.CreateCircle(ctx, "Town", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	w.circle, w.general = circle.ID, circle.Streams[0].ID
	if _, err := w.bob.JoinCircle(ctx, w.circle); err != nil {
		t.Fatal(err)
	}
	newStream := func(name string, kind models.StreamKind) string {
		st, err := w.alice.CreateStreamWith(ctx, w.circle, name, client.StreamOptions{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return st.ID
	}
	w.hidden, w.noRead, w.voice = newStream("staff", ""), newStream("announcements", ""), newStream("lounge", models.Voice)
	// The default role's id is the circle's.
	if _, err := w.alice.SetStreamPermissions(ctx, w.hidden, w.circle, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.SetStreamPermissions(ctx, w.noRead, w.circle, 0, models.ReadHistory); err != nil {
		t.Fatal(err)
	}
	dm, err := w.alice.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	w.dmID = dm.ID
	return w
}

func send(t *testing.T, ctx context.Context, c *client.Client, stream, content string) *models.Message {
	t.Helper()
	m, err := c.Send(ctx, stream, content, "")
	if err != nil {
		t.Fatalf("send %q: %v", content, err)
	}
	return m
}

func contents(msgs []*models.Message) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.Content)
	}
	return out
}

func TestSearchRefusals(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	long := strings.Repeat("x", 201)
	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"circle you are not in", w.carol, map[string]any{"circle": w.circle, "query": "hello"}, "forbidden"},
		{"stream of a circle you are not in", w.carol, map[string]any{"stream": w.general, "query": "hello"}, "forbidden"},
		{"DM of others", w.carol, map[string]any{"stream": w.dmID, "query": "hello"}, "forbidden"},
		{"stream hidden by an overwrite", w.bob, map[string]any{"stream": w.hidden, "query": "hello"}, "forbidden"},
		{"stream without read_history", w.bob, map[string]any{"stream": w.noRead, "query": "hello"}, "forbidden"},
		{"voice stream", w.alice, map[string]any{"stream": w.voice, "query": "hello"}, "not_text"},
		{"unknown stream", w.bob, map[string]any{"stream": uuid.NewString(), "query": "hello"}, "not_found"},
		{"unknown circle", w.bob, map[string]any{"circle": uuid.NewString(), "query": "hello"}, "not_found"},
		{"empty query", w.bob, map[string]any{"circle": w.circle, "query": ""}, "invalid_query"},
		{"no query", w.bob, map[string]any{"circle": w.circle}, "invalid_query"},
		{"blank query", w.bob, map[string]any{"circle": w.circle, "query": " \t "}, "invalid_query"},
		{"query too long", w.bob, map[string]any{"circle": w.circle, "query": long}, "invalid_query"},
		{"too many words", w.bob, map[string]any{"circle": w.circle, "query": "a b c d e f g h i j k"}, "invalid_query"},
		{"control character", w.bob, map[string]any{"circle": w.circle, "query": "a\u0000"}, "invalid_query"},
		{"bad query before membership", w.carol, map[string]any{"circle": w.circle, "query": ""}, "invalid_query"},
		{"cursor not an id", w.bob, map[string]any{"circle": w.circle, "query": "hello", "cursor": "page-2"}, "invalid_cursor"},
		{"cursor in upper case", w.bob, map[string]any{"circle": w.circle, "query": "hello", "cursor": strings.ToUpper(uuid.NewString())}, "invalid_cursor"},
		{"negative limit", w.bob, map[string]any{"circle": w.circle, "query": "hello", "limit": -1}, "bad_request"},
		{"both circle and stream", w.bob, map[string]any{"circle": w.circle, "stream": w.general, "query": "hello"}, "bad_request"},
		{"neither circle nor stream", w.bob, map[string]any{"query": "hello"}, "bad_request"},
		{"query not a string", w.bob, map[string]any{"circle": w.circle, "query": 5}, "bad_request"},
		{"unknown sort", w.bob, map[string]any{"circle": w.circle, "query": "hello", "sort": "oldest"}, "bad_request"},
		{"relevance with a newest cursor", w.bob, map[string]any{"circle": w.circle, "query": "hello", "sort": "relevance", "cursor": uuid.NewString()}, "invalid_cursor"},
		{"newest with a relevance cursor", w.bob, map[string]any{"circle": w.circle, "query": "hello", "cursor": "r5." + uuid.NewString()}, "invalid_cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.frame["cmd"] = "messages_search"
			raw, err := tc.c.Request(ctx, tc.frame)
			if err == nil {
				t.Fatalf("reply %s, want %s", raw, tc.code)
			}
			wantCode(t, err, tc.code)
		})
	}
}

// TestSearchScope: a circle search covers exactly the channels the
// searcher may read; DMs are searched by their participants.
func TestSearchScope(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	send(t, ctx, w.alice, w.general, "needle in general")
	send(t, ctx, w.alice, w.hidden, "needle in staff")
	send(t, ctx, w.alice, w.noRead, "needle in announcements")
	send(t, ctx, w.bob, w.dmID, "needle in the DM")
	for _, tc := range []struct {
		name string
		c    *client.Client
		q    client.SearchQuery
		want []string
	}{
		{"member, circle: readable channels only", w.bob, client.SearchQuery{Circle: w.circle}, []string{"needle in general"}},
		{"owner, circle: every channel", w.alice, client.SearchQuery{Circle: w.circle}, []string{"needle in announcements", "needle in staff", "needle in general"}},
		{"member, one stream", w.bob, client.SearchQuery{Stream: w.general}, []string{"needle in general"}},
		{"participant, DM", w.alice, client.SearchQuery{Stream: w.dmID}, []string{"needle in the DM"}},
		{"other participant, DM", w.bob, client.SearchQuery{Stream: w.dmID}, []string{"needle in the DM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Query = "needle"
			got, next, err := tc.c.Search(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(contents(got), tc.want) || next != "" {
				t.Fatalf("results %q, next %q; want %q and no next", contents(got), next, tc.want)
			}
		})
	}
	// Hiding general from members leaves bob's circle search empty, not
	// refused.
	if _, err := w.alice.SetStreamPermissions(ctx, w.general, w.circle, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	raw, err := w.bob.Request(ctx, map[string]any{"cmd": "messages_search", "circle": w.circle, "query": "needle"})
	if err != nil || !strings.HasSuffix(string(raw), `,"results":[]}`) {
		t.Fatalf("bob's search with nothing readable = %s, %v", raw, err)
	}
}

func TestSearchMatching(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	for _, content := range []string{
		"Deploy finished at 10:00",
		"the build is green",
		"price is $5 (approx.)",
		"abc",
		"a.b.c",
		"Straße ÜNÏCODE",
		"deploy FAILED on prod",
	} {
		send(t, ctx, w.alice, w.general, content)
	}
	gone := send(t, ctx, w.alice, w.general, "deploy secret token")
	if _, err := w.alice.Delete(ctx, w.general, gone.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"deploy", []string{"deploy FAILED on prod", "Deploy finished at 10:00"}},
		{"DEPLOY", []string{"deploy FAILED on prod", "Deploy finished at 10:00"}},
		{"deploy failed", []string{"deploy FAILED on prod"}},
		{"failed   deploy", []string{"deploy FAILED on prod"}},
		{"deploy green", []string{}},
		{"fini", []string{"Deploy finished at 10:00"}},
		{"$5 (approx.)", []string{"price is $5 (approx.)"}},
		{"a.b", []string{"a.b.c"}},
		{".*", []string{}},
		{"a|b", []string{}},
		{"[a-z]", []string{}},
		{"ünïcode straße", []string{"Straße ÜNÏCODE"}},
		{"secret", []string{}},
		{"token deploy", []string{}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got, _, err := w.bob.Search(ctx, client.SearchQuery{Stream: w.general, Query: tc.query})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(contents(got), tc.want) {
				t.Fatalf("results %q, want %q", contents(got), tc.want)
			}
		})
	}
	// Results are messages as history shows them, each naming its stream.
	raw, err := w.bob.Request(ctx, map[string]any{"cmd": "messages_search", "stream": w.general, "query": "green"})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Results []*models.Message `json:"results"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Results) != 1 || r.Results[0].StreamID != w.general || r.Results[0].Seq != 2 || r.Results[0].Author.Username != "alice" {
		t.Fatalf("reply %s, %v", raw, err)
	}
}

// TestSearchPaging pages through matches in two channels, newest first,
// with messages posted between pages: every match older than the first
// page comes exactly once.
func TestSearchPaging(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	second, err := w.alice.CreateStream(ctx, w.circle, "random")
	if err != nil {
		t.Fatal(err)
	}
	const total = 23
	var want []string // newest first
	for i := range total {
		stream := w.general
		if i%3 == 0 {
			stream = second.ID
		}
		m := send(t, ctx, w.alice, stream, fmt.Sprintf("needle %d", i))
		send(t, ctx, w.bob, stream, fmt.Sprintf("hay %d", i))
		want = append([]string{m.ID}, want...)
	}
	for _, tc := range []struct {
		limit int
		pages []int
		// post a newer match after the first page: it must not shift
		// the pages that follow (last, as it adds a match)
		postWhilePaging bool
	}{
		{5, []int{5, 5, 5, 5, 3}, false},
		{23, []int{23}, false},
		{22, []int{22, 1}, false},
		{0, []int{23}, false},    // the default, 25
		{1000, []int{23}, false}, // clamped to 50
		{1, slices.Repeat([]int{1}, total), false},
		{5, []int{5, 5, 5, 5, 3}, true},
	} {
		t.Run(fmt.Sprintf("limit %d posting %v", tc.limit, tc.postWhilePaging), func(t *testing.T) {
			var got []string
			var sizes []int
			cursor := ""
			for {
				page, next, err := w.bob.Search(ctx, client.SearchQuery{Circle: w.circle, Query: "NEEDLE", Cursor: cursor, Limit: tc.limit})
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(page))
				for _, m := range page {
					got = append(got, m.ID)
				}
				if tc.postWhilePaging && len(sizes) == 1 {
					send(t, ctx, w.alice, w.general, "needle posted while paging")
				}
				if next == "" {
					break
				}
				if next != page[len(page)-1].ID {
					t.Fatalf("next %q is not the last result %q", next, page[len(page)-1].ID)
				}
				if len(sizes) > total {
					t.Fatal("paging does not end")
				}
				cursor = next
			}
			if !slices.Equal(got, want) || !slices.Equal(sizes, tc.pages) {
				t.Fatalf("got %d ids in pages %v, want %d in %v (same order: %v)", len(got), sizes, len(want), tc.pages, slices.Equal(got, want))
			}
		})
	}
}

func seqs(msgs []*models.Message) []int64 {
	out := []int64{}
	for _, m := range msgs {
		out = append(out, m.Seq)
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestHistoryAround(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	var ids []string // ids[i] has seq i+1
	for i := 1; i <= 10; i++ {
		ids = append(ids, send(t, ctx, w.alice, w.general, fmt.Sprint("m", i)).ID)
	}
	if _, err := w.alice.Delete(ctx, w.general, ids[4]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		seq           int
		limit         int
		want          []int64
		before, after int64
	}{
		{"first message", 1, 5, seqRange(1, 5), 0, 5},
		{"second message: filled from after", 2, 5, seqRange(1, 5), 0, 5},
		{"middle, odd limit", 6, 5, seqRange(4, 8), 3, 2},
		{"middle, even limit: one more after", 6, 4, seqRange(5, 8), 4, 2},
		{"deleted message: its tombstone is the centre", 5, 3, seqRange(4, 6), 3, 4},
		{"last message", 10, 5, seqRange(6, 10), 5, 0},
		{"next to last: filled from before", 9, 5, seqRange(6, 10), 5, 0},
		{"limit 1", 7, 1, []int64{7}, 6, 3},
		{"default limit: the whole stream", 3, 0, seqRange(1, 10), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := w.bob.HistoryAround(ctx, w.general, ids[tc.seq-1], tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(p.Messages), tc.want) || p.BeforeCount != tc.before || p.AfterCount != tc.after {
				t.Fatalf("seqs %v, %d before, %d after; want %v, %d, %d", seqs(p.Messages), p.BeforeCount, p.AfterCount, tc.want, tc.before, tc.after)
			}
			if !slices.ContainsFunc(p.Messages, func(m *models.Message) bool { return m.ID == ids[tc.seq-1] }) {
				t.Fatal("the message asked for is not in the page")
			}
		})
	}
	elsewhere := send(t, ctx, w.alice, w.dmID, "in the DM")
	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"unknown id", w.bob, map[string]any{"stream": w.general, "around": uuid.NewString()}, "not_found"},
		{"a message of another stream", w.bob, map[string]any{"stream": w.general, "around": elsewhere.ID}, "not_found"},
		{"not a member", w.carol, map[string]any{"stream": w.general, "around": ids[0]}, "forbidden"},
		{"stream without read_history", w.bob, map[string]any{"stream": w.noRead, "around": ids[0]}, "forbidden"},
		{"around with after", w.bob, map[string]any{"stream": w.general, "around": ids[0], "after": 0}, "bad_request"},
		{"around with before", w.bob, map[string]any{"stream": w.general, "around": ids[0], "before": 3}, "bad_request"},
		{"around with at", w.bob, map[string]any{"stream": w.general, "around": ids[0], "at": 0}, "bad_request"},
		{"negative limit", w.bob, map[string]any{"stream": w.general, "around": ids[0], "limit": -1}, "bad_request"},
		{"around not a string", w.bob, map[string]any{"stream": w.general, "around": 5}, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.frame["cmd"] = "history"
			raw, err := tc.c.Request(ctx, tc.frame)
			if err == nil {
				t.Fatalf("reply %s, want %s", raw, tc.code)
			}
			wantCode(t, err, tc.code)
		})
	}
	// Plain history keeps its reply: no counts.
	raw, err := w.bob.Request(ctx, map[string]any{"cmd": "history", "stream": w.general, "limit": 1})
	if err != nil || strings.Contains(string(raw), "_count") {
		t.Fatalf("plain history = %s, %v", raw, err)
	}
}

func TestHistoryAt(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	for i := 1; i <= 10; i++ {
		send(t, ctx, w.alice, w.general, fmt.Sprint("m", i))
	}
	all, err := w.bob.History(ctx, w.general, client.HistoryQuery{})
	if err != nil || len(all) != 10 {
		t.Fatalf("history = %d messages, %v", len(all), err)
	}
	// Several messages may share a millisecond: the page starts at the
	// first one created at or after the time asked for.
	firstFrom := func(at time.Time) int64 {
		for _, m := range all {
			if !m.CreatedAt.Before(at) {
				return m.Seq
			}
		}
		return 11
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		at    time.Time
		limit int
	}{
		{"the epoch", time.UnixMilli(0), 0},
		{"the first message's time", all[0].CreatedAt, 3},
		{"the sixth message's time", all[5].CreatedAt, 3},
		{"just after the sixth", all[5].CreatedAt.Add(ms), 100},
		{"the last message's time", all[9].CreatedAt, 5},
		{"after the last message", all[9].CreatedAt.Add(ms), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := w.bob.HistoryAt(ctx, w.general, tc.at, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			limit := int64(tc.limit)
			if limit == 0 {
				limit = 50
			}
			from := firstFrom(tc.at)
			to := min(10, from+limit-1)
			if !slices.Equal(seqs(p.Messages), seqRange(from, to)) || p.BeforeCount != from-1 || p.AfterCount != 10-max(to, from-1) {
				t.Fatalf("seqs %v, %d before, %d after; want %v, %d, %d", seqs(p.Messages), p.BeforeCount, p.AfterCount, seqRange(from, to), from-1, 10-max(to, from-1))
			}
		})
	}
	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"negative time", w.bob, map[string]any{"stream": w.general, "at": -1}, "bad_request"},
		{"at with after", w.bob, map[string]any{"stream": w.general, "at": 0, "after": 0}, "bad_request"},
		{"not a member", w.carol, map[string]any{"stream": w.general, "at": 0}, "forbidden"},
		{"stream hidden by an overwrite", w.bob, map[string]any{"stream": w.hidden, "at": 0}, "forbidden"},
		{"unknown stream", w.bob, map[string]any{"stream": uuid.NewString(), "at": 0}, "not_found"},
		{"at not a number", w.bob, map[string]any{"stream": w.general, "at": "yesterday"}, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.frame["cmd"] = "history"
			raw, err := tc.c.Request(ctx, tc.frame)
			if err == nil {
				t.Fatalf("reply %s, want %s", raw, tc.code)
			}
			wantCode(t, err, tc.code)
		})
	}
}

// TestSearchRelevance pages through a relevance search: best first, then
// newest first among equals, every match once, and a better match posted
// while paging does not shift the pages (it is in the next search).
func TestSearchRelevance(t *testing.T) {
	ctx := ctxT(t)
	w := newSearchWorld(t, ctx)
	// Oldest first; the wanted order is by kind of match, not by age.
	posts := []string{
		"the deploy is done", // whole word, short
		"redeployment later", // inside a word
		"deploying now",      // start of a word
		"deploy deploy",      // whole word, repeated
		"the deploy " + strings.Repeat("and more ", 60), // whole word, long
		"hay",
	}
	for _, p := range posts {
		send(t, ctx, w.alice, w.general, p)
	}
	// The long one mentions "deploy" in passing: the length factor puts
	// it after the short "deploying now".
	want := []string{posts[3], posts[0], posts[2], posts[4], posts[1]}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := w.bob.Search(ctx, client.SearchQuery{Circle: w.circle, Query: "Deploy", Sort: "relevance", Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, contents(page)...)
		if pages == 0 {
			send(t, ctx, w.alice, w.general, "deploy") // a good match, posted after the first page
		}
		if next == "" || pages > len(want) {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("relevance pages gave %q, want %q", got, want)
	}
	page, _, err := w.bob.Search(ctx, client.SearchQuery{Circle: w.circle, Query: "deploy", Sort: "relevance", Limit: 2})
	if want := []string{"deploy deploy", "deploy"}; err != nil || !slices.Equal(contents(page), want) {
		t.Fatalf("a new search = %q, %v; want %q (the match posted while paging, second)", contents(page), err, want)
	}
}
