//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// frame builds a server frame: unmasked, with the shortest length form.
func frame(fin bool, op byte, payload string) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	case n < 1<<16:
		f = append(f, 126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, payload...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestRawFrames: whole messages are handed over once, in order; a partial
// frame waits for more bytes; fragments are joined; a close frame ends the
// read with the server's code; frames no server may send are errors.
func TestRawFrames(t *testing.T) {
	long := strings.Repeat("x", 300)   // a 16-bit length
	huge := strings.Repeat("y", 70000) // a 64-bit length
	tests := []struct {
		name    string
		in      []byte
		want    []string
		used    int // bytes taken; -1 means all
		wantErr func(error) bool
	}{
		{"one", frame(true, 1, "a"), []string{"a"}, -1, nil},
		{"two in one read", cat(frame(true, 1, "a"), frame(true, 1, "b")), []string{"a", "b"}, -1, nil},
		{"16-bit length", frame(true, 1, long), []string{long}, -1, nil},
		{"64-bit length", frame(true, 1, huge), []string{huge}, -1, nil},
		{"a partial frame waits", cat(frame(true, 1, "a"), frame(true, 1, long)[:100]), []string{"a"}, 3, nil},
		{"a partial header waits", cat(frame(true, 1, "a"), []byte{0x81}), []string{"a"}, 3, nil},
		{"fragments", cat(frame(false, 1, "ab"), frame(false, 0, "cd"), frame(true, 0, "e")), []string{"abcde"}, -1, nil},
		{"binary and pong skipped", cat(frame(true, 2, "bin"), frame(true, 0xa, ""), frame(true, 1, "t")), []string{"t"}, -1, nil},
		{"close", cat(frame(true, 1, "a"), frame(true, 8, "\x03\xe9going away"), frame(true, 1, "after")), []string{"a"}, 3 + 14, func(err error) bool {
			var ce websocket.CloseError
			return errors.As(err, &ce) && ce.Code == websocket.StatusGoingAway && ce.Reason == "going away"
		}},
		{"masked", []byte{0x81, 0x81, 1, 2, 3, 4, 'a'}, nil, 0, func(err error) bool { return errors.Is(err, errMaskedFrame) }},
		{"too large", []byte{0x81, 127, 0, 0, 0, 0, 0x10, 0, 0, 0}, nil, 0, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &rawReader{buf: append([]byte(nil), tt.in...)}
			var got []string
			used, err := r.frames(func(m []byte) { got = append(got, string(m)) })
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !tt.wantErr(err) {
				t.Fatalf("error %v", err)
			}
			if want := tt.used; want == -1 && used != len(tt.in) || want != -1 && used != want {
				t.Errorf("took %d of %d bytes, want %d", used, len(tt.in), tt.used)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRawReaderSocket: over a real loopback socket, messages written apart
// (the reader parks between them), one split across two writes and one
// bigger than the first buffer all arrive whole and in order, and the
// peer's close without a close frame ends the read with io.EOF.
func TestRawReaderSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := strings.Repeat("z", 5000)
	go func() {
		s, err := l.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		split := frame(true, 1, "split")
		for _, w := range [][]byte{frame(true, 1, "one"), split[:3], split[3:], frame(true, 1, big), frame(true, 1, "last")} {
			if _, err := s.Write(w); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rc := rawConn(nc)
	if rc == nil {
		t.Fatal("no raw access to a TCP connection")
	}
	var got []string
	err = (&rawReader{rc: rc}).run(func(m []byte) { got = append(got, string(m)) })
	if !errors.Is(err, io.EOF) {
		t.Errorf("read ended with %v, want io.EOF", err)
	}
	if want := []string{"one", "split", big, "last"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %d messages, want %d in order", len(got), len(want))
	}
}

// TestRawReaderReset: a connection the peer resets ends the read with
// that error, not with io.EOF or none.
func TestRawReaderReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		s, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = s.Write(frame(true, 1, "one"))
		time.Sleep(20 * time.Millisecond)
		_ = s.(*net.TCPConn).SetLinger(0) // close with a reset
		_ = s.Close()
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var got []string
	err = (&rawReader{rc: rawConn(nc)}).run(func(m []byte) { got = append(got, string(m)) })
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read ended with %v, want ECONNRESET", err)
	}
	if len(got) != 1 || got[0] != "one" {
		t.Errorf("messages %q before the reset, want [one]", got)
	}
}

// TestRawReaderEndToEnd: against a real server, a connection is read by a
// rawReader, answers commands, and closes with a handshake: the server's
// close frame ends the read, and nothing counts as a disconnect.
func TestRawReaderEndToEnd(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	ctx := context.Background()
	tokens, err := registerUsers(ctx, s.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDialer(s.URL, false, false)
	if err != nil {
		t.Fatal(err)
	}
	tl := newTally()
	c, err := d.open(ctx, tokens[0], tl, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.raw == nil {
		t.Fatal("a plain TCP connection is read by the library, not by a rawReader")
	}
	_, stream, err := c.createCircle(ctx, "raw")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.subscribe(ctx, stream); err != nil {
		t.Fatal(err)
	}
	c.close()
	var ce websocket.CloseError
	if !errors.As(c.err, &ce) || ce.Code != websocket.StatusNormalClosure {
		t.Fatalf("read ended with %v, want the server's close frame with 1000", c.err)
	}
	if _, disconnects := tl.snapshot(); disconnects != nil {
		t.Fatalf("disconnects %v after a close of our own", disconnects)
	}
}
