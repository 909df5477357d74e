package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

func testCommon(s *oshitest.Server, batch bool) Common {
	return Common{URL: s.URL, Timeout: Duration(time.Minute), Users: 4, Dialers: 8, Spread: true, Batch: batch}
}

func checkLatency(t *testing.T, name string, l Latency, n int64) {
	t.Helper()
	if l.N != n || l.P50 <= 0 || l.P99 < l.P50 || l.P999 < l.P99 || l.Max < l.P999 {
		t.Errorf("%s = %+v, want %d samples with 0 < p50 ≤ p99 ≤ p99.9 ≤ max", name, l, n)
	}
}

func TestFanout(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "batch"}[batch], func(t *testing.T) {
			s := oshitest.NewServer(t, server.Config{})
			cfg := FanoutConfig{Common: testCommon(s, batch), Subs: 5, Rate: 50, Duration: Duration(time.Second)}
			cfg.Size = 100
			rep, err := runFanout(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sent != 50 || rep.Acked != rep.Sent || rep.Failed != 0 {
				t.Errorf("sent %d, acked %d, failed %d; want 50 acked", rep.Sent, rep.Acked, rep.Failed)
			}
			if rep.Expected != 250 || rep.Delivered != rep.Expected || rep.Lost != 0 || rep.OutOfOrder != 0 || rep.Gaps != 0 {
				t.Errorf("expected %d, delivered %d, lost %d, out of order %d, gaps %d; want 250 delivered in order",
					rep.Expected, rep.Delivered, rep.Lost, rep.OutOfOrder, rep.Gaps)
			}
			if !rep.Drained {
				t.Error("drain incomplete")
			}
			checkLatency(t, "latency", rep.Latency, 250)
			checkLatency(t, "ack latency", rep.AckLatency, 50)
			if rep.Disconnects != nil || rep.Broker.Delivered != 250 {
				t.Errorf("disconnects %v, broker %+v", rep.Disconnects, rep.Broker)
			}
		})
	}
}

func TestConns(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	cfg := ConnsConfig{Common: testCommon(s, false), N: 20, Circles: 3, Hold: Duration(100 * time.Millisecond)}
	rep, err := runConns(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Opened != 20 || rep.Failures != 0 || rep.ServerConns != 20 || rep.ServerAuthed != 20 {
		t.Errorf("opened %d, failed %d, server sees %d (%d authenticated); want 20", rep.Opened, rep.Failures, rep.ServerConns, rep.ServerAuthed)
	}
	if rep.ConnectsPerSec <= 0 || rep.MemPerConn <= 0 || rep.GoroutinesPer <= 0 {
		t.Errorf("connects/s %.1f, memory per conn %d, goroutines per conn %.2f; want > 0", rep.ConnectsPerSec, rep.MemPerConn, rep.GoroutinesPer)
	}
	checkLatency(t, "connect latency", rep.ConnectLatency, 20)
	if rep.Disconnects != nil || rep.ConnsAfterClose != 0 {
		t.Errorf("disconnects %v, server connections after close %d", rep.Disconnects, rep.ConnsAfterClose)
	}
}

func TestChat(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	cfg := ChatConfig{Common: testCommon(s, false), Streams: 5, Members: 2, Rate: 50, Duration: Duration(time.Second)}
	rep, err := runChat(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 50 || rep.Acked != rep.Sent || rep.Failed != 0 || rep.SendErrors != 0 {
		t.Errorf("sent %d, acked %d, failed %d, send errors %d; want 50 acked", rep.Sent, rep.Acked, rep.Failed, rep.SendErrors)
	}
	if rep.Expected != 100 || rep.Delivered != rep.Expected || rep.Lost != 0 || rep.OutOfOrder != 0 || rep.Gaps != 0 {
		t.Errorf("expected %d, delivered %d, lost %d, out of order %d, gaps %d; want 100 delivered in order",
			rep.Expected, rep.Delivered, rep.Lost, rep.OutOfOrder, rep.Gaps)
	}
	if rep.StoredPerSec < 30 || rep.StoredPerSec > 70 {
		t.Errorf("stored %.1f msg/s, want about 50", rep.StoredPerSec)
	}
	if !rep.Drained {
		t.Error("drain incomplete")
	}
	checkLatency(t, "ack latency", rep.AckLatency, 50)
	checkLatency(t, "latency", rep.Latency, 100)
}

// TestRunOutput checks the command line: one JSON line, then the table.
func TestRunOutput(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	var out, errOut bytes.Buffer
	code := run([]string{"-url", s.URL, "-users", "2", "chat", "-streams", "2", "-members", "2", "-rate", "20", "-duration", "500ms", "-timeout", "1m"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	first, rest, _ := strings.Cut(out.String(), "\n")
	var rep ChatReport
	if err := json.Unmarshal([]byte(first), &rep); err != nil {
		t.Fatalf("first line is not a report: %v\n%s", err, first)
	}
	if rep.Scenario != "chat" || rep.Config.Streams != 2 || rep.Config.Timeout != Duration(time.Minute) || rep.Acked != 10 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rest, "stored msg/s") {
		t.Errorf("no table after the JSON line:\n%s", rest)
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"nosuch"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown scenario") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(int64(i) * int64(time.Millisecond) / 10) // 0.1 … 100 ms
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}} {
		if got := h.quantile(c.q); got < c.want*0.97 || got > c.want*1.03 {
			t.Errorf("quantile(%g) = %.3f ms, want %.1f ± 3%%", c.q, got, c.want)
		}
	}
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1 << 20, 1<<63 + 5} {
		i := bucketOf(us)
		if i < 0 || i >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", us, i)
		}
		if mid := bucketMid(i); us >= 64 && (mid < float64(us)*0.97 || mid > float64(us)*1.03) {
			t.Errorf("bucketMid(bucketOf(%d)) = %.0f, not within 3%%", us, mid)
		}
	}
}

func TestScan(t *testing.T) {
	event := []byte(`{"cmd":"message_new","stream":"s1","message":{"id":"m","stream":"s1","seq":42,"author":{"id":"u","username":"a_1"},"content":"1700000000123456789 pad","created_at":"2026-01-01T00:00:00Z"}}`)
	if cmd, ref := scanCmd(event); cmd != "message_new" || ref != 0 {
		t.Errorf("scanCmd(event) = %q, %d", cmd, ref)
	}
	if seq, ok := scanInt(event, `"seq":`); seq != 42 || !ok {
		t.Errorf("seq = %d, %t", seq, ok)
	}
	if ts := scanContentTime(event); ts != 1700000000123456789 {
		t.Errorf("content time = %d", ts)
	}
	if cmd, ref := scanCmd([]byte(`{"cmd":"message_new","ref":17,"message":{}}`)); cmd != "message_new" || ref != 17 {
		t.Errorf("scanCmd(ack) = %q, %d", cmd, ref)
	}
	// Frames that do not start with cmd fall back to a JSON decode.
	if cmd, ref := scanCmd([]byte(`{"ref":3, "cmd":"error"}`)); cmd != "error" || ref != 3 {
		t.Errorf("scanCmd(reordered) = %q, %d", cmd, ref)
	}
	if ts := scanContentTime([]byte(`{"cmd":"message_new","message":{"content":"hello"}}`)); ts != 0 {
		t.Errorf("content time of text = %d, want 0", ts)
	}
}
