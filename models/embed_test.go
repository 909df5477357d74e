package models

import (
	"slices"
	"strings"
	"testing"
)

func TestLinks(t *testing.T) {
	cases := []struct {
		content string
		want    []string
	}{
		{"no links here", nil},
		{"see https://example.com", []string{"https://example.com"}},
		{"see https://example.com/a?b=c#d.", []string{"https://example.com/a?b=c#d"}},
		{"two: http://a.example, https://b.example/x!", []string{"http://a.example", "https://b.example/x"}},
		{"(https://example.com/wiki/Go_(language))", []string{"https://example.com/wiki/Go_(language)"}},
		{"(see https://example.com/x)", []string{"https://example.com/x"}},
		{"[text](https://example.com/md)", []string{"https://example.com/md"}},
		{"no preview <https://example.com/quiet> please", nil},
		{"<https://example.com/quiet> but https://example.com/loud", []string{"https://example.com/loud"}},
		{"<https://example.com/not closed", []string{"https://example.com/not"}},
		{"dup https://x.example https://x.example", []string{"https://x.example"}},
		{"HTTPS://Caps.Example/Path", []string{"HTTPS://Caps.Example/Path"}},
		{"xhttps://glued.example", nil},
		{"https:// nothing", nil},
		{"http:///nohost", nil},
		{"ftp://files.example", nil},
		{`"https://quoted.example"`, []string{"https://quoted.example"}},
		{"a\nhttps://line.example\tb", []string{"https://line.example"}},
		{"https://1.example https://2.example https://3.example https://4.example", []string{"https://1.example", "https://2.example", "https://3.example"}},
		{"https://" + strings.Repeat("a", MaxLinkLength) + ".example", nil},
	}
	for _, c := range cases {
		if got := Links(c.content, 3); !slices.Equal(got, c.want) {
			t.Errorf("Links(%q) = %q, want %q", c.content, got, c.want)
		}
	}
}
