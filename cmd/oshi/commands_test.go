package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

// oshi runs a command line in-process and returns its output and status.
func oshi(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustOshi runs a command line that must succeed.
func mustOshi(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := oshi(t, "", args...)
	if code != 0 {
		t.Fatalf("oshi %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestRegisterLoginLogout(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	dir := filepath.Join(t.TempDir(), "oshi")

	out, errOut, code := oshi(t, "correct-horse\n", "-config", dir, "register", "-url", s.URL, "alice")
	if code != 0 || !strings.Contains(out, "logged in as alice") {
		t.Fatalf("register: exit %d: %s%s", code, out, errOut)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, credentialsPath(dir): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	creds, err := loadCredentials(dir)
	if err != nil || creds.URL != s.URL || creds.Username != "alice" || creds.Token == "" {
		t.Fatalf("stored credentials %+v, %v", creds, err)
	}
	if out := mustOshi(t, "-config", dir, "circles"); !strings.Contains(out, "no circles") {
		t.Errorf("circles of a new user: %q", out)
	}

	if out := mustOshi(t, "-config", dir, "logout"); !strings.Contains(out, "logged out alice") {
		t.Errorf("logout: %q", out)
	}
	if _, err := os.Stat(credentialsPath(dir)); !os.IsNotExist(err) {
		t.Errorf("credentials still there after logout: %v", err)
	}
	if _, errOut, code := oshi(t, "", "-config", dir, "circles"); code != 1 || !strings.Contains(errOut, "not logged in") {
		t.Errorf("circles after logout: exit %d: %s", code, errOut)
	}
	// The old token is revoked on the server too.
	if err := dialWith(t, s.URL, creds.Token); err == nil {
		t.Error("token still accepted after logout")
	}

	if _, errOut, code := oshi(t, "wrong-password\n", "-config", dir, "login", "-url", s.URL, "alice"); code != 1 || errOut == "" {
		t.Errorf("login with a wrong password: exit %d: %s", code, errOut)
	}
	// OSHI_URL is the default for -url.
	t.Setenv("OSHI_URL", s.URL)
	if out, errOut, code := oshi(t, "correct-horse\n", "-config", dir, "login", "alice"); code != 0 {
		t.Fatalf("login: exit %d: %s%s", code, out, errOut)
	}
	mustOshi(t, "-config", dir, "circles")
}

func dialWith(t *testing.T, url, token string) error {
	t.Helper()
	dir := t.TempDir()
	if err := saveCredentials(dir, &Credentials{URL: url, Username: "x", Token: token}); err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), &Env{ConfigDir: dir}, false)
	if err == nil {
		c.Close()
	}
	return err
}

// loginAs stores credentials for a user registered on s and returns the
// config directory.
func loginAs(t *testing.T, s *oshitest.Server, username string) string {
	t.Helper()
	dir := t.TempDir()
	out, errOut, code := oshi(t, "password-"+username+"\n", "-config", dir, "login", "-url", s.URL, username)
	if code != 0 {
		t.Fatalf("login %s: exit %d: %s%s", username, code, out, errOut)
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSendTailCircles(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	_, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	dir := loginAs(t, s, "alice")

	out := mustOshi(t, "-config", dir, "circles")
	for _, want := range []string{"Gophers (public) " + circle.ID, "  #general " + general} {
		if !strings.Contains(out, want) {
			t.Errorf("circles output lacks %q:\n%s", want, out)
		}
	}

	for i, tc := range []struct{ stream, text string }{
		{"Gophers/general", "hello world"},
		{"#general", "second"},
		{general, "third"},
	} {
		out := mustOshi(t, "-config", dir, "send", tc.stream, tc.text)
		if want := []string{"1\n", "2\n", "3\n"}[i]; out != want {
			t.Errorf("send %s: printed %q, want %q", tc.stream, out, want)
		}
	}
	if _, errOut, code := oshi(t, "", "-config", dir, "send", "#nowhere", "x"); code != 1 || !strings.Contains(errOut, "no stream") {
		t.Errorf("send to an unknown stream: exit %d: %s", code, errOut)
	}

	// -n prints the newest messages, -timeout ends the tail.
	start := time.Now()
	out = mustOshi(t, "-config", dir, "tail", "-n", "2", "-timeout", "500ms", "#general")
	if time.Since(start) > 10*time.Second {
		t.Errorf("tail -timeout 500ms took %v", time.Since(start))
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "] alice: second") || !strings.HasSuffix(lines[1], "] alice: third") || !strings.HasPrefix(lines[0], "[") {
		t.Errorf("tail -n 2 printed:\n%s", out)
	}

	// Live messages follow the history.
	var live syncBuffer
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan int)
	go func() {
		done <- run(tctx, []string{"-config", dir, "tail", "-n", "1", "-timeout", "20s", "Gophers/general"}, strings.NewReader(""), &live, &live)
	}()
	waitOutput(t, &live, "alice: third")
	if _, err := bc.Send(ctx, general, "live from bob", ""); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &live, "bob: live from bob")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("tail exited %d: %s", code, live.String())
	}
	if strings.Contains(live.String(), "second") {
		t.Errorf("tail -n 1 printed more than one message of history:\n%s", live.String())
	}

	// @user opens the DM.
	if out := mustOshi(t, "-config", dir, "send", "@bob", "psst"); out != "1\n" {
		t.Errorf("send @bob printed %q", out)
	}
	if out := mustOshi(t, "-config", dir, "circles"); !strings.Contains(out, "@bob ") {
		t.Errorf("circles lacks the DM:\n%s", out)
	}
}

func TestUsage(t *testing.T) {
	if _, errOut, code := oshi(t, "", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d: %s", code, errOut)
	}
	if _, _, code := oshi(t, "", "-config", t.TempDir(), "send", "only-stream"); code != 2 {
		t.Errorf("send without text: exit %d, want 2", code)
	}
}
