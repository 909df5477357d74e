package circles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Custom emoji. A circle's list lives in the store (store.EmojiSet) and
// in the circle's rules (perms.go), so ready, circle views and reaction
// checks read it from memory; every change here forgets the rules, and
// the caller tells the other nodes to forget theirs (as for any other
// change to a circle; rulesTTL bounds a missed notice).

// Errors of custom emoji.
var (
	ErrInvalidEmojiName = errors.New("an emoji name is 2-32 characters, each a letter (A-Z, a-z), digit or _")
	ErrEmojiNameTaken   = errors.New("the circle already has an emoji of that name (names are compared without regard to case)")
	ErrUnknownEmoji     = errors.New("no such custom emoji in this circle")
)

// Audit actions of custom emoji.
const (
	AuditEmojiCreate = "emoji_create"
	AuditEmojiRename = "emoji_rename"
	AuditEmojiDelete = "emoji_delete"
)

func init() {
	auditActions = append(auditActions, AuditEmojiCreate, AuditEmojiRename, AuditEmojiDelete)
}

// emojiWriteTries bounds the compare-and-set attempts of one change to
// a circle's list (another node writing at once is the only conflict).
const emojiWriteTries = 5

func (s *Service) loadEmojis(ctx context.Context, circleID string) ([]models.Emoji, error) {
	set, err := s.store.EmojiSet(ctx, circleID)
	if err != nil {
		return nil, fmt.Errorf("load emoji: %w", err)
	}
	return set.Emojis, nil
}

// Emojis returns a circle's custom emoji, oldest first, to a member.
func (s *Service) Emojis(ctx context.Context, userID, circleID string) ([]models.Emoji, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if r.members[userID] == nil {
		return nil, ErrForbidden
	}
	return slices.Clone(r.emojis), nil
}

// HasEmoji reports whether emojiID is one of a circle's custom emoji.
// An id missing from the loaded list is looked up in the store, so an
// emoji made a moment ago on another node is found.
func (s *Service) HasEmoji(ctx context.Context, circleID, emojiID string) (bool, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(r.emojis, func(e models.Emoji) bool { return e.ID == emojiID }) {
		return true, nil
	}
	emojis, err := s.loadEmojis(ctx, circleID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(emojis, func(e models.Emoji) bool { return e.ID == emojiID }), nil
}

// RequireEmojiManager returns nil when userID may manage the circle's
// custom emoji (ManageEmoji), so an upload can be refused before its
// bytes are read.
func (s *Service) RequireEmojiManager(ctx context.Context, circleID, userID string) error {
	_, err := s.require(ctx, circleID, userID, "", models.ManageEmoji)
	return err
}

// updateEmojis applies change to a circle's stored list and writes it
// over the revision it read, reading again and retrying when another
// write came first. It returns the list as written.
func (s *Service) updateEmojis(ctx context.Context, circleID string, change func(set *store.EmojiSet) error) ([]models.Emoji, error) {
	defer s.Forget(circleID)
	for try := 1; ; try++ {
		set, err := s.store.EmojiSet(ctx, circleID)
		if err != nil {
			return nil, fmt.Errorf("read emoji: %w", err)
		}
		if err := change(set); err != nil {
			return nil, err
		}
		err = s.store.PutEmojiSet(ctx, set)
		if err == nil {
			return set.Emojis, nil
		}
		if !errors.Is(err, store.ErrConflict) || try == emojiWriteTries {
			return nil, fmt.Errorf("write emoji: %w", err)
		}
	}
}

// nameTaken reports whether another emoji of the list than exceptID has
// name, compared without regard to case.
func nameTaken(emojis []models.Emoji, name, exceptID string) bool {
	return slices.ContainsFunc(emojis, func(e models.Emoji) bool {
		return e.ID != exceptID && strings.EqualFold(e.Name, name)
	})
}

// CreateEmoji adds a custom emoji to e.CircleID, with e.Name,
// e.ContentType and e.Animated (checked by the caller against image),
// and stores image; it sets e's id, creator, creation time and size. The
// actor needs ManageEmoji; the name must be valid and free, and the
// circle below MaxEmoji. It returns the circle's list after the change.
func (s *Service) CreateEmoji(ctx context.Context, actor models.UserRef, e *models.Emoji, image []byte) ([]models.Emoji, error) {
	if !models.ValidEmojiName(e.Name) {
		return nil, ErrInvalidEmojiName
	}
	unlock := s.lock(e.CircleID)
	defer unlock()
	if _, err := s.require(ctx, e.CircleID, actor.ID, "", models.ManageEmoji); err != nil {
		return nil, err
	}
	check := func(set *store.EmojiSet) error {
		if nameTaken(set.Emojis, e.Name, "") {
			return ErrEmojiNameTaken
		}
		if len(set.Emojis) >= s.cfg.MaxEmoji {
			return fmt.Errorf("a circle may have at most %d custom emoji: %w", s.cfg.MaxEmoji, ErrLimit)
		}
		return nil
	}
	// Refused before the image is written; checked again with the write.
	set, err := s.store.EmojiSet(ctx, e.CircleID)
	if err != nil {
		return nil, fmt.Errorf("read emoji: %w", err)
	}
	if err := check(set); err != nil {
		return nil, err
	}
	e.ID, e.Creator, e.CreatedAt = newID(), actor, s.now()
	if err := s.store.PutEmojiImage(ctx, e, bytes.NewReader(image)); err != nil {
		return nil, fmt.Errorf("store emoji image: %w", err)
	}
	list, err := s.updateEmojis(ctx, e.CircleID, func(set *store.EmojiSet) error {
		if err := check(set); err != nil {
			return err
		}
		set.Emojis = append(set.Emojis, *e)
		return nil
	})
	if err != nil {
		_ = s.store.DeleteEmojiImages(context.WithoutCancel(ctx), []string{e.ID})
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: e.CircleID, Action: AuditEmojiCreate, Actor: actor, TargetID: e.ID,
		Details: map[string]any{"name": e.Name}})
	return list, nil
}

