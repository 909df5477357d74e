package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func nextEvent(t *testing.T, c *client.Client, cmds ...string) client.Event {
	t.Helper()
	return oshitest.Next(t, c, cmds...)
}

func noEvent(t *testing.T, c *client.Client, d time.Duration, cmds ...string) {
	t.Helper()
	oshitest.Quiet(t, c, d, cmds...)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := client.Code(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestCircleChat(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")

	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if circle.OwnerID != alice.User.ID || circle.Visibility != models.Public || len(circle.Streams) != 1 || circle.Streams[0].Name != "general" {
		t.Fatalf("circle = %+v", circle)
	}
	general := circle.Streams[0].ID

	list, err := bc.ListCircles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != circle.ID || list[0].Member == nil || *list[0].Member {
		t.Fatalf("bob's circle_list = %+v", list)
	}
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ac, "member_join"); ev.Circle != circle.ID || ev.User.ID != bob.User.ID {
		t.Fatalf("member_join = %s", ev.Raw)
	}
	for _, c := range []*client.Client{ac, bc} {
		if seq, err := c.Subscribe(ctx, general, -1); err != nil || seq != 0 {
			t.Fatalf("subscribe: seq %d, %v", seq, err)
		}
	}

	for i := 1; i <= 5; i++ {
		sender, author := ac, alice
		if i%2 == 0 {
			sender, author = bc, bob
		}
		msg, err := sender.Send(ctx, general, fmt.Sprintf("hello %d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		if msg.Seq != int64(i) || msg.StreamID != general || msg.Author.ID != author.User.ID ||
			msg.Author.Username != author.User.Username || msg.Content != fmt.Sprintf("hello %d", i) || msg.ID == "" || msg.CreatedAt.IsZero() {
			t.Fatalf("ack %d = %+v", i, msg)
		}
	}
	for _, c := range []*client.Client{ac, bc} {
		for i := 1; i <= 5; i++ {
			ev := nextEvent(t, c, "message_new")
			if ev.Stream != general || ev.Message.Seq != int64(i) || ev.Message.Content != fmt.Sprintf("hello %d", i) {
				t.Fatalf("event %d = %s", i, ev.Raw)
			}
		}
	}
	hist, err := bc.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 5 || hist[0].Seq != 1 || hist[4].Seq != 5 {
		t.Fatalf("history = %v, %v", hist, err)
	}
	page, err := bc.History(ctx, general, client.HistoryQuery{Before: 5, Limit: 2})
	if err != nil || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("history before 5 limit 2 = %v, %v", page, err)
	}
	page, err = bc.History(ctx, general, client.HistoryQuery{After: client.Seq(3)})
	if err != nil || len(page) != 2 || page[0].Seq != 4 {
		t.Fatalf("history after 3 = %v, %v", page, err)
	}

	// A new channel is announced to members; only the owner may make one.
	st, err := ac.CreateStream(ctx, circle.ID, "random")
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, bc, "stream_create"); ev.NewStream == nil || ev.NewStream.ID != st.ID {
		t.Fatalf("stream_create event = %s", ev.Raw)
	}
	_, err = bc.CreateStream(ctx, circle.ID, "mine")
	wantCode(t, err, "forbidden")

	// Leaving ends bob's subscriptions and tells alice.
	if err := bc.LeaveCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ac, "member_leave"); ev.User.ID != bob.User.ID {
		t.Fatalf("member_leave = %s", ev.Raw)
	}
	if _, err := ac.Send(ctx, general, "bob is gone", ""); err != nil {
		t.Fatal(err)
	}
	noEvent(t, bc, 300*time.Millisecond, "message_new")
	_, err = bc.Send(ctx, general, "let me in", "")
	wantCode(t, err, "forbidden")
	wantCode(t, ac.LeaveCircle(ctx, circle.ID), "owner_cannot_leave")
}

