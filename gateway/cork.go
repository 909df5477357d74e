package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// corkConn is a hijacked connection as the server writes to it. The
// connection's writers send its messages with writeMessages or
// tryWriteMessages: they frame them themselves (server frames are
// unmasked, so a frame is a short header and the payload as it is) and
// send all that the queue held with one system call. Going through the
// WebSocket library cost a lock, a message writer's reset and a deeper
// stack per frame. The library still writes its control frames (a pong,
// the close frame) through Write; each is one Write under the same lock,
// so frames never interleave.
type corkConn struct {
	net.Conn
	rc syscall.RawConn // the socket, for writes that do not wait; nil when it has none (TLS)

	mu sync.Mutex
	// pending is what a write that did not wait left unsent: the rest of
	// a message, sent first by whoever writes next.
	pending []byte
}

// Write implements net.Conn for the library's own frames.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *corkConn) flushLocked() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.pending)
	c.pending = nil
	return err
}

// corkPool holds the buffers of writeMessages; pooled, so an idle
// connection holds none.
var corkPool = sync.Pool{New: func() any { return new([]byte) }}

// maxCorkBuffer bounds the buffers returned to corkPool.
const maxCorkBuffer = 256 << 10

// writeMessages sends frames as WebSocket text messages with one write,
// waiting for the socket: a message each, or, when joined, one message
// of the frames separated by newlines (a client that asked for batching).
func (c *corkConn) writeMessages(frames [][]byte, joined bool) error {
	bp := corkPool.Get().(*[]byte)
	buf := appendMessages((*bp)[:0], frames, joined)
	err := c.writeRaw(buf)
	putCorkBuffer(bp, buf)
	return err
}

// tryWriteMessages is writeMessages without waiting. It reports whether
// the socket took everything; if not, what is left is either kept in
// c.pending (the socket took part of it: the next write, which waits,
// sends the rest first), or returned in held, unsent, when the library
// holds the lock (writing a control frame, perhaps to a full socket: a
// pool worker must not wait behind it). It needs c.rc.
func (c *corkConn) tryWriteMessages(frames [][]byte, joined bool) (sent bool, held []byte, err error) {
	bp := corkPool.Get().(*[]byte)
	buf := appendMessages((*bp)[:0], frames, joined)
	defer putCorkBuffer(bp, buf)
	if !c.mu.TryLock() {
		return false, bytes.Clone(buf), nil
	}
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		c.pending = append(c.pending, buf...)
		return false, nil, nil
	}
	n, err := writeNow(c.rc, buf)
	if err != nil {
		return false, nil, err
	}
	if n < len(buf) {
		c.pending = bytes.Clone(buf[n:])
		return false, nil, nil
	}
	return true, nil, nil
}

// writeRaw writes bytes already framed (none, to send only what a write
// that did not wait left), waiting for the socket.
func (c *corkConn) writeRaw(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.flushLocked(); err != nil || len(b) == 0 {
		return err
	}
	_, err := c.Conn.Write(b)
	return err
}

func putCorkBuffer(bp *[]byte, buf []byte) {
	if cap(buf) <= maxCorkBuffer {
		*bp = buf[:0]
		corkPool.Put(bp)
	}
}

// appendMessages appends frames as WebSocket text messages: a message
// each, or, when joined, one message of the frames separated by newlines.
func appendMessages(buf []byte, frames [][]byte, joined bool) []byte {
	if joined && len(frames) > 1 {
		n := len(frames) - 1
		for _, f := range frames {
			n += len(f)
		}
		buf = appendFrameHeader(buf, n)
		for i, f := range frames {
			if i > 0 {
				buf = append(buf, '\n')
			}
			buf = append(buf, f...)
		}
		return buf
	}
	for _, f := range frames {
		buf = appendFrameHeader(buf, len(f))
		buf = append(buf, f...)
	}
	return buf
}

// appendFrameHeader appends the header of a final, unmasked text frame
// of n payload bytes (RFC 6455, section 5.2).
func appendFrameHeader(b []byte, n int) []byte {
	const finText = 0x81
	switch {
	case n <= 125:
		return append(b, finText, byte(n))
	case n <= 0xFFFF:
		return append(b, finText, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, finText, 127), uint64(n))
	}
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
	// whole life, most of an idle connection's memory. The library's
	// writes need only a small buffer: it writes nothing but control
	// frames (see corkConn). Reads take a 1 KiB
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
	// so each frame the library writes (a pong, the close frame) is one
	// Write: one system call, never split by the writer's messages.
	writeBufferSize = 128
)
