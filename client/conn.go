package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Options tune a connection. The zero value is fine.
type Options struct {
	// EventBuffer is the capacity of the Events channel; 0 means 1024.
	// When it is full the connection stops reading until there is room.
	EventBuffer int
	// HTTPHeader is sent with the WebSocket handshake.
	HTTPHeader http.Header
	// HTTPClient dials the WebSocket, for TLS settings or custom dialers;
	// nil means http.DefaultClient.
	HTTPClient *http.Client
	// Batch lets the server send several frames in one WebSocket message,
	// separated by newlines: fewer writes under load. The client splits
	// them; the application sees no difference.
	Batch bool
	// Reconnect makes the client reconnect by itself when the connection
	// drops (not when it is closed, the credentials are refused or the
	// session is revoked), with exponential back-off and jitter, and
	// resume: it subscribes again to every followed stream from the last
	// seq it delivered, so Events carries each message once, in order.
	// Requests in flight when the connection drops fail with
	// ErrDisconnected; retry them (with the same nonce for Send).
	Reconnect bool
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts; 0 means 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration
}

// ErrDisconnected fails requests made or in flight while the connection
// is down.
var ErrDisconnected = errors.New("oshi: disconnected")

// Events the client itself emits when Options.Reconnect is set.
const (
	// EventReconnecting: the connection dropped; Err says why.
	EventReconnecting = "reconnecting"
	// EventReconnected: a new connection is authenticated and every
	// followed stream resubscribed.
	EventReconnected = "reconnected"
)

// Client is an authenticated connection. Its methods are safe for
// concurrent use.
type Client struct {
	url   string
	creds Credentials
	opts  Options

	events  chan Event
	nextRef atomic.Int64
	done    chan struct{}

	mu        sync.Mutex
	ws        *websocket.Conn
	handshake Handshake
	ready     Ready
	pending   map[string]chan json.RawMessage
	follows   map[string]int64 // stream → seq of the last message delivered
	closing   bool             // Close was called
	err       error            // why the connection ended (or last dropped)
}

// Dial connects to the WebSocket endpoint at url (ws://host:port/ws),
// authenticates and waits for ready.
func Dial(ctx context.Context, url string, creds Credentials, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{
		url: url, creds: creds, opts: *opts,
		pending: make(map[string]chan json.RawMessage),
		follows: make(map[string]int64),
		done:    make(chan struct{}),
	}
	if c.opts.EventBuffer == 0 {
		c.opts.EventBuffer = 1024
	}
	if c.opts.MinBackoff == 0 {
		c.opts.MinBackoff = 100 * time.Millisecond
	}
	if c.opts.MaxBackoff == 0 {
		c.opts.MaxBackoff = 10 * time.Second
	}
	c.events = make(chan Event, c.opts.EventBuffer)
	ws, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	go c.run(ws)
	return c, nil
}

// DialRaw opens the WebSocket without speaking the protocol, for tests
// and tools that send frames by hand.
func DialRaw(ctx context.Context, url string, header http.Header) (*websocket.Conn, error) {
	return dialWS(ctx, url, &Options{HTTPHeader: header})
}

func dialWS(ctx context.Context, url string, opts *Options) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: opts.HTTPHeader, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("oshi: dial %s: %w", url, err)
	}
	ws.SetReadLimit(1 << 20)
	return ws, nil
}

// connect dials, reads the handshake and authenticates.
func (c *Client) connect(ctx context.Context) (*websocket.Conn, error) {
	ws, err := dialWS(ctx, c.url, &c.opts)
	if err != nil {
		return nil, err
	}
	hs, ready, err := handshake(ctx, ws, c.creds, c.opts.Batch)
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	c.mu.Lock()
	c.ws, c.handshake, c.ready = ws, hs, ready
	c.mu.Unlock()
	return ws, nil
}

