package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// Custom emoji: a reaction custom:<id> shows as :name: from its
// circle's list (ready, circle_update, emoji_update), and /react :name:
// reacts with the circle's emoji of that name.

// unknownEmoji shows a custom emoji the circle's list does not have
// (deleted, or of another circle).
const unknownEmoji = ":?:"

// decodeRaw decodes the whole frame of an event into v.
func decodeRaw(ev client.Event, v any) error {
	if err := json.Unmarshal(ev.Raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", ev.Cmd, err)
	}
	return nil
}

// streamCircle returns the circle a stream of the left pane belongs to,
// or nil for a DM or a stream not listed.
func (m *chatModel) streamCircle(stream string) *models.Circle {
	if it := m.itemOf(stream); it != nil {
		return it.circle
	}
	return nil
}

// reactionLabel is how a reaction's emoji is shown: a custom emoji as
// :name: when the stream's circle has it, else :?:; any other as it is.
func (m *chatModel) reactionLabel(stream, emoji string) string {
	id, ok := models.CustomEmojiID(emoji)
	if !ok {
		return emoji
	}
	if ci := m.streamCircle(stream); ci != nil {
		for _, e := range ci.Emojis {
			if e.ID == id {
				return ":" + e.Name + ":"
			}
		}
	}
	return unknownEmoji
}

// reactionArg turns what the user typed after /react or /unreact into
// the reaction sent: :name: is the selected circle's custom emoji of that
// name (without regard to case); anything else goes as typed.
func (m *chatModel) reactionArg(arg string) (string, error) {
	name, ok := strings.CutPrefix(arg, ":")
	if !ok || len(name) < 2 || !strings.HasSuffix(name, ":") {
		return arg, nil
	}
	name = strings.TrimSuffix(name, ":")
	if !models.ValidEmojiName(name) {
		return arg, nil
	}
	ci := m.streamCircle(m.sel)
	if ci != nil {
		for _, e := range ci.Emojis {
			if strings.EqualFold(e.Name, name) {
				return models.CustomReaction(e.ID), nil
			}
		}
	}
	return "", fmt.Errorf("no custom emoji :%s: in this circle", name)
}

// emojiUpdate applies emoji_update: the circle's whole list of custom
// emoji after a change.
func (m *chatModel) emojiUpdate(ev client.Event) {
	var f struct {
		Emojis []models.Emoji `json:"emojis"`
	}
	if decodeRaw(ev, &f) != nil {
		return
	}
	for i, ci := range m.circles {
		if ci.ID == ev.Circle {
			cp := *ci
			cp.Emojis = f.Emojis
			m.circles[i] = &cp
		}
	}
	m.rebuild()
}

// inlineEmoji is a custom emoji written in content: <:name:id>.
var inlineEmoji = regexp.MustCompile(`<:([A-Za-z0-9_]{2,32}):([A-Za-z0-9-]{1,64})>`)

// emojiContent shows the custom emoji written in content as :name:, by
// their current name when the stream's circle has them, else by the name
// written.
func (m *chatModel) emojiContent(stream, content string) string {
	if !strings.Contains(content, "<:") {
		return content
	}
	return inlineEmoji.ReplaceAllStringFunc(content, func(s string) string {
		sub := inlineEmoji.FindStringSubmatch(s)
		if label := m.reactionLabel(stream, models.CustomReaction(sub[2])); label != unknownEmoji {
			return label
		}
		return ":" + sub[1] + ":"
	})
}
