package server_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

var (
	soak         = flag.Bool("soak", false, "run the soak test for -soak.duration instead of a few seconds")
	soakDuration = flag.Duration("soak.duration", time.Minute, "how long -soak runs")
)

// chaosProxy forwards TCP connections to a server and cuts random ones.
type chaosProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]net.Conn
	cuts   atomic.Int64
}

func newChaosProxy(t *testing.T, target string) *chaosProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chaosProxy{ln: ln, target: target, conns: map[net.Conn]net.Conn{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cutAll() })
	return p
}

func (p *chaosProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in] = out
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

// cutRandom drops one live connection, as a network would.
func (p *chaosProxy) cutRandom() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for in, out := range p.conns { // map order is random enough
		in.Close()
		out.Close()
		delete(p.conns, in)
		p.cuts.Add(1)
		return
	}
}

func (p *chaosProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for in, out := range p.conns {
		in.Close()
		out.Close()
		delete(p.conns, in)
	}
}

// TestSoak: clients chat through a proxy that cuts connections at random;
// they reconnect and resume by themselves and retry unacknowledged posts
// with the same nonce. Afterwards every subscriber has seen every stored
// message exactly once, in order, and every acknowledged message is stored
// exactly once. By default it runs a few seconds; -soak runs
// -soak.duration and logs the figures for docs/reliability.md.
func TestSoak(t *testing.T) {
	duration := 4 * time.Second
	if *soak {
		duration = *soakDuration
	}
	const users = 8
	ctx, cancel := context.WithTimeout(context.Background(), duration+2*time.Minute)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{})
	proxy := newChaosProxy(t, strings.TrimPrefix(s.URL, "http://"))
	wsURL := "ws://" + proxy.ln.Addr().String() + "/ws"

	owner, oc := s.User("owner")
	circle, err := oc.CreateCircle(ctx, "Soak", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	_ = owner

	type peer struct {
		c        *client.Client
		mu       sync.Mutex
		received []int64
	}
	peers := make([]*peer, users)
	for i := range peers {
		login := s.Register(fmt.Sprint("user", i))
		c, err := client.Dial(ctx, wsURL, client.Credentials{Token: login.Token},
			&client.Options{Reconnect: true, MinBackoff: 10 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, EventBuffer: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Subscribe(ctx, general, 0); err != nil {
			t.Fatal(err)
		}
		peers[i] = &peer{c: c}
	}
	var readers sync.WaitGroup
	for _, p := range peers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for ev := range p.c.Events() {
				if ev.Cmd == "message_new" {
					p.mu.Lock()
					p.received = append(p.received, ev.Message.Seq)
					p.mu.Unlock()
				}
			}
		}()
	}

	var (
		ackedMu sync.Mutex
		acked   = map[string]int64{}
		retries atomic.Int64
		stop    = time.Now().Add(duration)
		senders sync.WaitGroup
	)
	for i, p := range peers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for n := 0; time.Now().Before(stop); n++ {
				nonce := fmt.Sprintf("u%d-%d", i, n)
				for {
					m, err := p.c.Send(ctx, general, "soak "+nonce, nonce)
					if err == nil {
						ackedMu.Lock()
						acked[nonce] = m.Seq
						ackedMu.Unlock()
						break
					}
					if ctx.Err() != nil {
						t.Errorf("gave up on %s: %v", nonce, err)
						return
					}
					retries.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			}
		}()
	}
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		for time.Now().Before(stop) {
			time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
			proxy.cutRandom()
		}
	}()
	senders.Wait()
	<-chaosDone

	// Every stored message, once each.
	var total int64
	seen := map[string]int{}
	for after := int64(0); ; {
		page, err := oc.History(ctx, general, client.HistoryQuery{After: client.Seq(after), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			if m.Seq != after+1 {
				t.Fatalf("stored seq %d after %d", m.Seq, after)
			}
			after = m.Seq
			seen[m.Nonce]++
		}
		total = after
	}
	for nonce := range acked {
		if seen[nonce] != 1 {
			t.Fatalf("acknowledged %s stored %d times", nonce, seen[nonce])
		}
	}
	if int(total) != len(acked) {
		t.Fatalf("%d stored, %d acknowledged: a retry stored twice or an ack was lost", total, len(acked))
	}
	// Every subscriber gets all of them, once, in order (allow time to
	// finish reconnecting and replaying).
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range peers {
		for {
			p.mu.Lock()
			n := len(p.received)
			p.mu.Unlock()
			if int64(n) >= total || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, p := range peers {
		_ = p.c.Close()
	}
	readers.Wait()
	for i, p := range peers {
		if int64(len(p.received)) != total {
			t.Fatalf("user%d received %d messages, %d stored", i, len(p.received), total)
		}
		for j, seq := range p.received {
			if seq != int64(j+1) {
				t.Fatalf("user%d: position %d has seq %d", i, j, seq)
			}
		}
	}
	t.Logf("soak %v: %d users, %d messages stored and acknowledged, %d connection cuts, %d send retries, %d deliveries, lost 0, duplicates 0",
		duration, users, total, proxy.cuts.Load(), retries.Load(), total*users)
}
