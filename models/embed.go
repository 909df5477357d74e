package models

import (
	"net/url"
	"strings"
)

// Embed types.
const (
	// EmbedLink is a web page described by its title, description and
	// image.
	EmbedLink = "link"
	// EmbedImage is a link that serves an image.
	EmbedImage = "image"
)

// Embed is the preview of a link in a message's content: what the page
// says about itself (og:title and the like), fetched by the server after
// the message was stored, when the server unfurls links (OSHI_EMBEDS).
type Embed struct {
	// URL is the link as it appears in the content.
	URL  string `bson:"url" json:"url"`
	Type string `bson:"type" json:"type"`
	// Title, Description and SiteName are the page's; each may be
	// empty.
	Title       string `bson:"title,omitempty" json:"title,omitempty"`
	Description string `bson:"description,omitempty" json:"description,omitempty"`
	SiteName    string `bson:"site_name,omitempty" json:"site_name,omitempty"`
	// Image is the absolute URL of the page's image (og:image), or of the
	// image itself for an EmbedImage. The server never fetches it.
	Image string `bson:"image,omitempty" json:"image,omitempty"`
}

// MaxLinkLength is the longest link Links returns, in bytes.
const MaxLinkLength = 2048

// Links returns the distinct http and https links of content, in order
// of first appearance, at most limit. A link starts with http:// or
// https:// (in any case) not preceded by a letter or digit, and runs to
// the next white space or one of <>"; closing punctuation at its end
// ('.', ',', ')' without its '(' …) is not part of it. A link written
// between angle brackets, <https://example.com>, asks for no preview and
// is left out.
func Links(content string, limit int) []string {
	var links []string
	seen := make(map[string]bool)
	lower := strings.ToLower(content)
	for i := 0; i < len(content) && len(links) < limit; {
		j := nextLink(lower, i)
		if j < 0 {
			break
		}
		end := j
		for end < len(content) && !linkStop(content[end]) {
			end++
		}
		link := trimLink(content[j:end])
		i = max(end, j+1)
		suppressed := j > 0 && content[j-1] == '<' && j+len(link) < len(content) && content[j+len(link)] == '>'
		if suppressed || len(link) > MaxLinkLength || seen[link] || !validLink(link) {
			continue
		}
		seen[link] = true
		links = append(links, link)
	}
	return links
}

// nextLink returns the index of the next "http://" or "https://" in
// lower at or after i that does not follow a letter or digit, or -1.
func nextLink(lower string, i int) int {
	for i < len(lower) {
		k := strings.Index(lower[i:], "http")
		if k < 0 {
			return -1
		}
		j := i + k
		rest := lower[j:]
		if (strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://")) && (j == 0 || !alnum(lower[j-1])) {
			return j
		}
		i = j + 4
	}
	return -1
}

func alnum(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' }

// linkStop reports whether b ends a link.
func linkStop(b byte) bool {
	return b <= ' ' || b == '<' || b == '>' || b == '"' || b == 0x7f
}

// trimLink drops closing punctuation from the end of a link: '.', ',',
// ':', ';', '!', '?', quotes, '*', '_', '~', and a ')' or ']' that
// closes nothing opened inside the link.
func trimLink(s string) string {
	for len(s) > 0 {
		c := s[len(s)-1]
		switch c {
		case '.', ',', ':', ';', '!', '?', '\'', '*', '_', '~':
		case ')':
			if strings.Count(s, "(") >= strings.Count(s, ")") {
				return s
			}
		case ']':
			if strings.Count(s, "[") >= strings.Count(s, "]") {
				return s
			}
		default:
			return s
		}
		s = s[:len(s)-1]
	}
	return s
}

// validLink checks that a link parses as an absolute http(s) URL with a
// host.
func validLink(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}
