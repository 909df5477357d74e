// Package server assembles Oshi: the store (MongoDB, or the embedded
// FerretDB when none is configured), the broker, the circle and stream
// services and the gateway, behind one http.Handler.
//
// cmd/oshid is a thin wrapper around Run; Go programs can instead call New
// and mount Handler in their own http.ServeMux.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/cluster"
	"github.com/oshichat/oshi/gateway"
	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/metrics"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/store/embedded"
	"github.com/oshichat/oshi/streams"
	"github.com/oshichat/oshi/unfurl"
)

// Version is the server version announced in the handshake.
var Version = "0.1.0"

// Config is Oshi's configuration. FromEnv reads it from OSHI_* variables;
// a Go program may fill it directly, where zero values mean the defaults
// shown in the envDefault tags.
type Config struct {
	Addr              string        `env:"OSHI_ADDR" envDefault:"127.0.0.1:7777"`
	MongoURI          string        `env:"OSHI_MONGO_URI"`
	MongoDB           string        `env:"OSHI_MONGO_DB" envDefault:"oshi"`
	DataDir           string        `env:"OSHI_DATA_DIR" envDefault:"./oshi-data"`
	StoreSync         string        `env:"OSHI_STORE_SYNC" envDefault:"full"`
	MaxMessageLength  int           `env:"OSHI_MAX_MESSAGE_LENGTH" envDefault:"4000"`
	MaxFrameBytes     int64         `env:"OSHI_MAX_FRAME_BYTES" envDefault:"65536"`
	QueueBytes        int           `env:"OSHI_QUEUE_BYTES" envDefault:"1048576"`
	AuthTimeout       time.Duration `env:"OSHI_AUTH_TIMEOUT" envDefault:"10s"`
	HeartbeatInterval time.Duration `env:"OSHI_HEARTBEAT_INTERVAL" envDefault:"25s"`
	TokenTTL          time.Duration `env:"OSHI_TOKEN_TTL" envDefault:"720h"`
	LogLevel          string        `env:"OSHI_LOG_LEVEL" envDefault:"info"`
	// LogFormat is text (logfmt-like key=value lines) or json (one JSON
	// object a line).
	LogFormat string `env:"OSHI_LOG_FORMAT" envDefault:"text"`
	// Login throttling: after LoginMaxFailures wrong passwords for one
	// username, or LoginMaxFailuresPerAddr from one client address, within
	// LoginWindow, password checks are refused with too_many_attempts.
	LoginMaxFailures        int           `env:"OSHI_LOGIN_MAX_FAILURES" envDefault:"5"`
	LoginMaxFailuresPerAddr int           `env:"OSHI_LOGIN_MAX_FAILURES_PER_ADDR" envDefault:"20"`
	LoginWindow             time.Duration `env:"OSHI_LOGIN_WINDOW" envDefault:"5m"`
	// MaxConnectionsPerUser bounds one user's connections, per node.
	MaxConnectionsPerUser int `env:"OSHI_MAX_CONNECTIONS_PER_USER" envDefault:"20"`
	// Circle limits, enforced by package circles and announced in the
	// handshake; the defaults are circles.Config's.
	MaxMembersPerCircle int `env:"OSHI_MAX_MEMBERS_PER_CIRCLE" envDefault:"10000"`
	MaxCirclesPerUser   int `env:"OSHI_MAX_CIRCLES_PER_USER" envDefault:"100"`
	MaxStreamsPerCircle int `env:"OSHI_MAX_STREAMS_PER_CIRCLE" envDefault:"200"`
	MaxRolesPerCircle   int `env:"OSHI_MAX_ROLES_PER_CIRCLE" envDefault:"100"`
	// MaxActiveThreads bounds the threads of one stream that are not
	// archived (threads do not count as the circle's streams).
	MaxActiveThreads int `env:"OSHI_MAX_ACTIVE_THREADS" envDefault:"1000"`
	// Rate limits per user, per node, of sending, editing, deleting and
	// reacting, and of typing on its own (gateway.Config tells the rules).
	RateMessagesPerMinute int           `env:"OSHI_RATE_MESSAGES_PER_MINUTE" envDefault:"60"`
	RateBurst             int           `env:"OSHI_RATE_BURST" envDefault:"10"`
	RateBurstWindow       time.Duration `env:"OSHI_RATE_BURST_WINDOW" envDefault:"10s"`
	RateCooldown          time.Duration `env:"OSHI_RATE_COOLDOWN" envDefault:"30s"`
	RateTypingBurst       int           `env:"OSHI_RATE_TYPING_BURST" envDefault:"10"`
	RateTypingWindow      time.Duration `env:"OSHI_RATE_TYPING_WINDOW" envDefault:"10s"`
	// Uploads per user, per node (attachments and custom emoji together;
	// gateway.Config tells the rules).
	RateUploadsPerMinute int           `env:"OSHI_RATE_UPLOADS_PER_MINUTE" envDefault:"20"`
	RateUploadBurst      int           `env:"OSHI_RATE_UPLOAD_BURST" envDefault:"5"`
	RateUploadWindow     time.Duration `env:"OSHI_RATE_UPLOAD_WINDOW" envDefault:"10s"`
	// Attachments: the largest upload in bytes, and the media types
	// accepted (as detected from the bytes).
	AttachmentMaxBytes int64    `env:"OSHI_ATTACHMENT_MAX_BYTES" envDefault:"8388608"`
	AttachmentTypes    []string `env:"OSHI_ATTACHMENT_TYPES" envSeparator:"," envDefault:"image/png,image/jpeg,image/gif,image/webp,text/plain,application/pdf"`
	// AttachmentGrace is how long an upload may stay used by no stored
	// message before it is deleted.
	AttachmentGrace time.Duration `env:"OSHI_ATTACHMENT_GRACE" envDefault:"24h"`
	// Custom emoji: the largest image in bytes, and the most emoji one
	// circle may have.
	MaxEmojiBytes     int64 `env:"OSHI_MAX_EMOJI_BYTES" envDefault:"262144"`
	MaxEmojiPerCircle int   `env:"OSHI_MAX_EMOJI_PER_CIRCLE" envDefault:"50"`
	// MaxBotsPerUser bounds the bot accounts one user may own.
	MaxBotsPerUser int `env:"OSHI_MAX_BOTS_PER_USER" envDefault:"10"`
	// TLSCert and TLSKey are PEM files; when both are set, Serve speaks
	// HTTPS and WSS.
	TLSCert string `env:"OSHI_TLS_CERT"`
	TLSKey  string `env:"OSHI_TLS_KEY"`
	// NATSURL, when set, joins the other nodes using the same NATS and
	// MongoDB (see docs/scaling.md).
	NATSURL string `env:"OSHI_NATS_URL"`
	// AllowedOrigins are host patterns (path.Match syntax) of web pages
	// allowed to open WebSockets besides the server's own origin. Native
	// clients send no Origin and are always allowed.
	AllowedOrigins []string `env:"OSHI_ALLOWED_ORIGINS" envSeparator:","`
	NodeName       string   `env:"OSHI_NODE_NAME"`
	// Link embeds (package unfurl): when Embeds is on, the server fetches
	// the first EmbedLinks http(s) links of each message it stores and
	// stores their title, description and image on the message,
	// announced with message_embeds. Each fetch takes at most
	// EmbedTimeout and reads at most EmbedMaxBytes of the page, and
	// connects only to public addresses.
	Embeds        bool          `env:"OSHI_EMBEDS" envDefault:"false"`
	EmbedTimeout  time.Duration `env:"OSHI_EMBED_TIMEOUT" envDefault:"5s"`
	EmbedMaxBytes int64         `env:"OSHI_EMBED_MAX_BYTES" envDefault:"1048576"`
	EmbedLinks    int           `env:"OSHI_EMBED_LINKS" envDefault:"3"`

	// Logger receives the server's logs; nil means a logger on standard
	// error at LogLevel in LogFormat.
	Logger *slog.Logger `env:"-"`
	// Hooks take part in connections and messages (package hooks).
	Hooks []hooks.Hook `env:"-"`
	// PollMinExpiry is the shortest poll expiry poll_create accepts; 0
	// means a minute. For tests.
	PollMinExpiry time.Duration `env:"-"`
	// EmbedFetcher, when set, configures the link embeds' fetcher in
	// place of EmbedTimeout and EmbedMaxBytes (Embeds must still be on).
	// For tests and embedders: its AllowPrivate, which lets the fetcher
	// reach loopback and private addresses, is unsafe anywhere else.
	EmbedFetcher *unfurl.Config `env:"-"`
}

