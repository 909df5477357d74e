// Command oshi-bench drives load against an Oshi server and measures it.
//
//	oshi-bench [-url http://127.0.0.1:7790] fanout -subs 100 -rate 1000 -duration 10s
//	oshi-bench conns -n 1000 -hold 5s
//	oshi-bench chat -streams 200 -members 3 -rate 2000 -duration 10s
//
// fanout: one publisher, -subs subscribers of one stream; end-to-end
// latency of every delivery, loss, order. conns: -n idle authenticated
// connections; connect rate and server memory per connection. chat:
// -streams circles of -members talking connections; stored messages per
// second and ack latency.
//
// Every connection has one reader goroutine. On Unix over plain TCP it
// reads the socket itself rather than through the WebSocket library, one
// read system call per arrival instead of two (rawread.go): the tool
// usually shares the machine with the server it measures.
//
// Each run prints one JSON line with every parameter and result, then
// the same as a table. Every phase is bounded by -timeout, so the tool
// always ends by itself; the exit status is 1 when the run failed or was
// cut short (the report then says how far it got).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: oshi-bench [common flags] <scenario> [flags]

scenarios:
  fanout  -subs S -rate R -duration T     one publisher, S subscribers of one stream
  conns   -n N -circles C -hold T         N idle authenticated, subscribed connections
  chat    -streams K -members M -rate R -duration T
                                          K circles of M members posting R msg/s in all

