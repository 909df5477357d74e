package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Errors of message changes.
var (
	ErrMessageNotFound = errors.New("message not found")
	ErrInvalidEmoji    = errors.New("emoji must be 1-32 bytes of printable text without spaces")
	// ErrUnknownEmoji refuses a reaction with a custom emoji that is not
	// one of the message's circle (a DM has none).
	ErrUnknownEmoji = errors.New("custom emoji must be one of the message's circle")
	// ErrInvalidCustomEmoji refuses a reaction that starts with
	// models.CustomEmojiPrefix but is not well formed.
	ErrInvalidCustomEmoji = errors.New("a custom emoji is custom:<id>, the id 1-64 letters, digits or -")
)

// ChangeKind names a change to a stored message; the names are the
// protocol's event names.
type ChangeKind string

// Changes to stored messages.
const (
	Edited          ChangeKind = "message_edit"
	Deleted         ChangeKind = "message_delete"
	ReactionAdded   ChangeKind = "message_react_add"
	ReactionRemoved ChangeKind = "message_react_remove"
	Pinned          ChangeKind = "message_pin"
	Unpinned        ChangeKind = "message_unpin"
	PollUpdated     ChangeKind = "poll_update"
	// EmbedsUpdated: the server stored the previews of the message's
	// links (link embeds, embeds.go).
	EmbedsUpdated ChangeKind = "message_embeds"
	// ThreadSet: a thread was started from the message, renamed or
	// deleted (threads.go); Message.Thread is the thread's ref, nil
	// after a delete.
	ThreadSet ChangeKind = "message_thread"
)

// Change is a change to a stored message, handed to Config.OnChanged:
// an edit, a delete, a reaction, a pin or an unpin.
type Change struct {
	Kind ChangeKind
	// Message is the message after the change.
	Message *models.Message
	// User made the change.
	User models.UserRef
	// Emoji and Count are set for reactions: the emoji and how many users
	// have it on the message after the change.
	Emoji string
	Count int
}

// deliveryWait bounds how long a change waits for the message it changes
// to be handed to OnStored on this node (see change).
const deliveryWait = 250 * time.Millisecond

// change runs one change to message msgID of a stream where the user
// holds need.
// Changes to one stream are serialized (st.changeMu), so each reads the
// message as the previous one left it; fn validates and stores the change
// and returns the Change to announce, or nil when nothing changed. The
// announcement is made with the stream's order held (st.mu), after the
// message's own message_new, so no follower sees a change to a message it
// has not been given. The store work is done outside st.mu: the
// committer, which takes st.mu to deliver, is never kept waiting on it.
func (s *Service) change(ctx context.Context, userID, streamID, msgID string, need models.Permission, fn func(st *state, m *models.Message) (*Change, error)) (*models.Message, error) {
	st, err := s.text(ctx, userID, streamID, need)
	if err != nil {
		return nil, err
	}
	return s.changeIn(ctx, st, streamID, msgID, fn)
}

