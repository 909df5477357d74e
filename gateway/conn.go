package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/models"
)

// Close codes the server uses; docs/protocol.md lists them.
const (
	statusAuthTimeout  websocket.StatusCode = 4001
	statusHeartbeat    websocket.StatusCode = 4002
	statusAuthFailed   websocket.StatusCode = 4003
	statusRevoked      websocket.StatusCode = 4004 // a logout or password change
	statusSlowConsumer websocket.StatusCode = 4008
	statusRestart      websocket.StatusCode = websocket.StatusServiceRestart // 1012
)

// conn is one WebSocket connection. The HTTP handler goroutine reads and
// serves commands one at a time; a writer goroutine owns the socket's
// writes and drains the bounded queue every other goroutine pushes to.
type conn struct {
	id       uint64 // random: unique across nodes, for the user topic
	g        *Gateway
	ws       *websocket.Conn
	nc       *corkConn // the socket under ws
	q        *broker.Queue
	ctx      context.Context // ends when the connection closes
	cancel   context.CancelFunc
	lastSeen atomic.Int64 // unix nanoseconds of the last frame read

	closeOnce   sync.Once
	writing     atomic.Bool          // a writer goroutine is running (see wake)
	written     chan struct{}        // closed once the writer has sent the close frame
	closeCode   websocket.StatusCode // guarded by mu
	closeReason string               // guarded by mu
	authed      atomic.Bool
	batch       atomic.Bool // the client accepts several frames per message

	addr string // the client's address, r.RemoteAddr

	// Set by auth, then read only by the reader goroutine.
	user        *models.User
	tokenHash   string
	countedUser string // the user id this connection counts for in Gateway.perUser

	mu      sync.Mutex
	streams map[string]*streamSub           // followed streams
	circles map[string]*broker.Subscription // membership news of the user's circles
	control []*broker.Subscription          // session and user topics
}

func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	cw := &corkWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled,
		OriginPatterns:  g.cfg.AllowedOrigins,
	})
	if err != nil {
		return // Accept has answered the client
	}
	ws.SetReadLimit(g.cfg.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		id:      rand.Uint64(),
		addr:    r.RemoteAddr,
		g:       g,
		ws:      ws,
		nc:      cw.conn,
		q:       broker.NewQueue(broker.QueueConfig{MaxBytes: g.cfg.QueueBytes}),
		ctx:     ctx,
		cancel:  cancel,
		written: make(chan struct{}),
		streams: make(map[string]*streamSub),
		circles: make(map[string]*broker.Subscription),
	}
	c.lastSeen.Store(time.Now().UnixNano())
	if !g.track(c) {
		ws.Close(statusRestart, "server restart")
		cancel()
		return
	}
	// The socket is hijacked: returning lets net/http free what it kept
	// for the request (its connection state, a 4 KiB write buffer, the
	// request and its headers, and the deep stack of its goroutine), which
	// is most of an idle connection's memory. The connection lives on in
	// run, owned by the Gateway (track/untrack, Shutdown).
	go c.run()
}

// run serves an accepted connection until it ends.
func (c *conn) run() {
	g := c.g
	defer g.untrack(c)
	started := time.Now()
	c.push(g.handshake)
	readErr := c.readLoop()
	code, by := c.closedBy(readErr)
	c.close(websocket.StatusNormalClosure, "")
	<-c.written
	if c.authed.Load() {
		g.authed.Add(-1)
		for _, fn := range onClosed {
			fn(c)
		}
		g.svc.Hooks.OnDisconnect(c.user.Ref(), c.ctx.Err())
	}
	if c.countedUser != "" {
		g.dropUserConn(c.countedUser)
	}
	if c.user != nil {
		g.log.Info("connection closed", "user", c.user.Username, "code", int(code), "by", by,
			"duration", time.Since(started).Round(time.Millisecond))
	}
}

// closedBy tells, once the reader has ended with readErr, who ended the
// connection and with which close code: the server when it had closed
// it already, else the client with the code of its close frame, or 1006
// when the connection dropped without one.
func (c *conn) closedBy(readErr error) (websocket.StatusCode, string) {
	c.mu.Lock()
	code := c.closeCode
	c.mu.Unlock()
	if code != 0 {
		return code, "server"
	}
	if st := websocket.CloseStatus(readErr); st != -1 {
		return st, "client"
	}
	return websocket.StatusAbnormalClosure, "client"
}

