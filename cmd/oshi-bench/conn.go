package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
)

// dialer opens WebSocket connections. Against a loopback server it spreads
// the client side over the source addresses 127.0.0.2–127.0.0.250, so tens
// of thousands of connections do not exhaust one address's ports.
type dialer struct {
	wsURL string
	hc    *http.Client
	batch bool // ask the server to join queued frames into one message
	next  atomic.Uint32
}

func newDialer(baseURL string, spread, batch bool) (*dialer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad -url %q: want http://host:port", baseURL)
	}
	d := &dialer{wsURL: client.WSURL(baseURL), batch: batch}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	dial := nd.DialContext
	if spread && isLoopbackV4(u.Hostname()) {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			n := d.next.Add(1)
			src := netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + n%249)})
			ld := *nd
			ld.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
			return ld.DialContext(ctx, network, addr)
		}
	}
	d.hc = &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		MaxIdleConnsPerHost: 1,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
	return d, nil
}

func isLoopbackV4(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4() && a.IsLoopback()
}

// tally is where the connections of one scenario count what they receive.
// Counters are atomic: every reader goroutine adds to them.
type tally struct {
	delivered  atomic.Int64 // message_new events received
	outOfOrder atomic.Int64 // events whose seq was not above the last one seen
	gaps       atomic.Int64 // seqs skipped over
	acked      atomic.Int64 // message_new replies
	failed     atomic.Int64 // error replies to message_new
	lastEvent  atomic.Int64 // unix nanos of the newest event
	lastAck    atomic.Int64 // unix nanos of the newest ack
	lat        histogram    // publish → delivery, per event
	ackLat     histogram    // publish → ack

	mu          sync.Mutex
	errCodes    map[string]int64 // error replies by code
	disconnects map[string]int64 // unexpected ends by close status or error
}

func newTally() *tally {
	return &tally{errCodes: make(map[string]int64), disconnects: make(map[string]int64)}
}

func (t *tally) countError(code string) {
	t.mu.Lock()
	t.errCodes[code]++
	t.mu.Unlock()
}

func (t *tally) countDisconnect(err error) {
	key := "error"
	if s := websocket.CloseStatus(err); s != -1 {
		key = fmt.Sprintf("close %d", int(s))
	} else if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		key = "eof"
	}
	t.mu.Lock()
	t.disconnects[key]++
	t.mu.Unlock()
}

// storeMax raises v to now.
func storeMax(v *atomic.Int64, now int64) {
	for {
		old := v.Load()
		if now <= old || v.CompareAndSwap(old, now) {
			return
		}
	}
}

// snapshot copies the maps for a report.
func (t *tally) snapshot() (errCodes, disconnects map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return copyMap(t.errCodes), copyMap(t.disconnects)
}

