package gateway

import (
	"context"

	"sync"
	"sync/atomic"
	"time"

	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

// commandTimeout bounds the store work of one command.
const commandTimeout = 10 * time.Second

type handler func(c *conn, ctx context.Context, req *request) error

// commands maps each command after auth to its handler. A handler queues
// its reply itself, or returns an error that becomes an error frame. Each
// file registers the commands it serves (handle) from its init.
var commands = make(map[string]handler)

// handle registers the handlers of a file's commands.
func handle(m map[string]handler) {
	for name, h := range m {
		if commands[name] != nil {
			panic("gateway: command " + name + " registered twice")
		}
		commands[name] = h
	}
}

func init() {
	handle(map[string]handler{
		"ping":          (*conn).cmdPing,
		"circle_create": (*conn).cmdCircleCreate,
		"circle_list":   (*conn).cmdCircleList,
		"circle_join":   (*conn).cmdCircleJoin,
		"circle_leave":  (*conn).cmdCircleLeave,
		"dm_open":       (*conn).cmdDMOpen,
		"subscribe":     (*conn).cmdSubscribe,
		"unsubscribe":   (*conn).cmdUnsubscribe,
		"message_new":   (*conn).cmdMessageNew,
		"history":       (*conn).cmdHistory,
		"stream_ack":    (*conn).cmdStreamAck,

		"message_edit":         (*conn).cmdMessageEdit,
		"message_delete":       (*conn).cmdMessageDelete,
		"message_react_add":    (*conn).cmdMessageReact,
		"message_react_remove": (*conn).cmdMessageReact,
		"message_pin":          (*conn).cmdMessagePin,
		"message_unpin":        (*conn).cmdMessagePin,
		"pins_list":            (*conn).cmdPinsList,
		"pong":                 func(*conn, context.Context, *request) error { return nil },
	})
}

// serve handles one frame of an authenticated connection.
func (c *conn) serve(data []byte) {
	req, ok := c.decode(data)
	if !ok {
		return
	}
	h := header{Cmd: req.Cmd, Ref: req.Ref}
	if req.Cmd == "auth" {
		c.fail(h, req.Cmd, errCode(CodeAlreadyAuthed, "this connection is already authenticated"))
		return
	}
	if c.g.quiesced.Load() {
		c.fail(h, req.Cmd, errCode(CodeUnavailable, "the server is restarting; retry after reconnecting"))
		return
	}
	fn := commands[req.Cmd]
	if fn == nil {
		c.fail(h, req.Cmd, errCode(CodeUnknownCommand, "unknown command "+quote(req.Cmd)))
		return
	}
	if !c.allowed(h, req.Cmd) {
		return // refused with rate_limit: nothing is done
	}
	ctx, cancel := context.WithTimeout(c.ctx, commandTimeout)
	defer cancel()
	if err := fn(c, ctx, req); err != nil {
		c.fail(h, req.Cmd, err)
	}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

func required(field, value string) error {
	if value == "" {
		return errCode(CodeBadRequest, field+" is required")
	}
	return nil
}

func (c *conn) cmdPing(_ context.Context, req *request) error {
	c.reply(header{Cmd: "pong", Ref: req.Ref})
	return nil
}

type circleReply struct {
	header
	Circle *models.Circle `json:"circle"`
}

func (c *conn) cmdCircleCreate(ctx context.Context, req *request) error {
	if c.user.Bot {
		return errBotJoin // bots.go
	}
	circle, err := c.g.svc.Circles.Create(ctx, c.user, req.Name, models.Visibility(req.Visibility))
	if err != nil {
		return err
	}
	c.joinCircle(circle.ID)
	c.reply(circleReply{hdr(req), circle})
	c.g.publish(userTopic(c.user.ID), userControl(opJoin, c.id, circle.ID, encode(circleReply{header{Cmd: "circle_create"}, circle})))
	return nil
}

func (c *conn) cmdCircleList(ctx context.Context, req *request) error {
	cs, err := c.g.svc.Circles.ListPublic(ctx, c.user.ID)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []*models.Circle{}
	}
	c.reply(struct {
		header
		Circles []*models.Circle `json:"circles"`
	}{hdr(req), cs})
	return nil
}

func (c *conn) cmdCircleJoin(ctx context.Context, req *request) error {
	if c.user.Bot {
		return errBotJoin // bots.go
	}
	var (
		circle *models.Circle
		err    error
	)
	switch {
	case req.Invite != "":
		circle, err = c.g.svc.Circles.JoinInvite(ctx, c.user, req.Invite)
	case req.Circle != "":
		circle, err = c.g.svc.Circles.Join(ctx, c.user, req.Circle)
	default:
		return errCode(CodeBadRequest, "circle or invite is required")
	}
	if err != nil {
		return err
	}
	// Tell the members first, then listen: the joiner does not hear of
	// itself.
	c.g.membership(circle.ID, c.user.ID, true)
	c.g.publish(circleTopic(circle.ID), encode(memberEvent{Cmd: "member_join", Circle: circle.ID, User: c.user.Ref()}))
	c.joinCircle(circle.ID)
	c.reply(circleReply{hdr(req), circle})
	c.g.publish(userTopic(c.user.ID), userControl(opJoin, c.id, circle.ID, encode(circleReply{header{Cmd: "circle_join"}, circle})))
	return nil
}

type circleIDFrame struct {
	header
	Circle string `json:"circle"`
}

func (c *conn) cmdCircleLeave(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	circle, err := c.g.svc.Circles.Leave(ctx, c.user.ID, req.Circle)
	if err != nil {
		return err
	}
	// Every connection of the user drops the circle's streams, then the
	// remaining members hear of it.
	c.g.membership(circle.ID, c.user.ID, false)
	c.leaveCircle(circle.ID)
	c.g.publish(userTopic(c.user.ID), userControl(opLeave, c.id, circle.ID, encode(circleIDFrame{header{Cmd: "circle_leave"}, circle.ID})))
	c.g.publish(circleTopic(circle.ID), encode(memberEvent{Cmd: "member_leave", Circle: circle.ID, User: c.user.Ref()}))
	for _, fn := range onRemoved {
		fn(c.g, circle.ID, c.user.ID)
	}
	c.reply(circleIDFrame{hdr(req), circle.ID})
	return nil
}

type streamReply struct {
	header
	Stream *models.Stream `json:"stream"`
}

func (c *conn) cmdDMOpen(ctx context.Context, req *request) error {
	if err := required("user", req.User); err != nil {
		return err
	}
	st, created, err := c.g.svc.Streams.OpenDM(ctx, c.user, req.User)
	if err != nil {
		return err
	}
	c.reply(streamReply{hdr(req), st})
	if created {
		// The peer, and the user's other connections, learn of the new DM.
		c.g.publish(userTopic(c.user.ID), userControl(opEvent, c.id, "", encode(streamReply{header{Cmd: "dm_open"}, st})))
		theirs := *st
		me := c.user.Ref()
		theirs.Peer = &me
		c.g.publish(userTopic(st.Peer.ID), userControl(opEvent, 0, "", encode(streamReply{header{Cmd: "dm_open"}, &theirs})))
	}
	return nil
}

func (c *conn) cmdMessageNew(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if err := c.threadPost(ctx, req.Stream); err != nil { // threads.go
		return err
	}
	h := hdr(req)
	d := streams.Draft{Content: req.Content, Nonce: req.Nonce, ReplyTo: req.ReplyTo}
	// Attachments are claimed before the message is submitted, so no
	// file can go to two messages; the claim is undone when the message
	// is not stored, and recorded as the message's once it is
	// (attachments.go).
	var claim string
	var ids, fresh []string
	if len(req.Attachments) > 0 {
		var err error
		d.Attachments, claim, fresh, err = c.g.claimAttachments(ctx, c.user.ID, req.Stream, req.Nonce, req.Attachments)
		if err != nil {
			return err
		}
		ids = req.Attachments
	}
	user, stream, nonce := c.user, req.Stream, req.Nonce
	// The reply is sent when the committer has stored the message; the
	// connection goes on reading meanwhile.
	err := c.g.svc.Streams.SubmitDraft(ctx, c.user, req.Stream, d, func(m *models.Message, err error) {
		if len(ids) > 0 {
			go c.g.settleAttachments(m, err, user, stream, nonce, claim, ids, fresh)
		}
		if err != nil {
			c.fail(h, "message_new", err)
			return
		}
		c.reply(struct {
			header
			Message *models.Message `json:"message"`
		}{h, m})
	})
	if err != nil && len(ids) > 0 {
		// Nothing was queued.
		c.g.releaseAttachments(fresh, claim)
	}
	return err
}

type messageReply struct {
	header
	Message *models.Message `json:"message"`
}

// messageTarget checks the fields that name a stored message.
func messageTarget(req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	return required("id", req.ID)
}

// changeMessage serves a command that changes one message: it checks the
// target fields, runs change and answers with the message as the asker
// sees it. The service publishes the matching event.
func (c *conn) changeMessage(req *request, change func() (*models.Message, error)) error {
	if err := messageTarget(req); err != nil {
		return err
	}
	m, err := change()
	if err != nil {
		return err
	}
	c.reply(messageReply{hdr(req), m.View(c.user.ID)})
	return nil
}

func (c *conn) cmdMessageEdit(ctx context.Context, req *request) error {
	return c.changeMessage(req, func() (*models.Message, error) {
		return c.g.svc.Streams.Edit(ctx, c.user, req.Stream, req.ID, req.Content)
	})
}

func (c *conn) cmdMessageDelete(ctx context.Context, req *request) error {
	return c.changeMessage(req, func() (*models.Message, error) {
		// The message as stored before the delete names its files; they
		// are removed once the delete succeeded.
		before, _ := c.g.svc.Store.Message(ctx, req.ID)
		m, err := c.g.svc.Streams.Delete(ctx, c.user, req.Stream, req.ID)
		if err != nil {
			return nil, err
		}
		if before != nil && before.StreamID == m.StreamID && len(before.Attachments) > 0 {
			c.g.deleteMessageAttachments(before)
		}
		m.Attachments = nil
		return m, nil
	})
}

// cmdMessageReact serves message_react_add and message_react_remove.
func (c *conn) cmdMessageReact(ctx context.Context, req *request) error {
	return c.changeMessage(req, func() (*models.Message, error) {
		return c.g.svc.Streams.React(ctx, c.user, req.Stream, req.ID, req.Emoji, req.Cmd == "message_react_add")
	})
}

// cmdMessagePin serves message_pin and message_unpin.
func (c *conn) cmdMessagePin(ctx context.Context, req *request) error {
	return c.changeMessage(req, func() (*models.Message, error) {
		return c.g.svc.Streams.Pin(ctx, c.user, req.Stream, req.ID, req.Cmd == "message_pin")
	})
}

func (c *conn) cmdPinsList(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	msgs, err := c.g.svc.Streams.Pins(ctx, c.user.ID, req.Stream)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		msgs[i] = m.View(c.user.ID)
	}
	c.reply(struct {
		header
		Stream   string            `json:"stream"`
		Messages []*models.Message `json:"messages"`
	}{hdr(req), req.Stream, msgs})
	return nil
}

