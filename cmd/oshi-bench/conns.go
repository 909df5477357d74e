package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ConnsConfig configures the conns scenario: many idle connections.
type ConnsConfig struct {
	Common
	N       int      `json:"n"`       // connections; 1000
	Circles int      `json:"circles"` // circles whose streams they follow; 10
	Hold    Duration `json:"hold"`    // how long to keep them open; 5s
}

func (c *ConnsConfig) defaults() {
	c.Common.defaults()
	if c.N <= 0 {
		c.N = 1000
	}
	if c.Circles <= 0 {
		c.Circles = 10
	}
	if c.Hold <= 0 {
		c.Hold = Duration(5 * time.Second)
	}
}

// ConnsReport is what the conns scenario measured.
type ConnsReport struct {
	Scenario string      `json:"scenario"`
	Config   ConnsConfig `json:"config"`
	Error    string      `json:"error,omitempty"`

	SetupSeconds float64 `json:"setup_s"`

	Opened          int              `json:"opened"`
	Failures        int              `json:"failures"`
	FailureKinds    map[string]int64 `json:"failure_kinds,omitempty"`
	FirstFailure    string           `json:"first_failure,omitempty"`
	ConnectSeconds  float64          `json:"connect_s"`
	ConnectsPerSec  float64          `json:"connects_per_s"`  // dial + auth + subscribe
	ConnectLatency  Latency          `json:"connect_latency"` // of one connection
	ServerConns     int              `json:"server_connections"`
	ServerAuthed    int64            `json:"server_authenticated"`
	MemPerConn      int64            `json:"mem_per_conn_bytes"` // server heap+stack in use
	HeapPerConn     int64            `json:"heap_per_conn_bytes"`
	StackPerConn    int64            `json:"stack_per_conn_bytes"`
	SysPerConn      int64            `json:"sys_per_conn_bytes"`
	GoroutinesPer   float64          `json:"goroutines_per_conn"`
	ClientMemPer    int64            `json:"client_mem_per_conn_bytes"` // this tool's heap+stack
	Before          *ServerStats     `json:"before,omitempty"`
	After           *ServerStats     `json:"after,omitempty"`
	Disconnects     map[string]int64 `json:"disconnects,omitempty"` // during the hold
	CloseSeconds    float64          `json:"close_s"`
	ConnsAfterClose int              `json:"server_connections_after_close"`
}

// runConns opens cfg.N authenticated connections, each subscribed to one
// of cfg.Circles streams, reads the server's memory before and after,
// holds them for cfg.Hold and closes them. The report is never nil; its
// Error repeats the returned error.
func runConns(ctx context.Context, cfg ConnsConfig) (*ConnsReport, error) {
	cfg.defaults()
	rep := &ConnsReport{Scenario: "conns", Config: cfg}
	err := rep.run(ctx, cfg)
	rep.Error = errString(err)
	return rep, err
}

