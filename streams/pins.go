package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// ErrTooManyPins refuses a pin beyond models.MaxPins in one stream.
var ErrTooManyPins = fmt.Errorf("a stream may have at most %d pinned messages", models.MaxPins)

// Pin pins (pin) or unpins a message of a stream. In a channel only the
// circle's owner may, in a DM either participant. Pinning a pinned
// message, or unpinning one that is not, changes nothing and announces
// nothing. A pin is kept twice: on the message (pinned_at, pinned_by),
// which is the truth, and in the stream's pins, which lists them; both
// are written by _id under the stream's change lock (see change), the
// stream's pins first, so a failure between the two leaves at most an
// id that Pins skips.
func (s *Service) Pin(ctx context.Context, user *models.User, streamID, msgID string, pin bool) (*models.Message, error) {
	return s.change(ctx, user.ID, streamID, msgID, models.ViewStreams, func(st *state, m *models.Message) (*Change, error) {
		if err := s.mayPin(ctx, st, user.ID); err != nil {
			return nil, err
		}
		if (m.PinnedAt != nil) == pin {
			return nil, nil
		}
		if !pin {
			updated, err := s.store.UnpinMessage(ctx, m.ID)
			if err != nil {
				return nil, fmt.Errorf("unpin: %w", err)
			}
			s.removePin(ctx, streamID, m.ID)
			return &Change{Kind: Unpinned, Message: updated, User: user.Ref()}, nil
		}
		// The stream is read again: the loaded copy's pins are not kept
		// up to date.
		stream, err := s.store.Stream(ctx, streamID)
		if err != nil {
			return nil, fmt.Errorf("pin: %w", err)
		}
		if !slices.Contains(stream.Pins, m.ID) && len(stream.Pins) >= models.MaxPins {
			return nil, ErrTooManyPins
		}
		if err := s.store.AddPin(ctx, streamID, m.ID); err != nil {
			return nil, fmt.Errorf("pin: %w", err)
		}
		updated, err := s.store.PinMessage(ctx, m.ID, user.Ref(), s.now())
		if err != nil {
			return nil, fmt.Errorf("pin: %w", err)
		}
		return &Change{Kind: Pinned, Message: updated, User: user.Ref()}, nil
	})
}

// removePin takes a message out of its stream's pins. The message itself
// is already unpinned, so a failure only leaves an id Pins skips; it is
// logged.
func (s *Service) removePin(ctx context.Context, streamID, msgID string) {
	if err := s.store.RemovePin(ctx, streamID, msgID); err != nil {
		s.log.Warn("remove pin", "stream", streamID, "message", msgID, "err", err)
	}
}

// mayPin checks that userID may pin in the stream: ManageMessages in a
// circle's stream; in a DM either participant may.
func (s *Service) mayPin(ctx context.Context, st *state, userID string) error {
	if st.stream.Kind == models.DM {
		return nil
	}
	_, err := s.circles.Require(ctx, st.stream.CircleID, userID, st.stream.ID, models.ManageMessages)
	return err
}

// Pins returns the pinned messages of a stream the user may read, oldest
// pin first. The stream and each message are read by _id; ids whose
// message is gone, deleted or no longer pinned are skipped.
func (s *Service) Pins(ctx context.Context, userID, streamID string) ([]*models.Message, error) {
	if _, err := s.text(ctx, userID, streamID, models.ReadHistory); err != nil {
		return nil, err
	}
	stream, err := s.store.Stream(ctx, streamID)
	if err != nil {
		return nil, fmt.Errorf("pins: %w", err)
	}
	msgs := make([]*models.Message, 0, len(stream.Pins))
	for _, id := range stream.Pins {
		m, err := s.store.Message(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("pins: %w", err)
		case m.StreamID != streamID || m.Deleted || m.PinnedAt == nil:
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}
