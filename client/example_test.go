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
