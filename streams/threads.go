package streams

import (
	"context"
	"fmt"

	"github.com/oshichat/oshi/models"
)

// Stream returns a stream as this node has it loaded, without an access
// check: its kind, circle and (for a thread) parent never change. The
// fields threads change (name, archived, locked) may be stale: package
// circles has them current.
func (s *Service) Stream(ctx context.Context, streamID string) (*models.Stream, error) {
	st, err := s.load(ctx, streamID)
	if err != nil {
		return nil, err
	}
	out := *st.stream
	return &out, nil
}

// SetThread records on message msgID of stream streamID the thread it
// started (nil: the thread was deleted) and announces it to the
// stream's subscribers in order with its messages (Change ThreadSet).
// It checks no access: the caller (package circles) did. A deleted
// message, or one that is gone, is ErrMessageNotFound.
func (s *Service) SetThread(ctx context.Context, streamID, msgID string, ref *models.ThreadRef, by models.UserRef) (*models.Message, error) {
	st, err := s.load(ctx, streamID)
	if err != nil {
		return nil, err
	}
	return s.changeIn(ctx, st, streamID, msgID, func(_ *state, m *models.Message) (*Change, error) {
		if ref == nil && m.Thread == nil || ref != nil && m.Thread != nil && *ref == *m.Thread {
			return nil, nil
		}
		updated, err := s.store.SetMessageThread(ctx, m.ID, ref)
		if err != nil {
			return nil, fmt.Errorf("set message thread: %w", err)
		}
		return &Change{Kind: ThreadSet, Message: updated, User: by}, nil
	})
}

// DropThreadsOf forgets the loaded threads of a deleted stream (see
// Drop).
func (s *Service) DropThreadsOf(parentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, st := range s.states {
		select {
		case <-st.ready:
		default:
			continue // loading: it will find nothing, or be dropped later
		}
		if st.err == nil && st.stream.ParentID == parentID {
			delete(s.states, id)
		}
	}
}
