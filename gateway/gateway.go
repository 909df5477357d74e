package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// Config configures a Gateway. Zero values mean the documented defaults.
type Config struct {
	// ServerName and Version are announced in the handshake; defaults
	// "oshi" and "dev".
	ServerName, Version string
	// MaxMessageLength is announced in the handshake; 0 means 4000.
	MaxMessageLength int
	// MaxFrameBytes is the largest frame a client may send; a bigger one
	// closes the connection with 1009. 0 means 64 KiB.
	MaxFrameBytes int64
	// QueueBytes bounds the bytes waiting to be written to one
	// connection; past it the client is a slow consumer and is closed with
	// 4008. 0 means 1 MiB.
	QueueBytes int
	// MaxSubscriptions bounds the streams one connection follows; 0 means 1000.
	MaxSubscriptions int
	// AuthTimeout is how long a new connection has to authenticate; 0
	// means 10s.
	AuthTimeout time.Duration
	// HeartbeatInterval is how often the server pings; a connection silent
	// for three intervals is closed. 0 means 25s.
	HeartbeatInterval time.Duration
	// AllowedOrigins are host patterns (path.Match syntax) of web pages
	// allowed to connect besides the server's own origin. Requests without
	// an Origin header (native clients) are always allowed.
	AllowedOrigins []string
	// LoginMaxFailures is how many wrong passwords one username may get
	// within LoginWindow before password checks for it are refused with
	// too_many_attempts; 0 means 5.
	LoginMaxFailures int
	// LoginMaxFailuresPerAddr is the same limit per client address (the
	// IP; the /64 for IPv6); 0 means 20.
	LoginMaxFailuresPerAddr int
	// LoginWindow is the sliding window of both limits; 0 means 5m.
	LoginWindow time.Duration
	// MaxConnectionsPerUser bounds the authenticated connections of one
	// user on this gateway (so per node in a cluster); 0 means 20.
	MaxConnectionsPerUser int
	// Rate limits count the commands message_new, message_edit,
	// message_delete, message_react_add and message_react_remove of one
	// user across all the user's connections on this gateway (so per node
	// in a cluster). At most RateBurst of them in any RateBurstWindow: the
	// request that would exceed it is refused and starts a cooldown of
	// RateCooldown during which all of them are refused. At most
	// RateMessagesPerMinute in any 60 s. A refused request is answered
	// rate_limit and does nothing. Defaults: 60 a minute, 10 in 10s, 30s.
	RateMessagesPerMinute int
	RateBurst             int
	RateBurstWindow       time.Duration
	RateCooldown          time.Duration
	// RateTypingBurst and RateTypingWindow limit typing on its own: at
	// most RateTypingBurst in any RateTypingWindow, no cooldown; typing
	// and the message commands do not count against each other. Defaults:
	// 10 in 10s.
	RateTypingBurst  int
	RateTypingWindow time.Duration
	// RateUploadsPerMinute, RateUploadBurst and RateUploadWindow limit
	// the uploads (POST /api/attachments and POST
	// /api/circles/{circle}/emoji together) of one user on this gateway:
	// at most RateUploadBurst in any RateUploadWindow and
	// RateUploadsPerMinute in any 60 s, no cooldown. A refused upload is
	// answered 429 rate_limited with Retry-After before its body is read
	// (uploads.go). Defaults: 20 a minute, 5 in 10s.
	RateUploadsPerMinute int
	RateUploadBurst      int
	RateUploadWindow     time.Duration
	// AttachmentGrace is how long an upload may stay used by no stored
	// message: past it, message_new may no longer name it and a periodic
	// sweep deletes it (uploads.go); 0 means 24h.
	AttachmentGrace time.Duration
	// AttachmentMaxBytes is the largest file POST /api/attachments
	// accepts (larger: 413); 0 means 8 MiB.
	AttachmentMaxBytes int64
	// AttachmentTypes are the media types an upload may have, as
	// http.DetectContentType reads them from its first bytes, without
	// parameters (text/plain, not text/plain; charset=utf-8); others get
	// 415. Empty means DefaultAttachmentTypes.
	AttachmentTypes []string
	// EmojiMaxBytes is the largest image POST /api/circles/{circle}/emoji
	// accepts (larger: 413); 0 means 256 KiB.
	EmojiMaxBytes int64
	// MaxBotsPerUser bounds the bots one user may own (POST /api/bots,
	// bots.go); 0 means 10.
	MaxBotsPerUser int
	// Logger receives connection logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.ServerName == "" {
		c.ServerName = "oshi"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.MaxMessageLength == 0 {
		c.MaxMessageLength = 4000
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = 64 << 10
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 1 << 20
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = 1000
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = 10 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 25 * time.Second
	}
	if c.LoginMaxFailures == 0 {
		c.LoginMaxFailures = 5
	}
	if c.LoginMaxFailuresPerAddr == 0 {
		c.LoginMaxFailuresPerAddr = 20
	}
	if c.LoginWindow == 0 {
		c.LoginWindow = 5 * time.Minute
	}
	if c.MaxConnectionsPerUser == 0 {
		c.MaxConnectionsPerUser = 20
	}
	if c.RateMessagesPerMinute == 0 {
		c.RateMessagesPerMinute = 60
	}
	if c.RateBurst == 0 {
		c.RateBurst = 10
	}
	if c.RateBurstWindow == 0 {
		c.RateBurstWindow = 10 * time.Second
	}
	if c.RateCooldown == 0 {
		c.RateCooldown = 30 * time.Second
	}
	if c.RateTypingBurst == 0 {
		c.RateTypingBurst = 10
	}
	if c.RateTypingWindow == 0 {
		c.RateTypingWindow = 10 * time.Second
	}
	if c.AttachmentMaxBytes == 0 {
		c.AttachmentMaxBytes = 8 << 20
	}
	if c.RateUploadsPerMinute == 0 {
		c.RateUploadsPerMinute = 20
	}
	if c.RateUploadBurst == 0 {
		c.RateUploadBurst = 5
	}
	if c.RateUploadWindow == 0 {
		c.RateUploadWindow = 10 * time.Second
	}
	if c.AttachmentGrace == 0 {
		c.AttachmentGrace = 24 * time.Hour
	}
	if len(c.AttachmentTypes) == 0 {
		c.AttachmentTypes = DefaultAttachmentTypes
	}
	if c.EmojiMaxBytes == 0 {
		c.EmojiMaxBytes = 256 << 10
	}
	if c.MaxBotsPerUser == 0 {
		c.MaxBotsPerUser = 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Services are the parts of Oshi a Gateway serves.
type Services struct {
	Store   store.Store
	Auth    *auth.Service
	Circles *circles.Service
	Streams *streams.Service
	Broker  *broker.Broker
	// Peers, when set, carries control events to the other nodes of a
	// cluster; their events come back through Gateway.ReceiveEvent.
	Peers Peers
	// Hooks learn of connections and may refuse them.
	Hooks hooks.Hooks
}

// Peers sends control events (joins, leaves, new streams, revoked
// sessions) to the other nodes; package cluster implements it.
type Peers interface {
	PublishEvent(topic string, payload []byte)
}

// Gateway serves Oshi's HTTP API and WebSocket protocol. It is an
// http.Handler.
type Gateway struct {
	cfg Config
	svc Services
	log *slog.Logger
	mux *http.ServeMux

	handshake []byte
	ping      []byte

	mu      sync.Mutex
	conns   map[*conn]struct{}
	perUser map[string]int // authenticated connections by user id
	closed  bool
	wg      sync.WaitGroup // one per connection

	// Failed password checks by username and by client address.
	userThrottle, addrThrottle *auth.Throttle
	// Limited commands by user (ratelimit.go).
	rate *rateLimits

	stop chan struct{}
	done chan struct{} // heartbeat loop ended

	started  time.Time
	authed   atomic.Int64 // authenticated connections
	quiesced atomic.Bool  // refusing new commands: shutting down

	slowClosed atomic.Uint64 // connections closed as slow consumers
	throttled  atomic.Uint64 // password checks refused by the login throttles

	poller   *poller        // parked connections' sockets; nil where there is none
	writers  *writerPool    // writes for sockets that take them without waiting; nil with no poller
	voice    *voiceRegistry // voice sessions (voice.go)
	presence *presenceHub   // who is online (presence.go)

	// interactionSweep is when this node last deleted expired
	// interactions, unix ns (bots.go).
	interactionSweep atomic.Int64

	// sweepDone is closed when the sweep of unattached uploads ends
	// (uploads.go); swept counts the files it deleted.
	sweepDone chan struct{}
	swept     atomic.Uint64
}

// New returns a Gateway and starts its heartbeat loop; Close stops both.
func New(cfg Config, svc Services) *Gateway {
	cfg.defaults()
	g := &Gateway{
		cfg:     cfg,
		svc:     svc,
		log:     cfg.Logger,
		mux:     http.NewServeMux(),
		conns:   make(map[*conn]struct{}),
		perUser: make(map[string]int),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),

		userThrottle: auth.NewThrottle(cfg.LoginMaxFailures, cfg.LoginWindow, nil),
		addrThrottle: auth.NewThrottle(cfg.LoginMaxFailuresPerAddr, cfg.LoginWindow, nil),
		rate:         newRateLimits(&cfg, time.Now),

		started: time.Now(),
	}
	circleLimits := svc.Circles.Limits()
	g.handshake = encode(handshakeFrame{
		Cmd: "handshake",
		Val: handshakeVal{
			Server: serverInfo{Name: cfg.ServerName, Version: cfg.Version},
			Limits: Limits{
				MaxMessageLength: cfg.MaxMessageLength,
				MaxFrameBytes:    cfg.MaxFrameBytes,
				MaxSubscriptions: cfg.MaxSubscriptions,
				HistoryLimit:     streams.MaxHistory,
				QueueBytes:       cfg.QueueBytes,
				AuthTimeoutMS:    cfg.AuthTimeout.Milliseconds(),

				MaxMembersPerCircle: circleLimits.MaxMembers,
				MaxCirclesPerUser:   circleLimits.MaxCircles,
				MaxStreamsPerCircle: circleLimits.MaxStreams,
				MaxRolesPerCircle:   circleLimits.MaxRoles,
				MaxActiveThreads:    circleLimits.MaxActiveThreads,

				MessagesPerMinute: cfg.RateMessagesPerMinute,
				Burst:             cfg.RateBurst,
				BurstWindowMS:     cfg.RateBurstWindow.Milliseconds(),
				CooldownMS:        cfg.RateCooldown.Milliseconds(),
				TypingBurst:       cfg.RateTypingBurst,
				TypingWindowMS:    cfg.RateTypingWindow.Milliseconds(),

				UploadsPerMinute:  cfg.RateUploadsPerMinute,
				UploadBurst:       cfg.RateUploadBurst,
				UploadWindowMS:    cfg.RateUploadWindow.Milliseconds(),
				AttachmentGraceMS: cfg.AttachmentGrace.Milliseconds(),

				MaxAttachmentBytes: cfg.AttachmentMaxBytes,

				MaxEmojiBytes:     cfg.EmojiMaxBytes,
				MaxEmojiPerCircle: circleLimits.MaxEmoji,
				MaxEmojiSide:      MaxEmojiSide,
			},
			HeartbeatMS:     cfg.HeartbeatInterval.Milliseconds(),
			AttachmentTypes: cfg.AttachmentTypes,
		},
	})
	g.ping = encode(header{Cmd: "ping"})
	g.mux.HandleFunc("POST /api/register", g.register)
	g.mux.HandleFunc("POST /api/login", g.login)
	g.mux.HandleFunc("POST /api/logout", g.logout)
	g.mux.HandleFunc("POST /api/password", g.changePassword)
	g.mux.HandleFunc("POST /api/attachments", g.uploadAttachment)
	g.mux.HandleFunc("GET /api/attachments/{id}", g.downloadAttachment)
	g.mux.HandleFunc("POST /api/circles/{circle}/emoji", g.uploadEmoji)
	g.mux.HandleFunc("GET /api/emoji/{id}", g.downloadEmoji)
	g.mux.HandleFunc("GET /healthz", g.healthz)
	g.mux.HandleFunc("GET /readyz", g.readyz)
	g.mux.HandleFunc("GET /api/stats", g.stats)
	g.mux.HandleFunc("GET /ws", g.serveWS)
	g.mux.Handle("POST /api/webhooks/{id}/{token}", newWebhookPoster(g))
	g.routeBots() // bots.go
	if p, err := newPoller(); err == nil {
		g.poller = p
		g.writers = newWriterPool(runtime.GOMAXPROCS(0))
	} else if runtime.GOOS == "linux" {
		g.log.Warn("idle connections keep a reader goroutine", "err", err)
	}
	g.voice = newVoiceRegistry(g)
	g.presence = newPresenceHub(g)
	g.presence.start()
	g.startSweep() // uploads.go
	go g.heartbeat()
	return g
}

// Fanout returns the streams.Config.OnStored callback that publishes each
// stored message to its stream's subscribers through b, encoded once.
func Fanout(b *broker.Broker) func(*models.Message) {
	return func(m *models.Message) {
		b.Publish(streamTopic(m.StreamID), MessageEvent(m))
	}
}

// ChangeFanout returns the streams.Config.OnChanged callback that
// publishes each change to a stored message to its stream's subscribers
// through b, encoded once, and to the other nodes through peers (nil when
// alone).
func ChangeFanout(b *broker.Broker, peers Peers) func(*streams.Change) {
	return func(c *streams.Change) {
		topic, frame := streamTopic(c.Message.StreamID), ChangeEvent(c)
		b.Publish(topic, frame)
		if peers != nil {
			peers.PublishEvent(topic, frame)
		}
	}
}

// publish sends a control event to this node's subscribers and to the
// other nodes.
func (g *Gateway) publish(topic string, payload []byte) {
	g.svc.Broker.Publish(topic, payload)
	if g.svc.Peers != nil {
		g.svc.Peers.PublishEvent(topic, payload)
	}
}

// membersTopic carries membership changes between nodes, so each node's
// membership cache stays true. Its payload is "<circle> <user> <0|1>".
const membersTopic = "members"

// membership tells the other nodes that a user joined or left a circle.
func (g *Gateway) membership(circleID, userID string, member bool) {
	if g.svc.Peers == nil {
		return
	}
	flag := "0"
	if member {
		flag = "1"
	}
	g.svc.Peers.PublishEvent(membersTopic, []byte(circleID+" "+userID+" "+flag))
}

// ReceiveEvent takes a control event from another node and delivers it
// to this node's subscribers.
func (g *Gateway) ReceiveEvent(topic string, payload []byte) {
	switch topic {
	case membersTopic:
		f := strings.Fields(string(payload))
		if len(f) == 3 {
			g.svc.Circles.Observe(f[0], f[1], f[2] == "1")
			g.svc.Circles.Forget(f[0])
		}
		return
	case rulesTopic:
		g.svc.Circles.Forget(string(payload))
		g.refreshCircle(string(payload))
		return
	case emojiTopic:
		g.svc.Circles.Forget(string(payload))
		return
	case threadsTopic: // threads.go
		g.svc.Circles.Forget(string(payload))
		return
	}
	g.svc.Broker.Publish(topic, payload)
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// Quiesce makes every connection refuse new commands with code
// "unavailable" while replies already under way still go out. A graceful
// shutdown quiesces, lets the stream service store what it accepted, then
// calls Close, so every acknowledgement reaches its client.
func (g *Gateway) Quiesce() { g.quiesced.Store(true) }

// Close closes every connection with 1012 (service restart) and waits for
// their goroutines, or for ctx to end.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	already := g.closed
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	if !already {
		close(g.stop)
	}
	for _, c := range conns {
		c.close(statusRestart, "server restart")
	}
	waited := make(chan struct{})
	go func() {
		g.wg.Wait()
		if g.poller != nil {
			g.poller.Close()
			g.writers.Close()
		}
		<-g.done
		<-g.sweepDone
		close(waited)
	}()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// heartbeat pings every connection each interval and closes those silent
// for three. One loop serves all connections, so an idle connection costs
// no timer of its own.
func (g *Gateway) heartbeat() {
	defer close(g.done)
	t := time.NewTicker(g.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			g.mu.Lock()
			conns := make([]*conn, 0, len(g.conns))
			for c := range g.conns {
				conns = append(conns, c)
			}
			g.mu.Unlock()
			limit := now.Add(-3 * g.cfg.HeartbeatInterval).UnixNano()
			for _, c := range conns {
				if !c.authed.Load() {
					continue // the auth timeout deals with these
				}
				if c.lastSeen.Load() < limit {
					c.close(statusHeartbeat, "heartbeat timeout")
					continue
				}
				c.push(g.ping)
			}
		}
	}
}

func (g *Gateway) track(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return true
}

func (g *Gateway) untrack(c *conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// HTTP API

type httpError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e httpError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func readCredentials(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	var c credentials
	ok := readBody(w, r, &c, "body must be a JSON object with username and password (at most 4 KiB)")
	return c, ok
}

// readBody decodes a JSON request body of at most 4 KiB into v; when it
// cannot, it answers 422 malformed_body with msg.
func readBody(w http.ResponseWriter, r *http.Request, v any, msg string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, msg)
		return false
	}
	return true
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(token), ok
}

