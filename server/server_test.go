package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

// TestRestartKeepsData runs the server on its own embedded store, restarts
// both, and finds accounts, circles and history intact.
func TestRestartKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{DataDir: t.TempDir()})
	alice, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Persistent", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	for _, text := range []string{"one", "two", "three"} {
		if _, err := ac.Send(ctx, general, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	_ = ac.Close()

	s.Restart()

	// The old token still works, and so does the password.
	c := s.Dial(alice)
	if _, err := client.LoginUser(ctx, s.URL, "alice", "password-alice"); err != nil {
		t.Fatalf("login after restart: %v", err)
	}
	cs := c.Ready().Circles
	if len(cs) != 1 || cs[0].ID != circle.ID || len(cs[0].Streams) != 1 || cs[0].Streams[0].LastSeq != 3 {
		t.Fatalf("ready circles after restart = %+v", cs)
	}
	hist, err := c.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 3 || hist[2].Content != "three" {
		t.Fatalf("history after restart = %v, %v", hist, err)
	}
	// Numbering continues without a gap.
	msg, err := c.Send(ctx, general, "four", "")
	if err != nil || msg.Seq != 4 {
		t.Fatalf("send after restart = %+v, %v; want seq 4", msg, err)
	}
}

// TestCollections checks the documents Oshi mirrors into MongoDB.
func TestCollections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Mirror", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	code, err := ac.CreateInvite(ctx, circle.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.JoinInvite(ctx, code); err != nil {
		t.Fatal(err)
	}
	msg, err := ac.Send(ctx, circle.Streams[0].ID, "mirrored", "")
	if err != nil {
		t.Fatal(err)
	}
	dm, err := ac.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	db := s.Srv.Store().Database()

	find := func(coll string, filter bson.D) bson.M {
		t.Helper()
		var doc bson.M
		if err := db.Collection(coll).FindOne(ctx, filter).Decode(&doc); err != nil {
			t.Fatalf("%s %v: %v", coll, filter, err)
		}
		return doc
	}
	has := func(coll string, doc bson.M, want map[string]any) {
		t.Helper()
		for field, v := range want {
			got, ok := doc[field]
			if !ok {
				t.Fatalf("%s document has no %q: %v", coll, field, doc)
			}
			if v != nil && got != v {
				t.Fatalf("%s.%s = %v (%T), want %v", coll, field, got, got, v)
			}
		}
	}

	user := find(store.UsersCollection, bson.D{{Key: "_id", Value: alice.User.ID}})
	has("users", user, map[string]any{"username": "alice", "password_hash": nil, "created_at": nil})
	if h := user["password_hash"].(string); !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("password_hash = %q, want argon2id", h)
	}

	sess := find(store.SessionsCollection, bson.D{{Key: "user_id", Value: alice.User.ID}})
	has("sessions", sess, map[string]any{"expires_at": nil})
	if sess["_id"] == alice.Token || strings.Contains(bsonString(t, sess), alice.Token) {
		t.Fatal("session stores the token in clear")
	}

	c := find(store.CirclesCollection, bson.D{{Key: "_id", Value: circle.ID}})
	has("circles", c, map[string]any{"name": "Mirror", "visibility": "private", "owner_id": alice.User.ID, "created_at": nil})

	m := find(store.MembersCollection, bson.D{{Key: "circle_id", Value: circle.ID}, {Key: "user_id", Value: bob.User.ID}})
	has("members", m, map[string]any{"roles": nil, "joined_at": nil})

	// last_seq is written every few seconds (streams.Config.SeqFlushInterval).
	var st bson.M
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st = find(store.StreamsCollection, bson.D{{Key: "_id", Value: circle.Streams[0].ID}})
		if st["last_seq"] == int64(1) || time.Now().After(deadline) {
			break
		}
	}
	has("streams", st, map[string]any{"kind": "channel", "circle_id": circle.ID, "name": "general", "last_seq": int64(1)})

	d := find(store.StreamsCollection, bson.D{{Key: "_id", Value: dm.ID}})
	has("streams", d, map[string]any{"kind": "dm", "members": nil, "last_seq": int64(0)})
	if ms := d["members"].(bson.A); len(ms) != 2 {
		t.Fatalf("dm members = %v", ms)
	}

	doc := find(store.MessagesCollection, bson.D{{Key: "_id", Value: msg.ID}})
	has("messages", doc, map[string]any{"stream_id": circle.Streams[0].ID, "seq": int64(1), "author_id": alice.User.ID, "content": "mirrored", "created_at": nil})
}

