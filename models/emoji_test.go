package models_test

import (
	"strings"
	"testing"

	"github.com/oshichat/oshi/models"
)

func TestValidEmojiName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ab", true},
		{"party_parrot", true},
		{"Blob2", true},
		{strings.Repeat("x", 32), true},
		{"a", false},
		{"", false},
		{strings.Repeat("x", 33), false},
		{"no-dash", false},
		{"no space", false},
		{"a:b", false},
		{"émoji", false},
	} {
		if got := models.ValidEmojiName(tc.name); got != tc.ok {
			t.Errorf("ValidEmojiName(%q) = %v; want %v", tc.name, got, tc.ok)
		}
	}
}

func TestCustomEmojiReactions(t *testing.T) {
	id := "01a21737-fe88-780f-9c42-b96e6d7e2de6"
	for _, tc := range []struct {
		reaction string
		id       string
		custom   bool
		valid    bool
	}{
		{models.CustomReaction(id), id, true, true},
		{"custom:x", "x", true, true},
		{"👍", "", false, true},
		{":tada:", "", false, true},
		{"custom:", "", false, false},
		{"custom:a b", "", false, false},
		{"custom:a/b", "", false, false},
		{"custom:" + strings.Repeat("a", 65), "", false, false},
		{"Custom:x", "", false, true}, // the prefix is lower case
	} {
		got, custom := models.CustomEmojiID(tc.reaction)
		if got != tc.id || custom != tc.custom {
			t.Errorf("CustomEmojiID(%q) = %q, %v; want %q, %v", tc.reaction, got, custom, tc.id, tc.custom)
		}
		if valid := models.ValidEmoji(tc.reaction); valid != tc.valid {
			t.Errorf("ValidEmoji(%q) = %v; want %v", tc.reaction, valid, tc.valid)
		}
	}
}