func (g *Gateway) register(w http.ResponseWriter, r *http.Request) {
	c, ok := readCredentials(w, r)
	if !ok {
		return
	}
	login, err := g.svc.Auth.Register(r.Context(), c.Username, c.Password)
	switch {
	case err == nil:
		writeJSON(w, http.StatusCreated, login)
	case errors.Is(err, auth.ErrInvalidUsername):
		writeError(w, http.StatusBadRequest, CodeInvalidUsername, err.Error())
	case errors.Is(err, auth.ErrWeakPassword):
		writeError(w, http.StatusBadRequest, CodeWeakPassword, err.Error())
	case errors.Is(err, auth.ErrUsernameTaken):
		writeError(w, http.StatusConflict, CodeUsernameTaken, err.Error())
	default:
		g.httpFailure(w, "register", err)
	}
}

func (g *Gateway) login(w http.ResponseWriter, r *http.Request) {
	c, ok := readCredentials(w, r)
	if !ok {
		return
	}
	a, wait := g.beginLogin(c.Username, r.RemoteAddr)
	if a == nil {
		writeTooManyAttempts(w, wait)
		return
	}
	login, err := g.svc.Auth.Login(r.Context(), c.Username, c.Password)
	a.end(err)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, login)
	case errors.Is(err, auth.ErrInvalidCredentials):
		writeError(w, http.StatusUnauthorized, CodeInvalidCredentials, err.Error())
	default:
		g.httpFailure(w, "login", err)
	}
}

