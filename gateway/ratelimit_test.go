package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// wantRateLimit checks that err is a rate_limit reply to src asking to
// wait more than lo and at most hi.
func wantRateLimit(t *testing.T, err error, src string, lo, hi time.Duration) {
	t.Helper()
	var rl *client.RateLimitError
	if !errors.As(err, &rl) || client.Code(err) != "rate_limit" {
		t.Fatalf("error = %v, want rate_limit", err)
	}
	if rl.Src != src || rl.Wait <= lo || rl.Wait > hi {
		t.Fatalf("rate_limit = %+v, want src %s and a wait in (%v, %v]", rl, src, lo, hi)
	}
}

// rateLimited reads the count of refused requests from GET /api/stats
// and GET /metrics, failing the test unless both say the same.
func rateLimited(t *testing.T, s *oshitest.Server) int {
	t.Helper()
	get := func(path string) []byte {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
		}
		return b
	}
	var stats struct {
		RateLimited *int `json:"rate_limited"`
	}
	if err := json.Unmarshal(get("/api/stats"), &stats); err != nil || stats.RateLimited == nil {
		t.Fatalf("/api/stats has no rate_limited: %v", err)
	}
	for _, line := range strings.Split(string(get("/metrics")), "\n") {
		if v, ok := strings.CutPrefix(line, "oshi_rate_limited_total "); ok {
			if n, err := strconv.ParseFloat(v, 64); err != nil || int(n) != *stats.RateLimited {
				t.Fatalf("oshi_rate_limited_total = %s, /api/stats rate_limited = %d", v, *stats.RateLimited)
			}
			return *stats.RateLimited
		}
	}
	t.Fatal("/metrics has no oshi_rate_limited_total")
	return 0
}

// TestRateLimitBurst: past the burst every limited command of the user is
// refused with rate_limit, on all the user's connections, and does
// nothing; the connection stays usable and other users are not affected.
func TestRateLimitBurst(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{RateBurst: 3, RateBurstWindow: time.Hour, RateCooldown: time.Hour})
	alice, ac := s.User("alice")
	_, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Flood", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}

	var first *models.Message
	for i := 1; i <= 3; i++ {
		m, err := ac.Send(ctx, general, fmt.Sprintf("burst %d", i), "")
		if err != nil {
			t.Fatalf("message %d of the burst: %v", i, err)
		}
		if first == nil {
			first = m
		}
	}
	// The fourth starts the cooldown; the wait is the cooldown's.
	_, err = ac.Send(ctx, general, "one too many", "")
	wantRateLimit(t, err, "message_new", 59*time.Minute, time.Hour)
	_, err = ac.Send(ctx, general, "and another", "nonce-1")
	wantRateLimit(t, err, "message_new", 59*time.Minute, time.Hour)

	// The wire frame, as a client without the library sees it.
	if err := ac.WriteRaw(ctx, []byte(`{"cmd":"message_new","ref":"raw-1","stream":"`+general+`","content":"raw"}`)); err != nil {
		t.Fatal(err)
	}
	var frame map[string]any
	if err := json.Unmarshal(nextEvent(t, ac, "rate_limit").Raw, &frame); err != nil {
		t.Fatal(err)
	}
	length, _ := frame["length"].(float64)
	if len(frame) != 4 || frame["ref"] != "raw-1" || frame["src"] != "message_new" || length <= 0 || length > 3600000 {
		t.Fatalf("rate_limit frame = %v", frame)
	}

	// The cooldown holds on the user's other connection, for every
	// limited command.
	ac2 := s.Dial(alice)
	_, err = ac2.Send(ctx, general, "from elsewhere", "")
	wantRateLimit(t, err, "message_new", 59*time.Minute, time.Hour)
	_, err = ac2.Edit(ctx, general, first.ID, "edited")
	wantRateLimit(t, err, "message_edit", 59*time.Minute, time.Hour)
	_, err = ac2.React(ctx, general, first.ID, "👍")
	wantRateLimit(t, err, "message_react_add", 59*time.Minute, time.Hour)
	_, err = ac2.Unreact(ctx, general, first.ID, "👍")
	wantRateLimit(t, err, "message_react_remove", 59*time.Minute, time.Hour)
	_, err = ac.Delete(ctx, general, first.ID)
	wantRateLimit(t, err, "message_delete", 59*time.Minute, time.Hour)
	_, err = ac2.Request(ctx, map[string]any{"cmd": "poll_create", "stream": general, "question": "q?", "options": []string{"a", "b"}})
	wantRateLimit(t, err, "poll_create", 59*time.Minute, time.Hour)
	_, err = ac2.Request(ctx, map[string]any{"cmd": "poll_vote", "stream": general, "id": first.ID, "choices": []int{0}})
	wantRateLimit(t, err, "poll_vote", 59*time.Minute, time.Hour)

	// Both connections still work, for commands outside the limits.
	for i, c := range []*client.Client{ac, ac2} {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping on connection %d: %v", i+1, err)
		}
	}
	if _, err := ac2.History(ctx, general, client.HistoryQuery{}); err != nil {
		t.Fatalf("history during the cooldown: %v", err)
	}

	// Bob is not affected.
	if _, err := bc.Send(ctx, general, "bob is fine", ""); err != nil {
		t.Fatalf("bob: %v", err)
	}

	// Bob saw the burst, then his own message: nothing refused was
	// published in between.
	want := []string{"burst 1", "burst 2", "burst 3", "bob is fine"}
	for _, content := range want {
		ev := nextEvent(t, bc, "message_new", "message_edit", "message_delete", "message_react_add", "message_react_remove")
		if ev.Cmd != "message_new" || ev.Message.Content != content {
			t.Fatalf("bob got %s, want message_new %q", ev.Raw, content)
		}
	}
	// Nothing refused was stored: exactly the burst, unchanged.
	hist, err := bc.History(ctx, general, client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(want) {
		t.Fatalf("history has %d messages, want %d", len(hist), len(want))
	}
	for i, m := range hist {
		if m.Content != want[i] || m.EditedAt != nil || m.Deleted || len(m.ReactionCounts) != 0 {
			t.Fatalf("message %d = %+v, want %q untouched", i, m, want[i])
		}
	}
	if n := rateLimited(t, s); n != 10 {
		t.Fatalf("rate_limited = %d, want 10", n)
	}
}

