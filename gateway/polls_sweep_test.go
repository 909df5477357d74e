package gateway_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// countDocs counts the documents of a collection of s's store that
// match filter.
func countDocs(t *testing.T, ctx context.Context, s *oshitest.Server, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := s.Srv.Store().Database().Collection(coll).CountDocuments(ctx, filter)
	if err != nil {
		t.Fatalf("count %s: %v", coll, err)
	}
	return n
}

// TestPollClosedAfterRestart: the node that created a poll stops before
// its expiry; the node started in its place finds the poll among the
// open polls and closes it at its expiry, announced to a subscriber,
// without anyone voting.
func TestPollClosedAfterRestart(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{PollMinExpiry: time.Second})
	aL, a := s.User("alice")
	bL, _ := s.User("bob")
	dm, err := a.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// Three seconds: the restart and the subscription are well within
	// them, so neither node closes it before the subscriber is there.
	poll, err := a.CreatePoll(ctx, dm.ID, client.PollSpec{Question: "Later?", Options: []string{"yes", "no"}, Expires: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if n := countDocs(t, ctx, s, store.OpenPollsCollection, bson.D{{Key: "_id", Value: poll.ID}}); n != 1 {
		t.Fatalf("%d open-poll records for the new poll, want 1", n)
	}
	s.Restart()
	a2, b2 := s.Dial(aL), s.Dial(bL)
	if _, err := b2.Subscribe(ctx, dm.ID, 0); err != nil {
		t.Fatal(err)
	}
	hist, err := a2.History(ctx, dm.ID, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Poll.Closed {
		t.Fatalf("history after the restart: %v, %v; want the poll still open (was the restart slower than the poll's 3 s?)", hist, err)
	}
	final := nextPollUpdate(t, b2, poll.ID)
	if !final.Closed || time.Now().Before(poll.Poll.ExpiresAt) {
		t.Fatalf("poll_update %+v at %v; want closed at its expiry %v", final, time.Now(), poll.Poll.ExpiresAt)
	}
	wantCounts(t, final, 0, 0)
	if n := countDocs(t, ctx, s, store.OpenPollsCollection, bson.D{{Key: "_id", Value: poll.ID}}); n != 0 {
		t.Fatalf("%d open-poll records for the closed poll, want 0", n)
	}
	_, _, err = a2.Vote(ctx, dm.ID, poll.ID, 0)
	wantCode(t, err, "poll_closed")
}

// TestPollDataDeleted: deleting a poll's message, its stream or its
// circle leaves none of its votes and no open-poll record; closing a
// poll removes its record and keeps its votes.
func TestPollDataDeleted(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, owner := s.User("owner")
	_, plain := s.User("plain")
	for _, tc := range []struct {
		name      string
		remove    func(circleID, streamID, msgID string) error
		keepVotes bool
	}{
		{"message deleted", func(_, streamID, msgID string) error {
			_, err := owner.Delete(ctx, streamID, msgID)
			return err
		}, false},
		{"stream deleted", func(_, streamID, _ string) error { return owner.DeleteStream(ctx, streamID) }, false},
		{"circle deleted", func(circleID, _, _ string) error { return owner.DeleteCircle(ctx, circleID) }, false},
		{"poll closed", func(_, streamID, msgID string) error {
			_, err := owner.ClosePoll(ctx, streamID, msgID)
			return err
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			circle, err := owner.CreateCircle(ctx, "Polls "+tc.name, models.Public)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := plain.JoinCircle(ctx, circle.ID); err != nil {
				t.Fatal(err)
			}
			streamID := circle.Streams[0].ID
			poll, err := owner.CreatePoll(ctx, streamID, client.PollSpec{Question: "Tea?", Options: []string{"yes", "no"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*client.Client{owner, plain} {
				if _, _, err := c.Vote(ctx, streamID, poll.ID, 0); err != nil {
					t.Fatal(err)
				}
			}
			byMessage := bson.D{{Key: "message_id", Value: poll.ID}}
			byID := bson.D{{Key: "_id", Value: poll.ID}}
			if v, o := countDocs(t, ctx, s, store.PollVotesCollection, byMessage), countDocs(t, ctx, s, store.OpenPollsCollection, byID); v != 2 || o != 1 {
				t.Fatalf("before: %d votes, %d open-poll records; want 2 and 1", v, o)
			}
			if err := tc.remove(circle.ID, streamID, poll.ID); err != nil {
				t.Fatal(err)
			}
			wantVotes := int64(0)
			if tc.keepVotes {
				wantVotes = 2
			}
			if v, o := countDocs(t, ctx, s, store.PollVotesCollection, byMessage), countDocs(t, ctx, s, store.OpenPollsCollection, byID); v != wantVotes || o != 0 {
				t.Fatalf("after: %d votes, %d open-poll records; want %d and 0", v, o, wantVotes)
			}
		})
	}
}