// push queues a frame for the writer. It never blocks; a connection whose
// queue overflows is closed as a slow consumer.
func (c *conn) push(frame []byte) {
	_ = c.Deliver("", frame)
}

// Deliver implements broker.Subscriber for the circle topics: events go
// straight to the queue.
func (c *conn) Deliver(_ string, frame []byte) error {
	err := c.q.Push(frame)
	switch {
	case err == nil:
		c.wake()
	case errors.Is(err, broker.ErrSlowConsumer):
		c.close(statusSlowConsumer, "slow consumer")
	}
	return err
}

// wake makes sure a writer goroutine runs to drain the queue. The writer
// runs only while there is something to write and exits when the queue
// is empty: an idle connection, most of them, holds no writer goroutine
// and no stack for it.
func (c *conn) wake() {
	if c.writing.CompareAndSwap(false, true) {
		go c.writeLoop()
	}
}

// close ends the connection once: it drops every subscription and has
// the writer send what is already queued (an auth_error, say), then the
// close frame. A slow consumer's queue is dropped instead. It never
// blocks the caller.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		for _, s := range c.streams {
			s.stop()
		}
		for _, s := range c.circles {
			s.Cancel()
		}
		for _, s := range c.control {
			s.Cancel()
		}
		c.closeCode, c.closeReason = code, reason
		c.mu.Unlock()
		if code == statusSlowConsumer {
			c.g.slowClosed.Add(1)
			c.q.Close(broker.ErrSlowConsumer)
		} else {
			c.q.Close(nil)
		}
		c.wake() // the writer sends the close frame
		// A peer that does not read cannot hold the writer for ever.
		time.AfterFunc(closeGrace, func() {
			c.cancel()
			_ = c.ws.CloseNow()
		})
	})
}

// closeGrace bounds how long a closing connection may take to flush.
const closeGrace = 5 * time.Second

// writeLoop owns the socket's writes while it runs (wake starts at most
// one at a time): it drains the queue in batches and returns when the
// queue is empty; once the queue is closed it sends the close frame and
// closes c.written.
func (c *conn) writeLoop() {
	var frames [][]byte
	for {
		var err error
		frames, err = c.q.TryPop(frames[:0], maxBatchFrames)
		if err == nil && len(frames) == 0 {
			c.writing.Store(false)
			// A push between TryPop and Store saw a running writer and
			// started none: look again, and go on if nobody else has.
			if n, _ := c.q.Len(); (n == 0 && c.q.Err() == nil) || !c.writing.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		if err != nil {
			defer close(c.written)
			defer c.cancel()
			code, reason := statusSlowConsumer, "slow consumer"
			if !errors.Is(err, broker.ErrSlowConsumer) {
				c.mu.Lock()
				code, reason = c.closeCode, c.closeReason
				c.mu.Unlock()
			}
			_ = c.ws.Close(code, reason)
			return
		}
		if err := c.write(frames); err != nil {
			// c.writing stays set: no other writer starts on this socket.
			c.close(websocket.StatusInternalError, "write failed")
			_ = c.ws.CloseNow()
			c.cancel()
			close(c.written)
			return
		}
		clear(frames)
		if cap(frames) > maxBatchFrames {
			frames = nil // give back what a burst grew
		}
	}
}

// noDeadline is the context of the socket's reads and writes. They are
// not tied to c.ctx: with a context that can end, the WebSocket library
// arms and disarms a watcher on every write (9 % of the server's CPU at
// 100 000 frames a second) and keeps one armed for every connection
// parked in a read. A read or write on a peer that stopped answering is
// still ended: closing the connection (a missed heartbeat, a slow
// consumer, shutdown) closes the socket after closeGrace, which fails
// both.
var noDeadline = context.Background()

// maxBatchFrames bounds the frames taken from the queue, and so joined
// into one message, at a time.
const maxBatchFrames = 64

// batchPool holds buffers for joining frames; pooled rather than kept per
// connection so an idle connection holds none.
var batchPool = sync.Pool{New: func() any { return new([]byte) }}

// write sends frames: one WebSocket message each, or, when the client
// asked for batching, one message with the frames separated by newlines.
// Each message is one write to the socket.
func (c *conn) write(frames [][]byte) error {
	// The socket is corked for every write: the library writes a frame
	// in pieces through a tiny buffer (see corkWriter.Hijack), and
	// several frames to a client without batching are still one message
	// each but one system call for them all.
	c.nc.cork()
	if len(frames) == 1 || !c.batch.Load() {
		for _, f := range frames {
			if err := c.ws.Write(noDeadline, websocket.MessageText, f); err != nil {
				_ = c.nc.uncork()
				return err
			}
		}
		return c.nc.uncork()
	}
	bp := batchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for i, f := range frames {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, f...)
	}
	err := c.ws.Write(noDeadline, websocket.MessageText, buf)
	if uerr := c.nc.uncork(); err == nil {
		err = uerr
	}
	if cap(buf) <= 256<<10 {
		*bp = buf
		batchPool.Put(bp)
	}
	return err
}