func (rep *ConnsReport) run(ctx context.Context, cfg ConnsConfig) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Timeout))
	defer cancel()
	d, err := newDialer(cfg.URL, cfg.Spread, cfg.Batch)
	if err != nil {
		return err
	}
	setup := time.Now()
	baseline, err := fetchStats(ctx, cfg.URL, false)
	if err != nil {
		return err
	}
	users := min(cfg.N, cfg.Users)
	nc := min(cfg.Circles, users)
	tokens, err := registerUsers(ctx, cfg.URL, users)
	if err != nil {
		return err
	}
	streams, err := setupCircles(ctx, d, cfg, tokens, nc)
	if err != nil {
		return err
	}
	// Let the server finish with the setup connections before measuring.
	waitUntil(ctx, 5*time.Second, func() bool {
		s, err := fetchStats(ctx, cfg.URL, false)
		return err == nil && s.Connections <= baseline.Connections
	})
	rep.SetupSeconds = time.Since(setup).Seconds()
	before, err := fetchStats(ctx, cfg.URL, true)
	if err != nil {
		return err
	}
	clientBefore := clientMem()

	t := newTally()
	conns := make([]*conn, cfg.N)
	defer func() { closeAll(ctx, conns, cfg.Dialers) }()
	var (
		lat   histogram
		mu    sync.Mutex
		kinds = make(map[string]int64)
	)
	start := time.Now()
	failures, firstErr := parallel(ctx, cfg.N, cfg.Dialers, false, func(i int) error {
		t0 := time.Now()
		u := i % users
		c, err := d.open(ctx, tokens[u], t, nil)
		if err == nil {
			if err = c.subscribe(ctx, streams[u%nc]); err != nil {
				c.closeNow()
			}
		}
		if err != nil {
			kind, _, _ := strings.Cut(err.Error(), ":")
			mu.Lock()
			kinds[kind]++
			mu.Unlock()
			return err
		}
		conns[i] = c
		lat.record(int64(time.Since(t0)))
		return nil
	})
	rep.ConnectSeconds = time.Since(start).Seconds()
	rep.Opened, rep.Failures = cfg.N-failures, failures
	if ctx.Err() != nil {
		rep.Opened = int(lat.n.Load())
		rep.Failures = cfg.N - rep.Opened
	}
	rep.FailureKinds = copyMap(kinds)
	if firstErr != nil {
		rep.FirstFailure = firstErr.Error()
	}
	rep.ConnectsPerSec = float64(rep.Opened) / rep.ConnectSeconds
	rep.ConnectLatency = lat.summary()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	after, err := fetchStats(ctx, cfg.URL, true)
	if err != nil {
		return err
	}
	rep.Before, rep.After = before, after
	rep.ServerConns, rep.ServerAuthed = after.Connections, after.Authenticated
	if n := int64(rep.Opened); n > 0 {
		heap, stack := after.HeapInuse-before.HeapInuse, after.StackInuse-before.StackInuse
		rep.HeapPerConn, rep.StackPerConn = heap/n, stack/n
		rep.MemPerConn = (heap + stack) / n
		rep.SysPerConn = (after.Sys - before.Sys) / n
		rep.GoroutinesPer = float64(after.Goroutines-before.Goroutines) / float64(n)
		rep.ClientMemPer = (clientMem() - clientBefore) / n
	}

	select {
	case <-time.After(time.Duration(cfg.Hold)):
	case <-ctx.Done():
		return ctx.Err()
	}
	_, rep.Disconnects = t.snapshot()

	closed := time.Now()
	closeAll(ctx, conns, cfg.Dialers)
	rep.CloseSeconds = time.Since(closed).Seconds()
	waitUntil(ctx, 5*time.Second, func() bool {
		s, err := fetchStats(ctx, cfg.URL, false)
		if err == nil {
			rep.ConnsAfterClose = s.Connections
		}
		return err == nil && s.Connections <= baseline.Connections
	})
	if failures > 0 {
		return fmt.Errorf("%d of %d connections failed, first: %w", failures, cfg.N, firstErr)
	}
	return ctx.Err()
}

// setupCircles has user 0 create nc circles and every other user join
// circle u%nc, each through a short-lived connection, and returns the
// circles' general streams.
func setupCircles(ctx context.Context, d *dialer, cfg ConnsConfig, tokens []string, nc int) ([]string, error) {
	t := newTally()
	owner, err := d.open(ctx, tokens[0], t, nil)
	if err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	defer owner.close()
	circles := make([]string, nc)
	streams := make([]string, nc)
	run := runID()
	for i := range nc {
		if circles[i], streams[i], err = owner.createCircle(ctx, fmt.Sprintf("conns %s %d", run, i)); err != nil {
			return nil, err
		}
	}
	_, err = parallel(ctx, len(tokens)-1, cfg.Dialers, true, func(i int) error {
		u := i + 1
		c, err := d.open(ctx, tokens[u], t, nil)
		if err != nil {
			return err
		}
		defer c.close()
		return c.join(ctx, circles[u%nc])
	})
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return streams, nil
}

// clientMem is this process's heap and stack in use after a collection.
func clientMem() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}
