package gateway

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Rate limits count the limited commands of each user across all of the
// user's connections on this gateway. Nodes of a cluster do not share
// their counts, so a user connected to two nodes may do twice as much.
//
// A bucket allows at most burst actions in any burstWindow and, when
// perMinute is set, at most perMinute in any 60 s. The request that would
// exceed the burst is refused and starts a cooldown, during which every
// command of the bucket is refused. A request over the per-minute limit is
// refused without a cooldown. Refused requests do nothing and do not
// count. The wait announced is the time until the request would be
// accepted, were nothing else done meanwhile.

// bucket is a set of commands limited together.
type bucket int

const (
	messageBucket bucket = iota // sending, editing, deleting, reacting, polls
	typingBucket                // typing indicators: frequent, cheap, never stored
	signalBucket                // voice signals: bursts of ICE candidates
	uploadBucket                // HTTP uploads: attachments, custom emoji (uploads.go)
	numBuckets
)

// limitedCommands are the commands under a rate limit, by bucket. A
// command listed here that no file registers (yet) is harmless.
var limitedCommands = map[string]bucket{
	"message_new":          messageBucket,
	"message_edit":         messageBucket,
	"message_delete":       messageBucket,
	"message_react_add":    messageBucket,
	"message_react_remove": messageBucket,
	"poll_create":          messageBucket,
	"poll_vote":            messageBucket,
	"typing":               typingBucket,
	"voice_signal":         signalBucket,
}

// A WebRTC negotiation sends an offer, an answer and a few dozen ICE
// candidates within a second or two; the signal bucket allows that many
// times over and stops only a flood.
const (
	signalBurst  = 100
	signalWindow = 10 * time.Second
)

// rateLimit configures one bucket.
type rateLimit struct {
	burst       int // at most burst actions in any burstWindow
	burstWindow time.Duration
	cooldown    time.Duration // refusal after the burst is exceeded; 0: none
	perMinute   int           // at most perMinute actions in any minute; 0: no such limit
}

// rateLimits are the gateway's buckets and the count of what they refused.
type rateLimits struct {
	buckets [numBuckets]*limiter
	refused atomic.Uint64
}

func newRateLimits(cfg *Config, now func() time.Time) *rateLimits {
	r := &rateLimits{}
	r.buckets[messageBucket] = newLimiter(rateLimit{
		burst:       cfg.RateBurst,
		burstWindow: cfg.RateBurstWindow,
		cooldown:    cfg.RateCooldown,
		perMinute:   cfg.RateMessagesPerMinute,
	}, now)
	r.buckets[signalBucket] = newLimiter(rateLimit{burst: signalBurst, burstWindow: signalWindow}, now)
	r.buckets[typingBucket] = newLimiter(rateLimit{
		burst:       cfg.RateTypingBurst,
		burstWindow: cfg.RateTypingWindow,
	}, now)
	r.buckets[uploadBucket] = newLimiter(rateLimit{
		burst:       cfg.RateUploadBurst,
		burstWindow: cfg.RateUploadWindow,
		perMinute:   cfg.RateUploadsPerMinute,
	}, now)
	return r
}

// rateLimitFrame answers a refused request: wait Length milliseconds.
type rateLimitFrame struct {
	header
	Src    string `json:"src"`
	Length int64  `json:"length"`
}

// allowed counts a command of the connection's user against its bucket.
// When the bucket refuses, it answers rate_limit and reports false: the
// command must not run.
func (c *conn) allowed(h header, cmd string) bool {
	b, ok := limitedCommands[cmd]
	if !ok {
		return true
	}
	wait, ok, cooling := c.g.rate.buckets[b].allow(c.user.ID)
	if ok {
		return true
	}
	c.g.rate.refused.Add(1)
	if cooling {
		c.g.log.Info("rate limited", "user", c.user.Username, "cmd", cmd, "cooldown", wait.Round(time.Millisecond))
	}
	c.reply(rateLimitFrame{header: header{Cmd: "rate_limit", Ref: h.Ref}, Src: cmd, Length: waitMillis(wait)})
	return false
}

// waitMillis rounds a wait up to whole milliseconds, at least one, so a
// client that waits that long is not refused again for the same reason.
func waitMillis(d time.Duration) int64 {
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}

// limiter keeps, per user, the accepted actions of one bucket still
// inside its longest window, and the end of a cooldown. Memory is bounded
// by the active users times max(burst, perMinute) timestamps: entries idle
// past the windows are dropped by a sweep at most once per span.
type limiter struct {
	cfg   rateLimit
	now   func() time.Time
	epoch time.Time     // times are kept as durations since, so monotonic
	span  time.Duration // how long an action is remembered

	mu    sync.Mutex
	users map[string]*actions
	swept time.Duration // when the last sweep ran
}

// actions is one user's record in a limiter.
type actions struct {
	times []time.Duration // accepted actions within span, oldest first
	until time.Duration   // end of the cooldown; past when not cooling down
}

func newLimiter(cfg rateLimit, now func() time.Time) *limiter {
	span := cfg.burstWindow
	if cfg.perMinute > 0 {
		span = max(span, time.Minute)
	}
	return &limiter{cfg: cfg, now: now, epoch: now(), span: span, users: make(map[string]*actions)}
}

// allow counts an action of user. It reports whether it is accepted; when
// not, how long to wait, and whether this refusal started a cooldown.
func (l *limiter) allow(user string) (wait time.Duration, ok, cooling bool) {
	now := l.now().Sub(l.epoch)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now-l.swept >= l.span {
		l.sweep(now)
	}
	a := l.users[user]
	if a == nil {
		a = &actions{}
		l.users[user] = a
	}
	a.forget(now - l.span)
	burst := a.wait(now, l.cfg.burstWindow, l.cfg.burst)
	if burst > 0 && a.until <= now && l.cfg.cooldown > 0 {
		// Exceeding the burst starts the cooldown, which lasts at least
		// until the burst window has room again.
		a.until, cooling = now+max(l.cfg.cooldown, burst), true
	}
	wait = max(a.until-now, burst, a.wait(now, time.Minute, l.cfg.perMinute))
	if wait > 0 {
		return wait, false, cooling
	}
	a.times = append(a.times, now)
	return 0, true, false
}

// forget drops the actions at or before t.
func (a *actions) forget(t time.Duration) {
	i := sort.Search(len(a.times), func(i int) bool { return a.times[i] > t })
	if i == len(a.times) {
		a.times = a.times[:0]
		return
	}
	a.times = a.times[i:]
}

// wait returns how long until fewer than limit actions lie in the window
// ending now, or 0 when they already do (or limit is 0: no limit). An
// action at t is in the windows ending before t+window.
func (a *actions) wait(now, window time.Duration, limit int) time.Duration {
	if limit <= 0 {
		return 0
	}
	i := sort.Search(len(a.times), func(i int) bool { return a.times[i] > now-window })
	n := len(a.times) - i
	if n < limit {
		return 0
	}
	// The oldest n-limit+1 of them must leave the window.
	return a.times[i+n-limit] + window - now
}

// sweep drops the users with no action inside the span and no cooldown.
// l.mu must be held.
func (l *limiter) sweep(now time.Duration) {
	for user, a := range l.users {
		if a.until <= now && (len(a.times) == 0 || a.times[len(a.times)-1] <= now-l.span) {
			delete(l.users, user)
		}
	}
	l.swept = now
}

// len returns the number of users the limiter remembers, for tests.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.users)
}