common flags (before or after the scenario):
`

func run(args []string, stdout, stderr io.Writer) int {
	var common Common
	common.defaults()
	common.Spread = true
	global := flag.NewFlagSet("oshi-bench", flag.ContinueOnError)
	global.SetOutput(stderr)
	commonFlags(global, &common)
	global.Usage = func() {
		fmt.Fprint(stderr, usage)
		global.PrintDefaults()
	}
	if err := global.Parse(args); err != nil {
		return 2
	}
	if global.NArg() == 0 {
		global.Usage()
		return 2
	}
	scenario := global.Arg(0)
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, &common)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var (
		rep any
		err error
	)
	switch scenario {
	case "fanout":
		cfg := FanoutConfig{Subs: 100, Rate: 1000, Duration: Duration(10 * time.Second)}
		fs.IntVar(&cfg.Subs, "subs", cfg.Subs, "subscriber connections")
		fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "messages per second")
		fs.Var(&cfg.Duration, "duration", "how long to publish")
		fs.StringVar(&cfg.PubURL, "pub-url", "", "connect the publisher to this node instead of -url (cross-node measurement)")
		if fs.Parse(global.Args()[1:]) != nil {
			return 2
		}
		cfg.Common = common
		rep, err = runFanout(ctx, cfg)
	case "conns":
		cfg := ConnsConfig{N: 1000, Circles: 10, Hold: Duration(5 * time.Second)}
		fs.IntVar(&cfg.N, "n", cfg.N, "connections")
		fs.IntVar(&cfg.Circles, "circles", cfg.Circles, "circles whose general streams the connections follow")
		fs.Var(&cfg.Hold, "hold", "how long to hold the connections open")
		if fs.Parse(global.Args()[1:]) != nil {
			return 2
		}
		cfg.Common = common
		rep, err = runConns(ctx, cfg)
	case "chat":
		cfg := ChatConfig{Streams: 200, Members: 3, Rate: 2000, Duration: Duration(10 * time.Second)}
		fs.IntVar(&cfg.Streams, "streams", cfg.Streams, "circles, one general stream each")
		fs.IntVar(&cfg.Members, "members", cfg.Members, "member connections per circle")
		fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "messages per second, all members together")
		fs.Var(&cfg.Duration, "duration", "how long to send")
		if fs.Parse(global.Args()[1:]) != nil {
			return 2
		}
		cfg.Common = common
		rep, err = runChat(ctx, cfg)
	default:
		fmt.Fprintf(stderr, "oshi-bench: unknown scenario %q\n", scenario)
		global.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "oshi-bench: unexpected arguments %q\n", fs.Args())
	}
	line, jerr := json.Marshal(rep)
	if jerr != nil {
		fmt.Fprintln(stderr, "oshi-bench:", jerr)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n\n", line)
	printTable(stdout, rep.(tabler).table())
	if err != nil {
		fmt.Fprintln(stderr, "oshi-bench:", err)
		return 1
	}
	return 0
}

func commonFlags(fs *flag.FlagSet, c *Common) {
	fs.StringVar(&c.URL, "url", c.URL, "server base URL")
	fs.Var(&c.Timeout, "timeout", "bound on the whole run")
	fs.IntVar(&c.Users, "users", c.Users, "most users to register; connections share them")
	fs.IntVar(&c.Dialers, "dialers", c.Dialers, "connections opened at once")
	fs.Var(&c.Drain, "drain", "after sending, how long to wait for outstanding acks and deliveries without progress")
	fs.IntVar(&c.Size, "size", c.Size, "message content bytes (the 19-digit send time at least)")
	fs.BoolVar(&c.Spread, "spread", c.Spread, "spread client source addresses over 127.0.0.2-250 (loopback servers)")
	fs.BoolVar(&c.Batch, "batch", c.Batch, "ask the server to batch frames (auth batch:true)")
}

// tabler is a report that can show itself as rows of name and value.
type tabler interface{ table() []row }

type row struct{ name, value string }

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.name, r.value)
	}
	_ = tw.Flush()
}

func latencyRow(name string, l Latency) row {
	return row{name + " ms p50/p90/p99/p99.9/max",
		fmt.Sprintf("%.2f / %.2f / %.2f / %.2f / %.2f  (n=%d, mean %.2f)", l.P50, l.P90, l.P99, l.P999, l.Max, l.N, l.Mean)}
}

func mapText(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func errRow(e string) []row {
	if e == "" {
		return nil
	}
	return []row{{"ERROR", e}}
}

func brokerRow(b BrokerStats) row {
	return row{"server broker (delta)", fmt.Sprintf("published %d, delivered %d, dropped %d, slow consumers %d", b.Published, b.Delivered, b.Dropped, b.SlowConsumers)}
}

func (r *FanoutReport) table() []row {
	c := r.Config
	return append(errRow(r.Error),
		row{"scenario", fmt.Sprintf("fanout: %d subscribers, %g msg/s for %s (size %d, batch %t)", c.Subs, c.Rate, c.Duration, c.Size, c.Batch)},
		row{"setup", fmt.Sprintf("%.1f s", r.SetupSeconds)},
		row{"sent / acked / failed", fmt.Sprintf("%d / %d / %d  (%.0f msg/s over %.2f s)", r.Sent, r.Acked, r.Failed, r.SentPerSec, r.SendSeconds)},
		row{"deliveries expected / delivered", fmt.Sprintf("%d / %d", r.Expected, r.Delivered)},
		row{"lost / out of order / gaps", fmt.Sprintf("%d / %d / %d  (drain %.2f s%s)", r.Lost, r.OutOfOrder, r.Gaps, r.DrainSeconds, incomplete(r.Drained))},
		row{"deliveries/s", fmt.Sprintf("%.0f", r.DeliveriesPerSec)},
		latencyRow("delivery latency", r.Latency),
		latencyRow("ack latency", r.AckLatency),
		row{"error replies", mapText(r.ErrorCodes)},
		row{"disconnects", mapText(r.Disconnects)},
		brokerRow(r.Broker),
		cpuRow(r.ServerCPU, r.Delivered, "delivery"),
	)
}

func (r *ChatReport) table() []row {
	c := r.Config
	return append(errRow(r.Error),
		row{"scenario", fmt.Sprintf("chat: %d circles × %d members, %g msg/s for %s (size %d, batch %t)", c.Streams, c.Members, c.Rate, c.Duration, c.Size, c.Batch)},
		row{"setup", fmt.Sprintf("%.1f s, %d connections", r.SetupSeconds, r.Connections)},
		row{"sent / acked / failed", fmt.Sprintf("%d / %d / %d  (send errors %d)", r.Sent, r.Acked, r.Failed, r.SendErrors)},
		row{"offered msg/s", fmt.Sprintf("%.0f over %.2f s", r.OfferedPerSec, r.SendSeconds)},
		row{"stored msg/s", fmt.Sprintf("%.0f", r.StoredPerSec)},
		latencyRow("ack latency", r.AckLatency),
		row{"deliveries expected / delivered", fmt.Sprintf("%d / %d", r.Expected, r.Delivered)},
		row{"lost / out of order / gaps", fmt.Sprintf("%d / %d / %d  (drain %.2f s%s)", r.Lost, r.OutOfOrder, r.Gaps, r.DrainSeconds, incomplete(r.Drained))},
		latencyRow("delivery latency", r.Latency),
		row{"error replies", mapText(r.ErrorCodes)},
		row{"disconnects", mapText(r.Disconnects)},
		brokerRow(r.Broker),
		cpuRow(r.ServerCPU, r.Acked, "stored message"),
	)
}

// cpuRow tells the server's CPU time over a run and per unit of work.
func cpuRow(seconds float64, n int64, unit string) row {
	if seconds <= 0 || n <= 0 {
		return row{"server CPU", "not reported"}
	}
	return row{"server CPU", fmt.Sprintf("%.2f s, %.1f µs per %s", seconds, seconds*1e6/float64(n), unit)}
}

func (r *ConnsReport) table() []row {
	c := r.Config
	rows := append(errRow(r.Error),
		row{"scenario", fmt.Sprintf("conns: %d connections over %d circles, hold %s", c.N, c.Circles, c.Hold)},
		row{"setup", fmt.Sprintf("%.1f s", r.SetupSeconds)},
		row{"opened / failed", fmt.Sprintf("%d / %d  %s", r.Opened, r.Failures, failureText(r))},
		row{"connect rate", fmt.Sprintf("%.0f conns/s (%.2f s, %d dialers)", r.ConnectsPerSec, r.ConnectSeconds, c.Dialers)},
		latencyRow("connect latency", r.ConnectLatency),
		row{"server connections / authenticated", fmt.Sprintf("%d / %d", r.ServerConns, r.ServerAuthed)},
		row{"server memory per conn", fmt.Sprintf("%s (heap %s, stack %s; sys %s)", kib(r.MemPerConn), kib(r.HeapPerConn), kib(r.StackPerConn), kib(r.SysPerConn))},
		row{"server goroutines per conn", fmt.Sprintf("%.2f", r.GoroutinesPer)},
		row{"client memory per conn", kib(r.ClientMemPer)},
		row{"disconnects during hold", mapText(r.Disconnects)},
		row{"close", fmt.Sprintf("%.2f s; server connections after: %d", r.CloseSeconds, r.ConnsAfterClose)},
	)
	return rows
}

func failureText(r *ConnsReport) string {
	if r.Failures == 0 {
		return ""
	}
	return fmt.Sprintf("(%s; first: %s)", mapText(r.FailureKinds), r.FirstFailure)
}

func incomplete(drained bool) string {
	if drained {
		return ""
	}
	return ", INCOMPLETE: gave up waiting"
}

func kib(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/1024) }

// Interface checks.
var (
	_ tabler = (*FanoutReport)(nil)
	_ tabler = (*ConnsReport)(nil)
	_ tabler = (*ChatReport)(nil)
)
