package unfurl

import (
	"bufio"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds pages to the parser: it must not fail on any input,
// and every field it returns must be clean and within its limit.
func FuzzParse(f *testing.F) {
	f.Add(`<head><title>x</title><meta property="og:title" content="y"><meta property="og:image" content="/i.png"></head>`, "")
	f.Add("<meta charset=latin1><title>caf\xe9</title>", "")
	f.Add("<title>\xff\xfe</title>", "utf-8")
	f.Add(`<base href="//evil"><meta name=twitter:image content="a b">`, "iso-8859-1")
	page, _ := url.Parse("https://example.com/a/b")
	f.Fuzz(func(t *testing.T, body, charset string) {
		m, err := parse(bufio.NewReader(strings.NewReader(body)), charset)
		if err != nil {
			t.Fatal(err)
		}
		e := m.embed(page)
		for _, c := range []struct {
			s     string
			limit int
		}{{e.Title, MaxTitle}, {e.Description, MaxDescription}, {e.SiteName, MaxSiteName}} {
			if !utf8.ValidString(c.s) || utf8.RuneCountInString(c.s) > c.limit || strings.TrimSpace(c.s) != c.s {
				t.Fatalf("field %q", c.s)
			}
			for _, r := range c.s {
				if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
					t.Fatalf("control character in %q", c.s)
				}
			}
		}
		if e.Image != "" && !strings.HasPrefix(e.Image, "http://") && !strings.HasPrefix(e.Image, "https://") {
			t.Fatalf("image %q", e.Image)
		}
	})
}
