package unfurl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// meta is what parse found in a page, raw.
type meta struct {
	props   map[string]string // first value of each og:/twitter: property and of description
	title   string            // the first <title> before <body>
	base    string            // <base href>
	charset string
}

// wanted are the meta properties (or names) parse keeps.
var wanted = map[string]bool{
	"og:title": true, "og:description": true, "og:site_name": true,
	"og:image": true, "og:image:url": true, "og:image:secure_url": true,
	"twitter:title": true, "twitter:description": true,
	"twitter:image": true, "twitter:image:src": true,
	"description": true,
}

// parse reads an HTML page, already cut at the read limit, and collects
// its metadata. charset is the one the Content-Type named, if any.
func parse(r *bufio.Reader, charset string) (*meta, error) {
	m := &meta{props: make(map[string]string), charset: strings.ToLower(charset)}
	if m.charset == "" {
		head, _ := r.Peek(1024)
		m.charset = sniffCharset(head)
	}
	var src io.Reader = r
	if latin1(m.charset) {
		src = &latin1Reader{r: r}
	}
	z := html.NewTokenizer(src)
	inBody := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return nil, err
			}
			return m, nil
		case html.StartTagToken, html.SelfClosingTagToken:
		default:
			continue
		}
		name, hasAttr := z.TagName()
		switch atom.Lookup(name) {
		case atom.Body:
			inBody = true
		case atom.Title:
			if tt == html.StartTagToken && !inBody && m.title == "" {
				if z.Next() == html.TextToken {
					m.title = string(z.Text())
				}
			}
		case atom.Base:
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if string(k) == "href" && m.base == "" {
					m.base = string(v)
				}
			}
		case atom.Meta:
			var key, content string
			hasContent := false
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "property", "name":
					if key == "" || !wanted[key] {
						key = strings.ToLower(strings.TrimSpace(string(v)))
					}
				case "content":
					content, hasContent = string(v), true
				}
			}
			if hasContent && wanted[key] {
				if _, ok := m.props[key]; !ok && strings.TrimSpace(content) != "" {
					m.props[key] = content
				}
			}
		}
	}
}

// embed turns the metadata of the page at page into an Embed, cleaning
// every field.
func (m *meta) embed(page *url.URL) *Embed {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := m.props[k]; v != "" {
				return v
			}
		}
		return ""
	}
	e := &Embed{Type: Link}
	e.Title = clean(first("og:title", "twitter:title"), MaxTitle)
	if e.Title == "" {
		e.Title = clean(m.title, MaxTitle)
	}
	e.Description = clean(first("og:description", "twitter:description", "description"), MaxDescription)
	e.SiteName = clean(first("og:site_name"), MaxSiteName)
	base := page
	if m.base != "" {
		if b, err := page.Parse(strings.TrimSpace(m.base)); err == nil {
			base = b
		}
	}
	e.Image = imageURL(base, first("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"))
	return e
}

// imageURL resolves ref against base and keeps it only when it is an
// http(s) URL without user information, at most MaxImageURL bytes.
func imageURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || !utf8.ValidString(ref) {
		return ""
	}
	u, err := base.Parse(ref)
	if err != nil {
		return ""
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	s := u.String()
	if len(s) > MaxImageURL {
		return ""
	}
	return s
}

// clean makes s fit for display: invalid UTF-8 replaced with U+FFFD,
// white space and control characters collapsed into single spaces,
// bidirectional overrides dropped, trimmed, and cut to limit characters
// (the last one "…" when cut).
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = b.Len() > 0
			continue
		case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	out := b.String()
	if n <= limit {
		return out
	}
	cut, i := 0, 0
	for i = range out {
		if cut == limit-1 {
			break
		}
		cut++
	}
	return strings.TrimRight(out[:i], " ") + "…"
}

// sniffCharset finds a charset declared in the first bytes of a page
// (<meta charset> or http-equiv Content-Type), lower-cased.
func sniffCharset(head []byte) string {
	lower := bytes.ToLower(head)
	i := bytes.Index(lower, []byte("charset="))
	if i < 0 {
		return ""
	}
	rest := lower[i+len("charset="):]
	rest = bytes.TrimLeft(rest, `"' `)
	end := bytes.IndexFunc(rest, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z')
	})
	if end < 0 {
		end = len(rest)
	}
	return string(rest[:end])
}

// latin1 reports whether charset is one the package decodes as
// ISO-8859-1 (windows-1252 differs only in 0x80–0x9f, control
// characters in ISO-8859-1, which clean drops). Other charsets than
// these and UTF-8 are read as UTF-8, their invalid bytes replaced.
func latin1(charset string) bool {
	switch charset {
	case "iso-8859-1", "iso8859-1", "latin1", "l1", "windows-1252", "cp1252":
		return true
	}
	return false
}

// latin1Reader decodes ISO-8859-1 into UTF-8.
type latin1Reader struct {
	r       io.ByteReader
	pending []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) > 0 {
			c := copy(p[n:], l.pending)
			l.pending = l.pending[c:]
			n += c
			continue
		}
		c, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if c < utf8.RuneSelf {
			p[n] = c
			n++
			continue
		}
		l.pending = utf8.AppendRune(l.pending[:0], rune(c))
	}
	return n, nil
}