func (g *Gateway) logout(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, "missing Authorization: Bearer token")
		return
	}
	h, err := g.svc.Auth.Logout(r.Context(), token)
	switch {
	case err == nil:
		// Connections opened with this token close at once.
		g.publish(sessionTopic(h), nil)
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, auth.ErrInvalidToken):
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, err.Error())
	default:
		g.httpFailure(w, "logout", err)
	}
}

type passwordChange struct {
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
}

// changePassword answers POST /api/password: it replaces the password,
// revokes every session of the user, closes all the user's connections
// on every node (with 4004), and answers with a fresh login.
func (g *Gateway) changePassword(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, "missing Authorization: Bearer token")
		return
	}
	user, _, err := g.svc.Auth.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, err.Error())
		return
	case err != nil:
		g.httpFailure(w, "change password", err)
		return
	}
	var body passwordChange
	if !readBody(w, r, &body, "body must be a JSON object with password and new_password (at most 4 KiB)") {
		return
	}
	a, wait := g.beginLogin(user.Username, r.RemoteAddr)
	if a == nil {
		writeTooManyAttempts(w, wait)
		return
	}
	login, revoked, err := g.svc.Auth.ChangePassword(r.Context(), user, body.Password, body.NewPassword)
	a.end(err)
	switch {
	case errors.Is(err, auth.ErrWeakPassword):
		writeError(w, http.StatusBadRequest, CodeWeakPassword, err.Error())
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		writeError(w, http.StatusUnauthorized, CodeInvalidCredentials, err.Error())
		return
	}
	// The password may have changed even if a later step failed: close
	// every connection of the user either way.
	g.revokeUser(user.ID, revoked)
	if err != nil {
		g.httpFailure(w, "change password", err)
		return
	}
	g.log.Info("password changed", "user", user.Username, "sessions_revoked", len(revoked))
	writeJSON(w, http.StatusOK, login)
}

