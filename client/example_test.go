package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// Two people chat in a circle. The server here runs in-process on an
// embedded store; against a real deployment only the URL changes.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "oshi-example-")
	defer os.RemoveAll(dir)
	srv, err := server.New(ctx, server.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Shutdown(ctx) }()

	alice, _ := client.Register(ctx, hs.URL, "alice", "correct-horse")
	bob, _ := client.Register(ctx, hs.URL, "bob", "battery-staple")
	ac, err := client.Dial(ctx, client.WSURL(hs.URL), client.Credentials{Token: alice.Token}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ac.Close()
	bc, err := client.Dial(ctx, client.WSURL(hs.URL), client.Credentials{Token: bob.Token}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer bc.Close()

	circle, _ := ac.CreateCircle(ctx, "Gophers", models.Public)
	general := circle.Streams[0].ID
	_, _ = bc.JoinCircle(ctx, circle.ID)
	_, _ = bc.Subscribe(ctx, general, -1)

	msg, _ := ac.Send(ctx, general, "hello, bob", "")
	fmt.Println("stored as seq", msg.Seq)
	for ev := range bc.Events() {
		if ev.Cmd == "message_new" {
			fmt.Printf("%s: %s\n", ev.Message.Author.Username, ev.Message.Content)
			break
		}
	}
	// Output:
	// stored as seq 1
	// alice: hello, bob
}

// A client that reconnects by itself: it resubscribes to what it followed
// from the last seq it delivered, so the application sees each message
// once, in order, even across a dropped connection or a server restart.
func ExampleOptions_reconnect() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "oshi-example-")
	defer os.RemoveAll(dir)
	srv, err := server.New(ctx, server.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Shutdown(ctx) }()

	login, _ := client.Register(ctx, hs.URL, "carol", "correct-horse")
	c, err := client.Dial(ctx, client.WSURL(hs.URL), client.Credentials{Token: login.Token},
		&client.Options{Reconnect: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	circle, _ := c.CreateCircle(ctx, "Notes", models.Private)
	general := circle.Streams[0].ID
	for _, text := range []string{"one", "two"} {
		_, _ = c.Send(ctx, general, text, "")
	}
	// since 0: the stored messages first, then live ones.
	seq, _ := c.Subscribe(ctx, general, 0)
	fmt.Println("stream is at seq", seq)
	for i := 0; i < 2; i++ {
		ev := <-c.Events()
		fmt.Println(ev.Message.Seq, ev.Message.Content)
	}
	// Output:
	// stream is at seq 2
	// 1 one
	// 2 two
}
