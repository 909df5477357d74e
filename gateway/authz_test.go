package gateway_test

import (
	"encoding/json"
	"strings"
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
	ownerL, owner := s.User("owner")
	_, friend := s.User("friend")
	_, stranger := s.User("stranger")
	_, former := s.User("former")
	kickedL, kicked := s.User("kicked")
	bannedL, banned := s.User("banned")

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
	// Two more members are removed by moderation.
	for _, c := range []*client.Client{kicked, banned} {
		if _, err := c.JoinInvite(ctx, code); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.Request(ctx, map[string]any{"cmd": "member_kick", "circle": priv.ID, "user": kickedL.User.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Request(ctx, map[string]any{"cmd": "member_ban", "circle": priv.ID, "user": bannedL.User.ID, "reason": "spam"}); err != nil {
		t.Fatal(err)
	}
	raw, err := owner.Request(ctx, map[string]any{"cmd": "stream_create", "circle": priv.ID, "name": "lounge", "kind": "voice"})
	if err != nil {
		t.Fatal(err)
	}
	var voice struct {
		Stream models.Stream `json:"stream"`
	}
	if err := json.Unmarshal(raw, &voice); err != nil {
		t.Fatal(err)
	}
	role, err := owner.CreateRole(ctx, priv.ID, client.RoleSpec{Name: "crew"})
	if err != nil {
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

	// A poll in each stream, so voting or closing could change it.
	poll, err := owner.CreatePoll(ctx, general, client.PollSpec{Question: "secret poll", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	dmPoll, err := friend.CreatePoll(ctx, dm.ID, client.PollSpec{Question: "private poll", Options: []string{"a", "b"}})
	if err != nil {
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
		{"stream_create voice", map[string]any{"cmd": "stream_create", "circle": priv.ID, "name": "mine", "kind": "voice"}},
		{"circle_edit", map[string]any{"cmd": "circle_edit", "circle": priv.ID, "name": "Mine"}},
		{"circle_transfer", map[string]any{"cmd": "circle_transfer", "circle": priv.ID, "user": stranger.Ready().User.ID}},
		{"circle_delete", map[string]any{"cmd": "circle_delete", "circle": priv.ID}},
		{"stream_edit", map[string]any{"cmd": "stream_edit", "stream": general, "name": "mine"}},
		{"stream_edit position", map[string]any{"cmd": "stream_edit", "stream": general, "position": 1}},
		{"stream_delete", map[string]any{"cmd": "stream_delete", "stream": general}},
		{"stream_permissions", map[string]any{"cmd": "stream_permissions", "stream": general, "role": priv.ID, "allow": models.ViewStreams}},
		{"role_create", map[string]any{"cmd": "role_create", "circle": priv.ID, "name": "mine"}},
		{"role_edit", map[string]any{"cmd": "role_edit", "circle": priv.ID, "role": role.ID, "name": "mine"}},
		{"role_move", map[string]any{"cmd": "role_move", "circle": priv.ID, "role": role.ID, "position": 1}},
		{"role_delete", map[string]any{"cmd": "role_delete", "circle": priv.ID, "role": role.ID}},
		{"role_assign", map[string]any{"cmd": "role_assign", "circle": priv.ID, "role": role.ID}},
		{"role_remove", map[string]any{"cmd": "role_remove", "circle": priv.ID, "role": role.ID, "user": ownerL.User.ID}},
		{"invite_create", map[string]any{"cmd": "invite_create", "circle": priv.ID, "max_uses": 1}},
		{"invite_list", map[string]any{"cmd": "invite_list", "circle": priv.ID}},
		{"invite_revoke", map[string]any{"cmd": "invite_revoke", "circle": priv.ID, "code": code}},
		{"member_list", map[string]any{"cmd": "member_list", "circle": priv.ID}},
		{"member_kick", map[string]any{"cmd": "member_kick", "circle": priv.ID, "user": ownerL.User.ID}},
		{"member_ban", map[string]any{"cmd": "member_ban", "circle": priv.ID, "user": ownerL.User.ID}},
		{"member_unban", map[string]any{"cmd": "member_unban", "circle": priv.ID, "user": bannedL.User.ID}},
		{"ban_list", map[string]any{"cmd": "ban_list", "circle": priv.ID}},
		{"member_timeout", map[string]any{"cmd": "member_timeout", "circle": priv.ID, "user": ownerL.User.ID, "seconds": 60}},
		{"member_nick", map[string]any{"cmd": "member_nick", "circle": priv.ID, "nickname": "me"}},
		{"audit_log", map[string]any{"cmd": "audit_log", "circle": priv.ID}},
		{"typing", map[string]any{"cmd": "typing", "stream": general}},
		{"dm typing", map[string]any{"cmd": "typing", "stream": dm.ID}},
		{"voice_join", map[string]any{"cmd": "voice_join", "stream": voice.Stream.ID, "peer_id": "p1"}},
		{"poll_create", map[string]any{"cmd": "poll_create", "stream": general, "question": "mine?", "options": []string{"yes", "no"}}},
		{"poll_vote", map[string]any{"cmd": "poll_vote", "stream": general, "id": poll.ID, "choices": []int{0}}},
		{"poll_vote withdraw", map[string]any{"cmd": "poll_vote", "stream": general, "id": poll.ID, "choices": []int{}}},
		{"poll_close", map[string]any{"cmd": "poll_close", "stream": general, "id": poll.ID}},
		{"dm poll_create", map[string]any{"cmd": "poll_create", "stream": dm.ID, "question": "mine?", "options": []string{"yes", "no"}}},
		{"dm poll_vote", map[string]any{"cmd": "poll_vote", "stream": dm.ID, "id": dmPoll.ID, "choices": []int{1}}},
		{"dm poll_close", map[string]any{"cmd": "poll_close", "stream": dm.ID, "id": dmPoll.ID}},
	}
	// What the set-up caused is behind them.
	for _, c := range []*client.Client{stranger, former, kicked, banned} {
		drain(t, c)
	}
	for _, who := range []struct {
		name string
		c    *client.Client
	}{{"stranger", stranger}, {"former member", former}, {"kicked member", kicked}, {"banned member", banned}} {
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
	changes = append(changes, "typing", "circle_update", "member_update", "voice_user_joined", "poll_update")
	for _, c := range []*client.Client{stranger, former, kicked, banned} {
		oshitest.Quiet(t, c, 200*time.Millisecond, changes...)
	}
	hist, err := owner.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 3 || hist[0].Content != "secret" || hist[0].Deleted || hist[0].EditedAt != nil || len(hist[0].ReactionCounts) != 0 ||
		hist[0].PinnedAt != nil || hist[1].PinnedAt == nil || hist[2].Poll == nil || hist[2].Poll.Closed || hist[2].Poll.Options[0].Count+hist[2].Poll.Options[1].Count != 0 {
		t.Fatalf("owner's history = %v, %v; want only the owner's messages", hist, err)
	}
	dmHist, err := friend.History(ctx, dm.ID, client.HistoryQuery{})
	if err != nil || len(dmHist) != 2 || dmHist[0].Content != "private words" || len(dmHist[0].ReactionCounts) != 0 || dmHist[0].PinnedAt == nil ||
		dmHist[1].Poll == nil || dmHist[1].Poll.Closed || dmHist[1].Poll.Options[0].Count+dmHist[1].Poll.Options[1].Count != 0 {
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
	// The circle is as it was: its name, owner, roles and streams.
	var now *models.Circle
	for _, c := range s.Dial(ownerL).Ready().Circles {
		if c.ID == priv.ID {
			now = c
		}
	}
	if now == nil || now.Name != "Private" || now.OwnerID != ownerL.User.ID || len(now.Roles) != 2 || now.Roles[1].Name != "crew" || len(now.Streams) != 2 || now.Streams[0].Name != "general" {
		t.Fatalf("circle after the refusals = %+v", now)
	}
	again, err := owner.Request(ctx, map[string]any{"cmd": "member_list", "circle": priv.ID})
	if err != nil {
		t.Fatal(err)
	}
	var members struct {
		Members []models.MemberView `json:"members"`
	}
	if err := json.Unmarshal(again, &members); err != nil || len(members.Members) != 1 || members.Members[0].User.ID != owner.Ready().User.ID {
		t.Fatalf("members after the refusals = %s (%v); want the owner alone", again, err)
	}
	bans, err := owner.Request(ctx, map[string]any{"cmd": "ban_list", "circle": priv.ID})
	if err != nil || !strings.Contains(string(bans), bannedL.User.ID) {
		t.Fatalf("ban_list = %s, %v; want the banned member still banned", bans, err)
	}
}

// drain takes the events that reached c before a ping's answer: the
// connection delivers in order, so all of them are in c's queue by then.
func drain(t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case <-c.Events():
		default:
			return
		}
	}
}