// revokeUser closes, on every node, the connections opened with the
// given sessions and every other connection of the user, password ones
// included.
func (g *Gateway) revokeUser(userID string, sessions []string) {
	for _, h := range sessions {
		g.publish(sessionTopic(h), nil)
	}
	g.publish(revokeTopic(userID), nil)
}

func (g *Gateway) httpFailure(w http.ResponseWriter, op string, err error) {
	code, msg := classify(err)
	status := http.StatusInternalServerError
	if code == CodeStoreUnavailable {
		status = http.StatusServiceUnavailable
	}
	g.log.Error(op, "err", err)
	writeError(w, status, code, msg)
}

func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := g.svc.Store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "the database does not answer")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Counts are the gateway's counters, read by metrics at scrape time.
type Counts struct {
	// Connections is the number of open WebSocket connections.
	Connections int
	// Authenticated is the number of those that have authenticated.
	Authenticated int64
	// SlowConsumerCloses counts connections closed with 4008.
	SlowConsumerCloses uint64
	// LoginThrottled counts password checks refused with
	// too_many_attempts (HTTP login, WebSocket auth, password change).
	LoginThrottled uint64
	// RateLimited counts requests refused with rate_limit, and uploads
	// refused with 429 rate_limited (uploads.go).
	RateLimited uint64
	// AttachmentsSwept counts the unattached uploads the sweep deleted
	// (uploads.go).
	AttachmentsSwept uint64
}

