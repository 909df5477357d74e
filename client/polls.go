package client

import (
	"context"
	"time"

	"github.com/oshichat/oshi/models"
)

// PollSpec describes a poll to create: a question, 2–10 distinct
// options, whether several may be chosen, and its life (0 means the
// server's default, a day; otherwise whole seconds from 60 to 7 days).
type PollSpec struct {
	Question string
	Options  []string
	Multi    bool
	Expires  time.Duration
}

// CreatePoll posts a poll to a stream and returns its message (the
// content is the question; Poll holds the options). Subscribers get it
// as a message_new event.
func (c *Client) CreatePoll(ctx context.Context, streamID string, p PollSpec) (*models.Message, error) {
	frame := map[string]any{"cmd": "poll_create", "stream": streamID, "question": p.Question, "options": p.Options, "multi": p.Multi}
	if p.Expires != 0 {
		frame["expires"] = int64(p.Expires / time.Second)
	}
	r, err := call[struct {
		Message *models.Message `json:"message"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Message, nil
}

// Vote replaces the user's vote on a poll with choices (option ids); no
// choices withdraws it. It returns the poll's counts after the vote and
// the user's choices. Subscribers get a poll_update event.
func (c *Client) Vote(ctx context.Context, streamID, messageID string, choices ...int) (*models.Poll, []int, error) {
	if choices == nil {
		choices = []int{}
	}
	r, err := call[struct {
		Poll *models.Poll `json:"poll"`
		Me   []int        `json:"me"`
	}](ctx, c, map[string]any{"cmd": "poll_vote", "stream": streamID, "id": messageID, "choices": choices})
	if err != nil {
		return nil, nil, err
	}
	return r.Poll, r.Me, nil
}

// ClosePoll closes a poll before its expiry (its author, or a member
// who may manage messages) and returns it as closed.
func (c *Client) ClosePoll(ctx context.Context, streamID, messageID string) (*models.Poll, error) {
	r, err := call[struct {
		Poll *models.Poll `json:"poll"`
	}](ctx, c, map[string]any{"cmd": "poll_close", "stream": streamID, "id": messageID})
	if err != nil {
		return nil, err
	}
	return r.Poll, nil
}
