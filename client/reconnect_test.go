package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

// TestReconnectResumes restarts the server under a reconnecting client:
// it comes back by itself, resubscribes, and sees every message once, in
// order, including those posted while it was away.
func TestReconnectResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{DataDir: t.TempDir()})
	alice := s.Register("alice")
	_, bob := s.User("bob")
	circle, err := bob.CreateCircle(ctx, "Resilient", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID

	c, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: alice.Token},
		&client.Options{Reconnect: true, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}
	send := func(from *client.Client, n, base int) {
		for i := 0; i < n; i++ {
			if _, err := from.Send(ctx, general, fmt.Sprint("m", base+i), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(bob, 5, 1)

	s.Restart()
	// Posted while alice is reconnecting.
	carol := s.Dial(s.Register("carol"))
	if _, err := carol.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	send(carol, 5, 6)

	got := []string{}
	sawReconnect := false
	for len(got) < 10 {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("client ended: %v", c.Err())
			}
			switch ev.Cmd {
			case client.EventReconnected:
				sawReconnect = true
			case "message_new":
				if want := int64(len(got) + 1); ev.Message.Seq != want {
					t.Fatalf("seq %d, want %d (got so far %v)", ev.Message.Seq, want, got)
				}
				got = append(got, ev.Message.Content)
			}
		case <-ctx.Done():
			t.Fatalf("only %d messages: %v", len(got), got)
		}
	}
	if !sawReconnect {
		t.Fatal("no reconnected event")
	}
	// Requests work on the new connection.
	if _, err := c.Send(ctx, general, "back", ""); err != nil {
		t.Fatal(err)
	}
}

// TestNoReconnectAfterRevocation: a revoked session ends the client.
func TestNoReconnectAfterRevocation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{})
	alice := s.Register("alice")
	c, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: alice.Token}, &client.Options{Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Logout(ctx, s.URL, alice.Token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client still running after its session was revoked")
	}
	if _, err := c.Send(ctx, "x", "y", ""); err == nil {
		t.Fatal("send on an ended client succeeded")
	}
}
