// Package embedded runs FerretDB inside the Oshi process, on SQLite files,
// so Oshi works with no MongoDB installed. It speaks the MongoDB wire
// protocol on loopback TCP (URI), for other nodes and any MongoDB client
// a person points at it, and on a Unix domain socket in the data
// directory (LocalURI), for Oshi itself.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

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
	local  string
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
	// temp_store(memory) keeps SQLite's statement journals in memory.
	// Each insert into a collection with unique indexes opens one; most
	// stayed in memory anyway, but the larger ones spilled to a temporary
	// file, a write system call per page (under 1 % of the server's CPU
	// in a chat profile). They only undo a failed statement, so nothing
	// durable moves.
	sqliteURL := "file:" + dir + "/?_pragma=synchronous(" + cfg.Sync + ")&_pragma=temp_store(memory)"
	sock := unixSocket(dir)
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: cfg.Addr, Unix: sock},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{dir: dir, uri: f.MongoDBURI(), local: f.MongoDBURI(), cancel: cancel, done: make(chan struct{})}
	if sock != "" {
		// The driver takes a socket's path, escaped, as the host.
		s.local = "mongodb://" + url.PathEscape(sock) + "/"
	}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	return s, nil
}

// URI returns the mongodb:// address of the server on loopback TCP: the
// one to give to other nodes and tools.
func (s *Server) URI() string { return s.uri }

// LocalURI returns the address for clients on the same machine: a Unix
// domain socket in the data directory where there is one, else URI. A
// round trip over it skips loopback TCP: oshi-bench's conns scenario
// (four reads per connection) opened about 9 % more connections a second.
func (s *Server) LocalURI() string { return s.local }

// unixSocket returns the path of the Unix domain socket to listen on in
// dir, or "" for none: on Windows, when the path is too long for a
// socket address, when another server already listens there, or when the
// directory cannot hold a socket (some network and shared-folder
// filesystems). A socket file left by a process that ended without
// closing it is removed.
func unixSocket(dir string) string {
	path := filepath.Join(dir, "ferretdb.sock")
	if runtime.GOOS == "windows" || len(path) >= maxSocketPath {
		return ""
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return "" // not ours to remove
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return ""
		}
		if err := os.Remove(path); err != nil {
			return ""
		}
	}
	// FerretDB gives up when a listener fails, so try first. Closing
	// removes the file.
	l, err := net.Listen("unix", path)
	if err != nil {
		return ""
	}
	_ = l.Close()
	return path
}

// maxSocketPath bounds a socket's path: sockaddr_un holds 104 bytes on
// the BSDs and macOS, 108 on Linux, with the terminating NUL.
const maxSocketPath = 104

// Close stops the server and waits until its files are closed.
func (s *Server) Close() error {
	s.cancel()
	<-s.done
	return nil
}
