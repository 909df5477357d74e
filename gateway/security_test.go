package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// httpReply is an HTTP API answer.
type httpReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r httpReply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// post sends a JSON body, with a bearer token when token is not empty.
func post(t *testing.T, url, token, body string) httpReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := httpReply{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&r.body)
	return r
}

func loginBody(user, password string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return string(b)
}

func passwordBody(current, next string) string {
	b, _ := json.Marshal(map[string]string{"password": current, "new_password": next})
	return string(b)
}

// wsAuth opens a raw connection, sends one auth frame and returns the
// reply; when the reply is an auth_error it also returns the close status.
func wsAuth(t *testing.T, s *oshitest.Server, frame string) (map[string]any, websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := client.DialRaw(ctx, s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	readFrame(t, ctx, ws) // handshake
	if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, ctx, ws)
	if f["cmd"] != "auth_error" {
		return f, 0
	}
	return f, readClose(t, ctx, ws)
}

func wsPasswordAuth(user, password string) string {
	b, _ := json.Marshal(map[string]any{"cmd": "auth", "ref": 1, "username": user, "password": password})
	return string(b)
}

func TestPasswordChangeErrors(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	alice := s.Register("alice")
	cases := []struct {
		name   string
		token  string
		body   string
		status int
		code   string
	}{
		{"no token", "", passwordBody("password-alice", "new-password-1"), 401, "invalid_token"},
		{"unknown token", "bogus", passwordBody("password-alice", "new-password-1"), 401, "invalid_token"},
		{"wrong current password", alice.Token, passwordBody("not-her-password", "new-password-1"), 401, "invalid_credentials"},
		{"weak new password", alice.Token, passwordBody("password-alice", "short"), 400, "weak_password"},
		{"weak new and wrong current", alice.Token, passwordBody("not-her-password", "short"), 400, "weak_password"},
		{"malformed body", alice.Token, `{"password":1}`, 422, "malformed_body"},
		{"not json", alice.Token, `password`, 422, "malformed_body"},
		{"changed", alice.Token, passwordBody("password-alice", "new-password-1"), 200, ""},
		{"old token after the change", alice.Token, passwordBody("new-password-1", "new-password-2"), 401, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.URL+"/api/password", tc.token, tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("POST /api/password = %d %v, want %d %q", r.status, r.body, tc.status, tc.code)
			}
			if tc.code != "" {
				return
			}
			user, _ := r.body["user"].(map[string]any)
			if tok, _ := r.body["token"].(string); len(tok) != 43 || user["id"] != alice.User.ID || user["username"] != "alice" || r.body["expires_at"] == nil {
				t.Fatalf("login = %v", r.body)
			}
		})
	}
}

// TestPasswordChangeRevokes: a password change revokes every token of
// the user and closes every connection of the user with 4004, those
// opened with a password included; the new token and password work, the
// old ones do not, and other users are untouched.
func TestPasswordChangeRevokes(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice := s.Register("alice")
	other, err := client.LoginUser(ctx, s.URL, "alice", "password-alice")
	if err != nil {
		t.Fatal(err)
	}
	byToken := s.Dial(alice)
	byOtherToken := s.Dial(other)
	byPassword, err := client.Dial(ctx, s.WSURL, client.Credentials{Username: "alice", Password: "password-alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer byPassword.Close()
	_, bob := s.User("bob")

	r := post(t, s.URL+"/api/password", alice.Token, passwordBody("password-alice", "brand-new-secret"))
	if r.status != 200 {
		t.Fatalf("change = %d %v", r.status, r.body)
	}
	newToken, _ := r.body["token"].(string)

	for name, c := range map[string]*client.Client{"token": byToken, "other token": byOtherToken, "password": byPassword} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("connection opened with %s still open", name)
		}
		if got := closeStatus(c.Err()); got != 4004 {
			t.Fatalf("connection opened with %s: close status %d, want 4004", name, got)
		}
	}
	if err := bob.Ping(ctx); err != nil {
		t.Fatalf("another user's connection: %v", err)
	}

	cases := []struct {
		name  string
		creds client.Credentials
		code  string // empty: ready
	}{
		{"first old token", client.Credentials{Token: alice.Token}, "invalid_token"},
		{"second old token", client.Credentials{Token: other.Token}, "invalid_token"},
		{"old password", client.Credentials{Username: "alice", Password: "password-alice"}, "invalid_credentials"},
		{"new token", client.Credentials{Token: newToken}, ""},
		{"new password", client.Credentials{Username: "alice", Password: "brand-new-secret"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.Dial(ctx, s.WSURL, tc.creds, nil)
			if c != nil {
				defer c.Close()
			}
			wantCode(t, err, tc.code)
		})
	}
	_, err = client.LoginUser(ctx, s.URL, "alice", "password-alice")
	wantCode(t, err, "invalid_credentials")
	if _, err := client.LoginUser(ctx, s.URL, "alice", "brand-new-secret"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	wantCode(t, client.Logout(ctx, s.URL, other.Token), "invalid_token")
}

// TestLoginThrottle runs one sequence of attempts from one address
// against limits of 3 failures per username and 8 per address.
func TestLoginThrottle(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{LoginMaxFailures: 3, LoginMaxFailuresPerAddr: 8, LoginWindow: time.Minute})
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		s.Register(name)
	}
	dave := s.Register("dave2")
	steps := []struct {
		name     string
		ws       bool // WebSocket auth instead of HTTP login
		user, pw string
		want     string // error code; empty: success
	}{
		{"alice wrong 1", false, "alice", "wrong-pw", "invalid_credentials"},
		{"alice wrong 2 (ws)", true, "alice", "wrong-pw", "invalid_credentials"},
		{"alice wrong 3, other case", false, "ALICE", "wrong-pw", "invalid_credentials"},
		{"alice right, throttled", false, "alice", "password-alice", "too_many_attempts"},
		{"alice right, throttled (ws)", true, "alice", "password-alice", "too_many_attempts"},
		{"bob unaffected", false, "bob", "password-bob", ""},
		{"bob wrong 1 (address 4)", false, "bob", "wrong-pw", "invalid_credentials"},
		{"bob right clears bob", false, "bob", "password-bob", ""},
		{"unknown 1", false, "ghost", "wrong-pw", "invalid_credentials"},
		{"unknown 2 (ws)", true, "ghost", "wrong-pw", "invalid_credentials"},
		{"unknown 3 (address 7)", false, "ghost", "wrong-pw", "invalid_credentials"},
		{"unknown, throttled like a user", false, "ghost", "wrong-pw", "too_many_attempts"},
		{"bob wrong (address 8)", false, "bob", "wrong-pw", "invalid_credentials"},
		{"address throttled", false, "carol", "password-carol", "too_many_attempts"},
		{"address throttled (ws)", true, "dave", "password-dave", "too_many_attempts"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.ws {
				f, status := wsAuth(t, s, wsPasswordAuth(st.user, st.pw))
				switch {
				case st.want == "" && f["cmd"] != "ready":
					t.Fatalf("reply = %v, want ready", f)
				case st.want != "" && (f["code"] != st.want || status != 4003):
					t.Fatalf("reply = %v, close %d; want %s, 4003", f, status, st.want)
				}
				if st.want == "too_many_attempts" {
					if ra, _ := f["retry_after"].(float64); ra < 1 || ra > 60 || f["val"] != "too many failed attempts; retry later" {
						t.Fatalf("auth_error = %v, want retry_after in [1, 60]", f)
					}
				}
				return
			}
			r := post(t, s.URL+"/api/login", "", loginBody(st.user, st.pw))
			want := map[string]int{"": 200, "invalid_credentials": 401, "too_many_attempts": 429}[st.want]
			if r.status != want || r.code() != st.want {
				t.Fatalf("login = %d %v, want %d %q", r.status, r.body, want, st.want)
			}
			if st.want == "too_many_attempts" {
				if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
					t.Fatalf("Retry-After = %q, want 1-60 seconds", r.header.Get("Retry-After"))
				}
			} else if r.header.Get("Retry-After") != "" {
				t.Fatalf("Retry-After on a %d", r.status)
			}
		})
	}
	// Tokens are not throttled; a password change checks a password, so
	// it is.
	c := s.Dial(dave)
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	r := post(t, s.URL+"/api/password", dave.Token, passwordBody("password-dave2", "another-password"))
	if r.status != 429 || r.code() != "too_many_attempts" {
		t.Fatalf("password change from a throttled address = %d %v, want 429", r.status, r.body)
	}
}

