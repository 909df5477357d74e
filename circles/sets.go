package circles

import (
	"context"
	"sync"
)

// sets is a map of lazily loaded id sets: a circle's members, or the
// circles a user belongs to. A set is read from the store on first use,
// once even when many ask at once, and then kept current by the
// Service's own writes (and Observe, for other nodes' writes).
type sets struct {
	mu   sync.Mutex
	m    map[string]*set
	load func(ctx context.Context, key string) ([]string, error)
}

type set struct {
	ready chan struct{} // closed once ids is loaded or err is set
	err   error
	mu    sync.RWMutex
	ids   map[string]struct{}
}

func newSets(load func(ctx context.Context, key string) ([]string, error)) *sets {
	return &sets{m: make(map[string]*set), load: load}
}

// get returns the loaded set for key.
func (ss *sets) get(ctx context.Context, key string) (*set, error) {
	ss.mu.Lock()
	s, ok := ss.m[key]
	if !ok {
		s = &set{ready: make(chan struct{})}
		ss.m[key] = s
	}
	ss.mu.Unlock()
	if ok {
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if s.err != nil {
			return ss.get(ctx, key)
		}
		return s, nil
	}
	ids, err := ss.load(ctx, key)
	if err != nil {
		// Failures are not cached: the next caller tries the store again.
		ss.mu.Lock()
		delete(ss.m, key)
		ss.mu.Unlock()
		s.err = err
		close(s.ready)
		return nil, err
	}
	s.ids = make(map[string]struct{}, len(ids))
	for _, id := range ids {
		s.ids[id] = struct{}{}
	}
	close(s.ready)
	return s, nil
}

// has reports whether id is in key's set.
func (ss *sets) has(ctx context.Context, key, id string) (bool, error) {
	s, err := ss.get(ctx, key)
	if err != nil {
		return false, err
	}
	s.mu.RLock()
	_, ok := s.ids[id]
	s.mu.RUnlock()
	return ok, nil
}

// list returns key's set.
func (ss *sets) list(ctx context.Context, key string) ([]string, error) {
	s, err := ss.get(ctx, key)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	return out, nil
}

// set records a write in a loaded set; a set not loaded yet is read from
// the store, with the write, when first needed.
func (ss *sets) set(key, id string, in bool) {
	ss.mu.Lock()
	s := ss.m[key]
	ss.mu.Unlock()
	if s == nil {
		return
	}
	<-s.ready
	if s.err != nil {
		return
	}
	s.mu.Lock()
	if in {
		s.ids[id] = struct{}{}
	} else {
		delete(s.ids, id)
	}
	s.mu.Unlock()
}
