package models

import (
	"strings"
	"testing"
)

func TestMentionNames(t *testing.T) {
	long := strings.Repeat("a", 33)
	for _, tc := range []struct {
		content string
		want    string
	}{
		{"hi @bob", "bob"},
		{"@Bob, @bob and @BOB!", "Bob"},
		{"@a_1 @b-c (@d) @", "a_1,b,d"},
		{"mail a@bob.com or @" + long + " or @@x", "x"},
		{"@" + strings.Repeat("b", 32), strings.Repeat("b", 32)},
		{"@x1 @x2 @x3 @x4 @x5 @x6 @x7 @x8 @x9 @x10 @x11", "x1,x2,x3,x4,x5,x6,x7,x8,x9,x10"},
		{"é@bob", "bob"},
	} {
		if got := strings.Join(MentionNames(tc.content), ","); got != tc.want {
			t.Errorf("MentionNames(%q) = %q, want %q", tc.content, got, tc.want)
		}
	}
}

func FuzzMentionNames(f *testing.F) {
	f.Add("hi @bob and @carol")
	f.Fuzz(func(t *testing.T, content string) {
		names := MentionNames(content)
		if len(names) > MaxMentions {
			t.Fatalf("%d names", len(names))
		}
		for _, n := range names {
			if n == "" || len(n) > 32 || !strings.Contains(content, "@"+n) {
				t.Fatalf("bad name %q in %q", n, content)
			}
		}
	})
}
