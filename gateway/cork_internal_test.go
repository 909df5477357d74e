package gateway

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// writeCounter is a net.Conn that records each Write it is given.
type writeCounter struct {
	net.Conn
	writes [][]byte
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

// TestWriteMessages checks the frames writeMessages builds, against the
// header forms of RFC 6455 (section 5.2: 7-bit, 16-bit and 64-bit
// lengths), and that each call is one write to the socket.
func TestWriteMessages(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		frames []string
		joined bool
		want   string // the one write the socket sees
	}{
		{"one short frame", []string{"Hello"}, false, "\x81\x05Hello"},
		{"125 bytes: 7-bit length", []string{long(125)}, false, "\x81\x7d" + long(125)},
		{"126 bytes: 16-bit length", []string{long(126)}, false, "\x81\x7e\x00\x7e" + long(126)},
		{"65535 bytes: 16-bit length", []string{long(65535)}, false, "\x81\x7e\xff\xff" + long(65535)},
		{"65536 bytes: 64-bit length", []string{long(65536)}, false, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00" + long(65536)},
		{"several frames, a message each", []string{"a", "bc"}, false, "\x81\x01a\x81\x02bc"},
		{"several frames joined", []string{"a", "bc", "d"}, true, "\x81\x06a\nbc\nd"},
		{"one frame joined is itself", []string{"a"}, true, "\x81\x01a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &writeCounter{}
			c := &corkConn{Conn: w}
			frames := make([][]byte, len(tc.frames))
			for i, f := range tc.frames {
				frames[i] = []byte(f)
			}
			if err := c.writeMessages(frames, tc.joined); err != nil {
				t.Fatal(err)
			}
			if len(w.writes) != 1 {
				t.Fatalf("%d socket writes, want 1", len(w.writes))
			}
			if got := string(w.writes[0]); got != tc.want {
				t.Fatalf("socket got %q, want %q", trim(got), trim(tc.want))
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// TestTryWriteMessagesNeverWaits: while the library holds the socket (a
// pong to a client whose socket is full can hold it for long), a pool
// worker's write returns at once with the framed bytes, unsent, for a
// writer goroutine to send after.
func TestTryWriteMessagesNeverWaits(t *testing.T) {
	w := &writeCounter{}
	c := &corkConn{Conn: w}
	c.mu.Lock() // the library, writing
	done := make(chan struct{})
	var (
		sent bool
		held []byte
		err  error
	)
	go func() {
		sent, held, err = c.tryWriteMessages([][]byte{[]byte("a"), []byte("bc")}, false)
		close(done)
	}()
	<-done // hangs here, and the test times out, if the write waits for the lock
	c.mu.Unlock()
	if sent || err != nil || string(held) != "\x81\x01a\x81\x02bc" || len(w.writes) != 0 {
		t.Fatalf("sent %v, held %q, err %v, socket writes %q; want the frames held, nothing written", sent, held, err, w.writes)
	}
	if err := c.writeRaw(held); err != nil || len(w.writes) != 1 || string(w.writes[0]) != "\x81\x01a\x81\x02bc" {
		t.Fatalf("writeRaw: %v, socket writes %q", err, w.writes)
	}
}
