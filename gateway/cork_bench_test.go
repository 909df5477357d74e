package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkWriteFrame measures sending one 300-byte event to a client
// over loopback TCP, the server's cost per delivery in a fan-out: through
// the WebSocket library's Write (as the writer did before it framed
// messages itself; with a 4 KiB write buffer, so the message is one
// system call as it was when corked) and through corkConn.writeMessages.
// Both include the write system call; a goroutine on the other end
// discards what arrives.
func BenchmarkWriteFrame(b *testing.B) {
	frame := []byte(`{"cmd":"message_new","stream":"0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f507","message":{"id":"0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506","seq":12345,"author":{"id":"0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f508","username":"alice"},"content":"a typical chat message of about sixty characters, give or take","created_at":"2026-11-26T12:00:00Z"}}`)
	for _, tc := range []struct {
		name  string
		write func(ws *websocket.Conn, cc *corkConn) error
	}{
		{"library", func(ws *websocket.Conn, _ *corkConn) error { return ws.Write(noDeadline, websocket.MessageText, frame) }},
		{"writeMessages", func(_ *websocket.Conn, cc *corkConn) error { return cc.writeMessages([][]byte{frame}, false) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ws, cc := loopbackWS(b, tc.name == "library")
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if err := tc.write(ws, cc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopbackWS accepts a WebSocket over loopback TCP the way serveWS does,
// with a client that reads and discards.
func loopbackWS(b *testing.B, bigBuffer bool) (*websocket.Conn, *corkConn) {
	type accepted struct {
		ws *websocket.Conn
		cc *corkConn
	}
	got := make(chan accepted, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &corkWriter{ResponseWriter: w}
		var hw http.ResponseWriter = cw
		if bigBuffer {
			hw = &bigWriter{cw}
		}
		ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			b.Error(err)
			return
		}
		got <- accepted{ws, cw.conn}
	}))
	b.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %v, %v", resp, err)
	}
	go io.Copy(io.Discard, br)
	a := <-got
	b.Cleanup(func() { a.ws.CloseNow() })
	return a.ws, a.cc
}

// bigWriter hijacks as corkWriter does but with a 4 KiB write buffer.
type bigWriter struct{ *corkWriter }

func (w *bigWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := w.corkWriter.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return nc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(nc, 4096)), nil
}