type historyReply struct {
	header
	Stream   string            `json:"stream"`
	Messages []*models.Message `json:"messages"`
	// Only with around or at: the stream's messages before and after
	// the page.
	BeforeCount *int64 `json:"before_count,omitempty"`
	AfterCount  *int64 `json:"after_count,omitempty"`
}

// cmdHistory reads by seq (after, before), around a message id (around)
// or from a time (at); the three ways exclude each other.
func (c *conn) cmdHistory(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	ways := 0
	for _, given := range []bool{req.Around != "", req.At != nil, req.After != nil || req.Before != 0} {
		if given {
			ways++
		}
	}
	if ways > 1 {
		return errCode(CodeBadRequest, "give only one of around, at, and after/before")
	}
	out := historyReply{header: hdr(req), Stream: req.Stream}
	var page *streams.Page
	switch {
	case req.Around != "":
		p, err := c.g.svc.Streams.HistoryAround(ctx, c.user.ID, req.Stream, req.Around, req.Limit)
		if err != nil {
			return err
		}
		page = p
	case req.At != nil:
		if *req.At < 0 {
			return errCode(CodeBadRequest, "at must not be negative")
		}
		p, err := c.g.svc.Streams.HistoryAt(ctx, c.user.ID, req.Stream, time.UnixMilli(*req.At).UTC(), req.Limit)
		if err != nil {
			return err
		}
		page = p
	default:
		msgs, err := c.g.svc.Streams.History(ctx, c.user.ID, req.Stream, req.After, req.Before, req.Limit)
		if err != nil {
			return err
		}
		out.Messages = msgs
	}
	if page != nil {
		out.Messages, out.BeforeCount, out.AfterCount = page.Messages, &page.Before, &page.After
	}
	if out.Messages == nil {
		out.Messages = []*models.Message{}
	}
	for i, m := range out.Messages {
		out.Messages[i] = m.View(c.user.ID)
	}
	c.reply(out)
	return nil
}

