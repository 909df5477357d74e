package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// threadReq sends a thread command and returns its reply's thread (nil
// for replies without one); every frame is logged for the protocol's
// examples (go test -v).
func threadReq(t *testing.T, ctx context.Context, c *client.Client, frame map[string]any) (*models.Stream, error) {
	t.Helper()
	req, _ := json.Marshal(frame)
	t.Logf("request %s", req)
	raw, err := c.Request(ctx, frame)
	if err != nil {
		t.Logf("error %v", err)
		return nil, err
	}
	t.Logf("reply %s", raw)
	var r struct {
		Thread *models.Stream `json:"thread"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		// thread_delete's reply names the thread by id.
		return nil, nil
	}
	return r.Thread, nil
}

// threadFrame is a thread event (thread_create, thread_update) or a
// message_thread event, decoded.
type threadFrame struct {
	Cmd    string         `json:"cmd"`
	Circle string         `json:"circle"`
	Stream string         `json:"stream"`
	ID     string         `json:"id"`
	Thread *models.Stream `json:"thread"`
}

// threadEvents waits for one event of each of cmds on c about thread
// id (a thread_create or thread_update naming it, a message_thread of
// its starter message), in any order: they come from different topics.
func threadEvents(t *testing.T, c *client.Client, id string, cmds ...string) map[string]threadFrame {
	t.Helper()
	got := make(map[string]threadFrame)
	for len(got) < len(cmds) {
		ev := nextEvent(t, c, cmds...)
		var f threadFrame
		if err := json.Unmarshal(ev.Raw, &f); err != nil {
			t.Fatalf("%s: %v", ev.Raw, err)
		}
		switch {
		case f.Cmd == "message_thread" && f.ID == id:
		case f.Cmd != "message_thread" && f.Thread != nil && f.Thread.ID == id && f.Circle != "":
		default:
			continue
		}
		if _, dup := got[f.Cmd]; dup {
			t.Fatalf("a second %s: %s", f.Cmd, ev.Raw)
		}
		t.Logf("event %s", ev.Raw)
		got[f.Cmd] = f
	}
	return got
}

// threadEventOf waits for event cmd on c about thread id and returns its
// thread.
func threadEventOf(t *testing.T, c *client.Client, cmd, id string) *models.Stream {
	t.Helper()
	return threadEvents(t, c, id, cmd)[cmd].Thread
}

// starterRef decodes the thread ref of a message_thread event.
func starterRef(t *testing.T, f threadFrame) *models.ThreadRef {
	t.Helper()
	if f.Thread == nil {
		return nil
	}
	return &models.ThreadRef{ID: f.Thread.ID, Name: f.Thread.Name}
}

// streamIn returns stream id of the circle as l sees it in a fresh
// ready, or nil.
func streamIn(t *testing.T, k *community, l *client.Login, id string) *models.Stream {
	t.Helper()
	for _, st := range k.viewOf(t, l).Streams {
		if st.ID == id {
			return &st
		}
	}
	return nil
}

func TestThreadRefusals(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageThreads)
	g := k.general
	voice, err := k.owner.CreateStreamWith(ctx, k.circle.ID, "lounge", client.StreamOptions{Kind: models.Voice})
	if err != nil {
		t.Fatal(err)
	}
	other, err := k.owner.CreateStream(ctx, k.circle.ID, "other")
	if err != nil {
		t.Fatal(err)
	}
	// In "other" the default role may not start threads.
	if _, err := k.owner.SetStreamPermissions(ctx, other.ID, k.circle.ID, 0, models.CreateThreads); err != nil {
		t.Fatal(err)
	}
	dm, err := k.owner.OpenDM(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	inOther, err := k.owner.Send(ctx, other.ID, "elsewhere", "")
	if err != nil {
		t.Fatal(err)
	}
	starter, err := k.owner.Send(ctx, g, "start here", "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := threadReq(t, ctx, k.owner, map[string]any{"cmd": "thread_create", "stream": g, "name": "First", "message": starter.ID})
	if err != nil {
		t.Fatal(err)
	}
	modThread, err := k.mod.CreateThread(ctx, g, "Mod's", "")
	if err != nil {
		t.Fatal(err)
	}
	plainThread, err := k.plain.CreateThread(ctx, g, "Plain's", "")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"no stream", k.owner, map[string]any{"cmd": "thread_create", "name": "x"}, "bad_request"},
		{"bad name", k.owner, map[string]any{"cmd": "thread_create", "stream": g, "name": " "}, "invalid_name"},
		{"control in name", k.owner, map[string]any{"cmd": "thread_create", "stream": g, "name": "a\nb"}, "invalid_name"},
		{"no create_threads", k.plain, map[string]any{"cmd": "thread_create", "stream": other.ID, "name": "x"}, "forbidden"},
		{"under voice", k.owner, map[string]any{"cmd": "thread_create", "stream": voice.ID, "name": "x"}, "not_threadable"},
		{"under dm", k.owner, map[string]any{"cmd": "thread_create", "stream": dm.ID, "name": "x"}, "not_threadable"},
		{"under thread", k.owner, map[string]any{"cmd": "thread_create", "stream": first.ID, "name": "x"}, "not_threadable"},
		{"unknown stream", k.owner, map[string]any{"cmd": "thread_create", "stream": "nope", "name": "x"}, "not_found"},
		{"second thread on a message", k.mod, map[string]any{"cmd": "thread_create", "stream": g, "name": "x", "message": starter.ID}, "thread_exists"},
		{"starter from another stream", k.owner, map[string]any{"cmd": "thread_create", "stream": g, "name": "x", "message": inOther.ID}, "invalid_starter"},
		{"unknown starter", k.owner, map[string]any{"cmd": "thread_create", "stream": g, "name": "x", "message": "nope"}, "invalid_starter"},
		{"edit nothing", k.owner, map[string]any{"cmd": "thread_edit", "thread": first.ID}, "bad_request"},
		{"edit a channel", k.owner, map[string]any{"cmd": "thread_edit", "thread": g, "name": "x"}, "not_found"},
		{"edit others' thread", k.plain, map[string]any{"cmd": "thread_edit", "thread": modThread.ID, "name": "mine"}, "forbidden"},
		{"archive others' thread", k.plain, map[string]any{"cmd": "thread_edit", "thread": modThread.ID, "archived": true}, "forbidden"},
		{"lock own thread", k.plain, map[string]any{"cmd": "thread_edit", "thread": plainThread.ID, "locked": true}, "forbidden"},
		{"delete others' thread", k.plain, map[string]any{"cmd": "thread_delete", "thread": modThread.ID}, "forbidden"},
		{"delete a channel", k.owner, map[string]any{"cmd": "thread_delete", "thread": g}, "not_found"},
		{"list under nothing", k.owner, map[string]any{"cmd": "thread_list", "stream": "nope"}, "not_found"},
		{"list bad limit", k.owner, map[string]any{"cmd": "thread_list", "stream": g, "limit": -1}, "bad_request"},
		{"stream_edit a thread", k.owner, map[string]any{"cmd": "stream_edit", "stream": first.ID, "name": "x"}, "not_found"},
		{"stream_permissions on a thread", k.owner, map[string]any{"cmd": "stream_permissions", "stream": first.ID, "role": k.circle.ID, "deny": models.SendMessages}, "not_found"},
	} {
		_, err := threadReq(t, ctx, tc.c, tc.frame)
		if got := client.Code(err); got != tc.code {
			t.Fatalf("%s: err %v, want %s", tc.name, err, tc.code)
		}
	}

	// A locked thread takes posts from members with manage_threads only,
	// and its creator may no longer rename it nor unlock it.
	locked := true
	if _, err := threadReq(t, ctx, k.mod, map[string]any{"cmd": "thread_edit", "thread": plainThread.ID, "locked": locked}); err != nil {
		t.Fatal(err)
	}
	_, err = k.plain.Send(ctx, plainThread.ID, "let me", "")
	t.Logf("locked post: %v", err)
	wantCode(t, err, "thread_locked")
	_, err = k.plain.CreatePoll(ctx, plainThread.ID, client.PollSpec{Question: "q", Options: []string{"a", "b"}})
	wantCode(t, err, "thread_locked")
	name := "renamed"
	_, err = k.plain.EditThread(ctx, plainThread.ID, client.ThreadEdit{Name: &name})
	wantCode(t, err, "thread_locked")
	unlocked := false
	_, err = k.plain.EditThread(ctx, plainThread.ID, client.ThreadEdit{Locked: &unlocked})
	wantCode(t, err, "forbidden")
	if _, err := k.mod.Send(ctx, plainThread.ID, "moderator here", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.Send(ctx, plainThread.ID, "owner here", ""); err != nil {
		t.Fatal(err)
	}
	// Its creator may still delete it.
	if err := k.plain.DeleteThread(ctx, plainThread.ID); err != nil {
		t.Fatal(err)
	}
	_, err = k.owner.History(ctx, plainThread.ID, client.HistoryQuery{})
	wantCode(t, err, "not_found")
}

// TestThreadHiddenParent: a thread under a channel a member cannot see
// is hidden from them: no event, not in ready, no subscribe, history,
// post or list.
func TestThreadHiddenParent(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageThreads)
	secret, err := k.owner.CreateStream(ctx, k.circle.ID, "secret")
	if err != nil {
		t.Fatal(err)
	}
	// Only the mod role sees "secret".
	if _, err := k.owner.SetStreamPermissions(ctx, secret.ID, k.circle.ID, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, secret.ID, k.modRole.ID, models.ViewStreams, 0); err != nil {
		t.Fatal(err)
	}
	drain(t, k.plain)
	drain(t, k.mod)
	th, err := k.owner.CreateThread(ctx, secret.ID, "Hush", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := threadEventOf(t, k.mod, "thread_create", th.ID); got.ParentID != secret.ID || got.Kind != models.Thread {
		t.Fatalf("mod's thread_create = %+v", got)
	}
	if _, err := k.owner.Send(ctx, th.ID, "hush", ""); err != nil {
		t.Fatal(err)
	}
	for _, frame := range []map[string]any{
		{"cmd": "subscribe", "stream": th.ID},
		{"cmd": "subscribe", "stream": th.ID, "since": 0},
		{"cmd": "history", "stream": th.ID},
		{"cmd": "message_new", "stream": th.ID, "content": "hi"},
		{"cmd": "typing", "stream": th.ID},
		{"cmd": "pins_list", "stream": th.ID},
		{"cmd": "thread_list", "stream": secret.ID},
		{"cmd": "thread_list", "stream": secret.ID, "archived": true},
		{"cmd": "thread_create", "stream": secret.ID, "name": "x"},
		{"cmd": "thread_edit", "thread": th.ID, "name": "x"},
		{"cmd": "thread_delete", "thread": th.ID},
		{"cmd": "messages_search", "stream": th.ID, "query": "hush"},
	} {
		raw, err := k.plain.Request(ctx, frame)
		if c := client.Code(err); c != "forbidden" && c != "not_found" {
			t.Fatalf("%v: reply %s, err %v; want forbidden or not_found", frame, raw, err)
		}
	}
	noEvent(t, k.plain, 200*time.Millisecond, "thread_create")
	if st := streamIn(t, k, k.plainL, th.ID); st != nil {
		t.Fatalf("plain's ready lists the hidden thread: %+v", st)
	}
	if st := streamIn(t, k, k.modL, th.ID); st == nil || st.ParentID != secret.ID || st.Permissions == nil || st.Unread == nil || *st.Unread != 1 {
		t.Fatalf("mod's ready: thread %+v; want it with one unread", st)
	}
	// Searching the circle finds the thread's message for the mod only.
	for _, who := range []struct {
		c    *client.Client
		want int
	}{{k.mod, 1}, {k.plain, 0}} {
		raw, err := who.c.Request(ctx, map[string]any{"cmd": "messages_search", "circle": k.circle.ID, "query": "hush"})
		var r struct {
			Results []*models.Message `json:"results"`
		}
		if err != nil || json.Unmarshal(raw, &r) != nil || len(r.Results) != who.want {
			t.Fatalf("circle search = %s, %v; want %d results", raw, err, who.want)
		}
	}
	// Hiding the parent from a subscriber drops the thread too.
	if _, err := k.mod.Subscribe(ctx, th.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, secret.ID, k.modRole.ID, 0, 0); err != nil {
		t.Fatal(err)
	}
	for {
		ev := nextEvent(t, k.mod, "unsubscribed")
		if ev.Stream == th.ID {
			if ev.Reason != "forbidden" {
				t.Fatalf("unsubscribed %s", ev.Raw)
			}
			break
		}
	}
}

func TestThreads(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageThreads)
	g := k.general
	if _, err := k.plain.Subscribe(ctx, g, 0); err != nil {
		t.Fatal(err)
	}
	starter, err := k.owner.Send(ctx, g, "shall we plan?", "")
	if err != nil {
		t.Fatal(err)
	}
	drain(t, k.plain)

	th, err := threadReq(t, ctx, k.owner, map[string]any{"cmd": "thread_create", "stream": g, "name": "Plan", "message": starter.ID, "ref": 7})
	if err != nil {
		t.Fatal(err)
	}
	if th.Kind != models.Thread || th.ID != starter.ID || th.ParentID != g || th.StarterID != starter.ID || th.OwnerID != k.ownerL.User.ID ||
		th.CircleID != k.circle.ID || th.Name != "Plan" || th.Archived || th.Locked || th.Permissions == nil {
		t.Fatalf("thread = %+v", th)
	}
	evs := threadEvents(t, k.plain, th.ID, "thread_create", "message_thread")
	if ev := evs["thread_create"].Thread; ev.ParentID != g || ev.Permissions != nil {
		t.Fatalf("plain's thread_create = %+v", ev)
	}
	if ref := starterRef(t, evs["message_thread"]); evs["message_thread"].Stream != g || ref == nil || ref.ID != th.ID || ref.Name != "Plan" {
		t.Fatalf("message_thread ref = %+v", ref)
	}
	hist, err := k.plain.History(ctx, g, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Thread == nil || hist[0].Thread.ID != th.ID {
		t.Fatalf("parent's history = %v, %v; want the starter with its thread", hist, err)
	}

	// The thread is a stream: subscribe, post, history, reactions, pins.
	if _, err := k.plain.Subscribe(ctx, th.ID, 0); err != nil {
		t.Fatal(err)
	}
	m, err := k.owner.Send(ctx, th.ID, "step one", "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, k.plain, "message_new"); ev.Stream != th.ID || ev.Message.ID != m.ID {
		t.Fatalf("message_new %s", ev.Raw)
	}
	if _, err := k.plain.React(ctx, th.ID, m.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.Pin(ctx, th.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	if pins, err := k.plain.Pins(ctx, th.ID); err != nil || len(pins) != 1 {
		t.Fatalf("pins = %v, %v", pins, err)
	}
	hist, err = k.plain.History(ctx, th.ID, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Content != "step one" || len(hist[0].ReactionCounts) != 1 {
		t.Fatalf("thread history = %v, %v", hist, err)
	}
	// Ready lists the active thread under its parent, with unread counts.
	if st := streamIn(t, k, k.plainL, th.ID); st == nil || st.Kind != models.Thread || st.ParentID != g || st.Unread == nil || *st.Unread != 1 {
		t.Fatalf("plain's ready: thread %+v", st)
	}
	list, next, err := k.plain.Threads(ctx, g, false, "", 0)
	if err != nil || len(list) != 1 || list[0].ID != th.ID || next != "" {
		t.Fatalf("thread_list = %v, %q, %v", list, next, err)
	}

	// The creator archives it: it leaves circle views and is listed as
	// archived; subscribers stay.
	yes := true
	if _, err := threadReq(t, ctx, k.owner, map[string]any{"cmd": "thread_edit", "thread": th.ID, "archived": yes}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{k.plain, k.owner} {
		if ev := threadEventOf(t, c, "thread_update", th.ID); !ev.Archived || ev.ArchivedAt == nil {
			t.Fatalf("thread_update %+v; want archived", ev)
		}
	}
	if st := streamIn(t, k, k.plainL, th.ID); st != nil {
		t.Fatalf("an archived thread is in ready: %+v", st)
	}
	// Archiving it again changes nothing and announces nothing.
	if again, err := k.owner.EditThread(ctx, th.ID, client.ThreadEdit{Archived: &yes}); err != nil || !again.Archived {
		t.Fatalf("archiving again = %+v, %v", again, err)
	}
	noEvent(t, k.plain, 200*time.Millisecond, "thread_update")
	raw, err := k.plain.Request(ctx, map[string]any{"cmd": "thread_list", "stream": g, "archived": true, "limit": 10})
	t.Logf("thread_list reply %s", raw)
	if err != nil {
		t.Fatal(err)
	}
	if list, _, err := k.plain.Threads(ctx, g, true, "", 0); err != nil || len(list) != 1 || list[0].ID != th.ID || !list[0].Archived {
		t.Fatalf("archived thread_list = %v, %v", list, err)
	}
	if list, _, err := k.plain.Threads(ctx, g, false, "", 0); err != nil || len(list) != 0 {
		t.Fatalf("active thread_list = %v, %v", list, err)
	}
	// A post unarchives it.
	if _, err := k.plain.Send(ctx, th.ID, "still here", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{k.owner, k.plain} {
		if ev := threadEventOf(t, c, "thread_update", th.ID); ev.Archived || ev.ArchivedAt != nil {
			t.Fatalf("thread_update %+v; want unarchived", ev)
		}
	}
	if st := streamIn(t, k, k.plainL, th.ID); st == nil {
		t.Fatal("the unarchived thread is not in ready")
	}

	// Renaming renames the starter's ref.
	name := "Plan B"
	if _, err := k.owner.EditThread(ctx, th.ID, client.ThreadEdit{Name: &name}); err != nil {
		t.Fatal(err)
	}
	evs = threadEvents(t, k.plain, th.ID, "thread_update", "message_thread")
	if ref := starterRef(t, evs["message_thread"]); ref == nil || ref.Name != "Plan B" {
		t.Fatalf("message_thread after rename = %+v", ref)
	}
	if ev := evs["thread_update"].Thread; ev.Name != "Plan B" {
		t.Fatalf("thread_update %+v", ev)
	}

	// A moderator deletes it: subscribers are told, the starter loses
	// its ref, and a message may start a thread again.
	if _, err := threadReq(t, ctx, k.mod, map[string]any{"cmd": "thread_delete", "thread": th.ID}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < 3 {
		ev := nextEvent(t, k.plain, "thread_delete", "unsubscribed", "message_thread")
		var f struct {
			Stream string          `json:"stream"`
			Thread json.RawMessage `json:"thread"`
			Parent string          `json:"parent"`
			Reason string          `json:"reason"`
		}
		if err := json.Unmarshal(ev.Raw, &f); err != nil {
			t.Fatal(err)
		}
		ok := false
		switch ev.Cmd {
		case "thread_delete":
			ok = string(f.Thread) == `"`+th.ID+`"` && f.Parent == g
		case "unsubscribed":
			ok = f.Stream == th.ID && f.Reason == "deleted"
		case "message_thread":
			ok = f.Stream == g && string(f.Thread) == "null"
		}
		if !ok || seen[ev.Cmd] {
			t.Fatalf("after thread_delete: %s", ev.Raw)
		}
		seen[ev.Cmd] = true
	}
	if _, err := k.owner.History(ctx, th.ID, client.HistoryQuery{}); client.Code(err) != "not_found" {
		t.Fatalf("history of a deleted thread: %v", err)
	}
	if _, err := k.plain.CreateThread(ctx, g, "Again", starter.ID); err != nil {
		t.Fatal(err)
	}
}

// TestThreadsDeletedWithParent: deleting a channel deletes its threads,
// and their subscribers are told.
func TestThreadsDeletedWithParent(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageThreads)
	side, err := k.owner.CreateStream(ctx, k.circle.ID, "side")
	if err != nil {
		t.Fatal(err)
	}
	th, err := k.plain.CreateThread(ctx, side.ID, "Aside", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.plain.Send(ctx, th.ID, "psst", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := k.plain.Subscribe(ctx, th.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := k.owner.DeleteStream(ctx, side.ID); err != nil {
		t.Fatal(err)
	}
	for {
		ev := nextEvent(t, k.plain, "unsubscribed")
		if ev.Stream == th.ID {
			if ev.Reason != "deleted" {
				t.Fatalf("unsubscribed %s", ev.Raw)
			}
			break
		}
	}
	for _, c := range []*client.Client{k.owner, k.plain} {
		if _, err := c.History(ctx, th.ID, client.HistoryQuery{}); client.Code(err) != "not_found" {
			t.Fatalf("history of a deleted parent's thread: %v", err)
		}
	}
	if st := streamIn(t, k, k.ownerL, th.ID); st != nil {
		t.Fatalf("ready lists a deleted parent's thread: %+v", st)
	}
	// Deleting the circle deletes its threads.
	last, err := k.plain.CreateThread(ctx, k.general, "Last", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.plain.Send(ctx, last.ID, "bye", ""); err != nil {
		t.Fatal(err)
	}
	if err := k.owner.DeleteCircle(ctx, k.circle.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{k.owner, k.plain} {
		if _, err := c.History(ctx, last.ID, client.HistoryQuery{}); client.Code(err) != "not_found" {
			t.Fatalf("history of a deleted circle's thread: %v", err)
		}
	}
}

// TestThreadLimit: a stream has at most OSHI_MAX_ACTIVE_THREADS active
// threads; archived ones do not count, and threads are not streams of
// the circle's limit.
func TestThreadLimit(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxActiveThreads: 1, MaxStreamsPerCircle: 1})
	_, c := s.User("alice")
	if c.Handshake().Limits["max_active_threads"] != 1 {
		t.Fatalf("handshake limits = %+v", c.Handshake().Limits)
	}
	circle, err := c.CreateCircle(ctx, "Small", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	g := circle.Streams[0].ID
	one, err := c.CreateThread(ctx, g, "one", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateThread(ctx, g, "two", "")
	wantCode(t, err, "limit_reached")
	yes, no := true, false
	if _, err := c.EditThread(ctx, one.ID, client.ThreadEdit{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	two, err := c.CreateThread(ctx, g, "two", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.EditThread(ctx, one.ID, client.ThreadEdit{Archived: &no})
	wantCode(t, err, "limit_reached")
	_, err = c.Send(ctx, one.ID, "wake up", "")
	wantCode(t, err, "limit_reached")
	// Archived threads page newest first.
	if _, err := c.EditThread(ctx, two.ID, client.ThreadEdit{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	page, next, err := c.Threads(ctx, g, true, "", 1)
	if err != nil || len(page) != 1 || page[0].ID != two.ID || next == "" {
		t.Fatalf("first page = %v, %q, %v", page, next, err)
	}
	page, next, err = c.Threads(ctx, g, true, next, 1)
	if err != nil || len(page) != 1 || page[0].ID != one.ID || next != "" {
		t.Fatalf("second page = %v, %q, %v", page, next, err)
	}
}

// rawConn is a WebSocket connection that logs every frame it sends and
// reads (C→S, S→C), for the protocol's captured examples (go test -v).
type rawConn struct {
	t    *testing.T
	name string
	ws   *websocket.Conn
	ref  int
}

func dialRaw(t *testing.T, s *oshitest.Server, name string, l *client.Login) *rawConn {
	t.Helper()
	ctx := ctxT(t)
	ws, _, err := websocket.Dial(ctx, s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 22)
	t.Cleanup(func() { _ = ws.Close(websocket.StatusNormalClosure, "") })
	r := &rawConn{t: t, name: name, ws: ws, ref: 100}
	r.until("handshake", false)
	auth, _ := json.Marshal(map[string]any{"cmd": "auth", "ref": 1, "token": l.Token})
	if err := ws.Write(ctx, websocket.MessageText, auth); err != nil {
		t.Fatal(err)
	}
	r.until("ready", true)
	return r
}

// send writes a frame with the next ref (fields in the order given) and
// returns the ref.
func (r *rawConn) send(fields ...any) int {
	r.t.Helper()
	r.ref++
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < len(fields); i += 2 {
		if i == 2 {
			fmt.Fprintf(&b, `,"ref":%d`, r.ref)
		}
		if i > 0 {
			b.WriteString(",")
		}
		k, _ := json.Marshal(fields[i])
		v, _ := json.Marshal(fields[i+1])
		b.Write(k)
		b.WriteString(":")
		b.Write(v)
	}
	if len(fields) == 2 {
		fmt.Fprintf(&b, `,"ref":%d`, r.ref)
	}
	b.WriteString("}")
	r.t.Logf("%s C→S %s", r.name, b.String())
	if err := r.ws.Write(ctxT(r.t), websocket.MessageText, []byte(b.String())); err != nil {
		r.t.Fatal(err)
	}
	return r.ref
}

// until reads frames, logging them, up to one whose cmd is cmd (and,
// with wantRef, whose ref is the last one sent); it returns that frame.
func (r *rawConn) until(cmd string, quiet bool) json.RawMessage {
	r.t.Helper()
	for {
		_, data, err := r.ws.Read(ctxT(r.t))
		if err != nil {
			r.t.Fatalf("%s: reading until %s: %v", r.name, cmd, err)
		}
		var f struct {
			Cmd string `json:"cmd"`
		}
		_ = json.Unmarshal(data, &f)
		if !quiet {
			r.t.Logf("%s S→C %s", r.name, data)
		}
		if f.Cmd == cmd {
			return data
		}
	}
}

// untilAll reads frames, logging them, until it has seen each of cmds,
// in any order (they come from different topics).
func (r *rawConn) untilAll(cmds ...string) {
	r.t.Helper()
	want := make(map[string]bool)
	for _, c := range cmds {
		want[c] = true
	}
	for len(want) > 0 {
		_, data, err := r.ws.Read(ctxT(r.t))
		if err != nil {
			r.t.Fatalf("%s: reading until %v: %v", r.name, cmds, err)
		}
		var f struct {
			Cmd string `json:"cmd"`
		}
		_ = json.Unmarshal(data, &f)
		r.t.Logf("%s S→C %s", r.name, data)
		delete(want, f.Cmd)
	}
}

// TestThreadFrames runs the protocol's thread examples over raw
// connections and checks each answer's command; run with -v to see the
// frames.
func TestThreadFrames(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	aliceL, alice := s.User("alice")
	bobL, bob := s.User("bob")
	circle, err := alice.CreateCircle(ctx, "Town", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	g := circle.Streams[0].ID
	voice, err := alice.CreateStreamWith(ctx, circle.ID, "lounge", client.StreamOptions{Kind: models.Voice})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alice %s bob %s circle %s general %s lounge %s", aliceL.User.ID, bobL.User.ID, circle.ID, g, voice.ID)
	a := dialRaw(t, s, "alice", aliceL)
	b := dialRaw(t, s, "bob", bobL)
	b.send("cmd", "subscribe", "stream", g)
	b.until("subscribe", false)
	a.send("cmd", "message_new", "stream", g, "content", "Who brings what on Saturday?")
	a.until("message_new", false) // the reply (alice is not subscribed)
	msg := b.until("message_new", false)
	var m struct {
		Message models.Message `json:"message"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}

	a.send("cmd", "thread_create", "stream", g, "name", "Saturday picnic", "message", m.Message.ID)
	a.until("thread_create", false)
	b.untilAll("message_thread", "thread_create")

	a.send("cmd", "thread_create", "stream", g, "name", "Again", "message", m.Message.ID)
	a.until("error", false)
	a.send("cmd", "thread_create", "stream", voice.ID, "name", "Voice chat")
	a.until("error", false)
	a.send("cmd", "thread_create", "stream", g, "name", "Elsewhere", "message", voice.ID)
	a.until("error", false)
	b.send("cmd", "thread_list", "stream", g)
	b.until("thread_list", false)

	th := m.Message.ID
	b.send("cmd", "subscribe", "stream", th)
	b.until("subscribe", false)
	b.send("cmd", "message_new", "stream", th, "content", "I'll bring lemonade")
	b.until("message_new", false) // the event
	b.until("message_new", false) // the reply
	b.send("cmd", "history", "stream", th)
	b.until("history", false)

	a.send("cmd", "thread_edit", "thread", th, "archived", true)
	a.until("thread_edit", false)
	b.until("thread_update", false)
	b.send("cmd", "thread_list", "stream", g, "archived", true)
	b.until("thread_list", false)
	b.send("cmd", "message_new", "stream", th, "content", "and cups")
	b.untilAll("thread_update", "message_new")
	b.until("message_new", false)

	a.send("cmd", "thread_edit", "thread", th, "locked", true)
	a.until("thread_edit", false)
	b.until("thread_update", false)
	b.send("cmd", "message_new", "stream", th, "content", "one more thing")
	b.until("error", false)
	b.send("cmd", "thread_edit", "thread", th, "name", "Mine now")
	b.until("error", false)
	b.send("cmd", "thread_delete", "thread", th)
	b.until("error", false)

	a.send("cmd", "thread_delete", "thread", th)
	a.until("thread_delete", false)
	b.untilAll("thread_delete", "unsubscribed", "message_thread")
}

// TestThreadListPaging pages through thread_list two at a time, newest
// first: every active thread once, even when the last one of a page is
// archived before the next page is asked for; a cursor the server did
// not send is refused.
func TestThreadListPaging(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageThreads)
	var want []string // newest first
	for i := range 5 {
		th, err := k.owner.CreateThread(ctx, k.general, fmt.Sprint("topic ", i), "")
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{th.ID}, want...)
	}
	var got []string
	cursor := ""
	for page := 0; page < 10; page++ {
		list, next, err := k.plain.Threads(ctx, k.general, false, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range list {
			got = append(got, th.ID)
		}
		if page == 0 {
			yes := true
			if _, err := k.owner.EditThread(ctx, list[len(list)-1].ID, client.ThreadEdit{Archived: &yes}); err != nil {
				t.Fatal(err)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %q, want %q", got, want)
	}
	for _, bad := range []string{"nope", "12.", ".id", "+5.x", want[0]} {
		if _, _, err := k.plain.Threads(ctx, k.general, false, bad, 2); errorCode(err) != "invalid_cursor" {
			t.Errorf("cursor %q: %v, want invalid_cursor", bad, err)
		}
	}
}
