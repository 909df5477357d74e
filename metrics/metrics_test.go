package metrics_test

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/metrics"
)

// scrape reads a Prometheus text page into sample → value; a sample is
// the name with its labels as printed (oshi_connections,
// oshi_store_batch_messages_bucket{le="1"}).
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type = %q, want the Prometheus text format", ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	bs := broker.Stats{Topics: 2, Subscribers: 5, Published: 7, Delivered: 11, Dropped: 3, SlowConsumers: 1}
	gc := metrics.GatewayCounts{Connections: 4, Authenticated: 3, SlowConsumerCloses: 1, LoginThrottled: 2, RateLimited: 6}
	m := metrics.New(metrics.Config{
		Version: "9.9.9",
		Started: time.Now().Add(-time.Minute),
		Sources: metrics.Sources{
			Broker:  func() broker.Stats { return bs },
			Gateway: func() metrics.GatewayCounts { return gc },
		},
	})
	m.ObserveBatch(3, 3, 2*time.Millisecond, nil)
	m.ObserveBatch(2, 1, time.Millisecond, errors.New("duplicate"))
	got := scrape(t, m.Handler())
	want := map[string]float64{
		"oshi_connections":                         4,
		"oshi_authenticated_sessions":              3,
		"oshi_slow_consumer_disconnects_total":     1,
		"oshi_login_throttled_total":               2,
		"oshi_rate_limited_total":                  6,
		"oshi_broker_topics":                       2,
		"oshi_subscriptions":                       5,
		"oshi_messages_published_total":            7,
		"oshi_deliveries_total":                    11,
		"oshi_queue_drops_total":                   3,
		"oshi_slow_consumer_refusals_total":        1,
		"oshi_messages_stored_total":               4,
		"oshi_store_write_errors_total":            1,
		"oshi_store_write_seconds_count":           2,
		"oshi_store_batch_messages_sum":            5,
		`oshi_store_batch_messages_bucket{le="2"}`: 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if up := got["oshi_uptime_seconds"]; up < 60 || up > 120 {
		t.Errorf("oshi_uptime_seconds = %v, want about 60", up)
	}
	found := false
	for k, v := range got {
		if strings.HasPrefix(k, "oshi_build_info{") && strings.Contains(k, `version="9.9.9"`) && v == 1 {
			found = true
		}
	}
	if !found {
		t.Error("no oshi_build_info with the version")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// Counters move with their sources, read at each scrape.
	bs.Delivered += 10
	if got := scrape(t, m.Handler()); got["oshi_deliveries_total"] != 21 {
		t.Errorf("after 10 deliveries: oshi_deliveries_total = %v, want 21", got["oshi_deliveries_total"])
	}
}

// TestSeparateRegistries: two Metrics in one process do not collide, and
// neither touches the default registry.
func TestSeparateRegistries(t *testing.T) {
	a := metrics.New(metrics.Config{})
	b := metrics.New(metrics.Config{})
	a.ObserveBatch(2, 2, time.Millisecond, nil)
	if got := scrape(t, b.Handler())["oshi_messages_stored_total"]; got != 0 {
		t.Errorf("b counted a's messages: %v", got)
	}
	if got := scrape(t, a.Handler())["oshi_messages_stored_total"]; got != 2 {
		t.Errorf("a stored = %v, want 2", got)
	}
	// Nil sources leave their metrics out.
	if _, ok := scrape(t, a.Handler())["oshi_connections"]; ok {
		t.Error("oshi_connections without a gateway source")
	}
}
