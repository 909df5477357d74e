package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
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

// conn is one WebSocket connection. One reader goroutine at a time reads
// and serves its commands in order; on Linux it runs only while bytes
// come in, and an idle connection waits in the poller instead (see read).
// A writer goroutine owns the socket's writes while frames are queued,
// draining the bounded queue every other goroutine pushes to.
type conn struct {
	id       uint64 // random: unique across nodes, for the user topic
	g        *Gateway
	ws       *websocket.Conn
	nc       *corkConn       // the socket under ws
	br       *bufio.Reader   // ws's read buffer
	rc       syscall.RawConn // the socket, when the poller watches it; else nil
	token    uint64          // the poller's name for it
	reading  atomic.Bool     // a reader goroutine runs (see wakeReader)
	closing  atomic.Bool     // close has begun
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

	addr    string    // the client's address, r.RemoteAddr
	started time.Time // when it connected

	// Touched only by the reader goroutine of the moment.
	authTimer *time.Timer // until auth

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
		started: time.Now(),
		g:       g,
		ws:      ws,
		nc:      cw.conn,
		br:      cw.br,
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
	// its reader goroutines, owned by the Gateway (track/untrack,
	// Shutdown).
	if g.poller != nil {
		if rc := pollable(cw.conn.Conn); rc != nil {
			cw.conn.rc = rc // for the writer pool
			if g.poller.add(c, rc) == nil {
				c.rc = rc
			}
		}
	}
	c.push(g.handshake)
	c.authTimer = time.AfterFunc(g.cfg.AuthTimeout, func() {
		if !c.authed.Load() {
			c.close(statusAuthTimeout, "authentication timeout")
		}
	})
	c.reading.Store(true)
	go c.read()
}

// finish ends the connection once its reader has ended with readErr (nil
// when a frame ended it), on that reader's goroutine.
func (c *conn) finish(readErr error) {
	g := c.g
	defer g.untrack(c)
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	code, by := c.closedBy(readErr)
	c.close(websocket.StatusNormalClosure, "")
	<-c.written
	if g.poller != nil {
		g.poller.forget(c)
	}
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
			"duration", time.Since(c.started).Round(time.Millisecond))
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
	_ = c.enqueue(frame, false)
}

// Deliver implements broker.Subscriber for the circle topics: events go
// straight to the queue.
func (c *conn) Deliver(_ string, frame []byte) error {
	return c.enqueue(frame, false)
}

// enqueue queues a frame and wakes a writer (see wake).
func (c *conn) enqueue(frame []byte, first bool) error {
	err := c.q.Push(frame)
	switch {
	case err == nil:
		c.wake(first)
	case errors.Is(err, broker.ErrSlowConsumer):
		c.close(statusSlowConsumer, "slow consumer")
	}
	return err
}

// wake makes sure a writer drains the queue: a worker of the gateway's
// writer pool when the socket can be written without waiting, else a
// writer goroutine of the connection's own. Either runs only while there
// is something to write: an idle connection, most of them, holds no
// writer goroutine and no stack for it. first puts the connection in the
// pool's queue of replies, taken before the rest, when no worker has it
// yet.
func (c *conn) wake(first bool) {
	if c.writing.CompareAndSwap(false, true) {
		if c.nc.rc != nil && c.g.writers != nil {
			if first {
				c.g.writers.addFirst(c)
			} else {
				c.g.writers.add(c)
			}
			return
		}
		go c.writeLoop()
	}
}

// release gives up the writes after the queue was seen empty. It
// reports whether the caller must go on writing: a push between the look
// and the release saw a writer and started none.
func (c *conn) release() bool {
	c.writing.Store(false)
	n, _ := c.q.Len()
	return (n > 0 || c.q.Err() != nil) && c.writing.CompareAndSwap(false, true)
}

// writeSome is a pool worker's turn at the connection, whose writes it
// owns: it sends up to maxBatchFrames queued frames without waiting for
// the socket, then gives the writes up, or queues the connection again
// if more frames wait. A closing
// connection, or a socket that did not take everything, is handed to a
// writer goroutine (writeLoop), which may wait. It returns frames for
// the worker to reuse.
func (c *conn) writeSome(frames [][]byte) [][]byte {
	frames, err := c.q.TryPop(frames, maxBatchFrames)
	switch {
	case err != nil:
		go c.writeLoop() // it sends the close frame
	case len(frames) == 0:
		if c.release() {
			c.g.writers.add(c)
		}
	default:
		sent, held, werr := c.nc.tryWriteMessages(frames, c.batch.Load())
		switch {
		case werr != nil:
			go c.writeFailed() // closing waits for the reader: not on a worker
		case !sent:
			go c.writeLoopFrom(held) // it sends the rest, waiting for the socket
		case c.release():
			c.g.writers.add(c) // more wait: another turn
		}
	}
	clear(frames)
	if cap(frames) > maxBatchFrames {
		frames = nil // give back what a burst grew
	}
	return frames
}