func bsonString(t *testing.T, doc bson.M) string {
	b, err := bson.MarshalExtJSON(doc, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"bad duration", map[string]string{"OSHI_AUTH_TIMEOUT": "soon"}, "OSHI_AUTH_TIMEOUT"},
		{"bad number", map[string]string{"OSHI_MAX_MESSAGE_LENGTH": "many"}, "OSHI_MAX_MESSAGE_LENGTH"},
		{"negative", map[string]string{"OSHI_HEARTBEAT_INTERVAL": "-1s"}, "OSHI_HEARTBEAT_INTERVAL"},
		{"bad level", map[string]string{"OSHI_LOG_LEVEL": "loud"}, "OSHI_LOG_LEVEL"},
		{"bad sync", map[string]string{"OSHI_STORE_SYNC": "sometimes"}, "OSHI_STORE_SYNC"},
		{"good level", map[string]string{"OSHI_LOG_LEVEL": "debug"}, ""},
		{"json logs", map[string]string{"OSHI_LOG_FORMAT": "json"}, ""},
		{"bad log format", map[string]string{"OSHI_LOG_FORMAT": "xml"}, "OSHI_LOG_FORMAT"},
		{"negative login failures", map[string]string{"OSHI_LOGIN_MAX_FAILURES": "-1"}, "OSHI_LOGIN_MAX_FAILURES"},
		{"bad address failures", map[string]string{"OSHI_LOGIN_MAX_FAILURES_PER_ADDR": "lots"}, "OSHI_LOGIN_MAX_FAILURES_PER_ADDR"},
		{"bad login window", map[string]string{"OSHI_LOGIN_WINDOW": "5"}, "OSHI_LOGIN_WINDOW"},
		{"negative connections per user", map[string]string{"OSHI_MAX_CONNECTIONS_PER_USER": "-3"}, "OSHI_MAX_CONNECTIONS_PER_USER"},
		{"TLS cert without key", map[string]string{"OSHI_TLS_CERT": "/etc/oshi/cert.pem"}, "OSHI_TLS_KEY must be set"},
		{"TLS key without cert", map[string]string{"OSHI_TLS_KEY": "/etc/oshi/key.pem"}, "OSHI_TLS_CERT must be set"},
		{"TLS pair", map[string]string{"OSHI_TLS_CERT": "/etc/oshi/cert.pem", "OSHI_TLS_KEY": "/etc/oshi/key.pem"}, ""},
		{"bad members per circle", map[string]string{"OSHI_MAX_MEMBERS_PER_CIRCLE": "crowd"}, "OSHI_MAX_MEMBERS_PER_CIRCLE"},
		{"negative circles per user", map[string]string{"OSHI_MAX_CIRCLES_PER_USER": "-1"}, "OSHI_MAX_CIRCLES_PER_USER"},
		{"negative streams per circle", map[string]string{"OSHI_MAX_STREAMS_PER_CIRCLE": "-2"}, "OSHI_MAX_STREAMS_PER_CIRCLE"},
		{"bad roles per circle", map[string]string{"OSHI_MAX_ROLES_PER_CIRCLE": "1.5"}, "OSHI_MAX_ROLES_PER_CIRCLE"},
		{"bad messages per minute", map[string]string{"OSHI_RATE_MESSAGES_PER_MINUTE": "lots"}, "OSHI_RATE_MESSAGES_PER_MINUTE"},
		{"negative burst", map[string]string{"OSHI_RATE_BURST": "-10"}, "OSHI_RATE_BURST must not be negative"},
		{"burst window without unit", map[string]string{"OSHI_RATE_BURST_WINDOW": "10"}, "OSHI_RATE_BURST_WINDOW"},
		{"negative cooldown", map[string]string{"OSHI_RATE_COOLDOWN": "-30s"}, "OSHI_RATE_COOLDOWN"},
		{"bad typing burst", map[string]string{"OSHI_RATE_TYPING_BURST": "ten"}, "OSHI_RATE_TYPING_BURST"},
		{"negative typing window", map[string]string{"OSHI_RATE_TYPING_WINDOW": "-1s"}, "OSHI_RATE_TYPING_WINDOW"},
		{"limits set", map[string]string{"OSHI_MAX_MEMBERS_PER_CIRCLE": "50", "OSHI_RATE_BURST": "5", "OSHI_RATE_COOLDOWN": "1m"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := server.FromEnv()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.env == nil && (cfg.Addr != "127.0.0.1:7777" || cfg.MaxMessageLength != 4000 || cfg.TokenTTL != 720*time.Hour || cfg.HeartbeatInterval != 25*time.Second ||
					cfg.LoginMaxFailures != 5 || cfg.LoginMaxFailuresPerAddr != 20 || cfg.LoginWindow != 5*time.Minute || cfg.MaxConnectionsPerUser != 20 || cfg.TLSCert != "" || cfg.LogFormat != "text") {
					t.Fatalf("defaults = %+v", cfg)
				}
				if tc.env == nil && (cfg.MaxMembersPerCircle != 10000 || cfg.MaxCirclesPerUser != 100 || cfg.MaxStreamsPerCircle != 200 || cfg.MaxRolesPerCircle != 100 ||
					cfg.RateMessagesPerMinute != 60 || cfg.RateBurst != 10 || cfg.RateBurstWindow != 10*time.Second || cfg.RateCooldown != 30*time.Second ||
					cfg.RateTypingBurst != 10 || cfg.RateTypingWindow != 10*time.Second) {
					t.Fatalf("limit defaults = %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

// TestNewRefusesBadLimits: a Go program's bad limits stop server.New with
// an error naming the variable, before any store is opened.
func TestNewRefusesBadLimits(t *testing.T) {
	cases := []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"members", server.Config{MaxMembersPerCircle: -1}, "OSHI_MAX_MEMBERS_PER_CIRCLE"},
		{"roles", server.Config{MaxRolesPerCircle: -1}, "OSHI_MAX_ROLES_PER_CIRCLE"},
		{"per minute", server.Config{RateMessagesPerMinute: -1}, "OSHI_RATE_MESSAGES_PER_MINUTE"},
		{"burst window", server.Config{RateBurstWindow: -time.Second}, "OSHI_RATE_BURST_WINDOW"},
		{"typing burst", server.Config{RateTypingBurst: -1}, "OSHI_RATE_TYPING_BURST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			srv, err := server.New(context.Background(), tc.cfg)
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("server started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
