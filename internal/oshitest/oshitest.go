// Package oshitest starts real Oshi servers for tests: a real MongoDB wire
// server (embedded FerretDB on SQLite in a temporary directory) and the
// real HTTP and WebSocket endpoints on a loopback port.
package oshitest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store/embedded"
)

var (
	sharedOnce sync.Once
	shared     *embedded.Server
	sharedDir  string
	sharedErr  error
	dbSeq      atomic.Int64
)

// MongoURI returns the address of an embedded FerretDB shared by the tests
// of this process, starting it on first use. Each test should use its own
// database (see NewServer).
func MongoURI(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "oshitest-ferretdb-")
		if sharedErr != nil {
			return
		}
		shared, sharedErr = embedded.Start(embedded.Config{Dir: sharedDir})
	})
	if sharedErr != nil {
		t.Fatalf("start embedded store: %v", sharedErr)
	}
	return shared.URI()
}

// Main runs a package's tests and then stops the shared store:
//
//	func TestMain(m *testing.M) { oshitest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Next returns the next event of one of the given kinds from c, skipping
// others, or fails the test after ten seconds.
func Next(t testing.TB, c *client.Client, cmds ...string) client.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection closed while waiting for %v: %v", cmds, c.Err())
			}
			if slices.Contains(cmds, ev.Cmd) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event", cmds)
		}
	}
}

// Quiet fails the test if an event of one of the given kinds arrives on c
// within d.
func Quiet(t testing.TB, c *client.Client, d time.Duration, cmds ...string) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return
			}
			if slices.Contains(cmds, ev.Cmd) {
				t.Fatalf("unexpected %s event: %s", ev.Cmd, ev.Raw)
			}
		case <-timeout:
			return
		}
	}
}

// Cleanup stops the shared store; Main calls it.
func Cleanup() {
	if shared != nil {
		_ = shared.Close()
		_ = os.RemoveAll(sharedDir)
	}
}

// Server is a running Oshi server.
type Server struct {
	t      testing.TB
	cfg    server.Config
	Srv    *server.Server
	URL    string // http://127.0.0.1:port
	WSURL  string // ws://127.0.0.1:port/ws
	cancel context.CancelFunc
	done   chan error
}

// Unlimited is the rate limit NewServer sets where cfg sets none.
const Unlimited = 1 << 30

// NewServer starts a server on a fresh database of the shared store.
// cfg may set limits; its store fields are filled in. The server is shut
// down when the test ends.
//
// Tests send messages far faster than people do, so the per-user rate
// limits cfg leaves at zero (RateMessagesPerMinute, RateBurst,
// RateTypingBurst, RateUploadsPerMinute, RateUploadBurst) are raised to Unlimited rather than defaulted; a test
// of a limit sets it explicitly.
func NewServer(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	if cfg.MongoURI == "" && cfg.DataDir == "" {
		cfg.MongoURI = MongoURI(t)
		cfg.MongoDB = Database(t)
	}
	for _, n := range []*int{&cfg.RateMessagesPerMinute, &cfg.RateBurst, &cfg.RateTypingBurst, &cfg.RateUploadsPerMinute, &cfg.RateUploadBurst} {
		if *n == 0 {
			*n = Unlimited
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{t: t, cfg: cfg}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Database returns a database name no other test uses.
func Database(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
}

func (s *Server) start() {
	s.t.Helper()
	ctx := context.Background()
	srv, err := server.New(ctx, s.cfg)
	if err != nil {
		s.t.Fatalf("start server: %v", err)
	}
	if shared != nil && s.cfg.MongoURI == shared.URI() {
		// As server.New does for a store of its own.
		if err := shared.IndexIDs(ctx, s.cfg.MongoDB); err != nil {
			s.t.Fatalf("index the shared store: %v", err)
		}
	}
	addr := "127.0.0.1:0"
	if s.URL != "" {
		addr = strings.TrimPrefix(s.URL, "http://") // restart on the same port
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	s.Srv, s.cancel, s.done = srv, cancel, make(chan error, 1)
	s.URL = "http://" + ln.Addr().String()
	s.WSURL = client.WSURL(s.URL)
	go func() { s.done <- srv.Serve(runCtx, ln, 10*time.Second) }()
}

// Stop shuts the server down gracefully; stopping twice is harmless.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("server shutdown: %v", err)
	}
	s.cancel = nil
}

// Restart stops the server and starts it again on the same store and port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Register creates a user and returns its login.
func (s *Server) Register(username string) *client.Login {
	s.t.Helper()
	l, err := client.Register(context.Background(), s.URL, username, "password-"+username)
	if err != nil {
		s.t.Fatalf("register %s: %v", username, err)
	}
	return l
}

// Dial opens an authenticated connection that is closed when the test ends.
func (s *Server) Dial(l *client.Login) *client.Client {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: l.Token}, nil)
	if err != nil {
		s.t.Fatalf("dial as %s: %v", l.User.Username, err)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// User registers a user and dials a connection for it.
func (s *Server) User(username string) (*client.Login, *client.Client) {
	s.t.Helper()
	l := s.Register(username)
	return l, s.Dial(l)
}
