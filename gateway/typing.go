package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/oshichat/oshi/models"
)

// TypingExpiry is how long a typing indicator lasts: a client shows it
// for that long unless another typing event renews it (or a message from
// the typer ends it).
const TypingExpiry = 8 * time.Second

func init() {
	handle(map[string]handler{"typing": (*conn).cmdTyping})
}

// typingFrame is the typing event (with User) and the reply (with Ref).
type typingFrame struct {
	header
	Stream    string          `json:"stream"`
	User      *models.UserRef `json:"user,omitempty"`
	ExpiresMS int64           `json:"expires_ms"`
}

// cmdTyping tells a stream's subscribers, on every node, that the user
// is typing in it. Nothing is stored. The typer's own connections that
// follow the stream get the event too; clients ignore their own.
func (c *conn) cmdTyping(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	st, err := c.g.svc.Streams.Allowed(ctx, c.user.ID, req.Stream, models.SendMessages)
	if err != nil {
		return fmt.Errorf("typing in %s: %w", req.Stream, err)
	}
	if st.Kind != models.Channel && st.Kind != models.DM && st.Kind != models.Thread {
		return errCode(CodeBadRequest, "typing is only for channels, threads and DMs")
	}
	me := c.user.Ref()
	ms := TypingExpiry.Milliseconds()
	c.g.publish(streamTopic(st.ID), encode(typingFrame{header: header{Cmd: "typing"}, Stream: st.ID, User: &me, ExpiresMS: ms}))
	c.reply(typingFrame{header: hdr(req), Stream: st.ID, ExpiresMS: ms})
	return nil
}