func TestDirectMessages(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	_, cc := s.User("carol")

	dm, err := ac.OpenDM(ctx, "BOB") // usernames are case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	if dm.Kind != models.DM || dm.Peer == nil || dm.Peer.ID != bob.User.ID || len(dm.Members) != 2 {
		t.Fatalf("dm = %+v", dm)
	}
	again, err := bc.OpenDM(ctx, "alice")
	if err != nil || again.ID != dm.ID || again.Peer.ID != alice.User.ID {
		t.Fatalf("bob's dm_open = %+v, %v; want the same stream", again, err)
	}
	if _, err := bc.Subscribe(ctx, dm.ID, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Send(ctx, dm.ID, "psst", ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, bc, "message_new"); ev.Message.Content != "psst" || ev.Message.Author.ID != alice.User.ID {
		t.Fatalf("dm event = %s", ev.Raw)
	}
	// A third person can neither read nor write it.
	_, err = cc.Subscribe(ctx, dm.ID, 0)
	wantCode(t, err, "forbidden")
	_, err = cc.Send(ctx, dm.ID, "hi", "")
	wantCode(t, err, "forbidden")
	_, err = cc.History(ctx, dm.ID, client.HistoryQuery{})
	wantCode(t, err, "forbidden")

	_, err = ac.OpenDM(ctx, "nobody")
	wantCode(t, err, "user_not_found")
	_, err = ac.OpenDM(ctx, "alice")
	wantCode(t, err, "invalid_user")

	// ready lists the DM with its peer.
	again2 := s.Dial(bob)
	dms := again2.Ready().DMs
	if len(dms) != 1 || dms[0].ID != dm.ID || dms[0].Peer == nil || dms[0].Peer.Username != "alice" || dms[0].LastSeq != 1 {
		t.Fatalf("ready dms = %+v", dms)
	}
}

func TestMembershipIsEnforced(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	_, mc := s.User("mallory")

	priv, err := ac.CreateCircle(ctx, "Staff", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	general := priv.Streams[0].ID
	if _, err := ac.Send(ctx, general, "secret", ""); err != nil {
		t.Fatal(err)
	}
	list, err := mc.ListCircles(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("private circle listed: %+v, %v", list, err)
	}

	refusals := []struct {
		name string
		do   func() error
		code string
	}{
		{"subscribe", func() error { _, err := mc.Subscribe(ctx, general, 0); return err }, "forbidden"},
		{"message_new", func() error { _, err := mc.Send(ctx, general, "hi", ""); return err }, "forbidden"},
		{"history", func() error { _, err := mc.History(ctx, general, client.HistoryQuery{}); return err }, "forbidden"},
		{"join private", func() error { _, err := mc.JoinCircle(ctx, priv.ID); return err }, "forbidden"},
		{"invite for foreign circle", func() error { _, err := mc.CreateInvite(ctx, priv.ID); return err }, "forbidden"},
		{"stream_create", func() error { _, err := mc.CreateStream(ctx, priv.ID, "x"); return err }, "forbidden"},
		{"subscribe unknown", func() error { _, err := mc.Subscribe(ctx, "0190c1de-0000-7000-8000-000000000000", 0); return err }, "not_found"},
		{"join unknown", func() error { _, err := mc.JoinCircle(ctx, "nope"); return err }, "not_found"},
		{"bad invite", func() error { _, err := mc.JoinInvite(ctx, "not-a-code"); return err }, "invalid_invite"},
		{"leave not member", func() error { return mc.LeaveCircle(ctx, priv.ID) }, "not_member"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) { wantCode(t, r.do(), r.code) })
	}

	code, err := ac.CreateInvite(ctx, priv.ID)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := mc.JoinInvite(ctx, code)
	if err != nil || joined.ID != priv.ID || len(joined.Streams) != 1 {
		t.Fatalf("join by invite = %+v, %v", joined, err)
	}
	_, err = mc.JoinInvite(ctx, code)
	wantCode(t, err, "already_member")
	hist, err := mc.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Content != "secret" {
		t.Fatalf("member history = %v, %v", hist, err)
	}
}