func (c *conn) cmdStreamAck(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if req.Seq == nil {
		return errCode(CodeBadRequest, "seq is required")
	}
	seq, moved, err := c.g.svc.Streams.Ack(ctx, c.user.ID, req.Stream, *req.Seq)
	if err != nil {
		return err
	}
	c.reply(ackFrame{hdr(req), req.Stream, seq})
	if moved {
		// The user's other connections mark the stream read too.
		c.g.publish(userTopic(c.user.ID), userControl(opEvent, c.id, "", encode(ackFrame{header{Cmd: "stream_ack"}, req.Stream, seq})))
	}
	return nil
}

func hdr(req *request) header { return header{Cmd: req.Cmd, Ref: req.Ref} }

// streamSub is one followed stream. While it recovers missed messages,
// live events are held back so the client sees stored ones first, then
// live ones, in seq order, with no gap and no duplicate.
type streamSub struct {
	c        *conn
	circleID string
	sub      *broker.Subscription
	unfollow func()
	stopOnce sync.Once

	recovering atomic.Bool
	mu         sync.Mutex
	held       [][]byte
	heldBytes  int
}

// Deliver implements broker.Subscriber.
func (s *streamSub) Deliver(_ string, frame []byte) error {
	if s.recovering.Load() {
		s.mu.Lock()
		if s.recovering.Load() {
			s.held = append(s.held, frame)
			s.heldBytes += len(frame)
			over := s.heldBytes > s.c.g.cfg.QueueBytes
			s.mu.Unlock()
			if over {
				s.c.close(statusSlowConsumer, "slow consumer")
				return broker.ErrSlowConsumer
			}
			return nil
		}
		s.mu.Unlock()
	}
	return s.c.Deliver("", frame)
}

