package streams

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oshichat/oshi/models"
)

func TestSearchWords(t *testing.T) {
	for _, tc := range []struct {
		name  string
		query string
		want  []string // nil: ErrInvalidQuery
	}{
		{"one word", "deploy", []string{"deploy"}},
		{"words split on any white space", " deploy\tdone\nnow ", []string{"deploy", "done", "now"}},
		{"a repeated word counts once, in any case", "Deploy deploy DEPLOY done", []string{"Deploy", "done"}},
		{"pattern characters are words like any", "a.b (c) [x]*", []string{"a.b", "(c)", "[x]*"}},
		{"ten words", "1 2 3 4 5 6 7 8 9 10", strings.Fields("1 2 3 4 5 6 7 8 9 10")},
		{"ten distinct words among repeats", "1 2 3 4 5 6 7 8 9 10 1 2", strings.Fields("1 2 3 4 5 6 7 8 9 10")},
		{"200 characters", strings.Repeat("é", 200), []string{strings.Repeat("é", 200)}},
		{"empty", "", nil},
		{"blank", "  \t ", nil},
		{"eleven words", "1 2 3 4 5 6 7 8 9 10 11", nil},
		{"201 characters", strings.Repeat("é", 201), nil},
		{"control character", "deploy\x00", nil},
		{"invalid UTF-8", "deploy \xff", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SearchWords(tc.query)
			if tc.want == nil {
				if !errors.Is(err, ErrInvalidQuery) {
					t.Fatalf("SearchWords(%q) = %q, %v; want ErrInvalidQuery", tc.query, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("SearchWords(%q) = %q, %v; want %q", tc.query, got, err, tc.want)
			}
		})
	}
}

func TestSearchRequestParse(t *testing.T) {
	const id = "01a21634-0a4a-7348-a578-a42dbb7c841a"
	for _, tc := range []struct {
		name      string
		r         SearchRequest
		wantLimit int
		wantErr   error
	}{
		{"defaults", SearchRequest{Query: "x"}, DefaultSearchPage, nil},
		{"limit kept", SearchRequest{Query: "x", Limit: 7}, 7, nil},
		{"limit clamped", SearchRequest{Query: "x", Limit: 500}, MaxSearchPage, nil},
		{"negative limit", SearchRequest{Query: "x", Limit: -1}, 0, ErrBadLimit},
		{"a message id as cursor", SearchRequest{Query: "x", Cursor: id}, DefaultSearchPage, nil},
		{"cursor not a uuid", SearchRequest{Query: "x", Cursor: "page-2"}, 0, ErrInvalidCursor},
		{"cursor upper case", SearchRequest{Query: "x", Cursor: strings.ToUpper(id)}, 0, ErrInvalidCursor},
		{"cursor without dashes", SearchRequest{Query: "x", Cursor: strings.ReplaceAll(id, "-", "")}, 0, ErrInvalidCursor},
		{"bad query first", SearchRequest{Query: "", Cursor: "page-2"}, 0, ErrInvalidQuery},
		{"unknown sort", SearchRequest{Query: "x", Sort: "oldest"}, 0, ErrInvalidSort},
		{"relevance", SearchRequest{Query: "x", Sort: SortRelevance}, DefaultSearchPage, nil},
		{"relevance cursor", SearchRequest{Query: "x", Sort: SortRelevance, Cursor: "r25." + id}, DefaultSearchPage, nil},
		{"relevance with a newest cursor", SearchRequest{Query: "x", Sort: SortRelevance, Cursor: id}, 0, ErrInvalidCursor},
		{"newest with a relevance cursor", SearchRequest{Query: "x", Cursor: "r25." + id}, 0, ErrInvalidCursor},
		{"relevance cursor at 0", SearchRequest{Query: "x", Sort: SortRelevance, Cursor: "r0." + id}, 0, ErrInvalidCursor},
		{"relevance cursor past the ranked", SearchRequest{Query: "x", Sort: SortRelevance, Cursor: "r500." + id}, 0, ErrInvalidCursor},
		{"relevance cursor with a sign", SearchRequest{Query: "x", Sort: SortRelevance, Cursor: "r+5." + id}, 0, ErrInvalidCursor},
		{"relevance cursor without an id", SearchRequest{Query: "x", Sort: SortRelevance, Cursor: "r5."}, 0, ErrInvalidCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, limit, err := tc.r.parse()
			if !errors.Is(err, tc.wantErr) || err == nil && limit != tc.wantLimit {
				t.Fatalf("parse = limit %d, %v; want %d, %v", limit, err, tc.wantLimit, tc.wantErr)
			}
			if (tc.r.Validate() == nil) != (tc.wantErr == nil) {
				t.Fatalf("Validate and parse disagree")
			}
		})
	}
}