// changeIn is change on a loaded stream, without an access check: the
// caller made it, or the server itself changes the message (a poll
// closed at expiry).
func (s *Service) changeIn(ctx context.Context, st *state, streamID, msgID string, fn func(st *state, m *models.Message) (*Change, error)) (*models.Message, error) {
	if msgID == "" || len(msgID) > 64 {
		return nil, ErrMessageNotFound
	}
	st.changeMu.Lock()
	defer st.changeMu.Unlock()
	m, err := s.store.Message(ctx, msgID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrMessageNotFound
	case err != nil:
		return nil, fmt.Errorf("find message: %w", err)
	case m.StreamID != streamID || m.Deleted:
		return nil, ErrMessageNotFound
	}
	// A message is stored a moment before it is delivered, and a reader
	// of history may see it in between. Wait for its delivery, briefly:
	// in a cluster a node nobody on it follows the stream on does not
	// track its seqs, and the change goes ahead after deliveryWait.
	if !s.delivered(st, m.Seq) {
		deadline := time.NewTimer(deliveryWait)
		defer deadline.Stop()
	wait:
		for !s.delivered(st, m.Seq) {
			select {
			case <-deadline.C:
				break wait
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	ch, err := fn(st, m)
	if err != nil || ch == nil {
		return m, err
	}
	st.mu.Lock()
	s.cfg.OnChanged(ch)
	st.mu.Unlock()
	return ch.Message, nil
}

func (s *Service) delivered(st *state, seq int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return seq <= st.lastSeq
}

// Edit replaces the content of a message; only its author may. The
// content is validated as for Submit, and hooks see it the same way. The
// earlier content is kept in the message's edits.
func (s *Service) Edit(ctx context.Context, user *models.User, streamID, msgID, content string) (*models.Message, error) {
	if err := s.validate(content, ""); err != nil {
		return nil, err
	}
	return s.change(ctx, user.ID, streamID, msgID, models.SendMessages, func(_ *state, m *models.Message) (*Change, error) {
		if m.AuthorID != user.ID {
			return nil, fmt.Errorf("edit: only the author may: %w", ErrForbidden)
		}
		if len(s.cfg.Hooks) > 0 {
			draft := *m
			draft.Content = content
			if err := s.cfg.Hooks.OnMessage(ctx, &draft); err != nil {
				return nil, err
			}
			if err := s.validate(draft.Content, ""); err != nil {
				return nil, fmt.Errorf("content after hooks: %w", err)
			}
			content = draft.Content
		}
		updated, err := s.store.EditMessage(ctx, m.ID, content, models.Edit{Content: m.Content, EditedAt: s.now()})
		if err != nil {
			return nil, fmt.Errorf("edit message: %w", err)
		}
		updated = s.relink(ctx, m, updated) // link embeds: new links, new embeds
		return &Change{Kind: Edited, Message: updated, User: user.Ref()}, nil
	})
}

// Delete turns a message into a tombstone (see models.Message.Deleted).
// Its author may, and in a channel a member with ManageMessages too. A
// pinned message is unpinned with it (no message_unpin is announced).
func (s *Service) Delete(ctx context.Context, user *models.User, streamID, msgID string) (*models.Message, error) {
	return s.change(ctx, user.ID, streamID, msgID, models.ViewStreams, func(st *state, m *models.Message) (*Change, error) {
		if m.AuthorID != user.ID {
			if st.stream.Kind == models.DM {
				return nil, fmt.Errorf("delete: only the author may: %w", ErrForbidden)
			}
			if _, err := s.circles.Require(ctx, st.stream.CircleID, user.ID, streamID, models.ManageMessages); err != nil {
				return nil, err
			}
		}
		updated, err := s.store.DeleteMessage(ctx, m.ID, s.now())
		if err != nil {
			return nil, fmt.Errorf("delete message: %w", err)
		}
		if m.PinnedAt != nil {
			// A tombstone is not pinned: it frees its place among the pins.
			s.removePin(ctx, m.StreamID, m.ID)
		}
		if m.Poll != nil {
			s.dropPoll(ctx, m.ID) // its votes and open-poll record (polls.go)
		}
		return &Change{Kind: Deleted, Message: updated, User: user.Ref()}, nil
	})
}

// React adds (add) or removes the user's reaction with emoji on a
// message of a stream the user may read. Each user has each emoji at
// most once; adding one that is there, or removing one that is not,
// changes nothing and announces nothing. A custom emoji
// (models.CustomEmojiID) may be added only when it is one of the
// message's circle (ErrUnknownEmoji); one deleted since may still be
// removed.
func (s *Service) React(ctx context.Context, user *models.User, streamID, msgID, emoji string, add bool) (*models.Message, error) {
	if !models.ValidEmoji(emoji) {
		if strings.HasPrefix(emoji, models.CustomEmojiPrefix) {
			return nil, ErrInvalidCustomEmoji
		}
		return nil, ErrInvalidEmoji
	}
	return s.change(ctx, user.ID, streamID, msgID, models.AddReactions, func(st *state, m *models.Message) (*Change, error) {
		if hasReaction(m, emoji, user.ID) == add {
			return nil, nil
		}
		if id, custom := models.CustomEmojiID(emoji); custom && add {
			if st.stream.CircleID == "" {
				return nil, ErrUnknownEmoji
			}
			ok, err := s.circles.HasEmoji(ctx, st.stream.CircleID, id)
			if err != nil {
				return nil, fmt.Errorf("react: %w", err)
			}
			if !ok {
				return nil, ErrUnknownEmoji
			}
		}
		var (
			updated *models.Message
			err     error
			kind    = ReactionAdded
		)
		if add {
			updated, err = s.store.AddReaction(ctx, m, emoji, user.ID)
		} else {
			kind = ReactionRemoved
			updated, err = s.store.RemoveReaction(ctx, m, emoji, user.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("react: %w", err)
		}
		count := 0
		for _, r := range updated.Reactions {
			if r.Emoji == emoji {
				count = len(r.Users)
			}
		}
		return &Change{Kind: kind, Message: updated, User: user.Ref(), Emoji: emoji, Count: count}, nil
	})
}

func hasReaction(m *models.Message, emoji, userID string) bool {
	for _, r := range m.Reactions {
		if r.Emoji == emoji {
			return slices.Contains(r.Users, userID)
		}
	}
	return false
}
