package streams

import (
	"context"
	"time"

	"github.com/oshichat/oshi/models"
)

// Delivery order. Each node hands a stream's messages to OnStored in seq
// order, exactly once, whichever node stored them. Alone, the committer
// stores them in order and nothing waits. In a cluster a message stored
// elsewhere may arrive before an earlier one: it is held until the gap is
// filled by NATS or, after gapWait, from the store.

// gapWait is how long a node waits for a missing seq to arrive from the
// other nodes before reading it from the store.
const gapWait = 100 * time.Millisecond

// deliverLocked hands m, and any held messages that follow it, to
// OnStored. st.mu must be held.
func (s *Service) deliverLocked(st *state, m *models.Message) {
	st.stored = max(st.stored, m.Seq)
	switch {
	case m.Seq <= st.lastSeq:
		return // already delivered
	case m.Seq > st.lastSeq+1:
		if st.held == nil {
			st.held = make(map[int64]*models.Message)
		}
		st.held[m.Seq] = m
		if st.gapTimer == nil {
			st.gapTimer = time.AfterFunc(gapWait, func() { s.fillGap(st) })
		}
		return
	}
	s.cfg.OnStored(m)
	st.lastSeq = m.Seq
	st.recent.add(m.Seq, m.ID)
	s.drainLocked(st)
}

// drainLocked delivers held messages that have become next in line and
// drops those already delivered. st.mu must be held.
func (s *Service) drainLocked(st *state) {
	for len(st.held) > 0 {
		next, ok := st.held[st.lastSeq+1]
		if !ok {
			break
		}
		delete(st.held, next.Seq)
		s.cfg.OnStored(next)
		st.lastSeq = next.Seq
		st.recent.add(next.Seq, next.ID)
	}
	for seq := range st.held {
		if seq <= st.lastSeq {
			delete(st.held, seq)
		}
	}
	if len(st.held) == 0 && st.gapTimer != nil {
		st.gapTimer.Stop()
		st.gapTimer = nil
	}
}

// fillGap reads the messages missing before the held ones from the store
// and delivers them.
func (s *Service) fillGap(st *state) {
	st.mu.Lock()
	from, upTo := st.lastSeq, int64(0)
	for seq := range st.held {
		if upTo == 0 || seq < upTo {
			upTo = seq
		}
	}
	st.mu.Unlock()
	var msgs []*models.Message
	if upTo > from+1 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		msgs, err = s.Range(ctx, st.stream.ID, from, upTo-1, int(min(upTo-1-from, 1000)))
		cancel()
		if err != nil {
			s.log.Warn("fill seq gap", "stream", st.stream.ID, "err", err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.gapTimer = nil
	for _, m := range msgs {
		s.deliverLocked(st, m)
	}
	s.drainLocked(st)
	if len(st.held) > 0 && st.gapTimer == nil {
		st.gapTimer = time.AfterFunc(gapWait, func() { s.fillGap(st) })
	}
}

// receive takes a message another node stored.
func (s *Service) receive(st *state, m *models.Message) {
	if m.StreamID != st.stream.ID || m.Seq <= 0 {
		return
	}
	st.mu.Lock()
	s.deliverLocked(st, m)
	st.mu.Unlock()
}

// Follow runs fn with the stream's order held and the seq of the newest
// message delivered so far. Every message with a higher seq reaches
// OnStored after fn returns, so a subscription made inside fn misses
// nothing and a read of seqs up to lastSeq duplicates nothing. fn must not
// block. The caller must have checked access, and must call the returned
// unfollow once when it stops following.
//
// In a cluster the first follower on this node subscribes to the other
// nodes' news of the stream and catches up with the store, so lastSeq is
// current when fn runs.
func (s *Service) Follow(ctx context.Context, streamID string, fn func(lastSeq int64)) (unfollow func(), err error) {
	st, err := s.load(ctx, streamID)
	if err != nil {
		return nil, err
	}
	if s.cfg.Cluster != nil {
		if err := s.interest(ctx, st); err != nil {
			return nil, err
		}
	}
	st.mu.Lock()
	fn(st.lastSeq)
	st.mu.Unlock()
	if s.cfg.Cluster == nil {
		return func() {}, nil
	}
	return func() { s.disinterest(st) }, nil
}

func (s *Service) interest(ctx context.Context, st *state) error {
	st.followMu.Lock()
	defer st.followMu.Unlock()
	if st.followers > 0 {
		st.followers++
		return nil
	}
	unsub, err := s.cfg.Cluster.SubscribeStream(st.stream.ID, func(m *models.Message) { s.receive(st, m) })
	if err != nil {
		return err
	}
	// While nobody here followed the stream, other nodes may have stored
	// messages this node never heard of. Nobody here needed them; skip
	// to the recorded head. Later ones arrive through the subscription,
	// and any between the recorded head (written a moment late) and them
	// are filled from the store.
	head, err := s.store.Stream(ctx, st.stream.ID)
	if err != nil {
		unsub()
		return err
	}
	maxSeq := head.LastSeq
	st.mu.Lock()
	if maxSeq > st.lastSeq {
		st.lastSeq = maxSeq
		st.stored = max(st.stored, maxSeq)
		s.drainLocked(st)
	}
	st.mu.Unlock()
	st.followers, st.unfollow = 1, unsub
	return nil
}

func (s *Service) disinterest(st *state) {
	st.followMu.Lock()
	defer st.followMu.Unlock()
	st.followers--
	if st.followers == 0 && st.unfollow != nil {
		st.unfollow()
		st.unfollow = nil
	}
}