func TestWindow(t *testing.T) {
	for _, tc := range []struct {
		name             string
		n, i, limit      int
		wantStart, wantE int
	}{
		{"middle, odd limit: as many each side", 21, 10, 5, 8, 13},
		{"middle, even limit: one more after", 21, 10, 4, 9, 13},
		{"limit 1: the item alone", 21, 10, 1, 10, 11},
		{"at the start: filled from after", 10, 0, 5, 0, 5},
		{"near the start", 10, 1, 5, 0, 5},
		{"at the end: filled from before", 10, 9, 5, 5, 10},
		{"near the end", 10, 8, 5, 5, 10},
		{"fewer than limit: all", 3, 1, 5, 0, 3},
		{"one item", 1, 0, 50, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := window(tc.n, tc.i, tc.limit)
			if start != tc.wantStart || end != tc.wantE {
				t.Fatalf("window(%d, %d, %d) = [%d, %d), want [%d, %d)", tc.n, tc.i, tc.limit, start, end, tc.wantStart, tc.wantE)
			}
			if start > tc.i || tc.i >= end {
				t.Fatalf("item %d outside [%d, %d)", tc.i, start, end)
			}
		})
	}
}

func TestRelevanceOrder(t *testing.T) {
	// Each case lists contents best first, as rank must order them.
	for _, tc := range []struct {
		name  string
		words []string
		best  []string
	}{
		{"whole word beats prefix beats inside", []string{"log"},
			[]string{"the log is full", "login failed", "a catalog"}},
		{"repeats count, a little", []string{"deploy"},
			[]string{"deploy deploy deploy now", "deploy now please"}},
		{"phrase beats scattered words", []string{"build", "failed"},
			[]string{"the build failed again", "failed: the build of v2"}},
		{"short beats long", []string{"outage"},
			[]string{"outage", "outage " + strings.Repeat("and lots of other words ", 40)}},
		{"any case, unicode letters", []string{"STRASSE"},
			[]string{"die strasse", "hauptstrasse"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msgs []*models.Message
			// Ids newest first in the reverse of the wanted order, so
			// the tie-break (newest first) alone would get it wrong.
			for i, c := range slices.Backward(tc.best) {
				msgs = append(msgs, &models.Message{ID: fmt.Sprintf("id-%02d", len(tc.best)-i), Content: c})
			}
			rank(msgs, tc.words)
			for i, m := range msgs {
				if m.Content != tc.best[i] {
					t.Fatalf("rank = %q, want %q", contentsOf(msgs), tc.best)
				}
			}
		})
	}
	if got := relevance("nothing here", []string{"absent"}); got != 0 {
		t.Fatalf("relevance of a missing word = %v, want 0", got)
	}
	// Equal scores: newest first.
	msgs := []*models.Message{{ID: "a", Content: "same"}, {ID: "c", Content: "same"}, {ID: "b", Content: "same"}}
	rank(msgs, []string{"same"})
	if got := []string{msgs[0].ID, msgs[1].ID, msgs[2].ID}; !slices.Equal(got, []string{"c", "b", "a"}) {
		t.Fatalf("ties ranked %v, want newest first [c b a]", got)
	}
}

func contentsOf(msgs []*models.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Content)
	}
	return out
}
