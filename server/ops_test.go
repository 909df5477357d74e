package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// scrapeMetrics reads GET /metrics into sample → value.
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics = %d %q, want 200 and the Prometheus text format", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
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

// TestMetricsMove: /metrics serves Prometheus text, and its counters
// follow messages as they are stored and delivered.
func TestMetricsMove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{})
	_, alice := s.User("alice")
	_, bob := s.User("bob")
	circle, err := alice.CreateCircle(ctx, "Metered", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	stream := circle.Streams[0].ID
	if _, err := bob.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{alice, bob} {
		if _, err := c.Subscribe(ctx, stream, 0); err != nil {
			t.Fatal(err)
		}
	}

	before := scrapeMetrics(t, s.URL)
	if before["oshi_connections"] != 2 || before["oshi_authenticated_sessions"] != 2 {
		t.Errorf("connections = %v, authenticated = %v; want 2 and 2", before["oshi_connections"], before["oshi_authenticated_sessions"])
	}
	if before["oshi_subscriptions"] < 2 {
		t.Errorf("oshi_subscriptions = %v, want at least the 2 stream subscriptions", before["oshi_subscriptions"])
	}
	for i := range 3 {
		if _, err := alice.Send(ctx, stream, fmt.Sprint("metered ", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		oshitest.Next(t, bob, "message_new")
	}
	after := scrapeMetrics(t, s.URL)
	if d := after["oshi_messages_stored_total"] - before["oshi_messages_stored_total"]; d != 3 {
		t.Errorf("oshi_messages_stored_total rose by %v, want 3", d)
	}
	// Each message reaches both subscribers.
	if d := after["oshi_deliveries_total"] - before["oshi_deliveries_total"]; d < 6 {
		t.Errorf("oshi_deliveries_total rose by %v, want at least 6", d)
	}
	if d := after["oshi_messages_published_total"] - before["oshi_messages_published_total"]; d < 3 {
		t.Errorf("oshi_messages_published_total rose by %v, want at least 3", d)
	}
	if d := after["oshi_store_write_seconds_count"] - before["oshi_store_write_seconds_count"]; d < 1 || d > 3 {
		t.Errorf("%v inserts observed for 3 messages", d)
	}
	if after["oshi_uptime_seconds"] <= 0 {
		t.Error("no uptime")
	}

	// /api/stats still answers beside it.
	resp, err := http.Get(s.URL + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Connections int `json:"connections"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Connections != 2 {
		t.Errorf("/api/stats: %+v, %v", st, err)
	}
}

// TestMetricsLoginThrottled: a refused login attempt shows in
// oshi_login_throttled_total.
func TestMetricsLoginThrottled(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{LoginMaxFailures: 1})
	s.Register("carol")
	login := func() int {
		resp, err := http.Post(s.URL+"/api/login", "application/json", strings.NewReader(`{"username":"carol","password":"wrong-password"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := login(); st != 401 {
		t.Fatalf("first wrong login = %d", st)
	}
	if st := login(); st != 429 {
		t.Fatalf("second login = %d, want 429", st)
	}
	if got := scrapeMetrics(t, s.URL)["oshi_login_throttled_total"]; got != 1 {
		t.Errorf("oshi_login_throttled_total = %v, want 1", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJSONConnectionLog: with OSHI_LOG_FORMAT=json every line is a JSON
// object; a connection logs its open and its close, with user, close
// code and duration, and no token.
func TestJSONConnectionLog(t *testing.T) {
	var buf syncBuffer
	s := oshitest.NewServer(t, server.Config{Logger: server.NewLogger(&buf, "info", "json")})
	login, c := s.User("dora")
	_ = c.Close()
	var closed map[string]any
	for deadline := time.Now().Add(10 * time.Second); closed == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for line := range strings.Lines(buf.String()) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not a JSON line: %q", line)
			}
			if rec["msg"] == "connection closed" {
				closed = rec
			}
		}
	}
	if closed == nil {
		t.Fatalf("no connection closed line in:\n%s", buf.String())
	}
	if closed["user"] != "dora" || closed["code"] != float64(1000) || closed["by"] != "client" || closed["duration"] == nil {
		t.Errorf("close line = %v", closed)
	}
	all := buf.String()
	if !strings.Contains(all, `"msg":"connection authenticated"`) {
		t.Error("no connection authenticated line")
	}
	if strings.Contains(all, login.Token) {
		t.Error("a token was logged")
	}
}

// TestLoggerFormats: NewLogger writes text or JSON.
func TestLoggerFormats(t *testing.T) {
	var text, js bytes.Buffer
	server.NewLogger(&text, "info", "text").Info("hello", "k", 1)
	server.NewLogger(&js, "warn", "json").Info("dropped")
	server.NewLogger(&js, "warn", "json").Warn("kept", "k", 1)
	if !strings.Contains(text.String(), "msg=hello k=1") {
		t.Errorf("text = %q", text.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || rec["msg"] != "kept" || rec["level"] != slog.LevelWarn.String() {
		t.Errorf("json = %q, %v", js.String(), err)
	}
}

// TestVariablesDocumented: every OSHI_* variable has a description for
// oshid help, and README's configuration table lists it with the same
// default.
func TestVariablesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := server.Variables()
	if len(vars) < 20 {
		t.Fatalf("only %d variables found", len(vars))
	}
	for _, v := range vars {
		if v.Desc == "" {
			t.Errorf("%s has no description", v.Name)
		}
		def := "empty"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		row := fmt.Sprintf("| `%s` | %s |", v.Name, def)
		if !bytes.Contains(readme, []byte(row)) {
			t.Errorf("README has no row starting %q", row)
		}
	}
}

// TestAdmin: Admin creates users and resets passwords on the store of a
// running server; a reset revokes the user's tokens.
func TestAdmin(t *testing.T) {
	ctx := context.Background()
	uri, db := oshitest.MongoURI(t), oshitest.Database(t)
	s := oshitest.NewServer(t, server.Config{MongoURI: uri, MongoDB: db})
	a, err := server.OpenAdmin(ctx, server.Config{MongoURI: uri, MongoDB: db, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := a.CreateUser(ctx, "erin", "first-password")
	if err != nil || u.Username != "erin" || u.ID == "" {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	old, err := s.Srv.Auth().Login(ctx, "erin", "first-password")
	if err != nil {
		t.Fatalf("login with the created password: %v", err)
	}
	n, err := a.ResetPassword(ctx, "erin", "second-password")
	if err != nil || n != 1 {
		t.Fatalf("ResetPassword = %d, %v; want 1 session revoked", n, err)
	}
	if _, _, err := s.Srv.Auth().Authenticate(ctx, old.Token); err == nil {
		t.Error("the old token still works")
	}
	if _, err := s.Srv.Auth().Login(ctx, "erin", "first-password"); err == nil {
		t.Error("the old password still works")
	}
	if _, err := s.Srv.Auth().Login(ctx, "erin", "second-password"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if _, err := a.ResetPassword(ctx, "nobody", "second-password"); err == nil {
		t.Error("reset of an unknown user succeeded")
	}
}