// TestRateLimitPerMinute: at most RateMessagesPerMinute limited commands
// in a minute, counting every kind together.
func TestRateLimitPerMinute(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{RateMessagesPerMinute: 4})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Steady", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	var ids []string
	for i := 1; i <= 3; i++ {
		m, err := ac.Send(ctx, general, fmt.Sprintf("m%d", i), "")
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := ac.React(ctx, general, ids[0], "🎉"); err != nil {
		t.Fatalf("react, the fourth action: %v", err)
	}
	_, err = ac.Send(ctx, general, "m4", "")
	wantRateLimit(t, err, "message_new", 0, time.Minute)
	_, err = ac.Edit(ctx, general, ids[1], "edited")
	wantRateLimit(t, err, "message_edit", 0, time.Minute)

	hist, err := ac.History(ctx, general, client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[1].Content != "m2" || hist[1].EditedAt != nil {
		t.Fatalf("history = %d messages (%+v), want m1..m3 unedited", len(hist), hist)
	}
	if n := rateLimited(t, s); n != 2 {
		t.Fatalf("rate_limited = %d, want 2", n)
	}
}

// typing sends a typing command and returns its reply ("" when there is
// none): the server serves a connection's frames in order, so the reply,
// if any, is on Events once the ping that follows is answered.
func typing(t *testing.T, ctx context.Context, c *client.Client, stream string, n int) client.Event {
	t.Helper()
	ref := fmt.Sprintf("typing-%d", n)
	if err := c.WriteRaw(ctx, []byte(`{"cmd":"typing","ref":"`+ref+`","stream":"`+stream+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var reply client.Event
	for {
		select {
		case ev := <-c.Events():
			var h struct {
				Ref string `json:"ref"`
			}
			if json.Unmarshal(ev.Raw, &h) == nil && h.Ref == ref {
				reply = ev
			}
		default:
			return reply
		}
	}
}

// TestRateLimitTyping: typing has its own bucket; it neither counts
// against the message commands nor is refused by their cooldown.
func TestRateLimitTyping(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{
		RateBurst: 1, RateBurstWindow: time.Hour, RateCooldown: time.Hour,
		RateTypingBurst: 2, RateTypingWindow: time.Hour,
	})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Typists", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := ac.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}
	ev := typing(t, ctx, ac, general, 1)
	if ev.Code == "unknown_command" {
		t.Skip("typing is not served yet")
	}
	if ev.Cmd == "rate_limit" {
		t.Fatalf("first typing: %s", ev.Raw)
	}
	if _, err := ac.Send(ctx, general, "typing did not count", ""); err != nil {
		t.Fatal(err)
	}
	_, err = ac.Send(ctx, general, "over the burst", "")
	wantRateLimit(t, err, "message_new", 59*time.Minute, time.Hour)
	if ev := typing(t, ctx, ac, general, 2); ev.Cmd == "rate_limit" {
		t.Fatalf("typing during the message cooldown: %s", ev.Raw)
	}
	ev = typing(t, ctx, ac, general, 3)
	var frame struct {
		Src    string `json:"src"`
		Length int64  `json:"length"`
	}
	if err := json.Unmarshal(ev.Raw, &frame); ev.Cmd != "rate_limit" || err != nil || frame.Src != "typing" || frame.Length <= 0 || frame.Length > 3600000 {
		t.Fatalf("third typing = %s, want rate_limit from typing", ev.Raw)
	}
}

// TestHandshakeLimits: handshake.limits announces the circle limits and
// the rate limits as configured, and the defaults when unset; the circle
// limits configured are the ones enforced.
func TestHandshakeLimits(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{
		MaxMembersPerCircle: 1, MaxCirclesPerUser: 1, MaxStreamsPerCircle: 9, MaxRolesPerCircle: 11,
		RateMessagesPerMinute: 12, RateBurst: 5, RateBurstWindow: 3 * time.Second, RateCooldown: 4 * time.Second,
		RateTypingBurst: 6, RateTypingWindow: 2500 * time.Millisecond,
		AttachmentMaxBytes: 1234,
	})
	_, c := s.User("alice")
	want := map[string]int64{
		"max_attachment_bytes":   1234,
		"max_members_per_circle": 1, "max_circles_per_user": 1, "max_streams_per_circle": 9, "max_roles_per_circle": 11,
		"messages_per_minute": 12, "burst": 5, "burst_window_ms": 3000, "cooldown_ms": 4000,
		"typing_burst": 6, "typing_window_ms": 2500,
		"max_message_length": 4000,
	}
	got := c.Handshake().Limits
	for k, v := range want {
		if got[k] != v {
			t.Errorf("configured: limits.%s = %d, want %d", k, got[k], v)
		}
	}
	circle, err := c.CreateCircle(ctx, "Only", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateCircle(ctx, "Second", models.Public)
	wantCode(t, err, "limit_reached")
	_, bc := s.User("bob")
	_, err = bc.JoinCircle(ctx, circle.ID)
	wantCode(t, err, "limit_reached")

	// Unset, the circle limits are the defaults documented for the
	// environment (oshitest lifts the rate limits, not their windows).
	defaults := map[string]string{}
	for _, v := range server.Variables() {
		defaults[v.Name] = v.Default
	}
	d := oshitest.NewServer(t, server.Config{})
	_, c = d.User("alice")
	got = c.Handshake().Limits
	for field, variable := range map[string]string{
		"max_members_per_circle": "OSHI_MAX_MEMBERS_PER_CIRCLE",
		"max_circles_per_user":   "OSHI_MAX_CIRCLES_PER_USER",
		"max_streams_per_circle": "OSHI_MAX_STREAMS_PER_CIRCLE",
		"max_roles_per_circle":   "OSHI_MAX_ROLES_PER_CIRCLE",
	} {
		if def := defaults[variable]; def == "" || strconv.FormatInt(got[field], 10) != def {
			t.Errorf("default: limits.%s = %d, but %s defaults to %q", field, got[field], variable, def)
		}
	}
	for k, v := range map[string]int64{"burst_window_ms": 10000, "cooldown_ms": 30000, "typing_window_ms": 10000, "burst": oshitest.Unlimited} {
		if got[k] != v {
			t.Errorf("default: limits.%s = %d, want %d", k, got[k], v)
		}
	}
}