func copyMap(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// conn is one benchmark connection with one reader goroutine. Setup
// commands wait for their reply by ref; message_new acks and events are
// scanned for a few fields and counted into the tally without
// allocating. Only one goroutine at a time may call sendMessage.
type conn struct {
	ws      *websocket.Conn
	t       *tally
	nextRef atomic.Int64
	stream  string // the subscribed stream, set by subscribe before sending

	mu      sync.Mutex
	waiters map[int64]chan []byte

	closing atomic.Bool   // we are closing it: its end is no disconnect
	done    chan struct{} // closed when the reader ends
	err     error         // why the reader ended; read after done

	// With a rawReader, nc is the socket it reads; writes that may meet
	// the close frame written straight to nc (pongs) hold wmu.
	nc  net.Conn
	raw *rawReader
	wmu sync.Mutex

	lastSeq int64  // newest seq seen on stream; reader only
	rbuf    []byte // reader only
	wbuf    []byte // sender only
	pad     []byte // appended to every message's content
}

// open dials, starts the reader and authenticates with token.
func (d *dialer) open(ctx context.Context, token string, t *tally, pad []byte) (*conn, error) {
	var nc net.Conn // the socket, to read it with a rawReader
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { nc = i.Conn }}
	ws, _, err := websocket.Dial(httptrace.WithClientTrace(ctx, trace), d.wsURL, &websocket.DialOptions{
		HTTPClient:      d.hc,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	c := &conn{ws: ws, t: t, waiters: make(map[int64]chan []byte), done: make(chan struct{}), pad: pad}
	// The server sends nothing before auth, so the library has buffered
	// nothing past the handshake: from here the socket can be read
	// directly. Only plain TCP: a TLS connection is not *net.TCPConn.
	if tc, ok := nc.(*net.TCPConn); ok {
		if rc := rawConn(tc); rc != nil {
			c.nc, c.raw = tc, &rawReader{rc: rc}
		}
	}
	if c.raw != nil {
		go c.rawReadLoop()
	} else {
		go c.readLoop()
	}
	req := map[string]any{"token": token}
	if d.batch {
		req["batch"] = true
	}
	if _, err := c.call(ctx, "auth", req); err != nil {
		c.closeNow()
		return nil, fmt.Errorf("auth: %w", err)
	}
	return c, nil
}

// close ends the connection with a close handshake.
func (c *conn) close() {
	c.closing.Store(true)
	if c.raw == nil {
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
		return
	}
	// The library's Close would read the server's close frame itself,
	// beside the rawReader: write ours, and let the rawReader see the
	// answer.
	c.wmu.Lock()
	_, err := c.nc.Write(closeFrame(websocket.StatusNormalClosure))
	c.wmu.Unlock()
	if err == nil {
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
		}
	}
	_ = c.ws.CloseNow()
}

// closeFrame is a client's close frame with code (masked, as a client's
// frames must be).
func closeFrame(code websocket.StatusCode) []byte {
	var mask [4]byte
	binary.BigEndian.PutUint32(mask[:], rand.Uint32())
	f := []byte{0x88, 0x80 | 2, mask[0], mask[1], mask[2], mask[3], byte(code >> 8), byte(code)}
	for i := range 2 {
		f[6+i] ^= mask[i]
	}
	return f
}

// closeNow ends the connection at once.
func (c *conn) closeNow() {
	c.closing.Store(true)
	_ = c.ws.CloseNow()
}

// cmdError is an error frame answering a call.
type cmdError struct {
	Cmd  string `json:"cmd"`
	Src  string `json:"src"`
	Code string `json:"code"`
	Val  string `json:"val"`
}

func (e *cmdError) Error() string { return fmt.Sprintf("%s %s: %s: %s", e.Cmd, e.Src, e.Code, e.Val) }

func errorCode(err error) string {
	var e *cmdError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// call sends a command and waits for the frame answering it. An error
// frame is returned as *cmdError.
func (c *conn) call(ctx context.Context, cmd string, fields map[string]any) ([]byte, error) {
	ref := c.nextRef.Add(1)
	fields["cmd"], fields["ref"] = cmd, ref
	frame, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	ch := make(chan []byte, 1)
	c.mu.Lock()
	c.waiters[ref] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, ref)
		c.mu.Unlock()
	}()
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return nil, err
	}
	select {
	case data := <-ch:
		if name, _ := scanCmd(data); name == "error" || name == "auth_error" {
			e := &cmdError{}
			_ = json.Unmarshal(data, e)
			return nil, e
		}
		return data, nil
	case <-c.done:
		return nil, fmt.Errorf("%s: connection closed: %w", cmd, c.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", cmd, ctx.Err())
	}
}

