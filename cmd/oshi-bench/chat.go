package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ChatConfig configures the chat scenario: many small circles whose
// members all talk.
type ChatConfig struct {
	Common
	Streams  int      `json:"streams"`  // circles, each with its general stream; 200
	Members  int      `json:"members"`  // member connections per circle; 3
	Rate     float64  `json:"rate"`     // messages per second, all members together; 2000
	Duration Duration `json:"duration"` // how long to send; 10s
}

func (c *ChatConfig) defaults() {
	c.Common.defaults()
	if c.Streams <= 0 {
		c.Streams = 200
	}
	if c.Members <= 0 {
		c.Members = 3
	}
	if c.Rate <= 0 {
		c.Rate = 2000
	}
	if c.Duration <= 0 {
		c.Duration = Duration(10 * time.Second)
	}
}

// ChatReport is what the chat scenario measured.
type ChatReport struct {
	Scenario string     `json:"scenario"`
	Config   ChatConfig `json:"config"`
	Error    string     `json:"error,omitempty"`

	SetupSeconds float64 `json:"setup_s"`
	Connections  int     `json:"connections"`

	Sent          int64   `json:"sent"`
	Acked         int64   `json:"acked"`
	Failed        int64   `json:"failed"` // error replies to message_new
	SendErrors    int64   `json:"send_errors"`
	SendSeconds   float64 `json:"send_s"`
	OfferedPerSec float64 `json:"offered_per_s"` // sent / send time
	StoredPerSec  float64 `json:"stored_per_s"`  // acked / (first send → last ack or end of sending)
	AckLatency    Latency `json:"ack_latency"`

	Expected     int64   `json:"expected"` // acked × members
	Delivered    int64   `json:"delivered"`
	Lost         int64   `json:"lost"`
	OutOfOrder   int64   `json:"out_of_order"`
	Gaps         int64   `json:"gaps"`
	Latency      Latency `json:"latency"` // publish → each delivery
	DrainSeconds float64 `json:"drain_s"`
	Drained      bool    `json:"drained"` // every ack and delivery arrived

	ErrorCodes  map[string]int64 `json:"error_codes,omitempty"`
	Disconnects map[string]int64 `json:"disconnects,omitempty"`
	Broker      BrokerStats      `json:"broker"`
	// ServerCPU is the CPU time the server used over the run (send and
	// drain), 0 when it does not report it.
	ServerCPU float64 `json:"server_cpu_s"`
}

// runChat builds cfg.Streams circles of cfg.Members connections each,
// all subscribed to their circle's general stream, and has every member
// post an even share of cfg.Rate without waiting for acks. The report is
// never nil; its Error repeats the returned error.
func runChat(ctx context.Context, cfg ChatConfig) (*ChatReport, error) {
	cfg.defaults()
	rep := &ChatReport{Scenario: "chat", Config: cfg}
	err := rep.run(ctx, cfg)
	rep.Error = errString(err)
	return rep, err
}

func (rep *ChatReport) run(ctx context.Context, cfg ChatConfig) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Timeout))
	defer cancel()
	d, err := newDialer(cfg.URL, cfg.Spread, cfg.Batch)
	if err != nil {
		return err
	}
	setup := time.Now()
	k, m := cfg.Streams, cfg.Members
	total := k * m
	// Member j of circle i is connection i*m+j, as user (i*m+j)%users: a
	// circle's members are distinct users as long as users ≥ m.
	users := min(total, max(cfg.Users, m))
	tokens, err := registerUsers(ctx, cfg.URL, users)
	if err != nil {
		return err
	}
	t := newTally()
	pad := cfg.padding()
	conns := make([]*conn, total)
	defer func() { closeAll(ctx, conns, cfg.Dialers) }()
	if _, err := parallel(ctx, total, cfg.Dialers, true, func(i int) error {
		c, err := d.open(ctx, tokens[i%users], t, pad)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns[i] = c
		return nil
	}); err != nil {
		return err
	}
	circles := make([]string, k)
	streams := make([]string, k)
	run := runID()
	if _, err := parallel(ctx, k, cfg.Dialers, true, func(i int) error {
		var err error
		circles[i], streams[i], err = conns[i*m].createCircle(ctx, fmt.Sprintf("chat %s %d", run, i))
		return err
	}); err != nil {
		return err
	}
	if _, err := parallel(ctx, total, cfg.Dialers, true, func(i int) error {
		if i%m != 0 {
			if err := conns[i].join(ctx, circles[i/m]); err != nil {
				return err
			}
		}
		return conns[i].subscribe(ctx, streams[i/m])
	}); err != nil {
		return err
	}
	rep.Connections = total
	rep.SetupSeconds = time.Since(setup).Seconds()

	before, err := fetchStats(ctx, cfg.URL, false)
	if err != nil {
		return err
	}
	n := int(cfg.Rate * time.Duration(cfg.Duration).Seconds())
	each := cfg.Rate / float64(total)
	var (
		sent, sendErrs atomic.Int64
		wg             sync.WaitGroup
		firstErr       error
		errOnce        sync.Once
	)
	// Connection i starts i/Rate seconds in, so the posts of all of them
	// interleave evenly at the total rate.
	start := time.Now()
	for i, c := range conns {
		share := n / total
		if i < n%total {
			share++
		}
		offset := time.Duration(float64(i) / cfg.Rate * float64(time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pace(ctx, start, offset, each, share, func() error {
				if err := c.sendMessage(); err != nil {
					return err
				}
				sent.Add(1)
				return nil
			})
			if err != nil && ctx.Err() == nil {
				sendErrs.Add(1)
				errOnce.Do(func() { firstErr = err })
			}
		}()
	}
	wg.Wait()
	rep.SendSeconds = time.Since(start).Seconds()
	rep.Sent, rep.SendErrors = sent.Load(), sendErrs.Load()
	drained := time.Now()
	rep.Drained = drain(ctx, time.Duration(cfg.Drain), func() int64 {
		return t.acked.Load() + t.failed.Load() + t.delivered.Load()
	}, func() bool {
		acked := t.acked.Load()
		return acked+t.failed.Load() >= rep.Sent && t.delivered.Load() >= acked*int64(m)
	})
	rep.DrainSeconds = time.Since(drained).Seconds()

	rep.Acked, rep.Failed = t.acked.Load(), t.failed.Load()
	if rep.SendSeconds > 0 {
		rep.OfferedPerSec = float64(rep.Sent) / max(rep.SendSeconds, time.Duration(cfg.Duration).Seconds())
	}
	// Over the send time at least: acks that stop early must not make a
	// short, fast-looking window.
	if elapsed := max(float64(t.lastAck.Load()-start.UnixNano())/1e9, rep.SendSeconds); elapsed > 0 {
		rep.StoredPerSec = float64(rep.Acked) / elapsed
	}
	rep.Expected = rep.Acked * int64(m)
	rep.Delivered = t.delivered.Load()
	rep.Lost = rep.Expected - rep.Delivered
	rep.OutOfOrder, rep.Gaps = t.outOfOrder.Load(), t.gaps.Load()
	rep.Latency, rep.AckLatency = t.lat.summary(), t.ackLat.summary()
	rep.ErrorCodes, rep.Disconnects = t.snapshot()
	if after, err := fetchStats(ctx, cfg.URL, false); err == nil {
		rep.Broker = after.Broker.minus(before.Broker)
		rep.ServerCPU = after.CPUSeconds - before.CPUSeconds
	}
	if firstErr != nil {
		return fmt.Errorf("%d connections stopped sending, first: %w", rep.SendErrors, firstErr)
	}
	return ctx.Err()
}