// TestSinceRecovery subscribes with since while another client publishes
// and checks the subscriber sees every seq exactly once, in order.
func TestSinceRecovery(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	bob, _ := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Busy", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	for i := 0; i < 30; i++ {
		if _, err := ac.Send(ctx, general, fmt.Sprintf("before %d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	const during = 150
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < during; i++ {
			if _, err := ac.Send(ctx, general, fmt.Sprintf("during %d", i), ""); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	bc := s.Dial(bob)
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	const since = 10
	if _, err := bc.Subscribe(ctx, general, since); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	total := int64(30 + during)
	for want := int64(since + 1); want <= total; want++ {
		ev := nextEvent(t, bc, "message_new")
		if ev.Message.Seq != want {
			t.Fatalf("got seq %d, want %d", ev.Message.Seq, want)
		}
	}
	noEvent(t, bc, 200*time.Millisecond, "message_new")
}

func TestNonceIsIdempotent(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Retry", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	first, err := ac.Send(ctx, general, "once", "n-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := ac.Send(ctx, general, "once", "n-1")
	if err != nil || again.ID != first.ID || again.Seq != first.Seq {
		t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
	}
	next, err := ac.Send(ctx, general, "twice", "n-2")
	if err != nil || next.Seq != first.Seq+1 {
		t.Fatalf("next = %+v, %v; want seq %d (no gap)", next, err, first.Seq+1)
	}
	hist, err := ac.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %v, %v; want 2 messages", hist, err)
	}
}

func TestBadInputKeepsSession(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxMessageLength: 20, MaxFrameBytes: 4096})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Lab", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID

	raw := []struct {
		name  string
		frame string
		code  string
	}{
		{"malformed json", `{"cmd":`, "bad_request"},
		{"not an object", `[1,2,3]`, "bad_request"},
		{"no cmd", `{"ref":1}`, "bad_request"},
		{"wrong field type", `{"cmd":"message_new","ref":7,"stream":5}`, "bad_request"},
		{"object ref", `{"cmd":"ping","ref":{"a":1}}`, "bad_request"},
	}
	for _, r := range raw {
		t.Run(r.name, func(t *testing.T) {
			if err := ac.WriteRaw(ctx, []byte(r.frame)); err != nil {
				t.Fatal(err)
			}
			ev := nextEvent(t, ac, "error")
			if ev.Code != r.code {
				t.Fatalf("error = %s, want code %s", ev.Raw, r.code)
			}
			if err := ac.Ping(ctx); err != nil {
				t.Fatalf("session unusable after %s: %v", r.name, err)
			}
		})
	}

	cmds := []struct {
		name  string
		frame map[string]any
		code  string
	}{
		{"unknown command", map[string]any{"cmd": "fly"}, "unknown_command"},
		{"auth again", map[string]any{"cmd": "auth", "token": "x"}, "already_authenticated"},
		{"empty content", map[string]any{"cmd": "message_new", "stream": general, "content": ""}, "invalid_content"},
		{"too long", map[string]any{"cmd": "message_new", "stream": general, "content": strings.Repeat("é", 21)}, "message_too_long"},
		{"control characters", map[string]any{"cmd": "message_new", "stream": general, "content": "a\x00b"}, "invalid_content"},
		{"missing stream", map[string]any{"cmd": "message_new", "content": "hi"}, "bad_request"},
		{"long nonce", map[string]any{"cmd": "message_new", "stream": general, "content": "hi", "nonce": strings.Repeat("n", 65)}, "invalid_nonce"},
		{"negative since", map[string]any{"cmd": "subscribe", "stream": general, "since": -1}, "bad_request"},
		{"negative limit", map[string]any{"cmd": "history", "stream": general, "limit": -1}, "bad_request"},
		{"unsubscribe not subscribed", map[string]any{"cmd": "unsubscribe", "stream": general}, "not_subscribed"},
		{"empty circle name", map[string]any{"cmd": "circle_create", "name": "  "}, "invalid_name"},
		{"bad visibility", map[string]any{"cmd": "circle_create", "name": "x", "visibility": "secret"}, "invalid_visibility"},
		{"join without circle", map[string]any{"cmd": "circle_join"}, "bad_request"},
		{"dm without user", map[string]any{"cmd": "dm_open"}, "bad_request"},
	}
	for _, c := range cmds {
		t.Run(c.name, func(t *testing.T) {
			_, err := ac.Request(ctx, c.frame)
			wantCode(t, err, c.code)
			var e *client.Error
			if !errorsAs(err, &e) || e.Src != c.frame["cmd"] {
				t.Fatalf("error src = %+v, want %v", e, c.frame["cmd"])
			}
			if err := ac.Ping(ctx); err != nil {
				t.Fatalf("session unusable: %v", err)
			}
		})
	}
	// Nothing of the refused messages was stored.
	hist, err := ac.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 0 {
		t.Fatalf("history = %v, %v; want nothing stored", hist, err)
	}

	// A frame over the limit ends the connection with 1009.
	if err := ac.WriteRaw(ctx, []byte(`{"cmd":"ping","pad":"`+strings.Repeat("x", 5000)+`"}`)); err != nil {
		t.Fatal(err)
	}
	<-ac.Done()
	if got := closeStatus(ac.Err()); got != 1009 {
		t.Fatalf("close status = %d (%v), want 1009", got, ac.Err())
	}
}
