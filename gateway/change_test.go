package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// changeSetup: alice owns a public circle bob has joined, both follow its
// general channel, and carol is a stranger.
type changeSetup struct {
	s                 *oshitest.Server
	alice, bob, carol *client.Login
	ac, bc, cc        *client.Client
	circle            *models.Circle
	general           string
}

func newChangeSetup(t *testing.T, ctx context.Context) *changeSetup {
	t.Helper()
	x := &changeSetup{s: oshitest.NewServer(t, server.Config{MaxMessageLength: 20})}
	x.alice, x.ac = x.s.User("alice")
	x.bob, x.bc = x.s.User("bob")
	x.carol, x.cc = x.s.User("carol")
	var err error
	if x.circle, err = x.ac.CreateCircle(ctx, "Gophers", models.Public); err != nil {
		t.Fatal(err)
	}
	x.general = x.circle.Streams[0].ID
	if _, err := x.bc.JoinCircle(ctx, x.circle.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{x.ac, x.bc} {
		if _, err := c.Subscribe(ctx, x.general, -1); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// storedMessage reads a message document straight from MongoDB.
func storedMessage(t *testing.T, s *oshitest.Server, id string) bson.M {
	t.Helper()
	db := s.Srv.Store().Database()
	var doc bson.M
	if err := db.Collection(store.MessagesCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestMessageEdit(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	m, err := x.ac.Send(ctx, x.general, "helo", "n1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{x.ac, x.bc} {
		nextEvent(t, c, "message_new")
	}

	ed, err := x.ac.Edit(ctx, x.general, m.ID, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if ed.ID != m.ID || ed.Seq != m.Seq || ed.Content != "hello" || ed.EditedAt == nil || ed.Nonce != "n1" || !ed.CreatedAt.Equal(m.CreatedAt) {
		t.Fatalf("edit reply = %+v", ed)
	}
	// The other subscriber sees the edit; so does the editor's connection.
	for _, c := range []*client.Client{x.bc, x.ac} {
		ev := nextEvent(t, c, "message_edit")
		if ev.Stream != x.general || ev.Message == nil || ev.Message.ID != m.ID || ev.Message.Content != "hello" ||
			ev.Message.EditedAt == nil || !ev.Message.EditedAt.Equal(*ed.EditedAt) || strings.Contains(string(ev.Raw), `"ref"`) {
			t.Fatalf("message_edit event = %s", ev.Raw)
		}
	}
	if _, err := x.ac.Edit(ctx, x.general, m.ID, "hello, all"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, x.bc, "message_edit")

	// Stored: content, edited_at and every earlier content in order.
	doc := storedMessage(t, x.s, m.ID)
	edits, _ := doc["edits"].(bson.A)
	if doc["content"] != "hello, all" || doc["edited_at"] == nil || len(edits) != 2 ||
		field(edits[0], "content") != "helo" || field(edits[1], "content") != "hello" {
		t.Fatalf("stored document = %v", doc)
	}
	hist, err := x.bc.History(ctx, x.general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Content != "hello, all" || hist[0].EditedAt == nil {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if raw, _ := x.bc.Request(ctx, map[string]any{"cmd": "history", "stream": x.general}); strings.Contains(string(raw), "edits") {
		t.Fatalf("history sends the earlier contents: %s", raw)
	}

	// Refusals, none of which changes anything or reaches subscribers.
	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"not the author", x.bc, map[string]any{"stream": x.general, "id": m.ID, "content": "mine now"}, "forbidden"},
		{"stranger", x.cc, map[string]any{"stream": x.general, "id": m.ID, "content": "hi"}, "forbidden"},
		{"no such message", x.ac, map[string]any{"stream": x.general, "id": "01a21659-bf7d-72f6-88ed-51f14a7c04a2", "content": "x"}, "not_found"},
		{"no such stream", x.ac, map[string]any{"stream": "nope", "id": m.ID, "content": "x"}, "not_found"},
		{"empty", x.ac, map[string]any{"stream": x.general, "id": m.ID, "content": ""}, "invalid_content"},
		{"control character", x.ac, map[string]any{"stream": x.general, "id": m.ID, "content": "bell\a"}, "invalid_content"},
		{"too long", x.ac, map[string]any{"stream": x.general, "id": m.ID, "content": strings.Repeat("x", 21)}, "message_too_long"},
		{"no id", x.ac, map[string]any{"stream": x.general, "content": "x"}, "bad_request"},
		{"no stream", x.ac, map[string]any{"id": m.ID, "content": "x"}, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.frame["cmd"] = "message_edit"
			raw, err := tc.c.Request(ctx, tc.frame)
			if client.Code(err) != tc.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.code)
			}
		})
	}
	// The message lives in another stream: not_found there.
	dm, err := x.ac.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.ac.Edit(ctx, dm.ID, m.ID, "x")
	wantCode(t, err, "not_found")
	noEvent(t, x.bc, 200*time.Millisecond, "message_edit")
	if doc := storedMessage(t, x.s, m.ID); doc["content"] != "hello, all" {
		t.Fatalf("a refused edit changed the message: %v", doc)
	}
}

func TestMessageDelete(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	var ms []*models.Message
	for i, c := range []*client.Client{x.bc, x.bc, x.ac, x.ac} {
		m, err := c.Send(ctx, x.general, fmt.Sprint("m", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if _, err := x.bc.React(ctx, x.general, ms[0].ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.bc.Edit(ctx, x.general, ms[0].ID, "m1!"); err != nil {
		t.Fatal(err)
	}

	// Refused: someone else's message (not the circle's owner), a stranger.
	_, err := x.bc.Delete(ctx, x.general, ms[2].ID)
	wantCode(t, err, "forbidden")
	_, err = x.cc.Delete(ctx, x.general, ms[0].ID)
	wantCode(t, err, "forbidden")

	// The author deletes its own; the circle's owner deletes bob's.
	del, err := x.bc.Delete(ctx, x.general, ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !del.Deleted || del.DeletedAt == nil || del.Content != "" || del.Seq != 1 || del.EditedAt != nil || len(del.ReactionCounts) != 0 {
		t.Fatalf("delete reply = %+v", del)
	}
	if _, err := x.ac.Delete(ctx, x.general, ms[1].ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{x.ac, x.bc} {
		for _, want := range ms[:2] {
			ev := nextEvent(t, c, "message_delete")
			if ev.Stream != x.general || ev.ID != want.ID || ev.Seq != want.Seq || ev.Message != nil {
				t.Fatalf("message_delete event = %s, want %s", ev.Raw, want.ID)
			}
		}
	}
	// Gone is gone: no edit, reaction or second delete.
	_, err = x.bc.Delete(ctx, x.general, ms[0].ID)
	wantCode(t, err, "not_found")
	_, err = x.bc.Edit(ctx, x.general, ms[0].ID, "back")
	wantCode(t, err, "not_found")
	_, err = x.ac.React(ctx, x.general, ms[0].ID, "👍")
	wantCode(t, err, "not_found")

	// History keeps the seqs gap-free with tombstones.
	hist, err := x.cc.History(ctx, x.general, client.HistoryQuery{})
	wantCode(t, err, "forbidden")
	hist, err = x.bc.History(ctx, x.general, client.HistoryQuery{})
	if err != nil || len(hist) != 4 {
		t.Fatalf("history = %v, %v", hist, err)
	}
	for i, m := range hist {
		if m.Seq != int64(i+1) || m.Deleted != (i < 2) || (m.Content == "") != (i < 2) {
			t.Fatalf("history[%d] = %+v", i, m)
		}
	}
	doc := storedMessage(t, x.s, ms[0].ID)
	for _, gone := range []string{"edits", "edited_at", "reactions"} {
		if _, ok := doc[gone]; ok {
			t.Fatalf("tombstone keeps %s: %v", gone, doc)
		}
	}
	if doc["content"] != "" || doc["deleted"] != true || doc["deleted_at"] == nil || doc["seq"] != int64(1) {
		t.Fatalf("tombstone = %v", doc)
	}

	// In a DM only the author may delete.
	dm, err := x.ac.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	dmMsg, err := x.bc.Send(ctx, dm.ID, "dm", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.ac.Delete(ctx, dm.ID, dmMsg.ID)
	wantCode(t, err, "forbidden")
	_, err = x.cc.Delete(ctx, dm.ID, dmMsg.ID)
	wantCode(t, err, "forbidden")
	if _, err := x.bc.Delete(ctx, dm.ID, dmMsg.ID); err != nil {
		t.Fatal(err)
	}
}

func TestMessageReactions(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	m, err := x.ac.Send(ctx, x.general, "vote", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{x.ac, x.bc} {
		nextEvent(t, c, "message_new")
	}

	r, err := x.bc.React(ctx, x.general, m.ID, "👍")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(deref(r.ReactionCounts)) != "[👍:1:true]" {
		t.Fatalf("react reply = %+v", r.ReactionCounts)
	}
	for _, c := range []*client.Client{x.ac, x.bc} {
		ev := nextEvent(t, c, "message_react_add")
		if ev.Stream != x.general || ev.ID != m.ID || ev.Emoji != "👍" || ev.Count != 1 || ev.User == nil || ev.User.ID != x.bob.User.ID {
			t.Fatalf("message_react_add = %s", ev.Raw)
		}
	}
	// One per user per emoji: again changes nothing and says nothing.
	if r, err = x.bc.React(ctx, x.general, m.ID, "👍"); err != nil || r.ReactionCounts[0].Count != 1 {
		t.Fatalf("react twice = %+v, %v", r, err)
	}
	noEvent(t, x.ac, 200*time.Millisecond, "message_react_add")
	if _, err := x.ac.React(ctx, x.general, m.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, x.bc, "message_react_add"); ev.Count != 2 || ev.User.ID != x.alice.User.ID {
		t.Fatalf("second reaction = %s", ev.Raw)
	}
	if _, err := x.ac.React(ctx, x.general, m.ID, ":tada:"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, x.bc, "message_react_add")

	// History computes "me" for whoever asks.
	for _, v := range []struct {
		c    *client.Client
		want []models.ReactionCount
	}{
		{x.ac, []models.ReactionCount{{Emoji: "👍", Count: 2, Me: ptr(true)}, {Emoji: ":tada:", Count: 1, Me: ptr(true)}}},
		{x.bc, []models.ReactionCount{{Emoji: "👍", Count: 2, Me: ptr(true)}, {Emoji: ":tada:", Count: 1, Me: ptr(false)}}},
	} {
		hist, err := v.c.History(ctx, x.general, client.HistoryQuery{})
		if err != nil || len(hist) != 1 {
			t.Fatalf("history = %v, %v", hist, err)
		}
		if got := hist[0].ReactionCounts; fmt.Sprint(deref(got)) != fmt.Sprint(deref(v.want)) {
			t.Fatalf("reactions = %v, want %v", deref(got), deref(v.want))
		}
	}

	// Remove: the count falls, an emptied emoji disappears.
	if r, err = x.bc.Unreact(ctx, x.general, m.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, x.ac, "message_react_remove"); ev.ID != m.ID || ev.Emoji != "👍" || ev.Count != 1 || ev.User.ID != x.bob.User.ID {
		t.Fatalf("message_react_remove = %s", ev.Raw)
	}
	if fmt.Sprint(deref(r.ReactionCounts)) != "[👍:1:false :tada::1:false]" {
		t.Fatalf("unreact reply = %v", deref(r.ReactionCounts))
	}
	if _, err = x.ac.Unreact(ctx, x.general, m.ID, ":tada:"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, x.bc, "message_react_remove") // bob's own, above
	if ev := nextEvent(t, x.bc, "message_react_remove"); ev.Emoji != ":tada:" || ev.Count != 0 {
		t.Fatalf("last :tada: removed = %s", ev.Raw)
	}
	if _, err = x.ac.Unreact(ctx, x.general, m.ID, ":tada:"); err != nil { // not there: nothing to do
		t.Fatal(err)
	}
	noEvent(t, x.bc, 200*time.Millisecond, "message_react_remove")
	doc := storedMessage(t, x.s, m.ID)
	rs, _ := doc["reactions"].(bson.A)
	if len(rs) != 1 || fmt.Sprint(field(rs[0], "users")) != fmt.Sprint(bson.A{x.alice.User.ID}) {
		t.Fatalf("stored reactions = %v", doc["reactions"])
	}

	// Refusals.
	for _, tc := range []struct {
		name  string
		c     *client.Client
		cmd   string
		emoji string
		id    string
		code  string
	}{
		{"stranger adds", x.cc, "message_react_add", "👍", m.ID, "forbidden"},
		{"stranger removes", x.cc, "message_react_remove", "👍", m.ID, "forbidden"},
		{"empty", x.bc, "message_react_add", "", m.ID, "invalid_emoji"},
		{"space", x.bc, "message_react_add", "a b", m.ID, "invalid_emoji"},
		{"newline", x.bc, "message_react_add", "a\n", m.ID, "invalid_emoji"},
		{"too long", x.bc, "message_react_add", strings.Repeat("x", 33), m.ID, "invalid_emoji"},
		{"invalid UTF-8", x.bc, "message_react_remove", "\xff", m.ID, "invalid_emoji"},
		{"no such message", x.bc, "message_react_add", "👍", "01a21659-bf7d-72f6-88ed-51f14a7c04a2", "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.c.Request(ctx, map[string]any{"cmd": tc.cmd, "stream": x.general, "id": tc.id, "emoji": tc.emoji})
			if client.Code(err) != tc.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.code)
			}
		})
	}
	noEvent(t, x.bc, 200*time.Millisecond, "message_react_add", "message_react_remove")
}

// TestConcurrentChanges: many reactions and edits at once on one message
// lose none of one another.
func TestConcurrentChanges(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, owner := s.User("owner")
	circle, err := owner.CreateCircle(ctx, "Crowd", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	m, err := owner.Send(ctx, general, "v0", "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	users := make([]*client.Client, n)
	for i := range users {
		_, users[i] = s.User(fmt.Sprint("u", i))
		if _, err := users[i].JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i, c := range users {
		wg.Go(func() {
			for _, e := range []string{"👍", "🎉"} {
				if _, err := c.React(ctx, general, m.ID, e); err != nil {
					errs <- fmt.Errorf("user %d: %w", i, err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 1; i <= n; i++ {
			if _, err := owner.Edit(ctx, general, m.ID, fmt.Sprint("v", i)); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	hist, err := owner.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 {
		t.Fatalf("history = %v, %v", hist, err)
	}
	got := hist[0]
	if got.Content != fmt.Sprint("v", n) || len(got.ReactionCounts) != 2 || got.ReactionCounts[0].Count != n || got.ReactionCounts[1].Count != n {
		t.Fatalf("after concurrent changes: content %q, reactions %v", got.Content, deref(got.ReactionCounts))
	}
	doc := storedMessage(t, s, m.ID)
	edits, _ := doc["edits"].(bson.A)
	if len(edits) != n {
		t.Fatalf("stored %d edits, want %d: %v", len(edits), n, edits)
	}
	for i, e := range edits {
		if c := field(e, "content"); c != fmt.Sprint("v", i) {
			t.Fatalf("edits[%d] = %v, want v%d", i, c, i)
		}
	}
	// The owner saw every change as an event, counts rising one by one.
	seen := map[string]int{}
	for range 2*n + n {
		ev := nextEvent(t, owner, "message_react_add", "message_edit")
		if ev.Cmd == "message_react_add" {
			seen[ev.Emoji]++
			if ev.Count != seen[ev.Emoji] {
				t.Fatalf("event %s: count %d, want %d", ev.Raw, ev.Count, seen[ev.Emoji])
			}
		}
	}
}

// TestChangeFollowsMessageNew: a reaction made the moment a message is
// stored reaches every subscriber after the message_new it refers to.
func TestChangeFollowsMessageNew(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	const n = 20
	done := make(chan error, 1)
	go func() {
		for i := range n {
			m, err := x.ac.Send(ctx, x.general, fmt.Sprint("m", i), "")
			if err != nil {
				done <- err
				return
			}
			if _, err := x.ac.React(ctx, x.general, m.ID, "👀"); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// bob reacts as soon as each message appears, racing alice's reaction.
	seen := map[string]bool{}
	for range 3 * n {
		ev := nextEvent(t, x.bc, "message_new", "message_react_add")
		switch ev.Cmd {
		case "message_new":
			seen[ev.Message.ID] = true
			if _, err := x.bc.React(ctx, x.general, ev.Message.ID, "👍"); err != nil {
				t.Fatal(err)
			}
		default:
			if !seen[ev.ID] {
				t.Fatalf("reaction to %s before its message_new", ev.ID)
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// field reads a key of a decoded subdocument, whichever form the driver
// chose for it.
func field(doc any, key string) any {
	switch d := doc.(type) {
	case bson.M:
		return d[key]
	case bson.D:
		for _, e := range d {
			if e.Key == key {
				return e.Value
			}
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// deref shows reaction counts with "me" spelled out.
func deref(rs []models.ReactionCount) []string {
	var out []string
	for _, r := range rs {
		me := "-"
		if r.Me != nil {
			me = fmt.Sprint(*r.Me)
		}
		out = append(out, fmt.Sprintf("%s:%d:%s", r.Emoji, r.Count, me))
	}
	return out
}
