package streams_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// pollNode is one streams service of a cluster sharing one store, with
// the poll closes it announced.
type pollNode struct {
	svc    *streams.Service
	mu     sync.Mutex
	closed int // closed polls announced
}

func (n *pollNode) closes() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

func startPollNode(t *testing.T, st store.Store) *pollNode {
	t.Helper()
	n := &pollNode{}
	n.svc = streams.NewService(st, everyone{}, streams.Config{
		PollMinExpiry:     time.Second,
		PollSweepInterval: 20 * time.Millisecond,
		OnChanged: func(c *streams.Change) {
			if c.Kind == streams.PollUpdated && c.Message.Poll.Closed {
				n.mu.Lock()
				n.closed++
				n.mu.Unlock()
			}
		},
	})
	t.Cleanup(func() { _ = n.svc.Close(context.Background()) })
	return n
}

// waitFor checks cond until it holds, failing the test after ten
// seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPollClosedByAnyNode: two nodes on one store both queue a poll one
// of them created (the other finds it in its sweep of the open polls);
// it is closed at its expiry and announced once, by either node or, when
// the creator stopped before the expiry, by the other, without anyone
// voting.
func TestPollClosedByAnyNode(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stopCreator bool
	}{
		{"both running", false},
		{"creator stopped before the expiry", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st := openStore(t)
			streamID := channel(t, st, "polls")
			creator, other := startPollNode(t, st), startPollNode(t, st)

			expires := int64(2)
			type result struct {
				m   *models.Message
				err error
			}
			res := make(chan result, 1)
			err := creator.svc.CreatePoll(ctx, user(1), streamID, streams.PollSpec{Question: "Now?", Options: []string{"yes", "no"}, Expires: &expires}, "",
				func(m *models.Message, err error) { res <- result{m, err} })
			if err != nil {
				t.Fatal(err)
			}
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			poll := r.m
			open, err := st.OpenPolls(ctx)
			if err != nil || len(open) != 1 || open[0].MessageID != poll.ID || open[0].StreamID != streamID || !open[0].ExpiresAt.Equal(poll.Poll.ExpiresAt) {
				t.Fatalf("open polls after poll_create: %+v, %v", open, err)
			}
			if tc.stopCreator {
				if err := creator.svc.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// The other node finds it in a sweep.
			waitFor(t, "the other node to queue the poll", func() bool {
				return streams.PollQueued(other.svc, poll.ID) || other.closes() > 0
			})
			waitFor(t, "the poll closed and announced", func() bool { return creator.closes()+other.closes() > 0 })
			// Both nodes have handled their timer and the record is gone:
			// no later claim can succeed, so the counts are final.
			waitFor(t, "both nodes done with the poll", func() bool {
				open, err := st.OpenPolls(ctx)
				creatorDone := tc.stopCreator || !streams.PollQueued(creator.svc, poll.ID)
				return err == nil && len(open) == 0 && creatorDone && !streams.PollQueued(other.svc, poll.ID)
			})
			m, err := st.Message(ctx, poll.ID)
			if err != nil || !m.Poll.Closed {
				t.Fatalf("stored poll %+v, %v; want closed", m, err)
			}
			if now := time.Now(); now.Before(poll.Poll.ExpiresAt) {
				t.Fatalf("closed before its expiry %v (now %v)", poll.Poll.ExpiresAt, now)
			}
			a, b := creator.closes(), other.closes()
			switch {
			case tc.stopCreator && (a != 0 || b != 1):
				t.Fatalf("closes announced: creator %d, other %d; want 0 and 1", a, b)
			case a+b != 1:
				t.Fatalf("closes announced: creator %d, other %d; want one in all", a, b)
			}
		})
	}
}

// TestPollRecordOfFailedPost: a poll whose message is not stored leaves
// no open-poll record behind.
func TestPollRecordOfFailedPost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := &gatedStore{Store: openStore(t)}
	streamID := channel(t, st, "polls")
	n := startPollNode(t, st)
	st.fail.Store(1)
	res := make(chan error, 1)
	err := n.svc.CreatePoll(ctx, user(1), streamID, streams.PollSpec{Question: "Lost?", Options: []string{"yes", "no"}}, "",
		func(_ *models.Message, err error) { res <- err })
	if err != nil {
		t.Fatal(err)
	}
	if err := <-res; err == nil {
		t.Fatal("the post was stored; want the insert to fail")
	}
	waitFor(t, "the record removed", func() bool {
		open, err := st.OpenPolls(ctx)
		return err == nil && len(open) == 0
	})
}
