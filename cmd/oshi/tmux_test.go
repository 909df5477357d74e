package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestTmux runs the built binary in a real terminal (a detached tmux
// session): register through the password prompt, then the chat screen.
func TestTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	_, bc := s.User("bob")
	circle, err := bc.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "oshi")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "config")
	session := "oshi-test-" + filepath.Base(dir)
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// -L: a server of our own, so the user's sessions are left alone.
	sock := []string{"-L", session}
	tmux(append(sock, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", "sh")...)
	t.Cleanup(func() { _ = exec.Command("tmux", append(sock, "kill-server")...).Run() })
	keys := func(k ...string) { tmux(append(append(sock, "send-keys", "-t", session), k...)...) }
	waitPane := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			pane := tmux(append(sock, "capture-pane", "-p", "-t", session)...)
			if strings.Contains(pane, want) {
				return pane
			}
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q:\n%s", want, pane)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	keys(bin+" -config "+cfg+" register -url "+s.URL+" alice", "Enter")
	waitPane("Password:")
	keys("correct-horse", "Enter")
	waitPane("Repeat password:")
	keys("correct-horse", "Enter")
	if pane := waitPane("logged in as alice"); strings.Contains(pane, "correct-horse") {
		t.Errorf("the password was echoed:\n%s", pane)
	}

	keys(bin+" -config "+cfg+"; echo oshi-exited-$?", "Enter")
	waitPane("connected · alice")
	keys("/join "+circle.ID, "Enter")
	waitPane("▸ #general")
	if _, err := bc.Send(ctx, circle.Streams[0].ID, "hi from bob", ""); err != nil {
		t.Fatal(err)
	}
	waitPane("bob: hi from bob")
	keys("hello bob", "Enter")
	waitPane("alice: hello bob")

	// bob types, then answers alice naming her: the indicator, the
	// message replied to and the mention mark show in a real terminal.
	general := circle.Streams[0].ID
	if err := bc.Typing(ctx, general); err != nil {
		t.Fatal(err)
	}
	waitPane("bob is typing…")
	hist, err := bc.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %v, %v", hist, err)
	}
	if _, err := bc.SendReply(ctx, general, hist[1].ID, "@alice welcome", ""); err != nil {
		t.Fatal(err)
	}
	waitPane("↳ replying to alice: hello bob")
	if pane := waitPane("bob: @alice welcome"); !strings.Contains(pane, mentionMark+"#3 ") || strings.Contains(pane, "is typing") {
		t.Errorf("the mention is not marked, or the indicator stayed:\n%s", pane)
	}
	keys("/status dnd", "Enter")
	waitPane("alice (do not disturb)")
	keys("C-c")
	waitPane("oshi-exited-0")
}
