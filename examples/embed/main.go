// Command embed shows Oshi inside another Go program: Oshi's handler is
// mounted under /chat/ in the program's own http.ServeMux, the program
// posts into a stream from Go, and everything shuts down with a context.
//
//	go run ./examples/embed
//
// Then connect a WebSocket client to ws://127.0.0.1:8080/chat/ws.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, "./embed-data", func(streamID string) {
		log.Printf("posting to stream %s every 5 seconds; Ctrl-C stops", streamID)
	}); err != nil {
		log.Fatal(err)
	}
}

// run serves the program's own routes and Oshi's on ln until ctx ends.
// ready is called with the announcement stream once it exists.
func run(ctx context.Context, ln net.Listener, dataDir string, ready func(streamID string)) error {
	oshi, err := server.New(ctx, server.Config{DataDir: dataDir})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the host program's own route")
	})
	mux.Handle("/chat/", http.StripPrefix("/chat", oshi.Handler()))
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()

	// An account and a public circle owned by the program itself.
	bot, err := botUser(ctx, oshi)
	if err != nil {
		return err
	}
	circle, err := oshi.Circles().Create(ctx, bot, "Announcements", models.Public)
	if err != nil {
		return err
	}
	stream := circle.Streams[0].ID
	ready(stream)

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		if _, err := oshi.Streams().Post(ctx, bot, stream, fmt.Sprintf("announcement %d", n), ""); err != nil && ctx.Err() == nil {
			log.Printf("post: %v", err)
		}
		select {
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = hs.Shutdown(shutdown)
			return oshi.Shutdown(shutdown)
		case <-tick.C:
		}
	}
}

// botUser logs in as the program's account, creating it the first time.
func botUser(ctx context.Context, oshi *server.Server) (*models.User, error) {
	const name, password = "announcer", "change-me-in-production"
	if u, err := oshi.Auth().Check(ctx, name, password); err == nil {
		return u, nil
	}
	login, err := oshi.Auth().Register(ctx, name, password)
	if err != nil {
		return nil, err
	}
	return &models.User{ID: login.User.ID, Username: login.User.Username}, nil
}