// writeFailed ends a connection whose socket failed a write; the writes
// stay owned (c.writing), so no other writer starts.
func (c *conn) writeFailed() {
	c.close(websocket.StatusInternalError, "write failed")
	_ = c.ws.CloseNow()
	c.cancel()
	close(c.written)
}

// close ends the connection once: it drops every subscription and has
// the writer send what is already queued (an auth_error, say), then the
// close frame. A slow consumer's queue is dropped instead. It never
// blocks the caller.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
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
		c.wake(false) // the writer sends the close frame
		// A reader, parked or not, sees the connection end and finishes it.
		c.wakeReader()
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
func (c *conn) writeLoop() { c.writeLoopFrom(nil) }

// writeLoopFrom is writeLoop sending held first: framed messages a pool
// worker could not send (after what its write left in c.nc.pending,
// which writeRaw sends first).
func (c *conn) writeLoopFrom(held []byte) {
	if err := c.nc.writeRaw(held); err != nil {
		c.writeFailed()
		return
	}
	var frames [][]byte
	for {
		var err error
		frames, err = c.q.TryPop(frames[:0], maxBatchFrames)
		if err == nil && len(frames) == 0 {
			if !c.release() {
				return
			}
			continue
		}
		if err != nil {
			defer close(c.written)
			defer c.cancel()
			// Under c.mu: the close handshake reads the socket's buffer,
			// which the reader looks at under c.mu too (see read).
			c.mu.Lock()
			code, reason := c.closeCode, c.closeReason
			c.mu.Unlock()
			if errors.Is(err, broker.ErrSlowConsumer) {
				code, reason = statusSlowConsumer, "slow consumer"
			}
			_ = c.ws.Close(code, reason)
			return
		}
		if err := c.write(frames); err != nil {
			c.writeFailed()
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

// write sends frames: one WebSocket message each, or, when the client
// asked for batching, one message with the frames separated by newlines;
// either way with one write to the socket.
func (c *conn) write(frames [][]byte) error {
	return c.nc.writeMessages(frames, c.batch.Load())
}

// read reads and serves frames, one at a time, on the calling goroutine:
// the connection's only reader at the moment. It returns when the
// connection ends (after finishing it) or, when the poller watches the
// socket, as soon as every byte received has been served: the connection
// is then parked, holding no goroutine, and the poller starts a reader
// again (wakeReader) when more bytes arrive.
func (c *conn) read() {
	for {
		typ, data, err := c.ws.Read(noDeadline) // ended by closing the socket, as writes are
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				c.close(websocket.StatusMessageTooBig, "frame too big")
			}
			c.finish(err)
			return
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if typ != websocket.MessageText {
			c.fail(header{}, "", errCode(CodeBadRequest, "frames must be text"))
		} else if !c.handle(data) {
			c.finish(nil)
			return
		}
		if c.authTimer != nil && c.authed.Load() {
			c.authTimer.Stop()
			c.authTimer = nil
		}
		if c.rc != nil && c.idle() && c.park() {
			return
		}
	}
}

// idle reports whether every byte received has been read. Not while
// closing: the close handshake (on the writer) reads the buffer then.
func (c *conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closing.Load() && c.br.Buffered() == 0
}

// park hands the connection to the poller. It reports whether the
// calling reader must return: not when the connection is closing or the
// socket cannot be armed, and it reads on, blocking, unless another
// reader has started meanwhile.
func (c *conn) park() bool {
	c.reading.Store(false)
	if !c.closing.Load() && c.g.poller.park(c) == nil {
		return true
	}
	return !c.reading.CompareAndSwap(false, true)
}

// wakeReader starts a reader unless one runs: for the poller when the
// parked socket has bytes, and for close, so that a parked connection is
// finished.
func (c *conn) wakeReader() {
	if c.reading.CompareAndSwap(false, true) {
		go c.read()
	}
}

// handle serves one frame and reports whether the connection goes on.
// A reader that parks in the poller serves it on its own goroutine;
// otherwise on a goroutine of its own, waited for: commands are still
// served one at a time, in order, but the deep stacks of JSON, store and
// driver calls grow and are freed on that short-lived goroutine, so the
// reader, which an idle connection then keeps parked for hours, stays
// small.
func (c *conn) handle(data []byte) bool {
	if c.rc != nil {
		return c.serveFrame(data)
	}
	ok := true
	var wg sync.WaitGroup
	wg.Go(func() { ok = c.serveFrame(data) })
	wg.Wait()
	return ok
}

// serveFrame serves one frame: auth, until it succeeds, then commands.
func (c *conn) serveFrame(data []byte) bool {
	if !c.authed.Load() {
		return c.authenticate(data)
	}
	c.serve(data)
	return true
}

// reply queues a frame answering a command of the client's. Its
// connection goes to the front of the writer pool's queue: the sender
// waits for that answer, while a post to a big stream queued every
// subscriber just before its sender's acknowledgement (1 000 of them put
// 3 ms between the median delivery and the ack in fanout -subs 1000).
func (c *conn) reply(v any) { _ = c.enqueue(encode(v), true) }

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
