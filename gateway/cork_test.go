package gateway_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// TestFrameSentWithUpgrade sends the upgrade request and the first
// WebSocket frame in one write, before the server has answered: the
// frame, already read by the server with the request, must not be lost
// when the connection changes hands (the server swaps net/http's
// buffers for smaller ones).
func TestFrameSentWithUpgrade(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	nc, req := dialTCP(t, s)
	frame := maskedFrame(`{"cmd":"auth","ref":1,"token":"not-a-token"}`)
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	// The server's frames: the handshake, then the answer to the auth
	// frame sent with the request.
	for _, want := range []string{`"cmd":"handshake"`, `"cmd":"auth_error","ref":1`} {
		got := readServerFrame(t, br)
		if !strings.Contains(got, want) {
			t.Fatalf("frame %q, want one holding %s", got, want)
		}
	}
}

// readServerFrame reads one unmasked, unfragmented server frame.
func readServerFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatal(err)
	}
	return string(p)
}

// dialTCP opens a TCP connection to s, closed when the test ends, with a
// 10 s deadline, and returns the WebSocket upgrade request to send on it.
func dialTCP(t *testing.T, s *oshitest.Server) (net.Conn, string) {
	t.Helper()
	addr := strings.TrimPrefix(s.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc, "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}
