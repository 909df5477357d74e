package gateway

import (
	"context"
	"errors"

	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

// Threads: streams of kind thread started under a circle's text channel
// (package circles keeps their rules). A thread is subscribed to, read
// and posted in like any stream; these commands start, change, delete
// and list them, and announce each change only to the members who may
// see the thread's parent.
func init() {
	handle(map[string]handler{
		"thread_create": (*conn).cmdThreadCreate,
		"thread_edit":   (*conn).cmdThreadEdit,
		"thread_delete": (*conn).cmdThreadDelete,
		"thread_list":   (*conn).cmdThreadList,
	})
	mapErrors([]errorCode{
		{circles.ErrThreadNotFound, CodeNotFound},
		{circles.ErrNotThreadable, CodeNotThreadable},
		{circles.ErrThreadExists, CodeThreadExists},
		{circles.ErrThreadLocked, CodeThreadLocked},
		{circles.ErrInvalidStarter, CodeInvalidStarter},
		{circles.ErrThreadCursor, CodeInvalidCursor},
	})
	// Starting a thread stores a stream and announces it to the circle:
	// it counts as a message does.
	limitedCommands["thread_create"] = messageBucket
}

// Error codes of threads.
const (
	CodeNotThreadable  = "not_threadable"
	CodeThreadExists   = "thread_exists"
	CodeThreadLocked   = "thread_locked"
	CodeInvalidStarter = "invalid_starter"
)

// threadsTopic tells the other nodes that a circle's threads changed;
// the payload is the circle id. They forget the circle's rules, and
// nothing more: the change's own event reaches their connections.
const threadsTopic = "threads"

type threadReply struct {
	header
	Circle string         `json:"circle"`
	Thread *models.Stream `json:"thread"`
}

type threadEvent struct {
	Cmd    string         `json:"cmd"`
	Circle string         `json:"circle"`
	Thread *models.Stream `json:"thread"`
}

type threadDeleteFrame struct {
	header
	Circle string `json:"circle"`
	Thread string `json:"thread"`
	Parent string `json:"parent"`
}

// messageThreadEvent announces that a message started a thread, or that
// the thread was renamed or deleted (Thread nil).
type messageThreadEvent struct {
	Cmd    string            `json:"cmd"`
	Stream string            `json:"stream"`
	ID     string            `json:"id"`
	Thread *models.ThreadRef `json:"thread"`
}

// threadsChanged makes this node and the others forget a circle's rules
// after a change to its threads (package circles forgot them here
// already; this is for the other nodes, and for certainty).
func (g *Gateway) threadsChanged(circleID string) {
	g.svc.Circles.Forget(circleID)
	if g.svc.Peers != nil {
		g.svc.Peers.PublishEvent(threadsTopic, []byte(circleID))
	}
}

// announceThread sends frame to the members who may view the thread:
// to the circle's followers when that is everyone, else to each of them
// on their user topic. viewers is what ThreadViewers said, read before
// a delete.
func (g *Gateway) announceThread(circleID string, viewers []string, all bool, frame []byte) {
	if all {
		g.publish(circleTopic(circleID), frame)
		return
	}
	for _, id := range viewers {
		g.publish(userTopic(id), userControl(opEvent, 0, "", frame))
	}
}

// threadEvents tells the other nodes of a created or changed thread and
// announces it to those who may view it.
func (g *Gateway) threadEvents(ctx context.Context, cmd string, th *models.Stream) {
	g.threadsChanged(th.CircleID)
	viewers, all, err := g.svc.Circles.ThreadViewers(ctx, th.CircleID, th.ID)
	if err != nil {
		g.log.Warn("announce thread", "thread", th.ID, "err", err)
		return
	}
	out := *th
	out.Pins, out.Permissions = nil, nil
	g.svc.Streams.Current(&out)
	g.announceThread(th.CircleID, viewers, all, encode(threadEvent{Cmd: cmd, Circle: th.CircleID, Thread: &out}))
}

// threadVisible reports whether userID may view stream id of a circle;
// refreshCircle asks it for the followed streams its view leaves out
// (archived threads are not listed).
func (g *Gateway) threadVisible(ctx context.Context, circleID, userID, id string) bool {
	p, err := g.svc.Circles.Permissions(ctx, circleID, userID, id)
	return err == nil && p.Has(models.ViewStreams)
}

// threadPost runs before a post (message_new, poll_create): a locked
// thread refuses it, an archived one is unarchived and announced.
func (c *conn) threadPost(ctx context.Context, streamID string) error {
	st, err := c.g.svc.Streams.Stream(ctx, streamID)
	if err != nil || st.Kind != models.Thread {
		return nil // the post's own checks answer
	}
	up, err := c.g.svc.Circles.ThreadPost(ctx, c.user.ID, st.CircleID, streamID)
	if err != nil {
		return err
	}
	if up != nil {
		c.g.threadEvents(ctx, "thread_update", up)
	}
	return nil
}

// withPermissions returns th with what userID may do in it.
func (c *conn) withPermissions(ctx context.Context, th *models.Stream) *models.Stream {
	out := *th
	out.Pins = nil
	c.g.svc.Streams.Current(&out)
	if p, err := c.g.svc.Circles.Permissions(ctx, th.CircleID, c.user.ID, th.ID); err == nil {
		out.Permissions = &p
	}
	return &out
}

// setStarter records (ref) or clears (nil) the thread on its starter
// message, announced to the parent's subscribers. The thread is made or
// gone already, so a failure is logged, not returned.
func (c *conn) setStarter(ctx context.Context, th *models.Stream, ref *models.ThreadRef) {
	if th.StarterID == "" {
		return
	}
	_, err := c.g.svc.Streams.SetThread(ctx, th.ParentID, th.StarterID, ref, c.user.Ref())
	// A starter deleted meanwhile keeps the ref on its tombstone.
	if err != nil && !errors.Is(err, streams.ErrMessageNotFound) {
		c.g.log.Warn("thread starter message", "thread", th.ID, "err", err)
	}
}

func (c *conn) cmdThreadCreate(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	th, err := c.g.svc.Circles.CreateThread(ctx, c.user.Ref(), req.Stream, req.Name, req.Message)
	if err != nil {
		return err
	}
	c.reply(threadReply{hdr(req), th.CircleID, c.withPermissions(ctx, th)})
	c.setStarter(ctx, th, &models.ThreadRef{ID: th.ID, Name: th.Name})
	c.g.threadEvents(ctx, "thread_create", th)
	return nil
}

func (c *conn) cmdThreadEdit(ctx context.Context, req *request) error {
	if err := required("thread", req.Thread); err != nil {
		return err
	}
	e := circles.ThreadEdit{Archived: req.Archived, Locked: req.Locked}
	if req.Name != "" {
		e.Name = &req.Name
	}
	if e == (circles.ThreadEdit{}) {
		return errCode(CodeBadRequest, "nothing to change: give name, archived or locked")
	}
	th, before, err := c.g.svc.Circles.EditThread(ctx, c.user.Ref(), req.Thread, e)
	if err != nil {
		return err
	}
	if th == before {
		// Nothing changed: nothing to announce.
		c.reply(threadReply{hdr(req), th.CircleID, c.withPermissions(ctx, th)})
		return nil
	}
	c.reply(threadReply{hdr(req), th.CircleID, c.withPermissions(ctx, th)})
	if th.Name != before.Name {
		c.setStarter(ctx, th, &models.ThreadRef{ID: th.ID, Name: th.Name})
	}
	c.g.threadEvents(ctx, "thread_update", th)
	return nil
}

func (c *conn) cmdThreadDelete(ctx context.Context, req *request) error {
	if err := required("thread", req.Thread); err != nil {
		return err
	}
	// Who may see it is read first: once deleted, nobody may.
	var (
		viewers []string
		all     bool
	)
	if st, err := c.g.svc.Streams.Stream(ctx, req.Thread); err == nil && st.Kind == models.Thread {
		viewers, all, _ = c.g.svc.Circles.ThreadViewers(ctx, st.CircleID, st.ID)
	}
	th, err := c.g.svc.Circles.DeleteThread(ctx, c.user.Ref(), req.Thread)
	if err != nil {
		return err
	}
	c.g.svc.Streams.Drop(th.ID)
	c.reply(threadDeleteFrame{hdr(req), th.CircleID, th.ID, th.ParentID})
	c.setStarter(ctx, th, nil)
	c.g.announceThread(th.CircleID, viewers, all,
		encode(threadDeleteFrame{header{Cmd: "thread_delete"}, th.CircleID, th.ID, th.ParentID}))
	// Every node forgets the circle's rules and drops its connections'
	// subscriptions to the thread (unsubscribed, reason "deleted").
	c.g.circleChanged(th.CircleID)
	return nil
}

func (c *conn) cmdThreadList(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if req.Limit < 0 {
		return errCode(CodeBadRequest, "limit must not be negative")
	}
	archived := req.Archived != nil && *req.Archived
	page, next, err := c.g.svc.Circles.Threads(ctx, c.user.ID, req.Stream, archived, req.Cursor, req.Limit)
	if err != nil {
		return err
	}
	for i := range page {
		c.g.svc.Streams.Current(&page[i])
	}
	c.reply(struct {
		header
		Stream   string          `json:"stream"`
		Archived bool            `json:"archived"`
		Threads  []models.Stream `json:"threads"`
		Next     string          `json:"next,omitempty"`
	}{hdr(req), req.Stream, archived, page, next})
	return nil
}