// readLoop reads and serves frames until the connection ends; it returns
// the read error that ended it, or nil when a frame did.
func (c *conn) readLoop() error {
	authTimer := time.AfterFunc(c.g.cfg.AuthTimeout, func() {
		if !c.authed.Load() {
			c.close(statusAuthTimeout, "authentication timeout")
		}
	})
	defer authTimer.Stop()
	for {
		typ, data, err := c.ws.Read(noDeadline) // ended by closing the socket, as writes are
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				c.close(websocket.StatusMessageTooBig, "frame too big")
			}
			return err
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if typ != websocket.MessageText {
			c.fail(header{}, "", errCode(CodeBadRequest, "frames must be text"))
			continue
		}
		if !c.handle(data) {
			return nil
		}
	}
}

// handle serves one frame on a goroutine of its own and waits for it.
// Commands are still served one at a time, in order; but the deep stacks
// of JSON, store and driver calls grow and are freed on that short-lived
// goroutine, so the reader, which an idle connection keeps parked for
// hours, stays small. It reports whether the connection goes on.
func (c *conn) handle(data []byte) bool {
	ok := true
	var wg sync.WaitGroup
	wg.Go(func() {
		if !c.authed.Load() {
			ok = c.authenticate(data)
			return
		}
		c.serve(data)
	})
	wg.Wait()
	return ok
}

// reply queues a frame answering req.
func (c *conn) reply(v any) { c.push(encode(v)) }

// fail answers a request with an error frame.
func (c *conn) fail(h header, src string, err error) {
	code, msg := classify(err)
	if code == CodeInternal || code == CodeStoreUnavailable {
		c.g.log.Error("command failed", "cmd", src, "err", err)
	}
	c.reply(errorFrame{header: header{Cmd: "error", Ref: h.Ref}, Src: src, Code: code, Val: msg})
}

// decode parses a frame; it answers bad_request itself when it cannot.
func (c *conn) decode(data []byte) (*request, bool) {
	req, h, err := parseRequest(data)
	if err != nil {
		c.fail(h, req.Cmd, err)
		return nil, false
	}
	return req, true
}

// parseRequest decodes a client frame. On failure it still returns what
// it could recover of cmd and ref, so the error can be matched to its
// request.
func parseRequest(data []byte) (*request, header, error) {
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		var h struct {
			Cmd string          `json:"cmd"`
			Ref json.RawMessage `json:"ref"`
		}
		_ = json.Unmarshal(data, &h)
		if !validRef(h.Ref) {
			h.Ref = nil
		}
		return &request{Cmd: h.Cmd}, header{Ref: h.Ref}, errCode(CodeBadRequest, "malformed frame: "+err.Error())
	}
	if !validRef(req.Ref) {
		return &request{Cmd: req.Cmd}, header{}, errCode(CodeBadRequest, "ref must be a string or a number")
	}
	if req.Cmd == "" {
		return &req, header{Ref: req.Ref}, errCode(CodeBadRequest, "frame has no cmd")
	}
	return &req, header{Cmd: req.Cmd, Ref: req.Ref}, nil
}
