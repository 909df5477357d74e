package embedded

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ping connects to uri and pings the server.
func ping(t *testing.T, uri string) {
	t.Helper()
	ctx := context.Background()
	cl, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	defer cl.Disconnect(ctx)
	if err := cl.Ping(ctx, nil); err != nil {
		t.Fatalf("ping %s: %v", uri, err)
	}
}

// TestLocalURI: the server answers on its Unix socket and on TCP, also
// when a previous run left its socket file behind, and falls back to TCP
// where a socket cannot be made.
func TestLocalURI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix socket on Windows: LocalURI is URI")
	}
	tests := []struct {
		name   string
		dir    func(t *testing.T) string
		socket bool // whether LocalURI is a socket
	}{
		{"fresh directory", func(t *testing.T) string { return t.TempDir() }, true},
		{"stale socket file", func(t *testing.T) string {
			dir := t.TempDir()
			// A socket file whose listener is gone, as a killed process leaves it.
			l, err := net.Listen("unix", filepath.Join(dir, "ferretdb.sock"))
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
			return dir
		}, true},
		{"a file in the socket's place", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "ferretdb.sock"), []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if b, err := os.ReadFile(filepath.Join(dir, "ferretdb.sock")); err != nil || string(b) != "keep me" {
					t.Errorf("the file in the socket's place was touched: %q, %v", b, err)
				}
			})
			return dir
		}, false},
		{"path too long for a socket", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), strings.Repeat("d", maxSocketPath))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return dir
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := Start(Config{Dir: tt.dir(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if got := strings.HasPrefix(srv.LocalURI(), "mongodb://%2F"); got != tt.socket {
				t.Fatalf("LocalURI %s: a socket is %v, want %v", srv.LocalURI(), got, tt.socket)
			}
			if !tt.socket && srv.LocalURI() != srv.URI() {
				t.Fatalf("LocalURI %s, want URI %s", srv.LocalURI(), srv.URI())
			}
			ping(t, srv.LocalURI())
			ping(t, srv.URI())
		})
	}
}

// TestSecondServerKeepsSocket: a second server on the same directory
// leaves the first one's live socket alone and uses TCP.
func TestSecondServerKeepsSocket(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix socket on Windows")
	}
	dir := t.TempDir()
	first, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.LocalURI() != second.URI() {
		t.Fatalf("second server's LocalURI %s, want its TCP URI %s", second.LocalURI(), second.URI())
	}
	ping(t, first.LocalURI())
	ping(t, second.LocalURI())
}
