package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
)

// TestEmbed runs the example: the host's route and Oshi's answer on one
// listener, a client under /chat/ sees the program's posts, and the
// context shuts it all down.
func TestEmbed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	streams := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, t.TempDir(), func(id string) { streams <- id }) }()

	var stream string
	select {
	case stream = <-streams:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not start")
	}
	resp, err := http.Get(base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("/hello = %d %q", resp.StatusCode, body)
	}

	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	login, err := client.Register(tctx, base+"/chat", "reader", "reader-password")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(tctx, client.WSURL(base+"/chat"), client.Credentials{Token: login.Token}, nil)
	if err != nil {
		t.Fatal(err)
	}
	circles, err := c.ListCircles(tctx)
	if err != nil || len(circles) != 1 {
		t.Fatalf("circles = %v, %v", circles, err)
	}
	if _, err := c.JoinCircle(tctx, circles[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(tctx, stream, 0); err != nil {
		t.Fatal(err)
	}
	for ev := range c.Events() {
		if ev.Cmd == "message_new" {
			if ev.Message.Content != "announcement 1" || ev.Message.Author.Username != "announcer" {
				t.Fatalf("got %s", ev.Raw)
			}
			break
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("example did not shut down")
	}
	<-c.Done()
}