// TestLoginThrottleWindow: the lock lifts when the window has passed, a
// success clears the username's count, and wrong current passwords in a
// password change count too.
func TestLoginThrottleWindow(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{LoginMaxFailures: 2, LoginWindow: time.Second})
	alice := s.Register("alice")
	s.Register("bob")
	steps := []struct {
		name  string
		path  string
		body  string
		sleep time.Duration // before the request
		want  int
	}{
		{"wrong 1", "/api/login", loginBody("alice", "wrong-pw"), 0, 401},
		{"right clears", "/api/login", loginBody("alice", "password-alice"), 0, 200},
		{"wrong 1 again", "/api/login", loginBody("alice", "wrong-pw"), 0, 401},
		{"wrong current password 2", "/api/password", passwordBody("wrong-pw", "new-password-x"), 0, 401},
		{"locked", "/api/login", loginBody("alice", "password-alice"), 0, 429},
		{"locked for password change", "/api/password", passwordBody("password-alice", "new-password-x"), 0, 429},
		{"other user", "/api/login", loginBody("bob", "password-bob"), 0, 200},
		{"after the window", "/api/login", loginBody("alice", "password-alice"), 1100 * time.Millisecond, 200},
	}
	for _, st := range steps {
		time.Sleep(st.sleep)
		r := post(t, s.URL+st.path, alice.Token, st.body)
		if r.status != st.want {
			t.Fatalf("%s: %s = %d %v, want %d", st.name, st.path, r.status, r.body, st.want)
		}
		if st.want == 429 && r.header.Get("Retry-After") != "1" {
			t.Fatalf("%s: Retry-After = %q, want 1", st.name, r.header.Get("Retry-After"))
		}
	}
}

func TestConnectionsPerUser(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxConnectionsPerUser: 2})
	alice := s.Register("alice")
	first := s.Dial(alice)
	byPassword, err := client.Dial(ctx, s.WSURL, client.Credentials{Username: "alice", Password: "password-alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer byPassword.Close()
	cases := []struct {
		name  string
		frame string
	}{
		{"token", `{"cmd":"auth","ref":1,"token":"` + alice.Token + `"}`},
		{"password", wsPasswordAuth("alice", "password-alice")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, status := wsAuth(t, s, tc.frame)
			if f["cmd"] != "auth_error" || f["code"] != "too_many_connections" || status != 4003 {
				t.Fatalf("third connection: %v, close %d; want too_many_connections, 4003", f, status)
			}
			if f["val"] != "this user already has 2 connections open to this server" {
				t.Fatalf("val = %q", f["val"])
			}
		})
	}
	s.User("bob") // other users are not affected

	// A closed connection frees its place.
	_ = first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: alice.Token}, nil)
		if err == nil {
			_ = c.Close()
			break
		}
		wantCode(t, err, "too_many_connections")
		if time.Now().After(deadline) {
			t.Fatal("the place of a closed connection was not freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
