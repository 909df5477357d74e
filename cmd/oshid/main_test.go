package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// TestNoAcknowledgedMessageLost runs the real oshid binary, publishes
// under load, stops it (SIGTERM, or SIGKILL as a crash), restarts it on
// the same data, and finds every acknowledged message stored exactly once
// with seqs gap-free.
func TestNoAcknowledgedMessageLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "oshid")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { crashAndCount(t, bin, sig) })
	}
}

func crashAndCount(t *testing.T, bin string, sig syscall.Signal) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	start := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "OSHI_ADDR="+addr, "OSHI_DATA_DIR="+data, "OSHI_LOG_LEVEL=error")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		waitReady(t, base)
		return cmd
	}
	proc := start()

	login, err := client.Register(ctx, base, "writer", "writer-password")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, client.WSURL(base), client.Credentials{Token: login.Token}, nil)
	if err != nil {
		t.Fatal(err)
	}
	circle, err := c.CreateCircle(ctx, "Durable", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	stream := circle.Streams[0].ID

	var (
		mu    sync.Mutex
		acked = map[string]int64{} // nonce → seq
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				nonce := fmt.Sprintf("w%d-%d", w, i)
				m, err := c.Send(ctx, stream, "payload "+nonce, nonce)
				if err != nil {
					return // the server went away
				}
				mu.Lock()
				acked[nonce] = m.Seq
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := proc.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("oshid did not exit within 20s of %v", sig)
	}
	wg.Wait()
	if sig == syscall.SIGTERM {
		<-c.Done()
		if st := int(closeStatus(c.Err())); st != 1012 {
			t.Errorf("close status on SIGTERM = %d, want 1012", st)
		}
	}
	if len(acked) < 10 {
		t.Fatalf("only %d messages acknowledged before the stop", len(acked))
	}

	start()
	c2, err := client.Dial(ctx, client.WSURL(base), client.Credentials{Token: login.Token}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	seen := map[string]int{}
	var last int64
	for {
		page, err := c2.History(ctx, stream, client.HistoryQuery{After: client.Seq(last), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			if m.Seq != last+1 {
				t.Fatalf("seq %d follows %d: a gap", m.Seq, last)
			}
			last = m.Seq
			seen[m.Nonce]++
		}
	}
	for nonce, seq := range acked {
		if seen[nonce] != 1 {
			t.Fatalf("acknowledged message %s (seq %d) stored %d times", nonce, seq, seen[nonce])
		}
	}
	// A graceful stop acknowledges everything it stored; a crash may
	// store a message whose acknowledgement never left.
	if sig == syscall.SIGTERM && int(last) != len(acked) {
		t.Fatalf("graceful stop: %d stored, %d acknowledged", last, len(acked))
	}
	// Numbering goes on from the true head, even where the recorded
	// last_seq lagged the crash.
	m, err := c2.Send(ctx, stream, "after restart", "")
	if err != nil || m.Seq != last+1 {
		t.Fatalf("first post after restart = %+v, %v; want seq %d", m, err, last+1)
	}
	t.Logf("%v: %d acknowledged, %d stored, all acknowledged ones stored once", sig, len(acked), last)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatal("oshid did not become ready")
}
