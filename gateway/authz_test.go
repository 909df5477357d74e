package gateway_test

import (
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestEveryCommandChecksAccess tries every command that touches a circle
// or a stream as a stranger and as a former member of a private circle,
// and as a third party on a DM: each is refused with forbidden or
// not_found, nothing is leaked, and nothing changes.
func TestEveryCommandChecksAccess(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, owner := s.User("owner")
	_, friend := s.User("friend")
	_, stranger := s.User("stranger")
	_, former := s.User("former")

	priv, err := owner.CreateCircle(ctx, "Private", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	general := priv.Streams[0].ID
	code, err := owner.CreateInvite(ctx, priv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := former.JoinInvite(ctx, code); err != nil {
		t.Fatal(err)
	}
	if err := former.LeaveCircle(ctx, priv.ID); err != nil {
		t.Fatal(err)
	}
	dm, err := owner.OpenDM(ctx, "friend")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := owner.Send(ctx, general, "secret", "")
	if err != nil {
		t.Fatal(err)
	}
	words, err := friend.Send(ctx, dm.ID, "private words", "")
	if err != nil {
		t.Fatal(err)
	}

	// One message of each stream is pinned, so unpinning could change it.
	pinned, err := owner.Send(ctx, general, "pinned", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Pin(ctx, general, pinned.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Pin(ctx, dm.ID, words.ID); err != nil {
		t.Fatal(err)
	}

	commands := []struct {
		name  string
		frame map[string]any
	}{
		{"subscribe", map[string]any{"cmd": "subscribe", "stream": general}},
		{"subscribe since", map[string]any{"cmd": "subscribe", "stream": general, "since": 0}},
		{"message_new", map[string]any{"cmd": "message_new", "stream": general, "content": "let me in"}},
		{"history", map[string]any{"cmd": "history", "stream": general}},
		{"history after", map[string]any{"cmd": "history", "stream": general, "after": 0}},
		{"stream_create", map[string]any{"cmd": "stream_create", "circle": priv.ID, "name": "mine"}},
		{"invite_create", map[string]any{"cmd": "invite_create", "circle": priv.ID}},
		{"circle_join without invite", map[string]any{"cmd": "circle_join", "circle": priv.ID}},
		{"dm subscribe", map[string]any{"cmd": "subscribe", "stream": dm.ID, "since": 0}},
		{"dm message_new", map[string]any{"cmd": "message_new", "stream": dm.ID, "content": "hi"}},
		{"dm history", map[string]any{"cmd": "history", "stream": dm.ID}},
		{"message_edit", map[string]any{"cmd": "message_edit", "stream": general, "id": secret.ID, "content": "mine"}},
		{"message_delete", map[string]any{"cmd": "message_delete", "stream": general, "id": secret.ID}},
		{"message_react_add", map[string]any{"cmd": "message_react_add", "stream": general, "id": secret.ID, "emoji": "👀"}},
		{"message_react_remove", map[string]any{"cmd": "message_react_remove", "stream": general, "id": secret.ID, "emoji": "👀"}},
		{"dm message_edit", map[string]any{"cmd": "message_edit", "stream": dm.ID, "id": words.ID, "content": "mine"}},
		{"dm message_delete", map[string]any{"cmd": "message_delete", "stream": dm.ID, "id": words.ID}},
		{"stream_ack", map[string]any{"cmd": "stream_ack", "stream": general, "seq": 1}},
		{"dm stream_ack", map[string]any{"cmd": "stream_ack", "stream": dm.ID, "seq": 1}},
		{"dm message_react_add", map[string]any{"cmd": "message_react_add", "stream": dm.ID, "id": words.ID, "emoji": "👀"}},
		{"message_new reply_to", map[string]any{"cmd": "message_new", "stream": general, "content": "re", "reply_to": secret.ID}},
		{"dm message_new reply_to", map[string]any{"cmd": "message_new", "stream": dm.ID, "content": "re", "reply_to": words.ID}},
		{"message_pin", map[string]any{"cmd": "message_pin", "stream": general, "id": secret.ID}},
		{"message_unpin", map[string]any{"cmd": "message_unpin", "stream": general, "id": pinned.ID}},
		{"pins_list", map[string]any{"cmd": "pins_list", "stream": general}},
		{"dm message_pin", map[string]any{"cmd": "message_pin", "stream": dm.ID, "id": words.ID}},
		{"dm message_unpin", map[string]any{"cmd": "message_unpin", "stream": dm.ID, "id": words.ID}},
		{"dm pins_list", map[string]any{"cmd": "pins_list", "stream": dm.ID}},
	}
	for _, who := range []struct {
		name string
		c    *client.Client
	}{{"stranger", stranger}, {"former member", former}} {
		for _, cmd := range commands {
			t.Run(who.name+"/"+cmd.name, func(t *testing.T) {
				raw, err := who.c.Request(ctx, cmd.frame)
				if c := client.Code(err); c != "forbidden" && c != "not_found" {
					t.Fatalf("%s: reply %s, err %v; want forbidden or not_found", cmd.name, raw, err)
				}
			})
		}
	}
	// Nothing leaked to them, nothing changed.
	changes := []string{"message_new", "message_edit", "message_delete", "message_react_add", "message_react_remove", "stream_ack", "message_pin", "message_unpin"}
	oshitest.Quiet(t, stranger, 200*time.Millisecond, changes...)
	oshitest.Quiet(t, former, 200*time.Millisecond, changes...)
	hist, err := owner.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[0].Content != "secret" || hist[0].Deleted || hist[0].EditedAt != nil || len(hist[0].ReactionCounts) != 0 ||
		hist[0].PinnedAt != nil || hist[1].PinnedAt == nil {
		t.Fatalf("owner's history = %v, %v; want only the owner's messages", hist, err)
	}
	dmHist, err := friend.History(ctx, dm.ID, client.HistoryQuery{})
	if err != nil || len(dmHist) != 1 || dmHist[0].Content != "private words" || len(dmHist[0].ReactionCounts) != 0 || dmHist[0].PinnedAt == nil {
		t.Fatalf("dm history = %v, %v", dmHist, err)
	}
	for _, st := range []string{general, dm.ID} {
		if pins, err := owner.Pins(ctx, st); err != nil || len(pins) != 1 {
			t.Fatalf("pins of %s = %v, %v; want one", st, pins, err)
		}
	}
	cs, err := owner.ListCircles(ctx)
	if err != nil || len(cs) != 0 {
		t.Fatalf("a private circle is listed: %v, %v", cs, err)
	}
}
