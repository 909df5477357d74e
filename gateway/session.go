package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/models"
)

type serverInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Limits are announced in the handshake so clients can check input before
// sending it.
type Limits struct {
	MaxMessageLength int   `json:"max_message_length"`
	MaxFrameBytes    int64 `json:"max_frame_bytes"`
	MaxSubscriptions int   `json:"max_subscriptions"`
	HistoryLimit     int   `json:"history_limit"`
	QueueBytes       int   `json:"queue_bytes"`
	AuthTimeoutMS    int64 `json:"auth_timeout_ms"`

	// Circle limits (circles.Config).
	MaxMembersPerCircle int `json:"max_members_per_circle"`
	MaxCirclesPerUser   int `json:"max_circles_per_user"`
	MaxStreamsPerCircle int `json:"max_streams_per_circle"`
	MaxRolesPerCircle   int `json:"max_roles_per_circle"`
	// MaxActiveThreads bounds the threads of one stream that are not
	// archived (threads.go).
	MaxActiveThreads int `json:"max_active_threads"`

	// Rate limits per user (Config.RateMessagesPerMinute and the rest).
	MessagesPerMinute int   `json:"messages_per_minute"`
	Burst             int   `json:"burst"`
	BurstWindowMS     int64 `json:"burst_window_ms"`
	CooldownMS        int64 `json:"cooldown_ms"`
	TypingBurst       int   `json:"typing_burst"`
	TypingWindowMS    int64 `json:"typing_window_ms"`

	// Uploads per user (Config.RateUploadsPerMinute and the rest), and
	// how long an upload may stay attached to no message (uploads.go).
	UploadsPerMinute  int   `json:"uploads_per_minute"`
	UploadBurst       int   `json:"upload_burst"`
	UploadWindowMS    int64 `json:"upload_window_ms"`
	AttachmentGraceMS int64 `json:"attachment_grace_ms"`

	// The largest file POST /api/attachments takes; the types it takes
	// are handshakeVal.AttachmentTypes (limits hold numbers only).
	MaxAttachmentBytes int64 `json:"max_attachment_bytes"`

	// Custom emoji: the largest image, the most emoji of one circle, the
	// largest width and height in pixels.
	MaxEmojiBytes     int64 `json:"max_emoji_bytes"`
	MaxEmojiPerCircle int   `json:"max_emoji_per_circle"`
	MaxEmojiSide      int   `json:"max_emoji_side"`
}

type handshakeVal struct {
	Server      serverInfo `json:"server"`
	Limits      Limits     `json:"limits"`
	HeartbeatMS int64      `json:"heartbeat_ms"`
	// AttachmentTypes are the media types POST /api/attachments takes.
	AttachmentTypes []string `json:"attachment_types"`
}

type handshakeFrame struct {
	Cmd string       `json:"cmd"`
	Val handshakeVal `json:"val"`
}

type readyFrame struct {
	header
	User    models.UserRef   `json:"user"`
	Circles []*models.Circle `json:"circles"`
	DMs     []*models.Stream `json:"dms"`
	// Presences are the co-members (people who share a circle or a DM
	// with the user) who are online, filled in by an onReady hook.
	Presences []models.Presence `json:"presences,omitempty"`
}

// Connection lifecycle hooks of the package's features (presence,
// voice), registered from their files' init: onReady fills in the ready
// frame before it is sent (an error refuses the connection), onOpen runs
// once ready is queued, onClosed once an authenticated connection has
// ended. They run on the connection's reader goroutine.
var (
	onReady  []func(ctx context.Context, c *conn, r *readyFrame) error
	onOpen   []func(c *conn)
	onClosed []func(c *conn)
)