// Counts returns the gateway's counters. It is cheap: one lock, no
// memory statistics.
func (g *Gateway) Counts() Counts {
	g.mu.Lock()
	n := len(g.conns)
	g.mu.Unlock()
	return Counts{
		Connections:        n,
		Authenticated:      g.authed.Load(),
		SlowConsumerCloses: g.slowClosed.Load(),
		LoginThrottled:     g.throttled.Load(),
		RateLimited:        g.rate.refused.Load(),
		AttachmentsSwept:   g.swept.Load(),
	}
}

// Stats is the body of GET /api/stats: a snapshot for people and tools
// without a metrics system.
type Stats struct {
	UptimeSeconds  float64 `json:"uptime_seconds"`
	Connections    int     `json:"connections"`
	Authenticated  int64   `json:"authenticated"`
	Goroutines     int     `json:"goroutines"`
	HeapInuseBytes uint64  `json:"heap_inuse_bytes"`
	StackBytes     uint64  `json:"stack_inuse_bytes"`
	SysBytes       uint64  `json:"sys_bytes"`
	// CPUSeconds is the CPU time the server process has used, user and
	// system (0 where it is not measured): the bench tool divides its
	// growth over a run by the work done.
	CPUSeconds float64      `json:"cpu_seconds"`
	Broker     broker.Stats `json:"broker"`
	// RateLimited counts requests refused with rate_limit.
	RateLimited uint64 `json:"rate_limited"`
}

// stats answers GET /api/stats. With ?gc=1 it collects garbage first, so
// memory figures measure what is live (the bench tool's conns scenario).
func (g *Gateway) stats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g.mu.Lock()
	n := len(g.conns)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, Stats{
		UptimeSeconds:  time.Since(g.started).Seconds(),
		Connections:    n,
		Authenticated:  g.authed.Load(),
		Goroutines:     runtime.NumGoroutine(),
		HeapInuseBytes: ms.HeapInuse,
		StackBytes:     ms.StackInuse,
		SysBytes:       ms.Sys,
		CPUSeconds:     processCPU(),
		RateLimited:    g.rate.refused.Load(),
		Broker:         g.svc.Broker.Stats(),
	})
}
