package circles

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSets(t *testing.T) {
	ctx := context.Background()
	var loads atomic.Int32
	fail := atomic.Bool{}
	ss := newSets(func(_ context.Context, key string) ([]string, error) {
		loads.Add(1)
		if fail.Load() {
			return nil, errors.New("store down")
		}
		return []string{key + "-a", key + "-b"}, nil
	})

	// Many first readers at once load once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := ss.has(ctx, "k", "k-a"); err != nil || !ok {
				t.Errorf("has = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loaded %d times, want 1", n)
	}

	// Writes keep a loaded set current; a write to an unloaded set is
	// left to the load.
	ss.set("k", "k-c", true)
	ss.set("k", "k-a", false)
	ss.set("other", "x", true)
	got, _ := ss.list(ctx, "k")
	slices.Sort(got)
	if !slices.Equal(got, []string{"k-b", "k-c"}) {
		t.Fatalf("list = %v", got)
	}

	// Failures are not cached.
	fail.Store(true)
	if _, err := ss.has(ctx, "broken", "x"); err == nil {
		t.Fatal("no error from a failing load")
	}
	fail.Store(false)
	if ok, err := ss.has(ctx, "broken", "broken-a"); err != nil || !ok {
		t.Fatalf("after the store came back: %v, %v", ok, err)
	}
}
