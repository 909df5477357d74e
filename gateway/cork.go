package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
)

// corkConn is a hijacked connection as the WebSocket library writes to
// it. The library flushes every message with a system call of its own;
// while the connection is corked (the writer is sending several queued
// frames), writes are gathered in memory instead and sent with one
// system call when it is uncorked. Each frame stays a WebSocket message
// of its own, so clients see no difference; a connection that falls
// behind catches up with fewer, larger writes.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    *[]byte // from corkPool while corked
}

// corkPool holds the buffers of corked connections; pooled, so an idle
// connection holds none.
var corkPool = sync.Pool{New: func() any { return new([]byte) }}

// maxCorkBuffer bounds the buffers returned to corkPool.
const maxCorkBuffer = 256 << 10

// Write implements net.Conn.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		c.corked = true
		c.buf = corkPool.Get().(*[]byte)
	}
}

// uncork sends what was gathered, with one write, and stops gathering.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return nil
	}
	c.corked = false
	var err error
	if len(*c.buf) > 0 {
		_, err = c.Conn.Write(*c.buf)
	}
	if cap(*c.buf) <= maxCorkBuffer {
		*c.buf = (*c.buf)[:0]
		corkPool.Put(c.buf)
	}
	c.buf = nil
	return err
}

// corkWriter hands the WebSocket library a corkConn when it hijacks the
// HTTP connection.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn     // set by Hijack
	br   *bufio.Reader // set by Hijack: the library's read buffer
}

// Hijack implements http.Hijacker.
func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gateway: the response writer cannot hijack its connection")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	// net/http's 4 KiB buffers would stay with the connection for its
	// whole life, most of an idle connection's memory. Writes need only a
	// small buffer: the writer corks every write (see conn.write), so the
	// library's pieces are gathered in a pooled buffer and sent with one
	// system call. Reads take a 1 KiB
	// buffer, enough for a client's commands; a larger message is read
	// straight into the library's own buffer.
	r := brw.Reader
	if n := r.Buffered(); n <= readBufferSize {
		// Bytes the client sent after its upgrade request are carried
		// over into the new buffer (the library keeps what is buffered).
		early, _ := r.Peek(n)
		r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc), readBufferSize)
		if _, err := r.Peek(n); err != nil {
			return nil, nil, err
		}
	}
	w.br = r
	return w.conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.conn, writeBufferSize)), nil
}

// Buffer sizes of a connection's reads and writes (see Hijack).
const (
	readBufferSize = 1 << 10
	// writeBufferSize holds a whole control frame (at most 127 bytes),
	// so the frames the library writes uncorked (a pong, the close
	// frame) still go out with one system call.
	writeBufferSize = 128
)
