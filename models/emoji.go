package models

import (
	"strings"
	"time"
)

// Emoji is a circle's custom emoji: a small image (PNG, JPEG, GIF or
// WebP) its members may use in reactions and write in content as
// <:name:id>. Its bytes never change under its id; renaming keeps the id.
type Emoji struct {
	ID       string `bson:"id" json:"id"`
	CircleID string `bson:"circle_id" json:"circle"`
	// Name is 2–32 of A–Z, a–z, 0–9 and _, unique in the circle without
	// regard to case.
	Name string `bson:"name" json:"name"`
	// Animated is set for a GIF of more than one frame.
	Animated    bool      `bson:"animated" json:"animated"`
	ContentType string    `bson:"content_type" json:"content_type"`
	Size        int64     `bson:"size" json:"size"`
	Creator     UserRef   `bson:"creator" json:"creator"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
}

// Emoji name bounds.
const (
	MinEmojiName = 2
	MaxEmojiName = 32
)

// ValidEmojiName checks a custom emoji's name: 2–32 characters, each an
// ASCII letter, digit or underscore.
func ValidEmojiName(name string) bool {
	if len(name) < MinEmojiName || len(name) > MaxEmojiName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// CustomEmojiPrefix starts a reaction that is a custom emoji: the rest is
// the emoji's id ("custom:0193…"). A reaction is keyed by the id, so
// renaming the emoji does not split it.
const CustomEmojiPrefix = "custom:"

// maxEmojiID bounds the id part of a custom reaction.
const maxEmojiID = 64

// CustomEmojiID returns the emoji id a reaction names when it is a custom
// emoji (CustomEmojiPrefix and an id of 1–64 letters, digits and '-'),
// and whether it is one. A reaction that starts with the prefix but is
// not well formed is neither a custom emoji nor valid (ValidEmoji).
func CustomEmojiID(reaction string) (id string, ok bool) {
	id, found := strings.CutPrefix(reaction, CustomEmojiPrefix)
	if !found || id == "" || len(id) > maxEmojiID {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return "", false
		}
	}
	return id, true
}

// CustomReaction is the reaction that names the custom emoji id.
func CustomReaction(id string) string { return CustomEmojiPrefix + id }
