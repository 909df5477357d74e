package gateway_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// pollCreate sends a poll_create frame and returns the poll message.
func pollCreate(ctx context.Context, c *client.Client, frame map[string]any) (*models.Message, error) {
	frame["cmd"] = "poll_create"
	raw, err := c.Request(ctx, frame)
	if err != nil {
		return nil, err
	}
	var r struct {
		Message *models.Message `json:"message"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return r.Message, nil
}

// nextPollUpdate waits for a poll_update of message id on c, checks
// that it names no voter and returns its poll.
func nextPollUpdate(t *testing.T, c *client.Client, id string, voters ...string) *models.Poll {
	t.Helper()
	for {
		ev := nextEvent(t, c, "poll_update")
		var upd struct {
			Stream string       `json:"stream"`
			ID     string       `json:"id"`
			Poll   *models.Poll `json:"poll"`
			Me     []int        `json:"me"`
		}
		if err := json.Unmarshal(ev.Raw, &upd); err != nil {
			t.Fatalf("poll_update %s: %v", ev.Raw, err)
		}
		for _, v := range voters {
			if strings.Contains(string(ev.Raw), v) {
				t.Fatalf("poll_update %s names voter %s", ev.Raw, v)
			}
		}
		if upd.Me != nil || upd.Poll == nil {
			t.Fatalf("poll_update %s: want a poll and no me", ev.Raw)
		}
		if upd.ID == id {
			return upd.Poll
		}
	}
}

func counts(p *models.Poll) []int {
	var out []int
	for _, o := range p.Options {
		out = append(out, o.Count)
	}
	return out
}

func wantCounts(t *testing.T, p *models.Poll, want ...int) {
	t.Helper()
	if got := counts(p); !slices.Equal(got, want) {
		t.Fatalf("counts = %v, want %v (poll %+v)", got, want, p)
	}
}

func TestPollRefusals(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageMessages)
	_, stranger := k.s.User("stranger")
	g := k.general
	long := func(n int) string { return strings.Repeat("x", n) }
	opts := []string{"yes", "no"}

	for _, tc := range []struct {
		name  string
		frame map[string]any
	}{
		{"no question", map[string]any{"question": "", "options": opts}},
		{"blank question", map[string]any{"question": "   ", "options": opts}},
		{"long question", map[string]any{"question": long(301), "options": opts}},
		{"control in question", map[string]any{"question": "a\x01b", "options": opts}},
		{"newline in question", map[string]any{"question": "a\nb", "options": opts}},
		{"one option", map[string]any{"question": "q", "options": []string{"only"}}},
		{"no options", map[string]any{"question": "q"}},
		{"eleven options", map[string]any{"question": "q", "options": strings.Split("a b c d e f g h i j k", " ")}},
		{"empty option", map[string]any{"question": "q", "options": []string{"a", ""}}},
		{"long option", map[string]any{"question": "q", "options": []string{"a", long(101)}}},
		{"control in option", map[string]any{"question": "q", "options": []string{"a", "b\x7f"}}},
		{"same options", map[string]any{"question": "q", "options": []string{"a", "b", "a"}}},
		{"expires too soon", map[string]any{"question": "q", "options": opts, "expires": 59}},
		{"expires zero", map[string]any{"question": "q", "options": opts, "expires": 0}},
		{"expires too late", map[string]any{"question": "q", "options": opts, "expires": 604801}},
	} {
		tc.frame["stream"] = g
		_, err := pollCreate(ctx, k.owner, tc.frame)
		if client.Code(err) != "invalid_poll" {
			t.Fatalf("%s: err %v, want invalid_poll", tc.name, err)
		}
	}
	// Limits are accepted: 300 and 100 characters, ten options, a week.
	ten := strings.Split("a b c d e f g h i j", " ")
	ten[0] = long(100)
	if _, err := pollCreate(ctx, k.owner, map[string]any{"stream": g, "question": long(300), "options": ten, "expires": 604800}); err != nil {
		t.Fatal(err)
	}
	if _, err := pollCreate(ctx, stranger, map[string]any{"stream": g, "question": "q", "options": opts}); client.Code(err) != "forbidden" && client.Code(err) != "not_found" {
		t.Fatalf("a stranger's poll: %v", err)
	}

	poll, err := k.owner.CreatePoll(ctx, g, client.PollSpec{Question: "Lunch?", Options: []string{"pizza", "soup", "salad"}, Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if poll.Content != "Lunch?" || poll.Poll == nil || poll.Poll.Question != "Lunch?" || poll.Poll.Multi || poll.Poll.Closed || len(poll.Poll.Options) != 3 ||
		poll.Poll.Options[2].ID != 2 || poll.Poll.Options[2].Text != "salad" {
		t.Fatalf("poll message = %+v, poll %+v", poll, poll.Poll)
	}
	if d := poll.Poll.ExpiresAt.Sub(poll.CreatedAt); d < 59*time.Second || d > 61*time.Second {
		t.Fatalf("expires_at %v for a poll created at %v with expires 60", poll.Poll.ExpiresAt, poll.CreatedAt)
	}

	// Votes: bad choices, strangers, a timed-out member.
	for _, choices := range [][]int{{3}, {-1}, {0, 1}, {0, 0}} {
		_, _, err := k.mod.Vote(ctx, g, poll.ID, choices...)
		wantCode(t, err, "invalid_choice")
	}
	_, err = k.mod.Request(ctx, map[string]any{"cmd": "poll_vote", "stream": g, "id": poll.ID})
	wantCode(t, err, "bad_request")
	if _, _, err := stranger.Vote(ctx, g, poll.ID, 0); client.Code(err) != "forbidden" && client.Code(err) != "not_found" {
		t.Fatalf("a stranger's vote: %v", err)
	}
	plain, err := k.plain.Send(ctx, g, "not a poll", "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = k.mod.Vote(ctx, g, plain.ID, 0)
	wantCode(t, err, "not_found")
	_, err = k.owner.ClosePoll(ctx, g, plain.ID)
	wantCode(t, err, "not_found")
	if _, err := k.owner.Timeout(ctx, k.circle.ID, k.plainL.User.ID, time.Minute, "calm down"); err != nil {
		t.Fatal(err)
	}
	_, _, err = k.plain.Vote(ctx, g, poll.ID, 0)
	wantCode(t, err, "forbidden")
	if _, err := pollCreate(ctx, k.plain, map[string]any{"stream": g, "question": "q", "options": opts}); client.Code(err) != "forbidden" {
		t.Fatalf("a timed-out member's poll: %v", err)
	}

	// Voting twice on a single-choice poll replaces the vote.
	p, me, err := k.mod.Vote(ctx, g, poll.ID, 0)
	if err != nil || !slices.Equal(me, []int{0}) {
		t.Fatalf("vote: %v, %v", me, err)
	}
	wantCounts(t, p, 1, 0, 0)
	p, me, err = k.mod.Vote(ctx, g, poll.ID, 2)
	if err != nil || !slices.Equal(me, []int{2}) {
		t.Fatalf("second vote: %v, %v", me, err)
	}
	wantCounts(t, p, 0, 0, 1)
	// The vote is one document, found by its _id.
	var vote models.PollVote
	votes := k.s.Srv.Store().Database().Collection(store.PollVotesCollection)
	if err := votes.FindOne(ctx, bson.D{{Key: "_id", Value: models.PollVoteID(poll.ID, k.modL.User.ID)}}).Decode(&vote); err != nil ||
		!slices.Equal(vote.Choices, []int{2}) || vote.MessageID != poll.ID || vote.UserID != k.modL.User.ID {
		t.Fatalf("stored vote %+v, %v", vote, err)
	}

	// Only its author or a member with manage_messages closes it.
	_, err = k.plain.ClosePoll(ctx, g, poll.ID)
	wantCode(t, err, "forbidden")
	if _, err := k.owner.Timeout(ctx, k.circle.ID, k.plainL.User.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	_, err = k.plain.ClosePoll(ctx, g, poll.ID)
	wantCode(t, err, "forbidden")
	closed, err := k.owner.ClosePoll(ctx, g, poll.ID)
	if err != nil || !closed.Closed {
		t.Fatalf("close: %+v, %v", closed, err)
	}
	wantCounts(t, closed, 0, 0, 1)
	_, _, err = k.plain.Vote(ctx, g, poll.ID, 1)
	wantCode(t, err, "poll_closed")
	_, _, err = k.mod.Vote(ctx, g, poll.ID)
	wantCode(t, err, "poll_closed")
	// Closing again changes nothing.
	if again, err := k.owner.ClosePoll(ctx, g, poll.ID); err != nil || !again.Closed {
		t.Fatalf("close again: %+v, %v", again, err)
	}

	// A deleted poll is gone: its tombstone keeps no question or
	// options, and it takes no votes.
	open, err := k.owner.CreatePoll(ctx, g, client.PollSpec{Question: "Secret plan?", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.Request(ctx, map[string]any{"cmd": "message_delete", "stream": g, "id": open.ID}); err != nil {
		t.Fatal(err)
	}
	_, _, err = k.mod.Vote(ctx, g, open.ID, 0)
	wantCode(t, err, "not_found")
	_, err = k.owner.ClosePoll(ctx, g, open.ID)
	wantCode(t, err, "not_found")
	hist, err := k.mod.History(ctx, g, client.HistoryQuery{})
	if err != nil || len(hist) == 0 {
		t.Fatal(hist, err)
	}
	if last := hist[len(hist)-1]; last.ID != open.ID || !last.Deleted || last.Poll != nil || last.Content != "" {
		t.Fatalf("tombstone of a poll: %+v", last)
	}
}

func TestPollLive(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageMessages)
	g := k.general
	if _, err := k.plain.Subscribe(ctx, g, 0); err != nil {
		t.Fatal(err)
	}
	voters := []string{k.ownerL.User.ID, k.modL.User.ID, "owner", `"mod"`}

	// A single-choice poll: the subscriber sees its message_new, then
	// each vote's counts, never who voted.
	poll, err := k.owner.CreatePoll(ctx, g, client.PollSpec{Question: "Tabs or spaces?", Options: []string{"tabs", "spaces"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := poll.Poll.ExpiresAt.Sub(poll.CreatedAt); d < 24*time.Hour-time.Second || d > 24*time.Hour+time.Second {
		t.Fatalf("default expiry: %v", d)
	}
	ev := nextEvent(t, k.plain, "message_new", "poll_update")
	if ev.Cmd != "message_new" || ev.Message.ID != poll.ID || ev.Message.Poll == nil || ev.Message.Poll.Question != "Tabs or spaces?" || ev.Message.Content != "Tabs or spaces?" {
		t.Fatalf("first event %s", ev.Raw)
	}
	if _, _, err := k.mod.Vote(ctx, g, poll.ID, 1); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, nextPollUpdate(t, k.plain, poll.ID, voters...), 0, 1)
	if _, _, err := k.owner.Vote(ctx, g, poll.ID, 1); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, nextPollUpdate(t, k.plain, poll.ID, voters...), 0, 2)
	// The same vote again changes nothing and announces nothing.
	if p, me, err := k.owner.Vote(ctx, g, poll.ID, 1); err != nil || !slices.Equal(me, []int{1}) {
		t.Fatalf("same vote: %v %v %v", p, me, err)
	}

	// A multi-choice poll, a withdrawal, an early close by a moderator.
	multi, err := k.owner.CreatePoll(ctx, g, client.PollSpec{Question: "Which days?", Options: []string{"mon", "tue", "wed"}, Multi: true})
	if err != nil {
		t.Fatal(err)
	}
	ev = nextEvent(t, k.plain, "message_new", "poll_update")
	if ev.Cmd != "message_new" || ev.Message.ID != multi.ID || !ev.Message.Poll.Multi {
		t.Fatalf("event %s; want the multi poll's message_new", ev.Raw)
	}
	if _, me, err := k.owner.Vote(ctx, g, multi.ID, 2, 0); err != nil || !slices.Equal(me, []int{0, 2}) {
		t.Fatalf("multi vote: %v, %v", me, err)
	}
	wantCounts(t, nextPollUpdate(t, k.plain, multi.ID, voters...), 1, 0, 1)
	if _, _, err := k.mod.Vote(ctx, g, multi.ID, 2); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, nextPollUpdate(t, k.plain, multi.ID, voters...), 1, 0, 2)
	p, me, err := k.owner.Vote(ctx, g, multi.ID)
	if err != nil || me == nil || len(me) != 0 {
		t.Fatalf("withdraw: %v, %v", me, err)
	}
	wantCounts(t, p, 0, 0, 1)
	wantCounts(t, nextPollUpdate(t, k.plain, multi.ID, voters...), 0, 0, 1)
	// Withdrawing twice changes nothing.
	if _, me, err := k.owner.Vote(ctx, g, multi.ID); err != nil || len(me) != 0 {
		t.Fatalf("withdraw again: %v, %v", me, err)
	}

	if _, err := k.mod.ClosePoll(ctx, g, multi.ID); err != nil {
		t.Fatal(err)
	}
	final := nextPollUpdate(t, k.plain, multi.ID, voters...)
	if !final.Closed {
		t.Fatalf("final poll_update %+v; want closed", final)
	}
	wantCounts(t, final, 0, 0, 1)
	_, _, err = k.owner.Vote(ctx, g, multi.ID, 1)
	wantCode(t, err, "poll_closed")

	// History carries the polls with their counts.
	hist, err := k.plain.History(ctx, g, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[0].Poll == nil || hist[1].Poll == nil {
		t.Fatalf("history = %v, %v", hist, err)
	}
	wantCounts(t, hist[0].Poll, 0, 2)
	wantCounts(t, hist[1].Poll, 0, 0, 1)
	if hist[0].Poll.Closed || !hist[1].Poll.Closed {
		t.Fatalf("closed in history: %v, %v", hist[0].Poll.Closed, hist[1].Poll.Closed)
	}
	noEvent(t, k.plain, 100*time.Millisecond, "poll_update")
}

// waitPast waits until the clock has passed at.
func waitPast(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !time.Now().After(at) {
		if time.Now().After(deadline) {
			t.Fatalf("clock never passed %v", at)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPollExpiry(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{PollMinExpiry: time.Second})
	_, a := s.User("alice")
	bL, b := s.User("bob")
	dm, err := a.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(ctx, dm.ID, 0); err != nil {
		t.Fatal(err)
	}
	_, err = pollCreate(ctx, a, map[string]any{"stream": dm.ID, "question": "q", "options": []string{"a", "b"}, "expires": 0})
	wantCode(t, err, "invalid_poll")
	poll, err := a.CreatePoll(ctx, dm.ID, client.PollSpec{Question: "Now?", Options: []string{"yes", "no"}, Expires: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, b, "message_new")
	if _, _, err := b.Vote(ctx, dm.ID, poll.ID, 0); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, nextPollUpdate(t, b, poll.ID), 1, 0)
	// In a DM only the author closes early.
	_, err = b.ClosePoll(ctx, dm.ID, poll.ID)
	wantCode(t, err, "forbidden")
	// The server closes it at expiry, with a final poll_update.
	final := nextPollUpdate(t, b, poll.ID, bL.User.ID)
	if !final.Closed || time.Now().Before(poll.Poll.ExpiresAt) {
		t.Fatalf("final %+v at %v, expiry %v", final, time.Now(), poll.Poll.ExpiresAt)
	}
	wantCounts(t, final, 1, 0)
	_, _, err = b.Vote(ctx, dm.ID, poll.ID, 1)
	wantCode(t, err, "poll_closed")
}

// TestPollExpiryAfterRestart: the node that would close a poll stops
// before its expiry, and no node finds the poll among the open polls
// (its record is removed, as for a poll stored before they were
// recorded); the first vote after the expiry closes the poll.
func TestPollExpiryAfterRestart(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{PollMinExpiry: time.Second})
	aL, a := s.User("alice")
	bL, _ := s.User("bob")
	dm, err := a.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// Two seconds: the restart is well within them, so the first node
	// never closes it.
	poll, err := a.CreatePoll(ctx, dm.ID, client.PollSpec{Question: "Later?", Options: []string{"yes", "no"}, Expires: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	open := s.Srv.Store().Database().Collection(store.OpenPollsCollection)
	if res, err := open.DeleteOne(ctx, bson.D{{Key: "_id", Value: poll.ID}}); err != nil || res.DeletedCount != 1 {
		t.Fatalf("remove the poll's open-poll record: %+v, %v", res, err)
	}
	s.Restart()
	waitPast(t, poll.Poll.ExpiresAt)
	a2, b2 := s.Dial(aL), s.Dial(bL)
	if _, err := a2.Subscribe(ctx, dm.ID, 0); err != nil {
		t.Fatal(err)
	}
	hist, err := b2.History(ctx, dm.ID, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Poll.Closed {
		t.Fatalf("history before the first touch: %v, %v; want the poll still open", hist, err)
	}
	_, _, err = b2.Vote(ctx, dm.ID, poll.ID, 0)
	wantCode(t, err, "poll_closed")
	final := nextPollUpdate(t, a2, poll.ID)
	if !final.Closed {
		t.Fatalf("poll_update %+v; want closed", final)
	}
	wantCounts(t, final, 0, 0)
}
