package main

import (
	"context"
	"fmt"
	"time"
)

// FanoutConfig configures the fanout scenario: one publisher, many
// subscribers of one stream.
type FanoutConfig struct {
	Common
	Subs     int      `json:"subs"`     // subscriber connections; 100
	Rate     float64  `json:"rate"`     // messages per second; 1000
	Duration Duration `json:"duration"` // how long to publish; 10s
	// PubURL, when set, connects the publisher to another node of a
	// cluster than the subscribers (-url), to measure the cross-node path.
	PubURL string `json:"pub_url,omitempty"`
}

func (c *FanoutConfig) defaults() {
	c.Common.defaults()
	if c.Subs <= 0 {
		c.Subs = 100
	}
	if c.Rate <= 0 {
		c.Rate = 1000
	}
	if c.Duration <= 0 {
		c.Duration = Duration(10 * time.Second)
	}
}

// FanoutReport is what the fanout scenario measured.
type FanoutReport struct {
	Scenario string       `json:"scenario"`
	Config   FanoutConfig `json:"config"`
	Error    string       `json:"error,omitempty"`

	SetupSeconds float64 `json:"setup_s"`
	Subscribers  int     `json:"subscribers"`

	Sent        int64   `json:"sent"`
	Acked       int64   `json:"acked"`
	Failed      int64   `json:"failed"` // error replies to message_new
	SendSeconds float64 `json:"send_s"`
	SentPerSec  float64 `json:"sent_per_s"`

	Expected         int64   `json:"expected"` // acked × subscribers
	Delivered        int64   `json:"delivered"`
	Lost             int64   `json:"lost"` // expected − delivered after the drain
	OutOfOrder       int64   `json:"out_of_order"`
	Gaps             int64   `json:"gaps"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	DrainSeconds     float64 `json:"drain_s"`
	Drained          bool    `json:"drained"` // every ack and delivery arrived

	Latency    Latency `json:"latency"`     // publish → each delivery
	AckLatency Latency `json:"ack_latency"` // publish → ack

	ErrorCodes  map[string]int64 `json:"error_codes,omitempty"`
	Disconnects map[string]int64 `json:"disconnects,omitempty"`
	Broker      BrokerStats      `json:"broker"` // server counters over the run
	// ServerCPU is the CPU time the server used over the run (send and
	// drain), 0 when it does not report it.
	ServerCPU float64 `json:"server_cpu_s"`
}

// runFanout opens cfg.Subs subscribers on one stream, publishes to it at
// cfg.Rate for cfg.Duration and measures every delivery. The report is
// never nil; its Error repeats the returned error.
func runFanout(ctx context.Context, cfg FanoutConfig) (*FanoutReport, error) {
	cfg.defaults()
	rep := &FanoutReport{Scenario: "fanout", Config: cfg}
	err := rep.run(ctx, cfg)
	rep.Error = errString(err)
	return rep, err
}

func (rep *FanoutReport) run(ctx context.Context, cfg FanoutConfig) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Timeout))
	defer cancel()
	d, err := newDialer(cfg.URL, cfg.Spread, cfg.Batch)
	if err != nil {
		return err
	}
	setup := time.Now()
	users := min(cfg.Subs, cfg.Users)
	tokens, err := registerUsers(ctx, cfg.URL, 1+users)
	if err != nil {
		return err
	}
	t := newTally()
	pad := cfg.padding()
	pd := d
	if cfg.PubURL != "" {
		if pd, err = newDialer(cfg.PubURL, cfg.Spread, cfg.Batch); err != nil {
			return err
		}
	}
	pub, err := pd.open(ctx, tokens[0], t, pad)
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	defer func() { closeAll(ctx, []*conn{pub}, 1) }()
	circle, stream, err := pub.createCircle(ctx, "fanout "+runID())
	if err != nil {
		return err
	}
	pub.stream = stream

	subs := make([]*conn, cfg.Subs)
	defer func() { closeAll(ctx, subs, cfg.Dialers) }()
	// Subscriber i is user 1 + i%users: each user joins once, through its
	// first connection, then every connection subscribes.
	if _, err := parallel(ctx, cfg.Subs, cfg.Dialers, true, func(i int) error {
		c, err := d.open(ctx, tokens[1+i%users], t, nil)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		subs[i] = c
		if i < users {
			return c.join(ctx, circle)
		}
		return nil
	}); err != nil {
		return err
	}
	if _, err := parallel(ctx, cfg.Subs, cfg.Dialers, true, func(i int) error {
		return subs[i].subscribe(ctx, stream)
	}); err != nil {
		return err
	}
	rep.Subscribers = cfg.Subs
	rep.SetupSeconds = time.Since(setup).Seconds()

	before, err := fetchStats(ctx, cfg.URL, false)
	if err != nil {
		return err
	}
	n := int(cfg.Rate * time.Duration(cfg.Duration).Seconds())
	start := time.Now()
	var sent int64
	sendErr := pace(ctx, start, 0, cfg.Rate, n, func() error {
		if err := pub.sendMessage(); err != nil {
			return err
		}
		sent++
		return nil
	})
	rep.SendSeconds = time.Since(start).Seconds()
	rep.Sent = sent
	subsN := int64(cfg.Subs)
	drained := time.Now()
	rep.Drained = drain(ctx, time.Duration(cfg.Drain), func() int64 {
		return t.acked.Load() + t.failed.Load() + t.delivered.Load()
	}, func() bool {
		acked := t.acked.Load()
		return acked+t.failed.Load() >= sent && t.delivered.Load() >= acked*subsN
	})
	rep.DrainSeconds = time.Since(drained).Seconds()

	rep.Acked, rep.Failed = t.acked.Load(), t.failed.Load()
	rep.Expected = rep.Acked * subsN
	rep.Delivered = t.delivered.Load()
	rep.Lost = rep.Expected - rep.Delivered
	rep.OutOfOrder, rep.Gaps = t.outOfOrder.Load(), t.gaps.Load()
	if rep.SendSeconds > 0 {
		rep.SentPerSec = float64(sent) / max(rep.SendSeconds, time.Duration(cfg.Duration).Seconds())
	}
	if elapsed := max(float64(t.lastEvent.Load()-start.UnixNano())/1e9, rep.SendSeconds); elapsed > 0 {
		rep.DeliveriesPerSec = float64(rep.Delivered) / elapsed
	}
	rep.Latency, rep.AckLatency = t.lat.summary(), t.ackLat.summary()
	rep.ErrorCodes, rep.Disconnects = t.snapshot()
	if after, err := fetchStats(ctx, cfg.URL, false); err == nil {
		rep.Broker = after.Broker.minus(before.Broker)
		rep.ServerCPU = after.CPUSeconds - before.CPUSeconds
	}
	return sendErr
}
