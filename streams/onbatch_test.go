package streams_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/streams"
)

// TestOnBatch: the committer reports every insert, with its size, what
// was stored, a duration and the error of a failed one.
func TestOnBatch(t *testing.T) {
	type report struct {
		size, stored int
		took         time.Duration
		err          error
	}
	var (
		mu      sync.Mutex
		reports []report
	)
	gs := &gatedStore{Store: openStore(t)}
	svc := streams.NewService(gs, everyone{}, streams.Config{OnBatch: func(size, stored int, took time.Duration, err error) {
		mu.Lock()
		reports = append(reports, report{size, stored, took, err})
		mu.Unlock()
	}})
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	id := channel(t, gs, "batches")
	ctx := context.Background()
	for i := range 3 {
		if _, err := svc.Post(ctx, user(1), id, "hello", ""); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	gs.fail.Store(1)
	if _, err := svc.Post(ctx, user(1), id, "lost", ""); err == nil {
		t.Fatal("post on a failing store succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 4 {
		t.Fatalf("%d reports, want 4: %+v", len(reports), reports)
	}
	for i, r := range reports[:3] {
		if r.size != 1 || r.stored != 1 || r.err != nil || r.took <= 0 {
			t.Errorf("report %d = %+v, want one stored, no error, a duration", i, r)
		}
	}
	if r := reports[3]; r.size != 1 || r.stored != 0 || r.err == nil {
		t.Errorf("failed insert reported %+v", r)
	}
}
