package streams_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// seqStore records the size of each last_seq update.
type seqStore struct {
	store.Store
	mu    sync.Mutex
	sizes []int
}

func (s *seqStore) SetLastSeq(ctx context.Context, seqs map[string]int64) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(seqs))
	s.mu.Unlock()
	return s.Store.SetLastSeq(ctx, seqs)
}

// TestLastSeqWrittenInSteps: the committer writes the new last_seq of many
// busy streams a few at a time (one at a time while no post waits), so no
// message waits behind one long update, and every stream's last_seq still
// reaches the store, while messages keep coming and once more at Close.
func TestLastSeqWrittenInSteps(t *testing.T) {
	ss := &seqStore{Store: openStore(t)}
	svc := streams.NewService(ss, everyone{}, streams.Config{SeqFlushInterval: 20 * time.Millisecond})
	ctx := context.Background()
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = channel(t, ss, fmt.Sprintf("busy%d", i))
	}
	post := func(round int) {
		for i, id := range ids {
			if _, err := svc.Post(ctx, user(1), id, "hello", fmt.Sprintf("r%d-%d", round, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := func(seq int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			behind := 0
			for _, id := range ids {
				if s, err := ss.Stream(ctx, id); err != nil || s.LastSeq != seq {
					behind++
				}
			}
			if behind == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d streams' last_seq not %d", behind, n, seq)
			}
		}
	}
	steps := func() []int {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return slices.Clone(ss.sizes)
	}
	post(1)
	before := len(steps()) // every step from now on runs with no post waiting
	want(1)
	if idle := steps()[before:]; slices.ContainsFunc(idle, func(n int) bool { return n != 1 }) {
		t.Fatalf("steps with no post waiting wrote %v streams each, want 1", idle)
	}
	post(2)
	post(3)
	want(3)
	post(4)
	if err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want(4)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for i, size := range ss.sizes[:len(ss.sizes)-1] { // all but Close's
		if size > 8 {
			t.Fatalf("update %d wrote %d streams' last_seq at once, want at most 8 (all: %v)", i, size, ss.sizes)
		}
	}
}
