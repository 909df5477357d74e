package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oshichat/oshi/client"
)

// Duration is a time.Duration that is set as a flag ("10s") and written
// to JSON as text.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a report's duration back.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return d.Set(s)
}

// Common are the settings every scenario shares. Zero values mean the
// defaults given in the comments.
type Common struct {
	URL     string   `json:"url"`     // server base URL; http://127.0.0.1:7790
	Timeout Duration `json:"timeout"` // bound on the whole run; 2m
	Users   int      `json:"users"`   // most users registered; connections share them; 100
	Dialers int      `json:"dialers"` // connections opened at once; 64
	Drain   Duration `json:"drain"`   // after sending, how long to wait for acks and deliveries without progress; 3s
	Size    int      `json:"size"`    // message content bytes (at least the 19-digit timestamp)
	Spread  bool     `json:"spread"`  // spread client source addresses over 127.0.0.2–250
	Batch   bool     `json:"batch"`   // ask the server to batch frames (auth batch:true)
}

func (c *Common) defaults() {
	if c.URL == "" {
		c.URL = "http://127.0.0.1:7790"
	}
	if c.Timeout <= 0 {
		c.Timeout = Duration(2 * time.Minute)
	}
	if c.Users <= 0 {
		c.Users = 100
	}
	if c.Dialers <= 0 {
		c.Dialers = 64
	}
	if c.Drain <= 0 {
		c.Drain = Duration(3 * time.Second)
	}
}

// padding is what sendMessage appends to the timestamp to reach size bytes.
func (c *Common) padding() []byte {
	const stamp = 19 // digits of a unix-nanosecond time
	if c.Size <= stamp {
		return nil
	}
	pad := make([]byte, c.Size-stamp)
	pad[0] = ' '
	for i := 1; i < len(pad); i++ {
		pad[i] = 'a' + byte(i%26)
	}
	return pad
}

// regParallel is how many registrations run at once: each costs the
// server tens of milliseconds of argon2.
const regParallel = 4

// registerUsers creates n users with fresh names and returns their tokens.
func registerUsers(ctx context.Context, baseURL string, n int) ([]string, error) {
	run := runID()
	tokens := make([]string, n)
	_, err := parallel(ctx, n, regParallel, true, func(i int) error {
		name := fmt.Sprintf("b%s_%d", run, i)
		l, err := client.Register(ctx, baseURL, name, "bench-password-"+run)
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		tokens[i] = l.Token
		return nil
	})
	return tokens, err
}

// runID names this run's users and circles apart from earlier runs'.
func runID() string {
	const digits = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b[:])
}

// parallel calls fn(0…n-1) from at most workers goroutines and returns
// how many calls failed and the first error. With stopOnError the
// remaining calls are skipped after a failure.
func parallel(ctx context.Context, n, workers int, stopOnError bool, fn func(i int) error) (int, error) {
	var (
		next     atomic.Int64
		failures atomic.Int64
		once     sync.Once
		first    error
		wg       sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil || (stopOnError && failures.Load() > 0) {
					return
				}
				if err := fn(i); err != nil {
					failures.Add(1)
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return int(failures.Load()), first
}

// closeAll closes every connection in parallel: with a close handshake,
// or at once when ctx has ended (the server may not answer).
func closeAll(ctx context.Context, conns []*conn, workers int) {
	now := ctx.Err() != nil
	_, _ = parallel(context.Background(), len(conns), workers, false, func(i int) error {
		switch c := conns[i]; {
		case c == nil:
		case now:
			c.closeNow()
		default:
			c.close()
		}
		return nil
	})
}

// ServerStats is the part of GET /api/stats the scenarios use.
type ServerStats struct {
	Connections   int         `json:"connections"`
	Authenticated int64       `json:"authenticated"`
	Goroutines    int         `json:"goroutines"`
	HeapInuse     int64       `json:"heap_inuse_bytes"`
	StackInuse    int64       `json:"stack_inuse_bytes"`
	Sys           int64       `json:"sys_bytes"`
	CPUSeconds    float64     `json:"cpu_seconds"`
	Broker        BrokerStats `json:"broker"`
}

// BrokerStats are the broker's counters.
type BrokerStats struct {
	Published     int64 `json:"published"`
	Delivered     int64 `json:"delivered"`
	Dropped       int64 `json:"dropped"`
	SlowConsumers int64 `json:"slow_consumers"`
}

func (b BrokerStats) minus(o BrokerStats) BrokerStats {
	return BrokerStats{b.Published - o.Published, b.Delivered - o.Delivered, b.Dropped - o.Dropped, b.SlowConsumers - o.SlowConsumers}
}

// fetchStats reads /api/stats, collecting garbage first when gc is set.
func fetchStats(ctx context.Context, baseURL string, gc bool) (*ServerStats, error) {
	u := baseURL + "/api/stats"
	if gc {
		u += "?gc=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stats: HTTP %d", resp.StatusCode)
	}
	var s ServerStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &s, nil
}

// pace calls send n times at rate per second from start+offset on. A late
// call does not shift the schedule: the next ones follow at once until
// the loop has caught up. It stops early when ctx ends or send fails.
func pace(ctx context.Context, start time.Time, offset time.Duration, rate float64, n int, send func() error) error {
	interval := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range n {
		due := start.Add(offset + time.Duration(i)*interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := send(); err != nil {
			return err
		}
	}
	return nil
}

// waitUntil polls done every 10 ms until it is true, limit passes or ctx
// ends, and reports whether it became true.
func waitUntil(ctx context.Context, limit time.Duration, done func() bool) bool {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return done()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

// drain waits until done is true, giving up when progress has not moved
// for idle or ctx ends, and reports whether done became true. A server
// that fell behind is waited for as long as it catches up.
func drain(ctx context.Context, idle time.Duration, progress func() int64, done func() bool) bool {
	last, moved := progress(), time.Now()
	for !done() {
		if p := progress(); p != last {
			last, moved = p, time.Now()
		} else if time.Since(moved) > idle {
			return false
		}
		select {
		case <-ctx.Done():
			return done()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

// errString is err's text, or "" for nil; reports carry errors as text.
func errString(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout: " + err.Error()
	}
	return err.Error()
}