// createCircle creates a public circle and returns its id and the id of
// its general stream.
func (c *conn) createCircle(ctx context.Context, name string) (circle, stream string, err error) {
	data, err := c.call(ctx, "circle_create", map[string]any{"name": name, "visibility": "public"})
	if err != nil {
		return "", "", err
	}
	var r struct {
		Circle struct {
			ID      string `json:"id"`
			Streams []struct {
				ID string `json:"id"`
			} `json:"streams"`
		} `json:"circle"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return "", "", fmt.Errorf("circle_create reply: %w", err)
	}
	if len(r.Circle.Streams) == 0 {
		return "", "", errors.New("circle_create reply lists no stream")
	}
	return r.Circle.ID, r.Circle.Streams[0].ID, nil
}

// join makes the connection's user a member; being one already is fine.
func (c *conn) join(ctx context.Context, circle string) error {
	_, err := c.call(ctx, "circle_join", map[string]any{"circle": circle})
	if err != nil && errorCode(err) != "already_member" {
		return fmt.Errorf("circle_join: %w", err)
	}
	return nil
}

// subscribe follows stream; the reader takes the current seq from the
// reply, so seqs of later events are checked against it.
func (c *conn) subscribe(ctx context.Context, stream string) error {
	c.stream = stream
	if _, err := c.call(ctx, "subscribe", map[string]any{"stream": stream}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

// sendMessage posts to the subscribed stream without waiting for the ack.
// The content starts with the send time in unix nanoseconds, which the
// ack and every delivered event carry back.
func (c *conn) sendMessage() error {
	ref := c.nextRef.Add(1)
	b := append(c.wbuf[:0], `{"cmd":"message_new","ref":`...)
	b = strconv.AppendInt(b, ref, 10)
	b = append(b, `,"stream":"`...)
	b = append(b, c.stream...)
	b = append(b, `","content":"`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, c.pad...)
	b = append(b, `"}`...)
	c.wbuf = b
	// No context: a timeout closes the connection, which ends the write.
	return c.ws.Write(context.Background(), websocket.MessageText, b)
}

var pongFrame = []byte(`{"cmd":"pong"}`)

// maxFrame bounds a message from the server.
const maxFrame = 1 << 20

// rawReadLoop is readLoop for a connection whose socket it reads itself.
func (c *conn) rawReadLoop() {
	defer close(c.done)
	err := c.raw.run(c.message)
	c.err = err
	if !c.closing.Load() {
		c.t.countDisconnect(err)
	}
}

func (c *conn) readLoop() {
	defer close(c.done)
	for {
		typ, r, err := c.ws.Reader(context.Background())
		if err == nil {
			c.rbuf, err = readAll(r, c.rbuf[:0])
		}
		if err != nil {
			c.err = err
			if !c.closing.Load() {
				c.t.countDisconnect(err)
			}
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		c.message(c.rbuf)
		if cap(c.rbuf) > 64<<10 {
			c.rbuf = nil // give back what a big reply grew
		}
	}
}

// message serves one text message from the server: one frame, or several
// that a batching server joined with newlines (JSON never contains a raw
// one).
func (c *conn) message(data []byte) {
	now := time.Now().UnixNano()
	for len(data) > 0 {
		frame, rest, _ := bytes.Cut(data, []byte{'\n'})
		c.handle(frame, now)
		data = rest
	}
}

// readAll reads r to its end into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 512)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// handle serves one frame received at now (unix nanoseconds).
func (c *conn) handle(data []byte, now int64) {
	cmd, ref := scanCmd(data)
	switch {
	case cmd == "message_new" && ref == 0: // an event
		t := c.t
		t.delivered.Add(1)
		storeMax(&t.lastEvent, now)
		if sent := scanContentTime(data); sent > 0 {
			t.lat.record(now - sent)
		}
		seq, _ := scanInt(data, `"seq":`)
		switch {
		case seq == c.lastSeq+1:
		case seq <= c.lastSeq:
			t.outOfOrder.Add(1)
		default:
			t.gaps.Add(seq - c.lastSeq - 1)
		}
		if seq > c.lastSeq {
			c.lastSeq = seq
		}
	case cmd == "message_new": // the ack of a sendMessage
		c.t.acked.Add(1)
		storeMax(&c.t.lastAck, now)
		if sent := scanContentTime(data); sent > 0 {
			c.t.ackLat.record(now - sent)
		}
	case cmd == "ping":
		c.wmu.Lock()
		_ = c.ws.Write(context.Background(), websocket.MessageText, pongFrame)
		c.wmu.Unlock()
	case ref != 0:
		if cmd == "subscribe" {
			c.lastSeq, _ = scanInt(data, `"seq":`)
		}
		c.mu.Lock()
		ch := c.waiters[ref]
		c.mu.Unlock()
		if ch != nil {
			ch <- bytes.Clone(data)
			return
		}
		if cmd == "error" { // a message_new that failed
			c.t.failed.Add(1)
			var e cmdError
			_ = json.Unmarshal(data, &e)
			c.t.countError(e.Code)
		}
	}
	// Other events (member_join, handshake…) are not measured.
}

// Server frames are compact JSON that start with the cmd, then the ref of
// a reply: {"cmd":"message_new","ref":7,…}. Scanning for a key's quoted
// name is exact, because inside a JSON string every quote is escaped.

// scanCmd returns a frame's cmd and numeric ref (0 when it has none).
func scanCmd(data []byte) (cmd string, ref int64) {
	const pre = `{"cmd":"`
	if !bytes.HasPrefix(data, []byte(pre)) {
		var h struct {
			Cmd string          `json:"cmd"`
			Ref json.RawMessage `json:"ref"`
		}
		_ = json.Unmarshal(data, &h)
		ref, _ = strconv.ParseInt(string(h.Ref), 10, 64)
		return h.Cmd, ref
	}
	rest := data[len(pre):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", 0
	}
	cmd = internCmd(rest[:end])
	rest = rest[end+1:]
	if bytes.HasPrefix(rest, []byte(`,"ref":`)) {
		ref, _ = parseInt(rest[len(`,"ref":`):])
	}
	return cmd, ref
}

// internCmd returns the usual commands without allocating.
func internCmd(b []byte) string {
	for _, s := range [...]string{"message_new", "ping", "error", "subscribe", "ready", "handshake", "member_join", "circle_create", "circle_join", "auth_error"} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// scanInt returns the integer after the first occurrence of key.
func scanInt(data []byte, key string) (int64, bool) {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return 0, false
	}
	return parseInt(data[i+len(key):])
}

// scanContentTime returns the send time at the start of a message's
// content, or 0 when the content does not start with one.
func scanContentTime(data []byte) int64 {
	const key = `"content":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return 0
	}
	v, _ := parseInt(data[i+len(key):])
	return v
}

// parseInt reads the leading decimal digits of b.
func parseInt(b []byte) (int64, bool) {
	var v int64
	n := 0
	for ; n < len(b) && n < 19 && b[n] >= '0' && b[n] <= '9'; n++ {
		v = v*10 + int64(b[n]-'0')
	}
	return v, n > 0
}
