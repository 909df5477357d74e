package gateway

import (
	"context"
	"errors"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

// Error codes of polls.
const (
	CodeInvalidPoll   = "invalid_poll"
	CodePollClosed    = "poll_closed"
	CodeInvalidChoice = "invalid_choice"
)

func init() {
	handle(map[string]handler{
		"poll_create": (*conn).cmdPollCreate,
		"poll_vote":   (*conn).cmdPollVote,
		"poll_close":  (*conn).cmdPollClose,
	})
}

// pollError gives the streams service's poll errors their codes; the
// others go through classify as they are.
func pollError(err error) error {
	switch {
	case errors.Is(err, streams.ErrInvalidPoll):
		return errCode(CodeInvalidPoll, err.Error())
	case errors.Is(err, streams.ErrPollClosed):
		return errCode(CodePollClosed, err.Error())
	case errors.Is(err, streams.ErrInvalidChoice):
		return errCode(CodeInvalidChoice, err.Error())
	}
	return err
}

// pollEvent is poll_update: a poll's counts after a vote or a close. It
// is also the body of the poll_vote and poll_close replies.
type pollEvent struct {
	Cmd    string       `json:"cmd"`
	Stream string       `json:"stream"`
	ID     string       `json:"id"`
	Poll   *models.Poll `json:"poll"`
}

type pollReply struct {
	header
	Stream string       `json:"stream"`
	ID     string       `json:"id"`
	Poll   *models.Poll `json:"poll"`
	// Me is the voter's own choices, in the poll_vote reply only.
	Me *[]int `json:"me,omitempty"`
}

func (c *conn) cmdPollCreate(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if err := c.threadPost(ctx, req.Stream); err != nil { // threads.go
		return err
	}
	h := hdr(req)
	spec := streams.PollSpec{Question: req.Question, Options: req.Options, Multi: req.Multi, Expires: req.Expires}
	// As message_new: the reply is sent once the committer has stored
	// the poll, after (or beside) its message_new event.
	err := c.g.svc.Streams.CreatePoll(ctx, c.user, req.Stream, spec, req.Nonce, func(m *models.Message, err error) {
		if err != nil {
			c.fail(h, "poll_create", pollError(err))
			return
		}
		c.reply(messageReply{h, m})
	})
	return pollError(err)
}

func (c *conn) cmdPollVote(ctx context.Context, req *request) error {
	if err := messageTarget(req); err != nil {
		return err
	}
	if req.Choices == nil {
		return errCode(CodeBadRequest, "choices is required ([] withdraws the vote)")
	}
	m, mine, err := c.g.svc.Streams.Vote(ctx, c.user, req.Stream, req.ID, req.Choices)
	if err != nil {
		return pollError(err)
	}
	c.reply(pollReply{header: hdr(req), Stream: m.StreamID, ID: m.ID, Poll: m.Poll, Me: &mine})
	return nil
}

func (c *conn) cmdPollClose(ctx context.Context, req *request) error {
	if err := messageTarget(req); err != nil {
		return err
	}
	m, err := c.g.svc.Streams.ClosePoll(ctx, c.user, req.Stream, req.ID)
	if err != nil {
		return pollError(err)
	}
	c.reply(pollReply{header: hdr(req), Stream: m.StreamID, ID: m.ID, Poll: m.Poll})
	return nil
}
