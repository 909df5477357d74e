package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oshichat/oshi/models"
)

func call[T any](ctx context.Context, c *Client, frame map[string]any) (*T, error) {
	data, err := c.Request(ctx, frame)
	if err != nil {
		return nil, err
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("oshi: decode %v reply: %w", frame["cmd"], err)
	}
	return &out, nil
}

// Ping asks the server for a pong.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "ping"})
	return err
}

type circleReply struct {
	Circle *models.Circle `json:"circle"`
}

// CreateCircle creates a circle; visibility is "public" or "private".
func (c *Client) CreateCircle(ctx context.Context, name string, visibility models.Visibility) (*models.Circle, error) {
	r, err := call[circleReply](ctx, c, map[string]any{"cmd": "circle_create", "name": name, "visibility": visibility})
	if err != nil {
		return nil, err
	}
	return r.Circle, nil
}

// ListCircles lists public circles.
func (c *Client) ListCircles(ctx context.Context) ([]*models.Circle, error) {
	r, err := call[struct {
		Circles []*models.Circle `json:"circles"`
	}](ctx, c, map[string]any{"cmd": "circle_list"})
	if err != nil {
		return nil, err
	}
	return r.Circles, nil
}

// JoinCircle joins a public circle.
func (c *Client) JoinCircle(ctx context.Context, circleID string) (*models.Circle, error) {
	r, err := call[circleReply](ctx, c, map[string]any{"cmd": "circle_join", "circle": circleID})
	if err != nil {
		return nil, err
	}
	return r.Circle, nil
}

// JoinInvite joins the circle an invite code belongs to.
func (c *Client) JoinInvite(ctx context.Context, code string) (*models.Circle, error) {
	r, err := call[circleReply](ctx, c, map[string]any{"cmd": "circle_join", "invite": code})
	if err != nil {
		return nil, err
	}
	return r.Circle, nil
}

// LeaveCircle leaves a circle.
func (c *Client) LeaveCircle(ctx context.Context, circleID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "circle_leave", "circle": circleID})
	return err
}

// CreateInvite returns a new invite code for a circle.
func (c *Client) CreateInvite(ctx context.Context, circleID string) (string, error) {
	r, err := call[struct {
		Code string `json:"code"`
	}](ctx, c, map[string]any{"cmd": "invite_create", "circle": circleID})
	if err != nil {
		return "", err
	}
	return r.Code, nil
}

type streamReply struct {
	Stream *models.Stream `json:"stream"`
}

// CreateStream adds a channel to a circle the user owns.
func (c *Client) CreateStream(ctx context.Context, circleID, name string) (*models.Stream, error) {
	r, err := call[streamReply](ctx, c, map[string]any{"cmd": "stream_create", "circle": circleID, "name": name})
	if err != nil {
		return nil, err
	}
	return r.Stream, nil
}

// OpenDM returns the DM stream with the named user.
func (c *Client) OpenDM(ctx context.Context, username string) (*models.Stream, error) {
	r, err := call[streamReply](ctx, c, map[string]any{"cmd": "dm_open", "user": username})
	if err != nil {
		return nil, err
	}
	return r.Stream, nil
}

// Subscribe follows a stream and returns its current seq. With since >= 0
// the stored messages after since arrive first on Events, then live ones;
// since < 0 means live ones only.
func (c *Client) Subscribe(ctx context.Context, streamID string, since int64) (int64, error) {
	frame := map[string]any{"cmd": "subscribe", "stream": streamID}
	if since >= 0 {
		frame["since"] = since
	}
	// Followed before asking, so replayed messages are counted: -1 means
	// "from the seq in the reply".
	c.follow(streamID, max(since, -1))
	r, err := call[struct {
		Seq int64 `json:"seq"`
	}](ctx, c, frame)
	if err != nil {
		if Code(err) != "already_subscribed" {
			c.unfollow(streamID)
		}
		return 0, err
	}
	return r.Seq, nil
}

// Unsubscribe stops following a stream.
func (c *Client) Unsubscribe(ctx context.Context, streamID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "unsubscribe", "stream": streamID})
	if err == nil || Code(err) == "not_subscribed" {
		c.unfollow(streamID)
	}
	return err
}

// Send posts a message and returns it once the server has stored it. A
// non-empty nonce makes retries safe: the server stores it once.
// The users the content mentions as @username are in the message's
// Mentions.
func (c *Client) Send(ctx context.Context, streamID, content, nonce string) (*models.Message, error) {
	return c.post(ctx, streamID, content, nonce, nil)
}

