package gateway

import (
	"context"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

// messages_search finds messages by words in one stream or in a whole
// circle, over what the searcher may read (docs/protocol.md, section 3.6,
// messages_search).
func init() {
	handle(map[string]handler{"messages_search": (*conn).cmdMessagesSearch})
}

// Error codes of messages_search.
const (
	CodeInvalidQuery  = "invalid_query"
	CodeInvalidCursor = "invalid_cursor"
)

func init() {
	mapErrors([]errorCode{
		{streams.ErrInvalidQuery, CodeInvalidQuery},
		{streams.ErrInvalidCursor, CodeInvalidCursor},
		{streams.ErrBadLimit, CodeBadRequest},
		{streams.ErrInvalidSort, CodeBadRequest},
	})
}

type searchReply struct {
	header
	Results []*models.Message `json:"results"`
	Next    string            `json:"next,omitempty"`
}

func (c *conn) cmdMessagesSearch(ctx context.Context, req *request) error {
	if (req.Circle == "") == (req.Stream == "") {
		return errCode(CodeBadRequest, "give either circle or stream")
	}
	r := streams.SearchRequest{Query: req.Query, Cursor: req.Cursor, Limit: req.Limit, Sort: req.Sort}
	// A bad query is refused the same way whatever the scope.
	if err := r.Validate(); err != nil {
		return err
	}
	if req.Stream != "" {
		// DMs too: their participants hold read_history in them.
		if _, err := c.g.svc.Streams.Allowed(ctx, c.user.ID, req.Stream, models.ReadHistory); err != nil {
			return err
		}
		r.StreamIDs = []string{req.Stream}
	} else {
		view, err := c.g.svc.Circles.View(ctx, req.Circle, c.user.ID)
		if err != nil {
			return err
		}
		// View lists only the streams the user can view; of those, the
		// text channels they may read.
		for _, st := range view.Streams {
			if (st.Kind == models.Channel || st.Kind == models.Thread) && st.Permissions != nil && st.Permissions.Has(models.ReadHistory) {
				r.StreamIDs = append(r.StreamIDs, st.ID)
			}
		}
		// The view lists active threads; archived ones are read too.
		r.StreamIDs = append(r.StreamIDs, c.g.svc.Circles.ReadableThreads(ctx, req.Circle, c.user.ID)...) // threads.go
	}
	msgs, next, err := c.g.svc.Streams.Search(ctx, c.user.ID, r)
	if err != nil {
		return err
	}
	out := searchReply{header: hdr(req), Results: make([]*models.Message, len(msgs)), Next: next}
	for i, m := range msgs {
		out.Results[i] = m.View(c.user.ID)
	}
	c.reply(out)
	return nil
}
