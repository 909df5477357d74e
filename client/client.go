// Package client is a Go client for Oshi's HTTP API and WebSocket
// protocol (docs/protocol.md).
//
// Register or LoginUser over HTTP to get a token, Dial to open an
// authenticated connection, then call the typed methods; unsolicited
// events (new messages, members joining) arrive on Events.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/models"
)

// Error is an error frame from the server, or an HTTP API error.
type Error struct {
	Cmd     string // "error" or "auth_error"; empty for HTTP errors
	Src     string // the command that failed
	Code    string // machine-readable code, see docs/protocol.md
	Message string // human-readable text
	Status  int    // HTTP status, for HTTP API errors
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("oshi: HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("oshi: %s failed: %s: %s", e.Src, e.Code, e.Message)
}

// Code returns the protocol error code carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Login is a token issued by register or login.
type Login struct {
	User      models.UserRef `json:"user"`
	Token     string         `json:"token"`
	ExpiresAt time.Time      `json:"expires_at"`
}

// Register creates an account on the server at baseURL (http://host:port).
func Register(ctx context.Context, baseURL, username, password string) (*Login, error) {
	return postCredentials(ctx, baseURL+"/api/register", username, password)
}

// LoginUser logs in on the server at baseURL.
func LoginUser(ctx context.Context, baseURL, username, password string) (*Login, error) {
	return postCredentials(ctx, baseURL+"/api/login", username, password)
}

// Logout revokes token; connections opened with it are closed by the server.
func Logout(ctx context.Context, baseURL, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/logout", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	_, err = doJSON[struct{}](req)
	return err
}

func postCredentials(ctx context.Context, url, username, password string) (*Login, error) {
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON[Login](req)
}

func doJSON[T any](req *http.Request) (*T, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oshi: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var out T
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return nil, &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if resp.StatusCode == http.StatusNoContent {
		return &out, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("oshi: decode %s reply: %w", req.URL.Path, err)
	}
	return &out, nil
}

// Credentials authenticate a connection: a token, or a username and password.
type Credentials struct {
	Token    string
	Username string
	Password string
}

// Handshake is the server's first frame.
type Handshake struct {
	Server struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"server"`
	Limits      map[string]int64 `json:"limits"`
	HeartbeatMS int64            `json:"heartbeat_ms"`
}

// Ready is the server's answer to a successful auth.
type Ready struct {
	User    models.UserRef   `json:"user"`
	Circles []*models.Circle `json:"circles"`
	DMs     []*models.Stream `json:"dms"`
}

// Event is a frame the server sent without being asked: message_new,
// member_join, member_leave, stream_create, and error frames that carry
// no ref.
type Event struct {
	Cmd string
	// Stream is the stream id of message_new.
	Stream string
	// NewStream is the channel announced by stream_create.
	NewStream *models.Stream
	Circle    string
	Message   *models.Message
	User      *models.UserRef
	// Code and Val are set on error frames.
	Code string
	Val  json.RawMessage
	// Raw is the whole frame.
	Raw json.RawMessage
}

func decodeEvent(data []byte) Event {
	var f struct {
		Cmd     string          `json:"cmd"`
		Stream  json.RawMessage `json:"stream"`
		Circle  string          `json:"circle"`
		Message *models.Message `json:"message"`
		User    *models.UserRef `json:"user"`
		Code    string          `json:"code"`
		Val     json.RawMessage `json:"val"`
	}
	_ = json.Unmarshal(data, &f)
	ev := Event{Cmd: f.Cmd, Circle: f.Circle, Message: f.Message, User: f.User, Code: f.Code, Val: f.Val, Raw: data}
	if len(f.Stream) > 0 && f.Stream[0] == '{' {
		_ = json.Unmarshal(f.Stream, &ev.NewStream)
	} else {
		_ = json.Unmarshal(f.Stream, &ev.Stream)
	}
	return ev
}

// Options tune a connection. The zero value is fine.
type Options struct {
	// EventBuffer is the capacity of the Events channel; 0 means 1024.
	// When it is full the connection stops reading until there is room.
	EventBuffer int
	// HTTPHeader is sent with the WebSocket handshake.
	HTTPHeader http.Header
	// Batch lets the server send several frames in one WebSocket message,
	// separated by newlines: fewer writes under load. The client splits
	// them; the application sees no difference.
	Batch bool
}

// Client is an authenticated connection. Its methods are safe for
// concurrent use.
type Client struct {
	ws        *websocket.Conn
	handshake Handshake
	ready     Ready
	events    chan Event
	nextRef   atomic.Int64

	mu      sync.Mutex
	pending map[string]chan json.RawMessage
	err     error // why the connection ended

	done chan struct{}
}

// Dial connects to the WebSocket endpoint at url (ws://host:port/ws),
// authenticates and waits for ready.
func Dial(ctx context.Context, url string, creds Credentials, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	ws, err := DialRaw(ctx, url, opts.HTTPHeader)
	if err != nil {
		return nil, err
	}
	c := &Client{ws: ws, pending: make(map[string]chan json.RawMessage), done: make(chan struct{})}
	n := opts.EventBuffer
	if n == 0 {
		n = 1024
	}
	c.events = make(chan Event, n)
	if err := c.start(ctx, creds, opts.Batch); err != nil {
		ws.CloseNow()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// DialRaw opens the WebSocket without speaking the protocol, for tests
// and tools that send frames by hand.
func DialRaw(ctx context.Context, url string, header http.Header) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, fmt.Errorf("oshi: dial %s: %w", url, err)
	}
	ws.SetReadLimit(1 << 20)
	return ws, nil
}

func (c *Client) start(ctx context.Context, creds Credentials, batch bool) error {
	var hs struct {
		Cmd string    `json:"cmd"`
		Val Handshake `json:"val"`
	}
	if err := c.readJSON(ctx, &hs); err != nil {
		return fmt.Errorf("oshi: read handshake: %w", err)
	}
	if hs.Cmd != "handshake" {
		return fmt.Errorf("oshi: expected handshake, got %q", hs.Cmd)
	}
	c.handshake = hs.Val
	auth := map[string]any{"cmd": "auth", "ref": 0}
	if batch {
		auth["batch"] = true
	}
	if creds.Token != "" {
		auth["token"] = creds.Token
	} else {
		auth["username"], auth["password"] = creds.Username, creds.Password
	}
	if err := c.writeJSON(ctx, auth); err != nil {
		return err
	}
	for {
		var f struct {
			Cmd  string `json:"cmd"`
			Code string `json:"code"`
			Val  string `json:"val"`
			Ready
		}
		if err := c.readJSON(ctx, &f); err != nil {
			return fmt.Errorf("oshi: read auth reply: %w", err)
		}
		switch f.Cmd {
		case "ready":
			c.ready = f.Ready
			return nil
		case "auth_error":
			return &Error{Cmd: f.Cmd, Src: "auth", Code: f.Code, Message: f.Val}
		case "ping":
			_ = c.writeJSON(ctx, map[string]string{"cmd": "pong"})
		default:
			return fmt.Errorf("oshi: unexpected %q before ready", f.Cmd)
		}
	}
}

func (c *Client) readJSON(ctx context.Context, v any) error {
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func (c *Client) writeJSON(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageText, data)
}

// Handshake returns the server's handshake.
func (c *Client) Handshake() Handshake { return c.handshake }

// Ready returns the server's ready frame: the user, circles and DMs.
func (c *Client) Ready() Ready { return c.ready }

// Events delivers unsolicited frames in the order the server sent them.
// It is closed when the connection ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally and waits for it to end.
func (c *Client) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
	return err
}

func (c *Client) readLoop() {
	defer close(c.done)
	defer close(c.events)
	ctx := context.Background()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			c.mu.Lock()
			c.err = err
			for ref, ch := range c.pending {
				close(ch)
				delete(c.pending, ref)
			}
			c.mu.Unlock()
			return
		}
		for len(data) > 0 {
			var frame []byte
			frame, data, _ = bytes.Cut(data, []byte{'\n'})
			c.dispatch(ctx, frame)
		}
	}
}

// dispatch routes one frame: a reply to its waiting request, a ping to a
// pong, anything else to Events.
func (c *Client) dispatch(ctx context.Context, data []byte) {
	var head struct {
		Cmd string          `json:"cmd"`
		Ref json.RawMessage `json:"ref"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return
	}
	if head.Cmd == "ping" && head.Ref == nil {
		_ = c.ws.Write(ctx, websocket.MessageText, []byte(`{"cmd":"pong"}`))
		return
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
	c.events <- decodeEvent(data)
}

// Request sends a command with a fresh ref and returns the raw reply. An
// error frame is returned as *Error. Fields of frame are sent as given;
// cmd is required.
func (c *Client) Request(ctx context.Context, frame map[string]any) (json.RawMessage, error) {
	ref := c.nextRef.Add(1)
	key := strconv.FormatInt(ref, 10)
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("oshi: connection closed: %w", err)
	}
	c.pending[key] = ch
	c.mu.Unlock()
	out := make(map[string]any, len(frame)+1)
	for k, v := range frame {
		out[k] = v
	}
	out["ref"] = ref
	if err := c.writeJSON(ctx, out); err != nil {
		c.forget(key)
		return nil, fmt.Errorf("oshi: send %v: %w", frame["cmd"], err)
	}
	select {
	case data, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("oshi: connection closed: %w", c.Err())
		}
		var e struct {
			Cmd  string `json:"cmd"`
			Src  string `json:"src"`
			Code string `json:"code"`
			Val  string `json:"val"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Cmd == "error" {
			return nil, &Error{Cmd: e.Cmd, Src: e.Src, Code: e.Code, Message: e.Val}
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

// WriteRaw sends bytes as one text frame, for testing the server's
// handling of bad input. Replies without a matching ref arrive on Events.
func (c *Client) WriteRaw(ctx context.Context, data []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, data)
}

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
	r, err := call[struct {
		Seq int64 `json:"seq"`
	}](ctx, c, frame)
	if err != nil {
		return 0, err
	}
	return r.Seq, nil
}

// Unsubscribe stops following a stream.
func (c *Client) Unsubscribe(ctx context.Context, streamID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "unsubscribe", "stream": streamID})
	return err
}

// Send posts a message and returns it once the server has stored it. A
// non-empty nonce makes retries safe: the server stores it once.
func (c *Client) Send(ctx context.Context, streamID, content, nonce string) (*models.Message, error) {
	frame := map[string]any{"cmd": "message_new", "stream": streamID, "content": content}
	if nonce != "" {
		frame["nonce"] = nonce
	}
	r, err := call[struct {
		Message *models.Message `json:"message"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Message, nil
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
