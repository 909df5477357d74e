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
)

// corkConn is a hijacked connection as the server writes to it. The
// connection's writer sends its messages with writeMessages: it frames
// them itself (server frames are unmasked, so a frame is a short header
// and the payload as it is) and sends all that the queue held with one
// system call. Going through the WebSocket library cost a lock, a
// message writer's reset and a deeper stack per frame, 18 % of the
// server's CPU in a 1 000-subscriber fan-out. The library still writes
// its control frames (a pong, the close frame) through Write; each is one
// Write under the same lock, so frames never interleave.
type corkConn struct {
	net.Conn

	mu sync.Mutex
}

// Write implements net.Conn for the library's own frames.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

// corkPool holds the buffers of writeMessages; pooled, so an idle
// connection holds none.
var corkPool = sync.Pool{New: func() any { return new([]byte) }}

// maxCorkBuffer bounds the buffers returned to corkPool.
const maxCorkBuffer = 256 << 10

// writeMessages sends frames as WebSocket text messages with one write:
// a message each, or, when joined, one message of the frames separated by
// newlines (a client that asked for batching).
func (c *corkConn) writeMessages(frames [][]byte, joined bool) error {
	bp := corkPool.Get().(*[]byte)
	buf := (*bp)[:0]
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
	} else {
		for _, f := range frames {
			buf = appendFrameHeader(buf, len(f))
			buf = append(buf, f...)
		}
	}
	c.mu.Lock()
	_, err := c.Conn.Write(buf)
	c.mu.Unlock()
	if cap(buf) <= maxCorkBuffer {
		*bp = buf[:0]
		corkPool.Put(bp)
	}
	return err
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