// stop ends the subscription; it may be called more than once.
func (s *streamSub) stop() {
	s.stopOnce.Do(func() {
		if s.sub != nil {
			s.sub.Cancel()
		}
		if s.unfollow != nil {
			s.unfollow()
		}
	})
}

// release sends the held live events and switches to direct delivery.
func (s *streamSub) release() {
	s.mu.Lock()
	for _, f := range s.held {
		s.c.push(f)
	}
	s.held, s.heldBytes = nil, 0
	s.recovering.Store(false)
	s.mu.Unlock()
}

// recoverPage is how many missed messages are read at a time.
const recoverPage = 100

// recoverTimeout bounds one subscribe's replay of missed messages.
const recoverTimeout = 2 * time.Minute

func (c *conn) cmdSubscribe(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if req.Since != nil && *req.Since < 0 {
		return errCode(CodeBadRequest, "since must not be negative")
	}
	need := models.ViewStreams
	if req.Since != nil {
		need |= models.ReadHistory // the replay reads stored messages
	}
	st, err := c.g.svc.Streams.Allowed(ctx, c.user.ID, req.Stream, need)
	if err != nil {
		return err
	}
	c.mu.Lock()
	_, dup := c.streams[st.ID]
	n := len(c.streams)
	c.mu.Unlock()
	if dup {
		return errCode(CodeAlreadySubscribed, "already subscribed to this stream")
	}
	if n >= c.g.cfg.MaxSubscriptions {
		return errCode(CodeTooManySubs, "too many subscriptions on this connection")
	}
	sub := &streamSub{c: c, circleID: st.CircleID}
	sub.recovering.Store(true)
	var (
		last   int64
		subErr error
	)
	sub.unfollow, err = c.g.svc.Streams.Follow(ctx, st.ID, func(lastSeq int64) {
		last = lastSeq
		sub.sub, subErr = c.g.svc.Broker.Subscribe(streamTopic(st.ID), sub)
	})
	if err == nil && subErr != nil {
		sub.stop()
		err = subErr
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.streams[st.ID] = sub
	c.mu.Unlock()
	if c.q.Err() != nil {
		// The connection closed meanwhile and did not see this one.
		c.dropStream(st.ID)
		return nil
	}
	c.reply(struct {
		header
		Stream string `json:"stream"`
		Seq    int64  `json:"seq"`
	}{hdr(req), st.ID, last})
	if req.Since != nil {
		// A long absence may take a while to replay to a slow reader: the
		// replay has its own, longer bound than one command.
		rctx, cancel := context.WithTimeout(c.ctx, recoverTimeout)
		defer cancel()
		if err := c.recover(rctx, st.ID, *req.Since, last); err != nil {
			// The reply is out, so the error cannot answer it: a ref-less
			// error naming the stream says the subscription was dropped.
			c.dropStream(st.ID)
			code, msg := classify(err)
			c.reply(errorFrame{header: header{Cmd: "error"}, Src: req.Cmd, Code: code, Val: msg, Stream: st.ID})
			return nil
		}
	}
	sub.release()
	return nil
}

// recover sends the stored messages with since < seq <= last as
// message_new events, a page at a time, waiting for the writer to catch up
// so a long absence does not overflow the queue.
func (c *conn) recover(ctx context.Context, streamID string, since, last int64) error {
	for since < last {
		msgs, err := c.g.svc.Streams.Range(ctx, streamID, since, last, recoverPage)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		for _, m := range msgs {
			// Wait for the writer before each frame, not each page: a page
			// of long messages can outweigh the whole queue bound.
			for {
				if _, queued := c.q.Len(); queued < c.g.cfg.QueueBytes/2 {
					break
				}
				select {
				case <-ctx.Done():
					return errCode(CodeTimeout, "replaying missed messages took too long; subscribe again with since")
				case <-time.After(5 * time.Millisecond):
				}
			}
			c.push(MessageEvent(m.View(c.user.ID)))
		}
		since = msgs[len(msgs)-1].Seq
	}
	return nil
}

func (c *conn) dropStream(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[id]
	if s == nil {
		return false
	}
	s.stop()
	delete(c.streams, id)
	return true
}

func (c *conn) cmdUnsubscribe(_ context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if !c.dropStream(req.Stream) {
		return errCode(CodeNotSubscribed, "not subscribed to this stream")
	}
	c.reply(struct {
		header
		Stream string `json:"stream"`
	}{hdr(req), req.Stream})
	return nil
}
