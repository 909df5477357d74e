package client

import (
	"context"
	"time"

	"github.com/oshichat/oshi/models"
)

// SearchQuery selects messages for Search. Set exactly one of Circle and
// Stream.
type SearchQuery struct {
	// Circle searches every channel of the circle you may read.
	Circle string
	// Stream searches one channel or DM.
	Stream string
	// Query holds 1-10 words (at most 200 characters); a message matches
	// when its content holds every word, in any case.
	Query string
	// Cursor is the next of the previous page; "" starts at the newest.
	Cursor string
	// Limit bounds the page (at most 50); 0 means the server's default, 25.
	Limit int
	// Sort is "newest" (the default when empty) or "relevance": the
	// server's newest 500 matches, best first.
	Sort string
}

// Search finds messages by words, newest first unless q.Sort says
// otherwise. next is the cursor of
// the following page, "" when there is none.
func (c *Client) Search(ctx context.Context, q SearchQuery) (results []*models.Message, next string, err error) {
	frame := map[string]any{"cmd": "messages_search", "query": q.Query}
	for k, v := range map[string]string{"circle": q.Circle, "stream": q.Stream, "cursor": q.Cursor, "sort": q.Sort} {
		if v != "" {
			frame[k] = v
		}
	}
	if q.Limit != 0 {
		frame["limit"] = q.Limit
	}
	r, err := call[struct {
		Results []*models.Message `json:"results"`
		Next    string            `json:"next"`
	}](ctx, c, frame)
	if err != nil {
		return nil, "", err
	}
	return r.Results, r.Next, nil
}

// HistoryPage is a run of a stream's messages, oldest first, with how
// many of the stream's messages come before and after it.
type HistoryPage struct {
	Messages    []*models.Message `json:"messages"`
	BeforeCount int64             `json:"before_count"`
	AfterCount  int64             `json:"after_count"`
}

// HistoryAround reads the messages around the message id of a stream,
// that message included; limit 0 means the server's default (50).
func (c *Client) HistoryAround(ctx context.Context, streamID, id string, limit int) (*HistoryPage, error) {
	return c.historyPage(ctx, map[string]any{"cmd": "history", "stream": streamID, "around": id}, limit)
}

// HistoryAt reads a stream's messages from the first one created at or
// after at (to the millisecond), oldest first.
func (c *Client) HistoryAt(ctx context.Context, streamID string, at time.Time, limit int) (*HistoryPage, error) {
	return c.historyPage(ctx, map[string]any{"cmd": "history", "stream": streamID, "at": at.UnixMilli()}, limit)
}

func (c *Client) historyPage(ctx context.Context, frame map[string]any, limit int) (*HistoryPage, error) {
	if limit != 0 {
		frame["limit"] = limit
	}
	return call[HistoryPage](ctx, c, frame)
}
