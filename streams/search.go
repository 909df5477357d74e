package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Search limits.
const (
	// MaxSearchQuery is the longest search query, in characters.
	MaxSearchQuery = 200
	// MaxSearchWords is the most words one query may hold.
	MaxSearchWords = 10
	// MaxSearchPage is the most results one search returns.
	MaxSearchPage = 50
	// DefaultSearchPage is the page size when none is asked for.
	DefaultSearchPage = 25
)

// Errors of Search.
var (
	ErrInvalidQuery  = errors.New("query must be 1-200 characters of text holding 1-10 words")
	ErrInvalidCursor = errors.New("cursor must be the next value of an earlier search")
	ErrBadLimit      = errors.New("limit must not be negative")
	ErrInvalidSort   = errors.New(`sort must be "newest" or "relevance"`)
)

// SearchRequest is a search over some streams.
type SearchRequest struct {
	// StreamIDs are the streams to search; the user must be able to read
	// each one (Search checks).
	StreamIDs []string
	// Query holds the words to find, separated by white space: a message
	// matches when its content holds every word, in any case.
	Query string
	// Cursor is the next value of the previous page; empty starts from
	// the newest message.
	Cursor string
	// Limit is the page size, clamped to MaxSearchPage; 0 means
	// DefaultSearchPage.
	Limit int
	// Sort is SortNewest (the default when empty) or SortRelevance.
	Sort string
}

// Validate checks the query, cursor and limit without looking at the
// streams, so a caller can refuse a bad request before resolving them.
func (r SearchRequest) Validate() error {
	_, _, err := r.parse()
	return err
}

func (r SearchRequest) parse() (words []string, limit int, err error) {
	if words, err = SearchWords(r.Query); err != nil {
		return nil, 0, err
	}
	switch r.Sort {
	case "", SortNewest:
		if r.Cursor != "" && !validCursor(r.Cursor) {
			return nil, 0, ErrInvalidCursor
		}
	case SortRelevance:
		if _, ok := parseRankCursor(r.Cursor); r.Cursor != "" && !ok {
			return nil, 0, ErrInvalidCursor
		}
	default:
		return nil, 0, ErrInvalidSort
	}
	switch {
	case r.Limit < 0:
		return nil, 0, ErrBadLimit
	case r.Limit == 0:
		limit = DefaultSearchPage
	default:
		limit = min(r.Limit, MaxSearchPage)
	}
	return words, limit, nil
}

// SearchWords splits a query into its words: white space separates them,
// and a word given twice (in any case) counts once. It returns
// ErrInvalidQuery for a query that is empty or blank, longer than
// MaxSearchQuery characters, not valid text, or of more than
// MaxSearchWords words.
func SearchWords(query string) ([]string, error) {
	if utf8.RuneCountInString(query) > MaxSearchQuery || !models.ValidText(query) {
		return nil, ErrInvalidQuery
	}
	var words []string
	seen := make(map[string]bool)
	for _, w := range strings.Fields(query) {
		if key := strings.ToLower(w); !seen[key] {
			seen[key] = true
			words = append(words, w)
		}
	}
	if len(words) == 0 || len(words) > MaxSearchWords {
		return nil, ErrInvalidQuery
	}
	return words, nil
}

// validCursor accepts a message id as the server writes them: a UUID in
// canonical lower-case form, whose text order is the order results come
// in (another spelling of the same UUID would compare differently).
func validCursor(c string) bool {
	id, err := uuid.Parse(c)
	return err == nil && id.String() == c
}

// Search returns the messages of r's streams whose content holds every
// word of r.Query, newest first or, with SortRelevance, the newest
// MaxRankedMatches of them best first (see relevance), with the cursor
// of the next page ("" at the end). Deleted messages never match. It refuses the whole search
// with the stream's error when the user may not read one of the streams
// (ErrNotFound, ErrForbidden, ErrNotText for a stream without messages);
// no streams is an empty result.
func (s *Service) Search(ctx context.Context, userID string, r SearchRequest) ([]*models.Message, string, error) {
	words, limit, err := r.parse()
	if err != nil {
		return nil, "", err
	}
	for _, id := range r.StreamIDs {
		if _, err := s.text(ctx, userID, id, models.ReadHistory); err != nil {
			return nil, "", err
		}
	}
	if r.Sort == SortRelevance {
		return s.searchRanked(ctx, r.StreamIDs, words, r.Cursor, limit)
	}
	// One more than the page tells whether another page follows.
	msgs, err := s.store.SearchMessages(ctx, store.SearchQuery{StreamIDs: r.StreamIDs, Words: words, Before: r.Cursor, Limit: limit + 1})
	if err != nil {
		return nil, "", fmt.Errorf("search: %w", err)
	}
	var next string
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	return msgs, next, nil
}

// searchRanked is Search by relevance: it ranks the newest
// MaxRankedMatches matches (up to the cursor's Through, so later posts do
// not shift the pages) and returns the page at the cursor's offset. The
// ranking is made again for each page from the current contents: an edit
// or delete between pages may move a result by a place.
func (s *Service) searchRanked(ctx context.Context, streamIDs, words []string, cursor string, limit int) ([]*models.Message, string, error) {
	c, _ := parseRankCursor(cursor) // parse has checked it
	msgs, err := s.store.SearchMessages(ctx, store.SearchQuery{StreamIDs: streamIDs, Words: words, Through: c.through, Limit: MaxRankedMatches})
	if err != nil {
		return nil, "", fmt.Errorf("search: %w", err)
	}
	if len(msgs) == 0 {
		return nil, "", nil
	}
	if c.through == "" {
		c.through = msgs[0].ID // newest first
	}
	rank(msgs, words)
	if c.offset >= len(msgs) {
		return nil, "", nil
	}
	page := msgs[c.offset:min(c.offset+limit, len(msgs))]
	var next string
	if end := c.offset + len(page); end < len(msgs) {
		next = rankCursor{offset: end, through: c.through}.String()
	}
	return page, next, nil
}
