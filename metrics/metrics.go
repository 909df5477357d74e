package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oshichat/oshi/broker"
)

// Sources are read at every scrape. Any may be nil: its metrics are then
// left out.
type Sources struct {
	// Broker returns the broker's counters (broker.Broker.Stats).
	Broker func() broker.Stats
	// Gateway returns the gateway's counters.
	Gateway func() GatewayCounts
}

// GatewayCounts mirrors gateway.Counts, which this package does not
// import.
type GatewayCounts struct {
	Connections        int
	Authenticated      int64
	SlowConsumerCloses uint64
	LoginThrottled     uint64
	RateLimited        uint64
	AttachmentsSwept   uint64
}

// Config configures Metrics.
type Config struct {
	// Version is reported by oshi_build_info.
	Version string
	// Sources are the counters read at scrape time.
	Sources Sources
	// Started is the start of oshi_uptime_seconds; zero means now.
	Started time.Time
}

// Metrics is a registry with Oshi's metrics, the Go runtime's and the
// process's. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	stored       prometheus.Counter
	storeErrors  prometheus.Counter
	storeLatency prometheus.Histogram
	batchSize    prometheus.Histogram
}

// New returns Metrics on a fresh registry.
func New(cfg Config) *Metrics {
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "oshi_messages_stored_total",
			Help: "Messages written to the store.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "oshi_store_write_errors_total",
			Help: "Message inserts that failed, wholly or in part (a duplicate nonce included).",
		}),
		storeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "oshi_store_write_seconds",
			Help: "Time taken by one message insert (one batch of the group commit).",
			// 0.5 ms to about 4 s.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "oshi_store_batch_messages",
			Help:    "Messages per insert (group commit batch size).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
	}
	started := cfg.Started
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.stored, m.storeErrors, m.storeLatency, m.batchSize,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "oshi_uptime_seconds",
			Help: "Seconds since the server started.",
		}, func() float64 { return time.Since(started).Seconds() }),
		buildInfo(cfg.Version),
		&sourceCollector{src: cfg.Sources},
	)
	return m
}

// Registry returns the registry, to add an embedder's own metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveBatch records one message insert; it has the signature of
// streams.Config.OnBatch.
func (m *Metrics) ObserveBatch(size, stored int, took time.Duration, err error) {
	m.storeLatency.Observe(took.Seconds())
	m.batchSize.Observe(float64(size))
	m.stored.Add(float64(stored))
	if err != nil {
		m.storeErrors.Inc()
	}
}

// buildInfo is the constant oshi_build_info gauge.
func buildInfo(version string) prometheus.Collector {
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "oshi_build_info",
		Help:        "Always 1; the labels tell the build.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// sourceCollector turns the counters the broker and the gateway keep
// anyway into metrics when scraped.
type sourceCollector struct{ src Sources }

var (
	descConnections = prometheus.NewDesc("oshi_connections",
		"Open WebSocket connections.", nil, nil)
	descAuthenticated = prometheus.NewDesc("oshi_authenticated_sessions",
		"Open WebSocket connections that have authenticated.", nil, nil)
	descSlowClosed = prometheus.NewDesc("oshi_slow_consumer_disconnects_total",
		"Connections closed as slow consumers (close 4008).", nil, nil)
	descThrottled = prometheus.NewDesc("oshi_login_throttled_total",
		"Password checks refused with too_many_attempts by the login throttles.", nil, nil)
	descRateLimited = prometheus.NewDesc("oshi_rate_limited_total",
		"Requests refused with rate_limit by the per-user rate limits (uploads: HTTP 429 rate_limited).", nil, nil)
	descAttachmentsSwept = prometheus.NewDesc("oshi_attachments_swept_total",
		"Uploaded files deleted by the sweep because no message used them within their grace period.", nil, nil)
	descTopics = prometheus.NewDesc("oshi_broker_topics",
		"Broker topics with at least one subscriber.", nil, nil)
	descSubscriptions = prometheus.NewDesc("oshi_subscriptions",
		"Live broker subscriptions (followed streams, circles and control topics).", nil, nil)
	descPublished = prometheus.NewDesc("oshi_messages_published_total",
		"Payloads published to the broker (messages and events), including those that reached nobody.", nil, nil)
	descDelivered = prometheus.NewDesc("oshi_deliveries_total",
		"Payloads accepted by subscribers' queues.", nil, nil)
	descDropped = prometheus.NewDesc("oshi_queue_drops_total",
		"Payloads refused by subscribers' queues, whatever the reason.", nil, nil)
	descSlowRefusals = prometheus.NewDesc("oshi_slow_consumer_refusals_total",
		"Payloads refused because the subscriber's queue was full (its connection is then closed).", nil, nil)
)

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.src.Gateway != nil {
		ch <- descConnections
		ch <- descAuthenticated
		ch <- descSlowClosed
		ch <- descThrottled
		ch <- descRateLimited
		ch <- descAttachmentsSwept
	}
	if c.src.Broker != nil {
		ch <- descTopics
		ch <- descSubscriptions
		ch <- descPublished
		ch <- descDelivered
		ch <- descDropped
		ch <- descSlowRefusals
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Gateway != nil {
		g := c.src.Gateway()
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(g.Connections))
		ch <- prometheus.MustNewConstMetric(descAuthenticated, prometheus.GaugeValue, float64(g.Authenticated))
		ch <- prometheus.MustNewConstMetric(descSlowClosed, prometheus.CounterValue, float64(g.SlowConsumerCloses))
		ch <- prometheus.MustNewConstMetric(descThrottled, prometheus.CounterValue, float64(g.LoginThrottled))
		ch <- prometheus.MustNewConstMetric(descRateLimited, prometheus.CounterValue, float64(g.RateLimited))
		ch <- prometheus.MustNewConstMetric(descAttachmentsSwept, prometheus.CounterValue, float64(g.AttachmentsSwept))
	}
	if c.src.Broker != nil {
		b := c.src.Broker()
		ch <- prometheus.MustNewConstMetric(descTopics, prometheus.GaugeValue, float64(b.Topics))
		ch <- prometheus.MustNewConstMetric(descSubscriptions, prometheus.GaugeValue, float64(b.Subscribers))
		ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(b.Published))
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(b.Delivered))
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(b.Dropped))
		ch <- prometheus.MustNewConstMetric(descSlowRefusals, prometheus.CounterValue, float64(b.SlowConsumers))
	}
}
