package gateway_test

import (
	"bytes"
	"encoding/json"
	"slices"
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

	// A thread of general, archived so the circle's view is as it was
	// (threads_test.go).
	thread, err := owner.CreateThread(ctx, general, "plans", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Send(ctx, thread.ID, "thread secret", ""); err != nil {
		t.Fatal(err)
	}
	archived := true
	if _, err := owner.EditThread(ctx, thread.ID, client.ThreadEdit{Archived: &archived}); err != nil {
		t.Fatal(err)
	}

	// A custom emoji of the circle (emoji_test.go).
	secretEmoji, err := client.UploadEmoji(ctx, s.URL, ownerL.Token, priv.ID, "secret_emoji", "s.png", bytes.NewReader(pngImage(t, 8, 8)))
	if err != nil {
		t.Fatal(err)
	}

	// A bot in the circle with commands, so invoking them could reach
	// it (bots_test.go).
	botSecret, err := client.CreateBot(ctx, s.URL, ownerL.Token, "circlebot", true)
	if err != nil {
		t.Fatal(err)
	}
	botConn := s.Dial(&client.Login{User: botSecret.Bot.Ref(), Token: botSecret.Token})
	if _, err := botConn.RegisterCommands(ctx, echoCommands); err != nil {
		t.Fatal(err)
	}
	if err := owner.AddBot(ctx, priv.ID, botSecret.Bot.ID); err != nil {
		t.Fatal(err)
	}
	botID := botSecret.Bot.ID

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
		{"circle_bot_add", map[string]any{"cmd": "circle_bot_add", "circle": priv.ID, "bot": botID}},
		{"command_register", map[string]any{"cmd": "command_register", "commands": []models.Command{}}},
		{"command_permissions", map[string]any{"cmd": "command_permissions", "circle": priv.ID, "bot": botID, "command": "echo", "roles": []string{role.ID}}},
		{"command_list", map[string]any{"cmd": "command_list", "circle": priv.ID}},
		{"command_invoke", map[string]any{"cmd": "command_invoke", "stream": general, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi"}}},
		{"dm command_list", map[string]any{"cmd": "command_list", "stream": dm.ID}},
		{"dm command_invoke", map[string]any{"cmd": "command_invoke", "stream": dm.ID, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi"}}},
		{"thread_create", map[string]any{"cmd": "thread_create", "stream": general, "name": "mine"}},
		{"thread_create from a message", map[string]any{"cmd": "thread_create", "stream": general, "name": "mine", "message": secret.ID}},
		{"dm thread_create", map[string]any{"cmd": "thread_create", "stream": dm.ID, "name": "mine"}},
		{"thread_edit", map[string]any{"cmd": "thread_edit", "thread": thread.ID, "name": "mine"}},
		{"thread_edit archived", map[string]any{"cmd": "thread_edit", "thread": thread.ID, "archived": false}},
		{"thread_edit locked", map[string]any{"cmd": "thread_edit", "thread": thread.ID, "locked": true}},
		{"thread_delete", map[string]any{"cmd": "thread_delete", "thread": thread.ID}},
		{"thread_list", map[string]any{"cmd": "thread_list", "stream": general}},
		{"thread_list archived", map[string]any{"cmd": "thread_list", "stream": general, "archived": true}},
		{"thread subscribe", map[string]any{"cmd": "subscribe", "stream": thread.ID, "since": 0}},
		{"thread history", map[string]any{"cmd": "history", "stream": thread.ID}},
		{"thread message_new", map[string]any{"cmd": "message_new", "stream": thread.ID, "content": "let me in"}},
		{"emoji_list", map[string]any{"cmd": "emoji_list", "circle": priv.ID}},
		{"emoji_rename", map[string]any{"cmd": "emoji_rename", "circle": priv.ID, "emoji": secretEmoji.ID, "name": "mine"}},
		{"emoji_delete", map[string]any{"cmd": "emoji_delete", "circle": priv.ID, "emoji": secretEmoji.ID}},
		{"message_react_add custom emoji", map[string]any{"cmd": "message_react_add", "stream": general, "id": secret.ID, "emoji": models.CustomReaction(secretEmoji.ID)}},
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
	changes = append(changes, "emoji_update")
	changes = append(changes, "thread_create", "thread_update", "thread_delete", "message_thread")
	for _, c := range []*client.Client{stranger, former, kicked, banned} {
		oshitest.Quiet(t, c, 200*time.Millisecond, changes...)
	}
	// No invocation reached the bot: an interaction would be queued
	// before the answer to a ping sent now.
	if err := botConn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for len(botConn.Events()) > 0 {
		if ev := <-botConn.Events(); ev.Cmd == "interaction" {
			t.Fatalf("the bot got %s", ev.Raw)
		}
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
	if emojis, err := owner.EmojiList(ctx, priv.ID); err != nil || len(emojis) != 1 || emojis[0].Name != "secret_emoji" {
		t.Fatalf("emoji after the refusals = %v, %v", emojis, err)
	}
	again, err := owner.Request(ctx, map[string]any{"cmd": "member_list", "circle": priv.ID})
	if err != nil {
		t.Fatal(err)
	}
	var members struct {
		Members []models.MemberView `json:"members"`
	}
	if err := json.Unmarshal(again, &members); err != nil || len(members.Members) != 2 || !slices.ContainsFunc(members.Members, func(m models.MemberView) bool { return m.User.ID == owner.Ready().User.ID }) ||
		!slices.ContainsFunc(members.Members, func(m models.MemberView) bool { return m.User.ID == botID }) {
		t.Fatalf("members after the refusals = %s (%v); want the owner and the bot alone", again, err)
	}
	bans, err := owner.Request(ctx, map[string]any{"cmd": "ban_list", "circle": priv.ID})
	if err != nil || !strings.Contains(string(bans), bannedL.User.ID) {
		t.Fatalf("ban_list = %s, %v; want the banned member still banned", bans, err)
	}
	// The thread is as it was: archived, unlocked, named, one message;
	// general's messages started no thread.
	threads, _, err := owner.Threads(ctx, general, true, "", 0)
	if err != nil || len(threads) != 1 || threads[0].Name != "plans" || !threads[0].Archived || threads[0].Locked {
		t.Fatalf("threads after the refusals = %+v, %v", threads, err)
	}
	if th, err := owner.History(ctx, thread.ID, client.HistoryQuery{}); err != nil || len(th) != 1 {
		t.Fatalf("thread history after the refusals = %v, %v", th, err)
	}
	for _, m := range hist {
		if m.Thread != nil {
			t.Fatalf("message %s started a thread: %+v", m.ID, m.Thread)
		}
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
