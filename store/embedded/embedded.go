// Package embedded runs FerretDB inside the Oshi process, on SQLite files,
// so Oshi works with no MongoDB installed. It listens on loopback and
// speaks the MongoDB wire protocol: Oshi, and any MongoDB client a person
// points at URI, talk to it like to MongoDB.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Config configures an embedded server.
type Config struct {
	// Dir holds the SQLite files; it is created when missing. Required.
	Dir string
	// Addr is the loopback address to listen on; empty means
	// "127.0.0.1:0", a free port.
	Addr string
	// Sync is SQLite's synchronous setting: "full" (the default) syncs
	// the disk at every commit, so an acknowledged message survives a
	// power loss; "normal" syncs at checkpoints only, which survives a
	// crash of the process but not of the machine, and is faster.
	Sync string
	// Logger receives FerretDB's logs; nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded FerretDB.
type Server struct {
	dir    string
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts FerretDB and returns once it accepts connections. Stop it
// with Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("embedded store: no data directory")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Sync {
	case "":
		cfg.Sync = "full"
	case "full", "normal":
	default:
		return nil, fmt.Errorf("embedded store: sync must be full or normal, not %q", cfg.Sync)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: create data directory: %w", err)
	}
	// temp_store(memory) keeps SQLite's statement journals in memory:
	// each insert into a collection with unique indexes opens one, and on
	// disk they were a write system call per page (about 5 % of the
	// server's CPU in the chat benchmark). They only undo a failed
	// statement, so nothing durable moves.
	sqliteURL := "file:" + dir + "/?_pragma=synchronous(" + cfg.Sync + ")&_pragma=temp_store(memory)"
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: cfg.Addr},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{dir: dir, uri: f.MongoDBURI(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	return s, nil
}

// URI returns the mongodb:// address of the server.
func (s *Server) URI() string { return s.uri }

// Close stops the server and waits until its files are closed.
func (s *Server) Close() error {
	s.cancel()
	<-s.done
	return nil
}