func handshake(ctx context.Context, ws *websocket.Conn, creds Credentials, batch bool) (Handshake, Ready, error) {
	var hs struct {
		Cmd string    `json:"cmd"`
		Val Handshake `json:"val"`
	}
	if err := readJSON(ctx, ws, &hs); err != nil {
		return Handshake{}, Ready{}, fmt.Errorf("oshi: read handshake: %w", err)
	}
	if hs.Cmd != "handshake" {
		return Handshake{}, Ready{}, fmt.Errorf("oshi: expected handshake, got %q", hs.Cmd)
	}
	auth := map[string]any{"cmd": "auth", "ref": 0}
	if batch {
		auth["batch"] = true
	}
	if creds.Token != "" {
		auth["token"] = creds.Token
	} else {
		auth["username"], auth["password"] = creds.Username, creds.Password
	}
	if err := writeJSON(ctx, ws, auth); err != nil {
		return Handshake{}, Ready{}, err
	}
	for {
		var f struct {
			Cmd  string `json:"cmd"`
			Code string `json:"code"`
			Val  string `json:"val"`
			Ready
		}
		if err := readJSON(ctx, ws, &f); err != nil {
			return Handshake{}, Ready{}, fmt.Errorf("oshi: read auth reply: %w", err)
		}
		switch f.Cmd {
		case "ready":
			return hs.Val, f.Ready, nil
		case "auth_error":
			return Handshake{}, Ready{}, &Error{Cmd: f.Cmd, Src: "auth", Code: f.Code, Message: f.Val}
		case "ping":
			_ = writeJSON(ctx, ws, map[string]string{"cmd": "pong"})
		default:
			return Handshake{}, Ready{}, fmt.Errorf("oshi: unexpected %q before ready", f.Cmd)
		}
	}
}

func readJSON(ctx context.Context, ws *websocket.Conn, v any) error {
	_, data, err := ws.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func writeJSON(ctx context.Context, ws *websocket.Conn, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ws.Write(ctx, websocket.MessageText, data)
}

// Handshake returns the server's latest handshake.
func (c *Client) Handshake() Handshake {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handshake
}

// Ready returns the server's latest ready frame: the user, circles and DMs.
func (c *Client) Ready() Ready {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// Events delivers unsolicited frames in the order the server sent them.
// It is closed when the client is done.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the client is done (closed, or the connection ended
// and is not to be reconnected); Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally and waits for the client to end.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closing = true
	ws := c.ws
	c.mu.Unlock()
	var err error
	if ws != nil {
		err = ws.Close(websocket.StatusNormalClosure, "")
	}
	<-c.done
	return err
}

// run reads the connection and, when it drops and Reconnect is set,
// reconnects and resumes, until the client is done.
func (c *Client) run(ws *websocket.Conn) {
	defer close(c.done)
	defer close(c.events)
	for {
		err := c.readLoop(ws)
		c.mu.Lock()
		c.err = err
		c.ws = nil
		for ref, ch := range c.pending {
			close(ch)
			delete(c.pending, ref)
		}
		stop := c.closing || !c.opts.Reconnect || final(err)
		c.mu.Unlock()
		if stop {
			return
		}
		c.events <- Event{Cmd: EventReconnecting}
		if ws = c.reconnect(); ws == nil {
			return
		}
	}
}

// final reports whether a connection that ended with err must not be
// reconnected: refused credentials or a revoked session.
func final(err error) bool {
	switch websocket.CloseStatus(err) {
	case 4003, 4004:
		return true
	}
	return false
}

// reconnect dials until it succeeds, the client is closed, or the server
// refuses the credentials; then it resubscribes every followed stream.
func (c *Client) reconnect() *websocket.Conn {
	backoff := c.opts.MinBackoff
	for {
		// Full jitter: clients dropped together do not return together.
		time.Sleep(time.Duration(rand.Int64N(int64(backoff)) + 1))
		backoff = min(2*backoff, c.opts.MaxBackoff)
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, err := c.connect(ctx)
		cancel()
		var e *Error
		if errors.As(err, &e) && (e.Code == "invalid_token" || e.Code == "invalid_credentials") {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return nil
		}
		if err != nil {
			continue
		}
		go c.resume()
		return ws
	}
}

// resume subscribes again to the followed streams, each from the last seq
// delivered, then announces the reconnection.
func (c *Client) resume() {
	c.mu.Lock()
	follows := make(map[string]int64, len(c.follows))
	for id, seq := range c.follows {
		follows[id] = seq
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for id, seq := range follows {
		_, err := c.Request(ctx, map[string]any{"cmd": "subscribe", "stream": id, "since": seq})
		if Code(err) == "forbidden" || Code(err) == "not_found" {
			c.mu.Lock()
			delete(c.follows, id)
			c.mu.Unlock()
		}
	}
	c.events <- Event{Cmd: EventReconnected}
}

func (c *Client) readLoop(ws *websocket.Conn) error {
	ctx := context.Background()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		for len(data) > 0 {
			var frame []byte
			frame, data, _ = bytes.Cut(data, []byte{'\n'})
			c.dispatch(ctx, ws, frame)
		}
	}
}

// dispatch routes one frame: a reply to its waiting request, a ping to a
// pong, a message already delivered to nowhere, anything else to Events.
func (c *Client) dispatch(ctx context.Context, ws *websocket.Conn, data []byte) {
	var head struct {
		Cmd string          `json:"cmd"`
		Ref json.RawMessage `json:"ref"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return
	}
	if head.Cmd == "ping" && head.Ref == nil {
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"cmd":"pong"}`))
		return
	}
	if head.Cmd == "subscribe" && head.Ref != nil {
		// A subscription without since starts at the seq in its reply;
		// record it before any event of that stream is dispatched.
		var r struct {
			Stream string `json:"stream"`
			Seq    *int64 `json:"seq"`
		}
		if json.Unmarshal(data, &r) == nil && r.Seq != nil {
			c.mu.Lock()
			if last, ok := c.follows[r.Stream]; ok && last < 0 {
				c.follows[r.Stream] = *r.Seq
			}
			c.mu.Unlock()
		}
	}
	if head.Ref != nil {
		c.mu.Lock()
		ch := c.pending[string(head.Ref)]
		delete(c.pending, string(head.Ref))
		c.mu.Unlock()
		if ch != nil {
			ch <- data
			return
		}
	}
	ev := decodeEvent(data)
	if ev.Cmd == "message_new" && ev.Message != nil {
		c.mu.Lock()
		last, followed := c.follows[ev.Stream]
		if followed && last >= 0 && ev.Message.Seq <= last {
			c.mu.Unlock()
			return // seen before the reconnection
		}
		if followed {
			c.follows[ev.Stream] = ev.Message.Seq
		}
		c.mu.Unlock()
	}
	c.events <- ev
}