// RenameEmoji gives a circle's custom emoji another name; the actor
// needs ManageEmoji. Its id, and so the reactions made with it, stay.
func (s *Service) RenameEmoji(ctx context.Context, actor models.UserRef, circleID, emojiID, name string) ([]models.Emoji, error) {
	if !models.ValidEmojiName(name) {
		return nil, ErrInvalidEmojiName
	}
	unlock := s.lock(circleID)
	defer unlock()
	if _, err := s.require(ctx, circleID, actor.ID, "", models.ManageEmoji); err != nil {
		return nil, err
	}
	var old string
	list, err := s.updateEmojis(ctx, circleID, func(set *store.EmojiSet) error {
		i := slices.IndexFunc(set.Emojis, func(e models.Emoji) bool { return e.ID == emojiID })
		if i < 0 {
			return ErrUnknownEmoji
		}
		if nameTaken(set.Emojis, name, emojiID) {
			return ErrEmojiNameTaken
		}
		old, set.Emojis[i].Name = set.Emojis[i].Name, name
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditEmojiRename, Actor: actor, TargetID: emojiID,
		Details: map[string]any{"name": name, "old_name": old}})
	return list, nil
}

// DeleteEmoji removes a custom emoji from a circle's list; the actor
// needs ManageEmoji. It returns the list after the change and the emoji
// removed, whose image the caller deletes (store.DeleteEmojiImages).
func (s *Service) DeleteEmoji(ctx context.Context, actor models.UserRef, circleID, emojiID string) ([]models.Emoji, *models.Emoji, error) {
	unlock := s.lock(circleID)
	defer unlock()
	if _, err := s.require(ctx, circleID, actor.ID, "", models.ManageEmoji); err != nil {
		return nil, nil, err
	}
	var gone models.Emoji
	list, err := s.updateEmojis(ctx, circleID, func(set *store.EmojiSet) error {
		i := slices.IndexFunc(set.Emojis, func(e models.Emoji) bool { return e.ID == emojiID })
		if i < 0 {
			return ErrUnknownEmoji
		}
		gone = set.Emojis[i]
		set.Emojis = slices.Delete(set.Emojis, i, i+1)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditEmojiDelete, Actor: actor, TargetID: emojiID,
		Details: map[string]any{"name": gone.Name}})
	return list, &gone, nil
}
