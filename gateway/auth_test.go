package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// readFrame reads one frame as a map.
func readFrame(t *testing.T, ctx context.Context, ws *websocket.Conn) map[string]any {
	t.Helper()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// readClose reads until the server closes and returns the close status.
func readClose(t *testing.T, ctx context.Context, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func TestAuthentication(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{AuthTimeout: 300 * time.Millisecond})
	alice := s.Register("alice")

	cases := []struct {
		name      string
		first     string // the client's first frame; empty sends nothing
		wantCmd   string
		wantCode  string
		wantClose websocket.StatusCode
	}{
		{"command before auth", `{"cmd":"circle_list","ref":1}`, "auth_error", "auth_required", 4003},
		{"malformed first frame", `{"cmd":`, "auth_error", "auth_required", 4003},
		{"unknown token", `{"cmd":"auth","ref":1,"token":"bogus"}`, "auth_error", "invalid_token", 4003},
		{"wrong password", `{"cmd":"auth","ref":1,"username":"alice","password":"wrong-password"}`, "auth_error", "invalid_credentials", 4003},
		{"unknown user", `{"cmd":"auth","ref":1,"username":"nobody","password":"whatever-pw"}`, "auth_error", "invalid_credentials", 4003},
		{"no credentials", `{"cmd":"auth","ref":1}`, "auth_error", "auth_required", 4003},
		{"silence", "", "", "", 4001},
		{"token", `{"cmd":"auth","ref":"r1","token":"` + alice.Token + `"}`, "ready", "", 0},
		{"password", `{"cmd":"auth","ref":2,"username":"ALICE","password":"password-alice"}`, "ready", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws, err := client.DialRaw(ctx, s.WSURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			hs := readFrame(t, ctx, ws)
			if hs["cmd"] != "handshake" {
				t.Fatalf("first frame = %v, want handshake", hs)
			}
			val := hs["val"].(map[string]any)
			if val["heartbeat_ms"] == nil || val["limits"].(map[string]any)["max_message_length"] != float64(4000) {
				t.Fatalf("handshake = %v", hs)
			}
			if tc.first != "" {
				if err := ws.Write(ctx, websocket.MessageText, []byte(tc.first)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.wantCmd != "" {
				f := readFrame(t, ctx, ws)
				if f["cmd"] != tc.wantCmd || (tc.wantCode != "" && f["code"] != tc.wantCode) {
					t.Fatalf("reply = %v, want %s %s", f, tc.wantCmd, tc.wantCode)
				}
				if tc.wantCmd == "ready" {
					var first map[string]any
					_ = json.Unmarshal([]byte(tc.first), &first)
					if f["ref"] != first["ref"] || f["user"].(map[string]any)["username"] != "alice" {
						t.Fatalf("ready = %v", f)
					}
				}
			}
			if tc.wantClose != 0 {
				if got := readClose(t, ctx, ws); got != tc.wantClose {
					t.Fatalf("close status = %d, want %d", got, tc.wantClose)
				}
			}
		})
	}
}

func TestLogoutClosesConnections(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice := s.Register("alice")
	c := s.Dial(alice)
	other, err := client.LoginUser(ctx, s.URL, "alice", "password-alice")
	if err != nil {
		t.Fatal(err)
	}
	c2 := s.Dial(other) // another login of the same user stays open

	if err := client.Logout(ctx, s.URL, alice.Token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after logout")
	}
	if got := closeStatus(c.Err()); got != 4004 {
		t.Fatalf("close status = %d, want 4004", got)
	}
	if err := c2.Ping(ctx); err != nil {
		t.Fatalf("other login affected: %v", err)
	}
	_, err = client.Dial(ctx, s.WSURL, client.Credentials{Token: alice.Token}, nil)
	wantCode(t, err, "invalid_token")
	wantCode(t, client.Logout(ctx, s.URL, alice.Token), "invalid_token")
}

func TestHeartbeat(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{HeartbeatInterval: 100 * time.Millisecond})
	alice := s.Register("alice")
	ctx := ctxT(t)

	// The client library answers pings, so it stays connected.
	c := s.Dial(alice)
	time.Sleep(500 * time.Millisecond)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("answering client dropped: %v", err)
	}

	// A client that reads but never sends is closed with 4002.
	ws, err := client.DialRaw(ctx, s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	readFrame(t, ctx, ws)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"cmd":"auth","token":"`+alice.Token+`"}`)); err != nil {
		t.Fatal(err)
	}
	pings := 0
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != 4002 {
				t.Fatalf("close status = %d (%v), want 4002", got, err)
			}
			break
		}
		if bytes.Equal(data, []byte(`{"cmd":"ping"}`)) {
			pings++
		}
	}
	if pings < 2 {
		t.Fatalf("saw %d pings before the close, want at least 2", pings)
	}
}

func TestHTTPAPI(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	s.Register("taken")
	cases := []struct {
		name   string
		path   string
		body   string
		status int
		code   string
	}{
		{"register", "/api/register", `{"username":"new_user1","password":"longenough"}`, 201, ""},
		{"register taken, other case", "/api/register", `{"username":"TAKEN","password":"longenough"}`, 409, "username_taken"},
		{"register bad name", "/api/register", `{"username":"bad name","password":"longenough"}`, 400, "invalid_username"},
		{"register long name", "/api/register", `{"username":"` + string(bytes.Repeat([]byte("a"), 33)) + `","password":"longenough"}`, 400, "invalid_username"},
		{"register empty name", "/api/register", `{"username":"","password":"longenough"}`, 400, "invalid_username"},
		{"register weak", "/api/register", `{"username":"weak","password":"short"}`, 400, "weak_password"},
		{"register malformed", "/api/register", `{"username":`, 422, "malformed_body"},
		{"login", "/api/login", `{"username":"taken","password":"password-taken"}`, 200, ""},
		{"login wrong password", "/api/login", `{"username":"taken","password":"nope-nope"}`, 401, "invalid_credentials"},
		{"login unknown", "/api/login", `{"username":"ghost","password":"nope-nope"}`, 401, "invalid_credentials"},
		{"login malformed", "/api/login", `[]`, 422, "malformed_body"},
		{"logout without token", "/api/logout", ``, 401, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(s.URL+tc.path, "application/json", bytes.NewBufferString(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d (%v), want %d", resp.StatusCode, body, tc.status)
			}
			if tc.code != "" {
				e, _ := body["error"].(map[string]any)
				if e == nil || e["code"] != tc.code || e["message"] == "" {
					t.Fatalf("body = %v, want error code %s", body, tc.code)
				}
				return
			}
			if body["token"] == "" || body["user"].(map[string]any)["id"] == "" || body["expires_at"] == nil {
				t.Fatalf("body = %v", body)
			}
		})
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestOriginCheck(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{AllowedOrigins: []string{"chat.example.com"}})
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // native clients send none
		{"https://chat.example.com", true},
		{"https://evil.example.net", false},
	}
	for _, tc := range cases {
		t.Run(tc.origin, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ws, err := client.DialRaw(ctx, s.WSURL, h)
			if ws != nil {
				ws.CloseNow()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("dial with Origin %q: err = %v, want ok = %v", tc.origin, err, tc.ok)
			}
		})
	}
}
