package gateway

import (
	"testing"
	"time"
)

// TestRateLimiter plays sequences of actions against a limiter on a fake
// clock and checks each answer: accepted, or refused with the exact wait.
func TestRateLimiter(t *testing.T) {
	type step struct {
		at      time.Duration // since the start
		user    string        // "" means "alice"
		ok      bool
		wait    time.Duration // when refused
		cooling bool          // the refusal starts a cooldown
	}
	ok := func(at time.Duration) step { return step{at: at, ok: true} }
	s := time.Second
	messages := rateLimit{burst: 3, burstWindow: 10 * s, cooldown: 30 * s, perMinute: 5}
	cases := []struct {
		name  string
		cfg   rateLimit
		steps []step
	}{
		{"under the burst", messages, []step{ok(0), ok(1 * s), ok(2 * s)}},
		{"past the burst: cooldown", messages, []step{
			ok(0), ok(1 * s), ok(2 * s),
			{at: 3 * s, wait: 30 * s, cooling: true},
			// Refusals during the cooldown neither count nor extend it.
			{at: 20 * s, wait: 13 * s},
			{at: 33*s - time.Millisecond, wait: time.Millisecond},
			ok(33 * s),
		}},
		{"the burst window slides", messages, []step{
			ok(0), ok(1 * s), ok(2 * s),
			// At 10 s the first action has left the window (0, 10].
			ok(10 * s), ok(11 * s),
		}},
		{"per minute without cooldown", messages, []step{
			ok(0), ok(1 * s), ok(20 * s), ok(21 * s), ok(40 * s),
			{at: 41 * s, wait: 19 * s},
			{at: 59 * s, wait: 1 * s},
			ok(60 * s),
			// 1 s, 20 s, 21 s, 40 s and 60 s are in the minute now.
			{at: 60*s + 500*time.Millisecond, wait: 500 * time.Millisecond},
			ok(61 * s),
		}},
		{"cooldown waits for the per-minute limit too", rateLimit{burst: 2, burstWindow: 10 * s, cooldown: 5 * s, perMinute: 3}, []step{
			ok(0), ok(30 * s), ok(31 * s),
			// Both limits are hit: the minute frees a slot at 60 s, 29 s
			// away, later than the cooldown's end.
			{at: 32 * s, wait: 28 * s, cooling: true},
			{at: 37 * s, wait: 23 * s},
			ok(60 * s),
		}},
		{"a cooldown lasts until the burst window has room", rateLimit{burst: 2, burstWindow: 60 * s, cooldown: 5 * s}, []step{
			ok(0), ok(1 * s),
			{at: 2 * s, wait: 58 * s, cooling: true},
			{at: 59 * s, wait: 1 * s},
			ok(60 * s),
		}},
		{"no cooldown configured", rateLimit{burst: 2, burstWindow: 10 * s}, []step{
			ok(0), ok(5 * s),
			{at: 6 * s, wait: 4 * s},
			ok(10 * s),
			{at: 11 * s, wait: 4 * s},
		}},
		{"users are counted apart", messages, []step{
			ok(0), ok(0), ok(0),
			{at: 0, wait: 30 * s, cooling: true},
			{at: 1 * s, user: "bob", ok: true},
			{at: 1 * s, wait: 29 * s},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			now := start
			l := newLimiter(tc.cfg, func() time.Time { return now })
			for i, st := range tc.steps {
				now = start.Add(st.at)
				user := st.user
				if user == "" {
					user = "alice"
				}
				wait, ok, cooling := l.allow(user)
				if ok != st.ok || (!ok && wait != st.wait) || cooling != st.cooling {
					t.Fatalf("step %d at %v (%s): allow = %v, %v, cooling %v; want %v, %v, cooling %v",
						i, st.at, user, wait, ok, cooling, st.wait, st.ok, st.cooling)
				}
			}
		})
	}
}

// TestRateLimiterForgets: users idle past the windows and out of cooldown
// are dropped, so memory follows the active users, not every user ever
// seen; the others keep their record.
func TestRateLimiterForgets(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	at := func(d time.Duration) { now = start.Add(d) }
	l := newLimiter(rateLimit{burst: 2, burstWindow: 10 * time.Second, cooldown: 90 * time.Second, perMinute: 60}, func() time.Time { return now })
	for _, u := range []string{"a", "b", "c", "c"} {
		if _, ok, _ := l.allow(u); !ok {
			t.Fatalf("%s refused", u)
		}
	}
	if _, ok, cooling := l.allow("c"); ok || !cooling {
		t.Fatal("c's third action did not start a cooldown")
	}
	at(55 * time.Second)
	l.allow("b")
	at(61 * time.Second)
	l.allow("d") // sweeps: a is idle past the minute; b acted at 55 s; c cools down until 90 s
	if n := l.len(); n != 3 {
		t.Fatalf("after a minute remembers %d users, want 3 (b, c and d)", n)
	}
	at(62 * time.Second)
	if wait, ok, _ := l.allow("c"); ok || wait != 28*time.Second {
		t.Fatalf("c after the sweep: %v, %v; want refused for 28s", wait, ok)
	}
	if _, ok, _ := l.allow("b"); !ok {
		t.Fatal("b refused")
	}
	// b's action at 55 s still counts after the sweep.
	if _, ok, cooling := l.allow("b"); ok || !cooling {
		t.Fatal("b's third action in the window did not start a cooldown")
	}
	at(62*time.Second + 90*time.Second + time.Minute)
	l.allow("e")
	if n := l.len(); n != 1 {
		t.Fatalf("once all are idle remembers %d users, want 1", n)
	}
}

// TestRateLimitedCommands: every limited command is one the gateway serves,
// or typing, which another file registers.
func TestRateLimitedCommands(t *testing.T) {
	for cmd := range limitedCommands {
		if commands[cmd] == nil && cmd != "typing" {
			t.Errorf("%s is rate limited but not a command", cmd)
		}
	}
	for _, cmd := range []string{"ping", "history", "subscribe", "stream_ack", "message_pin"} {
		if _, ok := limitedCommands[cmd]; ok {
			t.Errorf("%s is rate limited", cmd)
		}
	}
}
