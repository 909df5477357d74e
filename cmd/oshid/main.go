// Command oshid runs the Oshi chat server.
//
// Configuration comes from OSHI_* environment variables (see README.md).
// With no OSHI_MONGO_URI it starts an embedded MongoDB-compatible store
// under OSHI_DATA_DIR, so `go run ./cmd/oshid` works on a bare machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oshichat/oshi/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "oshid:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := server.FromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx, 15*time.Second)
}