// Request sends a command with a fresh ref and returns the raw reply. An
// error frame is returned as *Error, a rate_limit reply as
// *RateLimitError. Fields of frame are sent as given;
// cmd is required.
func (c *Client) Request(ctx context.Context, frame map[string]any) (json.RawMessage, error) {
	ref := c.nextRef.Add(1)
	key := strconv.FormatInt(ref, 10)
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	ws := c.ws
	if ws == nil {
		c.mu.Unlock()
		return nil, ErrDisconnected
	}
	c.pending[key] = ch
	c.mu.Unlock()
	out := make(map[string]any, len(frame)+1)
	for k, v := range frame {
		out[k] = v
	}
	out["ref"] = ref
	if err := writeJSON(ctx, ws, out); err != nil {
		c.forget(key)
		return nil, fmt.Errorf("oshi: send %v: %w: %w", frame["cmd"], ErrDisconnected, err)
	}
	select {
	case data, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%w: %w", ErrDisconnected, c.Err())
		}
		var e struct {
			Cmd  string `json:"cmd"`
			Src  string `json:"src"`
			Code string `json:"code"`
			Val  string `json:"val"`
		}
		_ = json.Unmarshal(data, &e)
		switch e.Cmd {
		case "error":
			return nil, &Error{Cmd: e.Cmd, Src: e.Src, Code: e.Code, Message: e.Val}
		case "rate_limit":
			return nil, rateLimitError(data)
		}
		return data, nil
	case <-ctx.Done():
		c.forget(key)
		return nil, ctx.Err()
	}
}

func (c *Client) forget(key string) {
	c.mu.Lock()
	delete(c.pending, key)
	c.mu.Unlock()
}

// follow records the seq a stream is followed from, for resuming.
func (c *Client) follow(streamID string, seq int64) {
	c.mu.Lock()
	c.follows[streamID] = seq
	c.mu.Unlock()
}

func (c *Client) unfollow(streamID string) {
	c.mu.Lock()
	delete(c.follows, streamID)
	c.mu.Unlock()
}

// WriteRaw sends bytes as one text frame, for testing the server's
// handling of bad input. Replies without a matching ref arrive on Events.
func (c *Client) WriteRaw(ctx context.Context, data []byte) error {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws == nil {
		return ErrDisconnected
	}
	return ws.Write(ctx, websocket.MessageText, data)
}