// FromEnv reads the configuration from the environment. Errors name the
// variable at fault.
func FromEnv() (Config, error) {
	cfg, err := env.ParseAs[Config]()
	if err != nil {
		return cfg, fmt.Errorf("configuration: %w", nameVariables(err))
	}
	return cfg, cfg.Validate()
}

// nameVariables rewrites env's parse errors, which name struct fields, to
// name the environment variable a person has to fix.
func nameVariables(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeFor[Config]()
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				errs = append(errs, fmt.Errorf("%s: %w", f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// Validate checks the values FromEnv cannot: ranges, log levels, and
// that the TLS files come in pairs.
func (c Config) Validate() error {
	var errs []error
	positive := []struct {
		name string
		ok   bool
	}{
		{"OSHI_MAX_MESSAGE_LENGTH", c.MaxMessageLength >= 0},
		{"OSHI_MAX_FRAME_BYTES", c.MaxFrameBytes >= 0},
		{"OSHI_QUEUE_BYTES", c.QueueBytes >= 0},
		{"OSHI_AUTH_TIMEOUT", c.AuthTimeout >= 0},
		{"OSHI_HEARTBEAT_INTERVAL", c.HeartbeatInterval >= 0},
		{"OSHI_TOKEN_TTL", c.TokenTTL >= 0},
		{"OSHI_LOGIN_MAX_FAILURES", c.LoginMaxFailures >= 0},
		{"OSHI_LOGIN_MAX_FAILURES_PER_ADDR", c.LoginMaxFailuresPerAddr >= 0},
		{"OSHI_LOGIN_WINDOW", c.LoginWindow >= 0},
		{"OSHI_MAX_CONNECTIONS_PER_USER", c.MaxConnectionsPerUser >= 0},
		{"OSHI_MAX_MEMBERS_PER_CIRCLE", c.MaxMembersPerCircle >= 0},
		{"OSHI_MAX_CIRCLES_PER_USER", c.MaxCirclesPerUser >= 0},
		{"OSHI_MAX_STREAMS_PER_CIRCLE", c.MaxStreamsPerCircle >= 0},
		{"OSHI_MAX_ROLES_PER_CIRCLE", c.MaxRolesPerCircle >= 0},
		{"OSHI_MAX_ACTIVE_THREADS", c.MaxActiveThreads >= 0},
		{"OSHI_RATE_MESSAGES_PER_MINUTE", c.RateMessagesPerMinute >= 0},
		{"OSHI_RATE_BURST", c.RateBurst >= 0},
		{"OSHI_RATE_BURST_WINDOW", c.RateBurstWindow >= 0},
		{"OSHI_RATE_COOLDOWN", c.RateCooldown >= 0},
		{"OSHI_RATE_TYPING_BURST", c.RateTypingBurst >= 0},
		{"OSHI_RATE_TYPING_WINDOW", c.RateTypingWindow >= 0},
		{"OSHI_RATE_UPLOADS_PER_MINUTE", c.RateUploadsPerMinute >= 0},
		{"OSHI_RATE_UPLOAD_BURST", c.RateUploadBurst >= 0},
		{"OSHI_RATE_UPLOAD_WINDOW", c.RateUploadWindow >= 0},
		{"OSHI_ATTACHMENT_GRACE", c.AttachmentGrace >= 0},
		{"OSHI_ATTACHMENT_MAX_BYTES", c.AttachmentMaxBytes >= 0},
		{"OSHI_EMBED_TIMEOUT", c.EmbedTimeout >= 0},
		{"OSHI_EMBED_MAX_BYTES", c.EmbedMaxBytes >= 0},
		{"OSHI_EMBED_LINKS", c.EmbedLinks >= 0},
		{"OSHI_MAX_EMOJI_BYTES", c.MaxEmojiBytes >= 0},
		{"OSHI_MAX_EMOJI_PER_CIRCLE", c.MaxEmojiPerCircle >= 0},
		{"OSHI_MAX_BOTS_PER_USER", c.MaxBotsPerUser >= 0},
	}
	for _, p := range positive {
		if !p.ok {
			errs = append(errs, fmt.Errorf("configuration: %s must not be negative", p.name))
		}
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("configuration: OSHI_LOG_FORMAT must be text or json, not %q", c.LogFormat))
	}
	if c.StoreSync != "" && c.StoreSync != "full" && c.StoreSync != "normal" {
		errs = append(errs, fmt.Errorf("configuration: OSHI_STORE_SYNC must be full or normal, not %q", c.StoreSync))
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		errs = append(errs, errors.New("configuration: OSHI_TLS_KEY must be set when OSHI_TLS_CERT is"))
	case c.TLSKey != "" && c.TLSCert == "":
		errs = append(errs, errors.New("configuration: OSHI_TLS_CERT must be set when OSHI_TLS_KEY is"))
	}
	return errors.Join(errs...)
}

// ParseLevel reads OSHI_LOG_LEVEL: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("configuration: OSHI_LOG_LEVEL must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// NewLogger returns a logger writing to w at level (OSHI_LOG_LEVEL) in
// format (OSHI_LOG_FORMAT: text or json); bad values mean info and text,
// Validate reports them.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	l, _ := ParseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (c *Config) defaults() {
	d, _ := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}})
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.MongoDB == "" {
		c.MongoDB = d.MongoDB
	}
	if c.DataDir == "" {
		c.DataDir = d.DataDir
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = d.TokenTTL
	}
	if c.Logger == nil {
		c.Logger = NewLogger(os.Stderr, c.LogLevel, c.LogFormat)
	}
	// The remaining zero values are defaulted by the packages themselves.
}

