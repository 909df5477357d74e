package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// readers counts the goroutines in a connection's reader (conn.read).
func readers() (int, string) {
	buf := make([]byte, 8<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	return strings.Count(stacks, "gateway.(*conn).read("), stacks
}

// waitReaders waits until want goroutines are in connection readers.
func waitReaders(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, stacks := readers()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines in connection readers, want %d:\n%s", n, want, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdleConnectionsHoldNoReader checks that connections with nothing to
// read wait in the poller, not in a goroutine of their own, and that a
// parked connection still hears its client, its streams, and its end.
func TestIdleConnectionsHoldNoReader(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux's; elsewhere a reader waits in each connection")
	}
	s := oshitest.NewServer(t, server.Config{})
	ctx := ctxT(t)
	_, oc := s.User("owner")
	circle, err := oc.CreateCircle(ctx, "parked", "public")
	if err != nil {
		t.Fatal(err)
	}
	st, err := oc.CreateStream(ctx, circle.ID, "general")
	if err != nil {
		t.Fatal(err)
	}
	var conns []*client.Client
	for u := range 3 {
		l := s.Register(fmt.Sprintf("parker%d", u))
		for i := range 10 {
			c := s.Dial(l)
			if i == 0 {
				if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Subscribe(ctx, st.ID, 0); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	waitReaders(t, 0)

	// Woken by its client: every connection answers.
	for i, c := range conns {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("connection %d after parking: %v", i, err)
		}
	}
	waitReaders(t, 0)

	// Woken by nothing but the stream: every connection gets the message.
	sent, err := oc.Send(ctx, st.ID, "to the parked", "n1")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		ev := oshitest.Next(t, c, "message_new")
		if !strings.Contains(string(ev.Raw), sent.ID) {
			t.Fatalf("connection %d got %s, want message %s", i, ev.Raw, sent.ID)
		}
	}

	// Parked connections whose clients go away are ended and counted out.
	for _, c := range conns[:10] {
		_ = c.Close()
	}
	waitConnections(t, s, 21)
	waitReaders(t, 0)
}

// waitConnections waits until the server counts want open connections.
func waitConnections(t *testing.T, s *oshitest.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var stats struct{ Connections int }
		resp, err := http.Get(s.URL + "/api/stats")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := stats.Connections
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPipelinedFramesServed sends several frames in one write after the
// connection has parked: the reader woken for them must serve every frame
// it read into its buffer before it parks again.
func TestPipelinedFramesServed(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	alice := s.Register("alice")
	nc, req := dialTCP(t, s)
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	if got := readServerFrame(t, br); !strings.Contains(got, `"cmd":"handshake"`) {
		t.Fatalf("first frame %q, want the handshake", got)
	}
	send := func(payloads ...string) {
		t.Helper()
		var out []byte
		for _, p := range payloads {
			out = append(out, maskedFrame(p)...)
		}
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"cmd":"auth","ref":7,"token":"` + alice.Token + `"}`)
	if got := readServerFrame(t, br); !strings.Contains(got, `"ref":7`) || strings.Contains(got, "error") {
		t.Fatalf("auth answered %q", got)
	}
	waitReaders(t, 0)
	send(`{"cmd":"ping","ref":1}`, `{"cmd":"ping","ref":2}`, `{"cmd":"ping","ref":3}`)
	for ref := 1; ref <= 3; ref++ {
		got := readServerFrame(t, br)
		if !strings.Contains(got, fmt.Sprintf(`"ref":%d`, ref)) {
			t.Fatalf("answer %d is %q", ref, got)
		}
	}
}

// maskedFrame is a client's text frame (FIN, masked) of a short payload.
func maskedFrame(payload string) []byte {
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i := range len(payload) {
		frame = append(frame, payload[i]^mask[i%4])
	}
	return frame
}

// TestTLSConnections serves the gateway over TLS, where the poller cannot
// see what the TLS layer has buffered: connections keep a reader of their
// own, and work as over a plain socket.
func TestTLSConnections(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	alice := s.Register("alice")
	ts := httptest.NewTLSServer(s.Srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "wss"+strings.TrimPrefix(ts.URL, "https")+"/ws", client.Credentials{Token: alice.Token},
		&client.Options{HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	circle, err := c.CreateCircle(ctx, "over tls", "public")
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.CreateStream(ctx, circle.ID, "general")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, st.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, st.ID, "hello over tls", "n1"); err != nil {
		t.Fatal(err)
	}
	oshitest.Next(t, c, "message_new")
	if n, _ := readers(); n != 1 {
		t.Fatalf("%d goroutines in connection readers, want the TLS connection's own", n)
	}
	_ = c.Close()
	waitReaders(t, 0)
}

// TestFrameSizes has a real WebSocket client read frames of every header
// form the server writes (7-bit, 16-bit and 64-bit lengths): messages of
// a few bytes and of 4 000 characters, then a history page of 30 such
// messages (over 64 KiB), on a batching connection too.
func TestFrameSizes(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	ctx := ctxT(t)
	alice, ac := s.User("alice")
	batched, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: alice.Token}, &client.Options{Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer batched.Close()
	circle, err := ac.CreateCircle(ctx, "sizes", "public")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ac.CreateStream(ctx, circle.ID, "general")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{ac, batched} {
		if _, err := c.Subscribe(ctx, st.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	contents := []string{"a"}
	for i := range 30 {
		contents = append(contents, fmt.Sprintf("%02d", i)+strings.Repeat("x", 3998))
	}
	for i, content := range contents {
		if _, err := ac.Send(ctx, st.ID, content, fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*client.Client{ac, batched} {
		for i, content := range contents {
			ev := oshitest.Next(t, c, "message_new")
			if ev.Message == nil || ev.Message.Content != content {
				t.Fatalf("message %d arrived damaged", i)
			}
		}
		page, err := c.History(ctx, st.ID, client.HistoryQuery{Limit: 31})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != len(contents) {
			t.Fatalf("history of %d messages, want %d", len(page), len(contents))
		}
		total := 0
		for _, m := range page {
			total += len(m.Content)
		}
		if total <= 0xFFFF {
			t.Fatalf("history page holds %d bytes of content, want over 64 KiB", total)
		}
	}
}
