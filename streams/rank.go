package streams

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oshichat/oshi/models"
)

// Search orders.
const (
	// SortNewest lists matches newest first, with exact paging.
	SortNewest = "newest"
	// SortRelevance lists the newest MaxRankedMatches matches best first.
	SortRelevance = "relevance"
)

// MaxRankedMatches is how many of the newest matches a relevance search
// ranks; older matches are found with SortNewest.
const MaxRankedMatches = 500

// relevance scores how well content answers the query words (given in
// any case): higher is better, 0 when a word is missing. Each word counts
// by its best occurrence: a whole word (3) beats the start of a word (2)
// beats the inside of one (1), and repeats add a little (0.5 each, at
// most two); the words appearing together, in order, as a phrase add 3;
// and the total is divided by a length factor, so a short message about
// the words outranks a long one that mentions them in passing.
func relevance(content string, words []string) float64 {
	text := strings.ToLower(content)
	var score float64
	for _, w := range words {
		best, seen := 0, 0
		w = strings.ToLower(w)
		for i := 0; i <= len(text)-len(w); {
			j := strings.Index(text[i:], w)
			if j < 0 {
				break
			}
			at := i + j
			kind := 1
			if !wordRuneBefore(text, at) {
				kind = 2
				if !wordRuneAt(text, at+len(w)) {
					kind = 3
				}
			}
			best = max(best, kind)
			seen++
			_, size := utf8.DecodeRuneInString(text[at:])
			i = at + max(size, 1)
		}
		if best == 0 {
			return 0
		}
		score += float64(best) + 0.5*float64(min(seen-1, 2))
	}
	if len(words) > 1 && strings.Contains(text, strings.ToLower(strings.Join(words, " "))) {
		score += 3
	}
	return score / (1 + float64(utf8.RuneCountInString(content))/280)
}

// wordRuneBefore reports whether the rune ending at byte i of s is a
// letter or digit.
func wordRuneBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return i > 0 && isWordRune(r)
}

// wordRuneAt reports whether the rune starting at byte i of s is a
// letter or digit.
func wordRuneAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return i < len(s) && isWordRune(r)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// rank orders matches best first by relevance to words, newest first
// among equals.
func rank(msgs []*models.Message, words []string) {
	scores := make(map[*models.Message]float64, len(msgs))
	for _, m := range msgs {
		scores[m] = relevance(m.Content, words)
	}
	slices.SortStableFunc(msgs, func(a, b *models.Message) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// rankCursor is where a relevance search goes on: the offset of the next
// result among the matches ranked, and the newest match when the first
// page was made (Through), so messages posted since do not shift pages.
type rankCursor struct {
	offset  int
	through string
}

// String encodes c as the cursor clients send back: "r<offset>.<id>".
func (c rankCursor) String() string { return fmt.Sprintf("r%d.%s", c.offset, c.through) }

// parseRankCursor decodes a cursor made by rankCursor.String.
func parseRankCursor(s string) (rankCursor, bool) {
	off, id, ok := strings.Cut(strings.TrimPrefix(s, "r"), ".")
	n, err := strconv.Atoi(off)
	if !ok || !strings.HasPrefix(s, "r") || err != nil || n <= 0 || n >= MaxRankedMatches || strconv.Itoa(n) != off || !validCursor(id) {
		return rankCursor{}, false
	}
	return rankCursor{offset: n, through: id}, true
}