// post sends message_new with the given extra fields and returns the
// stored message.
func (c *Client) post(ctx context.Context, streamID, content, nonce string, extra map[string]any) (*models.Message, error) {
	frame := map[string]any{"cmd": "message_new", "stream": streamID, "content": content}
	if nonce != "" {
		frame["nonce"] = nonce
	}
	for k, v := range extra {
		frame[k] = v
	}
	r, err := call[struct {
		Message *models.Message `json:"message"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Message, nil
}

// SendReply posts a message that answers message replyTo of the same
// stream; see Send. The stored message's Reply describes the original
// (its id, seq, author and the first 100 characters of its content). A
// replyTo that is unknown, deleted or in another stream is refused with
// invalid_reply.
func (c *Client) SendReply(ctx context.Context, streamID, replyTo, content, nonce string) (*models.Message, error) {
	return c.post(ctx, streamID, content, nonce, map[string]any{"reply_to": replyTo})
}

func (c *Client) changeMessage(ctx context.Context, frame map[string]any) (*models.Message, error) {
	r, err := call[struct {
		Message *models.Message `json:"message"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Message, nil
}

// Edit replaces the content of one of the user's own messages and returns
// the message as edited (EditedAt set). Subscribers get a message_edit
// event.
func (c *Client) Edit(ctx context.Context, streamID, messageID, content string) (*models.Message, error) {
	return c.changeMessage(ctx, map[string]any{"cmd": "message_edit", "stream": streamID, "id": messageID, "content": content})
}

// Delete turns a message into a tombstone (Deleted set, content empty)
// and returns it: the user's own message, or any message of a channel of
// a circle the user owns. Subscribers get a message_delete event.
func (c *Client) Delete(ctx context.Context, streamID, messageID string) (*models.Message, error) {
	return c.changeMessage(ctx, map[string]any{"cmd": "message_delete", "stream": streamID, "id": messageID})
}

// React adds the user's reaction with emoji to a message and returns the
// message, its ReactionCounts filled in for the user. Reacting twice with
// one emoji changes nothing.
func (c *Client) React(ctx context.Context, streamID, messageID, emoji string) (*models.Message, error) {
	return c.changeMessage(ctx, map[string]any{"cmd": "message_react_add", "stream": streamID, "id": messageID, "emoji": emoji})
}

// Unreact removes the user's reaction with emoji from a message; see React.
func (c *Client) Unreact(ctx context.Context, streamID, messageID, emoji string) (*models.Message, error) {
	return c.changeMessage(ctx, map[string]any{"cmd": "message_react_remove", "stream": streamID, "id": messageID, "emoji": emoji})
}

// Pin pins a message to its stream and returns it with PinnedAt and
// PinnedBy set: in a channel the circle's owner may, in a DM either
// participant. Pinning a pinned message changes nothing. Subscribers get
// a message_pin event (Event.ID, Event.Seq, Event.By).
func (c *Client) Pin(ctx context.Context, streamID, messageID string) (*models.Message, error) {
	return c.changeMessage(ctx, map[string]any{"cmd": "message_pin", "stream": streamID, "id": messageID})
}

// Unpin unpins a message; see Pin. Subscribers get a message_unpin event.
func (c *Client) Unpin(ctx context.Context, streamID, messageID string) (*models.Message, error) {
	return c.changeMessage(ctx, map[string]any{"cmd": "message_unpin", "stream": streamID, "id": messageID})
}

// Pins lists a stream's pinned messages, oldest pin first.
func (c *Client) Pins(ctx context.Context, streamID string) ([]*models.Message, error) {
	r, err := call[struct {
		Messages []*models.Message `json:"messages"`
	}](ctx, c, map[string]any{"cmd": "pins_list", "stream": streamID})
	if err != nil {
		return nil, err
	}
	return r.Messages, nil
}

// Ack marks a stream read up to seq and returns the user's read seq
// after it: seq is clamped to the stream's last seq, and the read seq
// never moves back. The user's other connections get a stream_ack event
// (Event.Stream, Event.Seq) when it moved.
func (c *Client) Ack(ctx context.Context, streamID string, seq int64) (int64, error) {
	r, err := call[struct {
		Seq int64 `json:"seq"`
	}](ctx, c, map[string]any{"cmd": "stream_ack", "stream": streamID, "seq": seq})
	if err != nil {
		return 0, err
	}
	return r.Seq, nil
}

// HistoryQuery selects messages for History. With After set (0 reads
// from the start) History returns the first messages after that seq;
// without it, the newest ones, before Before when that is set. Zero
// Before and Limit are not sent.
type HistoryQuery struct {
	After  *int64
	Before int64
	Limit  int
}

// Seq returns a pointer to n, for HistoryQuery.After.
func Seq(n int64) *int64 { return &n }

// History reads stored messages of a stream, oldest first.
func (c *Client) History(ctx context.Context, streamID string, q HistoryQuery) ([]*models.Message, error) {
	frame := map[string]any{"cmd": "history", "stream": streamID}
	if q.After != nil {
		frame["after"] = *q.After
	}
	if q.Before != 0 {
		frame["before"] = q.Before
	}
	if q.Limit != 0 {
		frame["limit"] = q.Limit
	}
	r, err := call[struct {
		Messages []*models.Message `json:"messages"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Messages, nil
}

// WSURL turns an http:// or https:// base URL into the WebSocket endpoint.
func WSURL(baseURL string) string {
	if rest, ok := strings.CutPrefix(baseURL, "https://"); ok {
		return "wss://" + rest + "/ws"
	}
	return "ws://" + strings.TrimPrefix(baseURL, "http://") + "/ws"
}
