package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestLateReaderGetsEverything has a subscriber stop reading while 10 MB
// of messages are published, more than the sockets between it and the
// server can hold, then read again: the writes that found the socket
// full finish later (the writer pool hands them to a goroutine that
// waits), and every message arrives whole and in order.
func TestLateReaderGetsEverything(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxMessageLength: 60000, MaxFrameBytes: 128 << 10, QueueBytes: 32 << 20})
	alice, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Flood", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	late := rawSubscriber(t, s, alice.Token, general) // and stops reading
	const n = 200
	body := strings.Repeat("x", 50000)
	for i := range n {
		if _, err := ac.Send(ctx, general, fmt.Sprintf("%03d%s", i, body), fmt.Sprintf("n%d", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < n; {
		_, data, err := late.Read(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		var ev struct {
			Cmd     string          `json:"cmd"`
			Message *models.Message `json:"message"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("frame after %d messages is not JSON: %v", i, err)
		}
		if ev.Cmd != "message_new" {
			continue
		}
		if want := fmt.Sprintf("%03d%s", i, body); ev.Message.Content != want || ev.Message.Seq != int64(i+1) {
			t.Fatalf("message %d arrived as seq %d, %d bytes", i, ev.Message.Seq, len(ev.Message.Content))
		}
		i++
	}
}