// Server is a running Oshi.
type Server struct {
	cfg      Config
	log      *slog.Logger
	embedded *embedded.Server
	store    *store.Mongo
	broker   *broker.Broker
	circles  *circles.Service
	streams  *streams.Service
	gateway  *gateway.Gateway
	cluster  *cluster.Node
	auth     *auth.Service
	metrics  *metrics.Metrics
	handler  http.Handler // the gateway, and /metrics
	tls      *tls.Config  // nil: plain HTTP
}

// New connects to the store (starting the embedded one when MongoURI is
// empty) and builds the server. Shutdown releases it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	started := time.Now()
	if cfg.TLSCert != "" {
		// Loaded now, so a bad file stops start-up; a renewed certificate
		// takes a restart.
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("configuration: OSHI_TLS_CERT and OSHI_TLS_KEY: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	uri := cfg.MongoURI
	if uri == "" {
		emb, err := embedded.Start(embedded.Config{Dir: cfg.DataDir, Sync: cfg.StoreSync, Logger: ferretLogger(cfg.Logger)})
		if err != nil {
			return nil, err
		}
		s.embedded = emb
		uri = emb.LocalURI()
		// The TCP address: the one other nodes and tools can use.
		s.log.Info("embedded store started", "uri", emb.URI()+cfg.MongoDB, "dir", cfg.DataDir)
	}
	st, err := store.OpenMongo(ctx, store.MongoConfig{URI: uri, Database: cfg.MongoDB})
	if err != nil {
		s.closeEmbedded()
		return nil, err
	}
	if s.embedded != nil {
		// Once OpenMongo has made the collections.
		if err := s.embedded.IndexIDs(ctx, st.Database().Name()); err != nil {
			_ = st.Close(ctx)
			s.closeEmbedded()
			return nil, err
		}
	}
	s.store = st
	authSvc, err := auth.NewService(st, cfg.TokenTTL)
	if err != nil {
		_ = st.Close(ctx)
		s.closeEmbedded()
		return nil, err
	}
	s.metrics = metrics.New(metrics.Config{Version: Version, Started: started, Sources: metrics.Sources{
		Broker: func() broker.Stats { return s.broker.Stats() },
		Gateway: func() metrics.GatewayCounts {
			return metrics.GatewayCounts(s.gateway.Counts())
		},
	}})
	var (
		peers   gateway.Peers
		sharing streams.Cluster
	)
	if cfg.NATSURL != "" {
		node, err := cluster.Connect(cluster.Config{URL: cfg.NATSURL, Name: cfg.NodeName, Logger: s.log})
		if err != nil {
			_ = st.Close(ctx)
			s.closeEmbedded()
			return nil, err
		}
		s.cluster, peers, sharing = node, node, node
	}
	s.auth = authSvc
	s.broker = broker.New(broker.Config{})
	s.circles = circles.NewService(st, circles.Config{
		MaxMembers: cfg.MaxMembersPerCircle,
		MaxCircles: cfg.MaxCirclesPerUser,
		MaxStreams: cfg.MaxStreamsPerCircle,
		MaxRoles:   cfg.MaxRolesPerCircle,
		MaxEmoji:   cfg.MaxEmojiPerCircle,

		MaxActiveThreads: cfg.MaxActiveThreads,
	})
	s.streams = streams.NewService(st, s.circles, streams.Config{
		MaxMessageLength: cfg.MaxMessageLength,
		OnStored:         gateway.Fanout(s.broker),
		OnChanged:        gateway.ChangeFanout(s.broker, peers),
		Hooks:            cfg.Hooks,
		Cluster:          sharing,
		Logger:           s.log,
		OnBatch:          s.metrics.ObserveBatch,
		PollMinExpiry:    cfg.PollMinExpiry,
		Embeds:           embedsConfig(cfg),
	})
	s.gateway = gateway.New(gateway.Config{
		Version:           Version,
		MaxMessageLength:  cfg.MaxMessageLength,
		MaxFrameBytes:     cfg.MaxFrameBytes,
		QueueBytes:        cfg.QueueBytes,
		AuthTimeout:       cfg.AuthTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		AllowedOrigins:    cfg.AllowedOrigins,
		Logger:            s.log,

		LoginMaxFailures:        cfg.LoginMaxFailures,
		LoginMaxFailuresPerAddr: cfg.LoginMaxFailuresPerAddr,
		LoginWindow:             cfg.LoginWindow,
		MaxConnectionsPerUser:   cfg.MaxConnectionsPerUser,

		RateMessagesPerMinute: cfg.RateMessagesPerMinute,
		RateBurst:             cfg.RateBurst,
		RateBurstWindow:       cfg.RateBurstWindow,
		RateCooldown:          cfg.RateCooldown,
		RateTypingBurst:       cfg.RateTypingBurst,
		RateTypingWindow:      cfg.RateTypingWindow,
		RateUploadsPerMinute:  cfg.RateUploadsPerMinute,
		RateUploadBurst:       cfg.RateUploadBurst,
		RateUploadWindow:      cfg.RateUploadWindow,
		AttachmentGrace:       cfg.AttachmentGrace,

		AttachmentMaxBytes: cfg.AttachmentMaxBytes,
		AttachmentTypes:    cfg.AttachmentTypes,
		EmojiMaxBytes:      cfg.MaxEmojiBytes,
		MaxBotsPerUser:     cfg.MaxBotsPerUser,
	}, gateway.Services{Store: st, Auth: authSvc, Circles: s.circles, Streams: s.streams, Broker: s.broker, Peers: peers, Hooks: cfg.Hooks})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("/", s.gateway)
	s.handler = mux
	if s.cluster != nil {
		if err := s.cluster.SubscribeEvents(s.gateway.ReceiveEvent); err != nil {
			_ = s.Shutdown(ctx)
			return nil, err
		}
		s.log.Info("joined cluster", "nats", redactURLs(cfg.NATSURL), "node", cfg.NodeName)
	}
	return s, nil
}

// Handler returns the HTTP API, the WebSocket endpoint and GET /metrics,
// for mounting in a Go program's own server.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the server's Prometheus metrics; an embedder may
// register its own on Metrics().Registry().
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Store returns the store, for tools and tests that inspect documents.
func (s *Server) Store() *store.Mongo { return s.store }

// Broker returns the broker that fans messages out.
func (s *Server) Broker() *broker.Broker { return s.broker }

// Streams returns the stream service, to post messages from Go.
func (s *Server) Streams() *streams.Service { return s.streams }

// Circles returns the circle service, to manage circles from Go.
func (s *Server) Circles() *circles.Service { return s.circles }

// Auth returns the account service, to create users from Go.
func (s *Server) Auth() *auth.Service { return s.auth }

// Run serves on cfg.Addr until ctx ends, then shuts down within
// shutdownTimeout.
func (s *Server) Run(ctx context.Context, shutdownTimeout time.Duration) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ctx, ln, shutdownTimeout)
}

