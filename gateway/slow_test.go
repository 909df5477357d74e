package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/gateway"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestSlowConsumer: a subscriber that stops reading is disconnected once
// its queue passes the bound, is counted, and slows nobody else down.
func TestSlowConsumer(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxMessageLength: 60000, MaxFrameBytes: 128 << 10, QueueBytes: 256 << 10})
	alice, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Firehose", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := ac.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}

	// The slow one subscribes, then never reads again.
	slow := rawSubscriber(t, s, alice.Token, general)

	big := strings.Repeat("x", 50000)
	const n = 300 // 15 MB: more than the socket buffers and the queue hold
	published := 0
	for published < n {
		if _, err := ac.Send(ctx, general, big, ""); err != nil {
			t.Fatal(err)
		}
		published++
		if published%50 == 0 && stats(t, s.URL).Broker.SlowConsumers > 0 {
			break
		}
	}
	if got := stats(t, s.URL).Broker.SlowConsumers; got != 1 {
		t.Fatalf("slow consumers counted = %d, want 1", got)
	}
	// The reading subscriber got every message, in order.
	for want := int64(1); want <= int64(published); want++ {
		if ev := nextEvent(t, ac, "message_new"); ev.Message.Seq != want {
			t.Fatalf("healthy subscriber got seq %d, want %d", ev.Message.Seq, want)
		}
	}
	// The slow connection ends: its reader finds the buffered frames, then
	// the close (4008 when the close frame got through, else an abrupt end).
	for {
		if _, _, err := slow.Read(ctx); err != nil {
			if st := websocket.CloseStatus(err); st != -1 && st != 4008 {
				t.Fatalf("slow consumer closed with %d, want 4008", st)
			}
			break
		}
	}
	if err := ac.Ping(ctx); err != nil {
		t.Fatalf("healthy connection hurt: %v", err)
	}
	// The close is counted once in /metrics.
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "\noshi_slow_consumer_disconnects_total 1\n") {
		t.Errorf("/metrics does not count one slow-consumer disconnect:\n%s", page)
	}
}

func stats(t *testing.T, base string) gateway.Stats {
	t.Helper()
	resp, err := http.Get(base + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st gateway.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// rawSubscriber opens a connection with no client library around it,
// authenticates with token, subscribes to stream, and reads until the
// subscription is confirmed; the caller then reads, or not, as it likes.
func rawSubscriber(t *testing.T, s *oshitest.Server, token, stream string) *websocket.Conn {
	t.Helper()
	ctx := ctxT(t)
	ws, err := client.DialRaw(ctx, s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	for _, f := range []map[string]any{
		{"cmd": "auth", "token": token},
		{"cmd": "subscribe", "ref": 1, "stream": stream},
	} {
		b, _ := json.Marshal(f)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), `"ref":1`) {
			return ws
		}
	}
}
