package auth

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Throttle limits failed password attempts per key (a username, a client
// address) in a sliding window: once a key has failed Max times within
// Window, Allow refuses it until the oldest of those failures is Window
// old. It lives in memory, per process.
//
// An attempt is Allow, then exactly one of Fail (wrong password), Reset
// (right password: forget the key's failures) or Release (the password
// was not checked, say the store failed). Allow counts the attempts in
// progress against the limit, so a burst of concurrent guesses cannot
// all slip in before the first one fails.
//
// Memory is bounded: a key is forgotten once its newest failure is older
// than Window and no attempt is in progress, and at most MaxKeys keys
// are kept (past that, an arbitrary idle key is dropped to make room).
type Throttle struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	keys      map[string]*throttleKey
	nextSweep int64 // unix nanoseconds
}

// MaxKeys bounds the keys a Throttle remembers.
const MaxKeys = 100_000

type throttleKey struct {
	fails   []int64 // unix nanoseconds of the latest failures, oldest first, at most max
	pending int     // attempts allowed and not yet ended
}

// NewThrottle returns a Throttle allowing max failures per key within
// window. now is the clock; nil means time.Now.
func NewThrottle(max int, window time.Duration, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{max: max, window: window, now: now, keys: make(map[string]*throttleKey)}
}

// Allow reports whether key may make an attempt now and, when it may
// not, how long until it may. An allowed attempt is in progress until
// Fail, Reset or Release ends it.
func (t *Throttle) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	k := t.keys[key]
	if k == nil {
		t.makeRoom()
		k = &throttleKey{}
		t.keys[key] = k
	}
	k.expire(now - int64(t.window))
	if len(k.fails)+k.pending >= t.max {
		if len(k.fails) < t.max {
			// Full only with attempts in progress: their outcome is
			// not known yet, so ask to retry soon.
			return false, time.Second
		}
		return false, time.Duration(k.fails[0] + int64(t.window) - now)
	}
	k.pending++
	return true, 0
}

// Fail ends an attempt of key as a failure. It reports whether key is
// now refused: this failure reached the limit.
func (t *Throttle) Fail(key string) (refused bool) {
	now := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keys[key]
	if k == nil {
		t.makeRoom()
		k = &throttleKey{}
		t.keys[key] = k
	}
	k.end()
	k.expire(now - int64(t.window))
	if len(k.fails) == t.max {
		k.fails = append(k.fails[:0], k.fails[1:]...)
	}
	k.fails = append(k.fails, now)
	return len(k.fails) == t.max
}

// Reset ends an attempt of key as a success and forgets its failures.
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keys[key]
	if k == nil {
		return
	}
	k.end()
	k.fails = k.fails[:0]
	if k.pending == 0 {
		delete(t.keys, key)
	}
}

// Release ends an attempt of key without counting it.
func (t *Throttle) Release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := t.keys[key]; k != nil {
		k.end()
		if k.pending == 0 && len(k.fails) == 0 {
			delete(t.keys, key)
		}
	}
}

// Len returns how many keys are remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

func (k *throttleKey) end() {
	if k.pending > 0 {
		k.pending--
	}
}

// expire drops failures at or before since.
func (k *throttleKey) expire(since int64) {
	i := 0
	for i < len(k.fails) && k.fails[i] <= since {
		i++
	}
	if i > 0 {
		k.fails = append(k.fails[:0], k.fails[i:]...)
	}
}

// sweep forgets idle keys, at most once per window, so the cost is
// spread over the calls of a whole window. Caller holds t.mu.
func (t *Throttle) sweep(now int64) {
	if now < t.nextSweep {
		return
	}
	t.nextSweep = now + int64(t.window)
	since := now - int64(t.window)
	for key, k := range t.keys {
		k.expire(since)
		if len(k.fails) == 0 && k.pending == 0 {
			delete(t.keys, key)
		}
	}
}

// makeRoom drops one idle key when the map is full. Caller holds t.mu.
func (t *Throttle) makeRoom() {
	if len(t.keys) < MaxKeys {
		return
	}
	for key, k := range t.keys { // map order is unspecified: an arbitrary key
		if k.pending == 0 {
			delete(t.keys, key)
			return
		}
	}
}

// UsernameKey is the throttle key of a username: usernames are unique
// case-insensitively, and names too long to exist share one key so that
// junk cannot fill memory.
func UsernameKey(username string) string {
	if len(username) > 64 {
		return "\x00long"
	}
	return strings.ToLower(username)
}

// AddrKey is the throttle key of a client address (an http.Request's
// RemoteAddr, host:port): the IP for IPv4, the /64 network for IPv6,
// since one IPv6 client usually holds a whole /64.
func AddrKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