// authenticate serves the first frame. It returns false when the
// connection must end.
func (c *conn) authenticate(data []byte) bool {
	var retryAfter int64 // seconds, for too_many_attempts
	refuse := func(ref json.RawMessage, code, msg string) bool {
		c.reply(errorFrame{header: header{Cmd: "auth_error", Ref: ref}, Src: "auth", Code: code, Val: msg, RetryAfter: retryAfter})
		status := statusAuthFailed
		switch code {
		case CodeAuthRequired, CodeInvalidToken, CodeInvalidCredentials, CodeTooManyAttempts, CodeTooManyConns, CodeRejected:
		default:
			status = websocket.StatusTryAgainLater // the server failed, not the credentials
		}
		c.close(status, code)
		return false
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil || !validRef(req.Ref) {
		return refuse(nil, CodeAuthRequired, "the first frame must be a well-formed auth command")
	}
	if req.Cmd == "pong" {
		return true // an answer to a ping that crossed the auth frame
	}
	if req.Cmd != "auth" {
		return refuse(req.Ref, CodeAuthRequired, "authenticate first: send auth")
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	var (
		user *models.User
		hash string
		err  error
	)
	switch {
	case req.Token != "":
		user, hash, err = c.g.svc.Auth.Authenticate(ctx, req.Token)
	case req.Username != "" || req.Password != "":
		a, wait := c.g.beginLogin(req.Username, c.addr)
		if a == nil {
			retryAfter = retrySeconds(wait)
			return refuse(req.Ref, CodeTooManyAttempts, auth.ErrTooManyAttempts.Error())
		}
		user, err = c.g.svc.Auth.Check(ctx, req.Username, req.Password)
		a.end(err)
	default:
		return refuse(req.Ref, CodeAuthRequired, "auth needs a token, or a username and password")
	}
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		return refuse(req.Ref, CodeInvalidToken, err.Error())
	case errors.Is(err, auth.ErrInvalidCredentials):
		return refuse(req.Ref, CodeInvalidCredentials, err.Error())
	case err != nil:
		code, msg := classify(err)
		return refuse(req.Ref, code, msg)
	}
	if !c.g.addUserConn(user.ID) {
		return refuse(req.Ref, CodeTooManyConns, fmt.Sprintf("this user already has %d connections open to this server", c.g.cfg.MaxConnectionsPerUser))
	}
	c.countedUser = user.ID // serveWS uncounts it when the connection ends
	if err := c.g.svc.Hooks.OnConnect(ctx, user.Ref()); err != nil {
		return refuse(req.Ref, CodeRejected, err.Error())
	}
	ready, err := c.snapshot(ctx, user)
	if err != nil {
		code, msg := classify(err)
		return refuse(req.Ref, code, msg)
	}
	ready.header = header{Cmd: "ready", Ref: req.Ref}
	c.user, c.tokenHash = user, hash
	for _, fn := range onReady {
		if err := fn(ctx, c, ready); err != nil {
			code, msg := classify(err)
			return refuse(req.Ref, code, msg)
		}
	}
	c.batch.Store(req.Batch)
	if err := c.follow(ready.Circles); err != nil {
		return refuse(req.Ref, CodeUnavailable, "server is shutting down")
	}
	c.authed.Store(true)
	c.g.authed.Add(1)
	c.reply(ready)
	for _, fn := range onOpen {
		fn(c)
	}
	c.g.log.Info("connection authenticated", "user", user.Username)
	return true
}

// snapshot gathers what ready carries.
func (c *conn) snapshot(ctx context.Context, user *models.User) (*readyFrame, error) {
	svc := c.g.svc
	cs, err := svc.Circles.ForUser(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	dms, err := svc.Streams.DMsOf(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	var all []*models.Stream
	for _, c := range cs {
		for i := range c.Streams {
			all = append(all, &c.Streams[i])
		}
	}
	all = append(all, dms...)
	for _, st := range all {
		svc.Streams.Current(st)
	}
	if err := svc.Streams.FillUnread(ctx, user.ID, all); err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []*models.Circle{}
	}
	if dms == nil {
		dms = []*models.Stream{}
	}
	return &readyFrame{User: user.Ref(), Circles: cs, DMs: dms}, nil
}

// follow subscribes the connection to its control topics and to the
// membership news of its circles.
func (c *conn) follow(cs []*models.Circle) error {
	b := c.g.svc.Broker
	ctl := controlSub{c}
	var subs []*broker.Subscription
	if c.tokenHash != "" {
		s, err := b.Subscribe(sessionTopic(c.tokenHash), ctl)
		if err != nil {
			return err
		}
		subs = append(subs, s)
	}
	for _, topic := range []string{userTopic(c.user.ID), revokeTopic(c.user.ID)} {
		s, err := b.Subscribe(topic, ctl)
		if err != nil {
			return err
		}
		subs = append(subs, s)
	}
	c.mu.Lock()
	c.control = append(c.control, subs...)
	c.mu.Unlock()
	for _, circle := range cs {
		c.joinCircle(circle.ID)
	}
	return nil
}

// joinCircle subscribes the connection to a circle's membership news.
func (c *conn) joinCircle(circleID string) {
	s, err := c.g.svc.Broker.Subscribe(circleTopic(circleID), c)
	if err != nil {
		return
	}
	c.mu.Lock()
	if old := c.circles[circleID]; old != nil {
		old.Cancel()
	}
	c.circles[circleID] = s
	c.mu.Unlock()
}

// leaveCircle drops a circle's news and every followed stream of it.
func (c *conn) leaveCircle(circleID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.circles[circleID]; s != nil {
		s.Cancel()
		delete(c.circles, circleID)
	}
	for id, s := range c.streams {
		if s.circleID == circleID {
			s.stop()
			delete(c.streams, id)
		}
	}
}

// controlSub receives the connection's control topics. A publish on the
// session topic means the token was revoked, on the revoke topic that
// every session of the user was (a password change). The user topic keeps all of a
// user's connections in step; its payload is an op byte, the id of the
// connection it comes from (which ignores it: it acted already), a space, a
// circle id, a newline and a frame for the client:
//
//	J  the user joined or created the circle: follow its news
//	L  the user left it: drop its news and streams
//	E  no circle: just send the frame (a DM opened by someone else, a
//	   stream_ack made on another connection)
type controlSub struct{ c *conn }

// Control ops on the user topic.
const (
	opJoin  = 'J'
	opLeave = 'L'
	opEvent = 'E'
)

func userControl(op byte, origin uint64, circleID string, frame []byte) []byte {
	b := make([]byte, 0, 24+len(circleID)+len(frame))
	b = append(b, op)
	b = strconv.AppendUint(b, origin, 16)
	b = append(append(append(append(b, ' '), circleID...), '\n'), frame...)
	return b
}

func (s controlSub) Deliver(topic string, payload []byte) error {
	if topic != userTopic(s.c.user.ID) {
		s.c.close(statusRevoked, "session revoked")
		return nil
	}
	if len(payload) == 0 {
		return nil
	}
	origin, rest, _ := bytes.Cut(payload[1:], []byte{' '})
	if id, err := strconv.ParseUint(string(origin), 16, 64); err == nil && id == s.c.id {
		return nil
	}
	circleID, frame, _ := bytes.Cut(rest, []byte{'\n'})
	switch payload[0] {
	case opJoin:
		s.c.joinCircle(string(circleID))
	case opLeave:
		s.c.leaveCircle(string(circleID))
	}
	if len(frame) > 0 {
		s.c.push(frame)
	}
	return nil
}
