package auth

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a settable clock for Throttle.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestThrottle(t *testing.T) {
	const window = 5 * time.Minute
	// Steps run in order against one Throttle with max 3: op is
	// "fail" (Allow then Fail), "ok" (Allow then Reset), "release"
	// (Allow then Release), "wait" (advance the clock by d), "allow"
	// (Allow then Release, expecting want and retry).
	type step struct {
		op    string
		key   string
		d     time.Duration
		want  bool
		retry time.Duration
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"under the limit", []step{
			{op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "allow", key: "a", want: true},
		}},
		{"at the limit", []step{
			{op: "fail", key: "a"},
			{op: "wait", d: time.Minute},
			{op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "allow", key: "a", want: false, retry: 4 * time.Minute},
			{op: "allow", key: "b", want: true},
		}},
		{"sliding window", []step{
			{op: "fail", key: "a"},
			{op: "wait", d: time.Minute},
			{op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "wait", d: 4*time.Minute - time.Second},
			{op: "allow", key: "a", want: false, retry: time.Second},
			{op: "wait", d: time.Second},
			{op: "allow", key: "a", want: true}, // the first failure left the window
			{op: "fail", key: "a"},
			{op: "allow", key: "a", want: false, retry: time.Minute},
		}},
		{"refusals do not extend the lock", []step{
			{op: "fail", key: "a"}, {op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "wait", d: 2 * time.Minute},
			{op: "allow", key: "a", want: false, retry: 3 * time.Minute},
			{op: "allow", key: "a", want: false, retry: 3 * time.Minute},
			{op: "wait", d: 3 * time.Minute},
			{op: "allow", key: "a", want: true},
		}},
		{"success resets", []step{
			{op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "ok", key: "a"},
			{op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "allow", key: "a", want: true},
		}},
		{"release does not count", []step{
			{op: "release", key: "a"}, {op: "release", key: "a"}, {op: "release", key: "a"},
			{op: "fail", key: "a"}, {op: "fail", key: "a"},
			{op: "allow", key: "a", want: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			th := NewThrottle(3, window, clock.now)
			for i, s := range tc.steps {
				switch s.op {
				case "wait":
					clock.advance(s.d)
					continue
				case "allow":
					ok, retry := th.Allow(s.key)
					if ok != s.want || retry != s.retry {
						t.Fatalf("step %d: Allow(%q) = %v, %v; want %v, %v", i, s.key, ok, retry, s.want, s.retry)
					}
					if ok {
						th.Release(s.key)
					}
					continue
				}
				if ok, retry := th.Allow(s.key); !ok {
					t.Fatalf("step %d: %s: Allow(%q) refused (retry %v)", i, s.op, s.key, retry)
				}
				switch s.op {
				case "fail":
					th.Fail(s.key)
				case "ok":
					th.Reset(s.key)
				case "release":
					th.Release(s.key)
				}
			}
		})
	}
}

// TestThrottleConcurrentAttempts: attempts in progress count, so a burst
// of guesses started together cannot pass the limit.
func TestThrottleConcurrentAttempts(t *testing.T) {
	th := NewThrottle(3, time.Minute, nil)
	allowed := 0
	for range 10 {
		if ok, _ := th.Allow("a"); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("%d concurrent attempts allowed, want 3", allowed)
	}
	if ok, retry := th.Allow("a"); ok || retry != time.Second {
		t.Fatalf("Allow while 3 are in progress = %v, %v; want refused, retry 1s", ok, retry)
	}
	th.Release("a")
	if ok, _ := th.Allow("a"); !ok {
		t.Fatal("Allow after a release refused")
	}
	refused := []bool{th.Fail("a"), th.Fail("a"), th.Fail("a")}
	if refused[0] || refused[1] || !refused[2] {
		t.Fatalf("Fail reported refused = %v, want only the third", refused)
	}
}

// TestThrottleForgets: keys whose failures left the window are dropped,
// and the number of keys is capped.
func TestThrottleForgets(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	th := NewThrottle(3, time.Minute, clock.now)
	for i := range 1000 {
		key := fmt.Sprint("user", i)
		th.Allow(key)
		th.Fail(key)
	}
	if n := th.Len(); n != 1000 {
		t.Fatalf("%d keys remembered, want 1000", n)
	}
	clock.advance(time.Minute + time.Second)
	th.Allow("fresh")
	th.Release("fresh")
	if n := th.Len(); n != 0 {
		t.Fatalf("%d keys remembered a window later, want 0", n)
	}

	for i := range MaxKeys + 10 {
		key := fmt.Sprint("k", i)
		th.Allow(key)
		th.Fail(key)
	}
	if n := th.Len(); n > MaxKeys {
		t.Fatalf("%d keys remembered, want at most %d", n, MaxKeys)
	}
}

func TestThrottleKeys(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.7:51234", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"@", "@"}, // a unix socket or a test's RemoteAddr: used as is
	}
	for _, tc := range cases {
		if got := AddrKey(tc.in); got != tc.want {
			t.Errorf("AddrKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if UsernameKey("Alice") != UsernameKey("alice") {
		t.Error("UsernameKey is case-sensitive; usernames are not")
	}
	long := string(make([]byte, 65))
	if UsernameKey(long) != UsernameKey(long+"x") || len(UsernameKey(long)) > 64 {
		t.Error("over-long usernames do not share one short key")
	}
}