// Serve serves on ln until ctx ends, then shuts down within
// shutdownTimeout. With TLSCert and TLSKey it serves HTTPS (and so WSS).
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.tls}
	errc := make(chan error, 1)
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ln) }()
	}
	s.log.Info("oshid listening", "addr", ln.Addr().String(), "scheme", scheme, "version", Version)
	select {
	case err := <-errc:
		_ = s.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Stop accepting first; hijacked WebSockets are closed by Shutdown.
	_ = hs.Shutdown(sctx)
	return s.Shutdown(sctx)
}

// Shutdown stops taking commands, stores the messages already accepted
// and sends their acknowledgements, closes every connection with 1012, and
// releases the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	s.gateway.Quiesce()
	if err := s.streams.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.gateway.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close gateway: %w", err))
	}
	s.broker.Close()
	if s.cluster != nil {
		if err := s.cluster.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.store.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	s.closeEmbedded()
	return errors.Join(errs...)
}

func (s *Server) closeEmbedded() {
	if s.embedded != nil {
		_ = s.embedded.Close()
		s.embedded = nil
	}
}

// ferretLogger keeps FerretDB's errors only: its info and warning lines
// log every connection and failed command.
func ferretLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{inner: l.Handler(), min: slog.LevelError}).With("component", "ferretdb")
}

// levelFilter passes on the records at min and above. Attributes and
// groups added by With are applied to the inner handler only when a
// record passes: FerretDB adds them for every SQL statement it runs, and
// a text or JSON handler formats them at once, which cost 4 % of the
// server's CPU under chat load for records that were all dropped.
type levelFilter struct {
	inner slog.Handler
	min   slog.Level
	ops   []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order, not applied yet
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.inner.Enabled(ctx, l)
}

func (f levelFilter) Handle(ctx context.Context, r slog.Record) error {
	h := f.inner
	for _, op := range f.ops {
		h = op(h)
	}
	return h.Handle(ctx, r)
}

func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return f
	}
	return f.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(as) })
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	if name == "" {
		return f
	}
	return f.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

// with returns f with op added; Clip keeps siblings from sharing ops.
func (f levelFilter) with(op func(slog.Handler) slog.Handler) levelFilter {
	return levelFilter{f.inner, f.min, append(slices.Clip(f.ops), op)}
}

// redactURLs hides the passwords in a comma-separated list of URLs, for
// logging.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
