package streams

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// ErrBadSeq refuses a negative read seq.
var ErrBadSeq = errors.New("seq must not be negative")

// readLocks serialize the changes to one user's read states on this
// node: they share a document, which the embedded store updates as
// read-modify-write, so two concurrent writes could lose one. A user
// picks a lock by an FNV hash of their id.
const readLocks = 64

func (s *Service) readLock(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	mu := &s.readMu[h.Sum32()%readLocks]
	mu.Lock()
	return mu.Unlock
}

// Ack records that the user has read a stream up to seq: seqs beyond the
// newest message this node knows of are clamped to it, and the read seq
// only moves forward. It returns the user's read seq after the call and
// whether it moved (an ack at or below it changes nothing).
func (s *Service) Ack(ctx context.Context, userID, streamID string, seq int64) (int64, bool, error) {
	if seq < 0 {
		return 0, false, ErrBadSeq
	}
	st, err := s.check(ctx, userID, streamID, models.ViewStreams)
	if err != nil {
		return 0, false, err
	}
	st.mu.Lock()
	seq = min(seq, st.stored)
	st.mu.Unlock()
	id := models.ReadStateID(userID, streamID)
	defer s.readLock(userID)()
	cur, err := s.store.ReadState(ctx, userID, streamID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cur = &models.ReadState{ID: id, UserID: userID, StreamID: streamID}
	case err != nil:
		return 0, false, fmt.Errorf("ack: %w", err)
	}
	if seq <= cur.Seq {
		return cur.Seq, false, nil
	}
	next := *cur
	next.Seq, next.UpdatedAt = seq, s.now()
	// Mentions now read are forgotten.
	next.Mentions = slices.DeleteFunc(slices.Clone(cur.Mentions), func(m int64) bool { return m <= seq })
	if err := s.store.SetReadState(ctx, &next); err != nil {
		return 0, false, fmt.Errorf("ack: %w", err)
	}
	return seq, true, nil
}

// FillUnread sets Unread and Mentions on each stream: its LastSeq minus
// the user's read seq, never negative, and the unread mentions. The
// user's read states are one read by _id.
func (s *Service) FillUnread(ctx context.Context, userID string, sts []*models.Stream) error {
	all, err := s.store.ReadStates(ctx, userID)
	if err != nil {
		return fmt.Errorf("read states: %w", err)
	}
	for _, st := range sts {
		var read, mentions int64
		if rs := all[st.ID]; rs != nil {
			read, mentions = rs.Seq, unreadMentions(rs)
		}
		unread := max(st.LastSeq-read, 0)
		st.Unread, st.Mentions = &unread, &mentions
	}
	return nil
}
