package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestBatchedFrames: a client that asks for batching during auth gets
// several frames per WebSocket message, newline-separated, in order; one
// that does not gets exactly one frame per message.
func TestBatchedFrames(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Batch", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	const n = 150
	for i := 0; i < n; i++ {
		if _, err := ac.Send(ctx, general, fmt.Sprint("m", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			ws, err := client.DialRaw(ctx, s.WSURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			auth, _ := json.Marshal(map[string]any{"cmd": "auth", "token": alice.Token, "batch": batch})
			sub, _ := json.Marshal(map[string]any{"cmd": "subscribe", "stream": general, "since": 0})
			for _, f := range [][]byte{auth, sub} {
				if err := ws.Write(ctx, websocket.MessageText, f); err != nil {
					t.Fatal(err)
				}
			}
			multi, seq := 0, int64(0)
			for seq < n {
				_, data, err := ws.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				frames := bytes.Split(data, []byte("\n"))
				if len(frames) > 1 {
					multi++
				}
				for _, f := range frames {
					var ev struct {
						Cmd     string
						Message struct{ Seq int64 }
					}
					if err := json.Unmarshal(f, &ev); err != nil {
						t.Fatalf("frame %q: %v", f, err)
					}
					if ev.Cmd != "message_new" {
						continue
					}
					if ev.Message.Seq != seq+1 {
						t.Fatalf("seq %d after %d", ev.Message.Seq, seq)
					}
					seq = ev.Message.Seq
				}
			}
			if batch && multi == 0 {
				t.Fatal("batching client never got two frames in one message")
			}
			if !batch && multi != 0 {
				t.Fatalf("non-batching client got %d messages with several frames", multi)
			}
		})
	}
	// The client library splits batches transparently.
	bc, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: alice.Token}, &client.Options{Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if _, err := bc.Subscribe(ctx, general, 0); err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= n; want++ {
		if ev := nextEvent(t, bc, "message_new"); ev.Message.Seq != want {
			t.Fatalf("client got seq %d, want %d", ev.Message.Seq, want)
		}
	}
}
