package gateway_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// presenceCmds are the events presence sends.
var presenceCmds = []string{"user_connect", "user_disconnect", "status_update", "presences"}

// nextPresence returns c's next presence event and checks it is cmd
// about username with status (status "" is not checked).
func nextPresence(t *testing.T, c *client.Client, cmd, username, status string) client.Event {
	t.Helper()
	ev := oshitest.Next(t, c, presenceCmds...)
	p := ev.Presence()
	if ev.Cmd != cmd || p.User.Username != username || status != "" && p.Status != status {
		t.Fatalf("got %s, want %s of %s (status %q)", ev.Raw, cmd, username, status)
	}
	return ev
}

// readyPresences opens a raw connection for login and returns the
// presences of its ready frame. The connection stays open until close
// is called (or the test ends).
func readyPresences(t *testing.T, s *oshitest.Server, login *client.Login) (ps []models.Presence, close func()) {
	t.Helper()
	ctx := ctxT(t)
	ws, _, err := websocket.Dial(ctx, s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	close = func() { _ = ws.Close(websocket.StatusNormalClosure, "") }
	t.Cleanup(close)
	auth, _ := json.Marshal(map[string]any{"cmd": "auth", "ref": 1, "token": login.Token})
	if err := ws.Write(ctx, websocket.MessageText, auth); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("reading until ready: %v", err)
		}
		var f struct {
			Cmd       string            `json:"cmd"`
			Presences []models.Presence `json:"presences"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		switch f.Cmd {
		case "handshake":
		case "ready":
			return f.Presences, close
		default:
			t.Fatalf("before ready: %s", data)
		}
	}
}

// show renders presences as "name:status:text" for comparison.
func show(ps []models.Presence) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.User.Username+":"+p.Status+":"+p.Text)
	}
	return out
}

// den is a circle of alice (owner) and bob, with carol, a stranger who
// shares nothing with them. Joining, bob was announced to alice, and bob
// learnt that alice is online; both events are consumed.
type den struct {
	s                 *oshitest.Server
	circle            *models.Circle
	alice, bob, carol *client.Login
	ac, bc, cc        *client.Client
	general           string
}

func newDen(t *testing.T) *den {
	t.Helper()
	ctx := ctxT(t)
	d := &den{s: oshitest.NewServer(t, server.Config{})}
	d.alice, d.ac = d.s.User("alice")
	d.bob, d.bc = d.s.User("bob")
	d.carol, d.cc = d.s.User("carol")
	var err error
	if d.circle, err = d.ac.CreateCircle(ctx, "Den", models.Public); err != nil {
		t.Fatal(err)
	}
	d.general = d.circle.Streams[0].ID
	if _, err := d.bc.JoinCircle(ctx, d.circle.ID); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_connect", "bob", models.Online)
	if ev := nextPresence(t, d.bc, "presences", "", ""); ev.Circle != d.circle.ID || !slices.Equal(show(ev.Presences()), []string{"alice:online:"}) {
		t.Fatalf("bob's presences after joining: %s", ev.Raw)
	}
	return d
}

func TestStatusSetRefusals(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	for _, tc := range []struct {
		name  string
		frame map[string]any
		code  string
	}{
		{"no status", map[string]any{"cmd": "status_set"}, "invalid_status"},
		{"unknown status", map[string]any{"cmd": "status_set", "status": "away"}, "invalid_status"},
		{"offline is not a choice", map[string]any{"cmd": "status_set", "status": "offline"}, "invalid_status"},
		{"status is case-sensitive", map[string]any{"cmd": "status_set", "status": "Online"}, "invalid_status"},
		{"text too long", map[string]any{"cmd": "status_set", "status": "idle", "text": strings.Repeat("é", 129)}, "invalid_status_text"},
		{"newline", map[string]any{"cmd": "status_set", "status": "idle", "text": "a\nb"}, "invalid_status_text"},
		{"tab", map[string]any{"cmd": "status_set", "status": "idle", "text": "a\tb"}, "invalid_status_text"},
		{"DEL", map[string]any{"cmd": "status_set", "status": "idle", "text": "a\x7fb"}, "invalid_status_text"},
		{"C1 control", map[string]any{"cmd": "status_set", "status": "idle", "text": "a\u0085b"}, "invalid_status_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.bc.Request(ctx, tc.frame); client.Code(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	// The connection is still usable, the longest text is accepted, and
	// the refusals told alice nothing: her next presence event is this.
	longest := strings.Repeat("é", 128)
	if err := d.bc.SetStatus(ctx, models.DND, longest); err != nil {
		t.Fatal(err)
	}
	if ev := nextPresence(t, d.ac, "status_update", "bob", models.DND); ev.Presence().Text != longest {
		t.Fatalf("text = %q", ev.Presence().Text)
	}
}

func TestStatusSetReply(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	raw, err := d.bc.Request(ctx, map[string]any{"cmd": "status_set", "status": "dnd", "text": "deep work"})
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Cmd, Status, Text string }
	if err := json.Unmarshal(raw, &r); err != nil || r.Cmd != "status_set" || r.Status != "dnd" || r.Text != "deep work" {
		t.Fatalf("reply = %s", raw)
	}
	// Without text the text stays; "" clears it.
	if raw, err = d.bc.Request(ctx, map[string]any{"cmd": "status_set", "status": "idle"}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Status != "idle" || r.Text != "deep work" {
		t.Fatalf("reply without text = %s", raw)
	}
	if err := d.bc.SetStatus(ctx, models.Idle, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dnd:deep work", "idle:deep work", "idle:"} {
		p := nextPresence(t, d.ac, "status_update", "bob", "").Presence()
		if got := p.Status + ":" + p.Text; got != want {
			t.Fatalf("alice saw %s, want %s", got, want)
		}
	}
	// The same status again changes nothing and announces nothing: the
	// next event alice sees is the following change.
	if err := d.bc.SetStatus(ctx, models.Idle, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.bc.SetStatus(ctx, models.Online, ""); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "status_update", "bob", models.Online)
}

// TestPresenceOncePerUser: co-members hear of a user once, however many
// connections the user has; the user's other connections follow the
// status; a stranger hears nothing.
func TestPresenceOncePerUser(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)

	// Bob goes offline, then comes back with two connections: alice
	// hears one user_connect, then the status change made on one of them.
	if err := d.bc.Close(); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_disconnect", "bob", models.Offline)
	b1 := d.s.Dial(d.bob)
	b2 := d.s.Dial(d.bob)
	nextPresence(t, d.ac, "user_connect", "bob", models.Online)
	if err := b1.SetStatus(ctx, models.Idle, "brb"); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "status_update", "bob", models.Idle) // not a second user_connect
	// Bob's other connection follows his status; the one that set it got
	// the reply only.
	if p := nextPresence(t, b2, "status_update", "bob", models.Idle).Presence(); p.Text != "brb" {
		t.Fatalf("b2 saw %+v", p)
	}

	// Closing one connection says nothing; the last one, user_disconnect.
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b2.SetStatus(ctx, models.Online, ""); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "status_update", "bob", models.Online) // not a user_disconnect
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_disconnect", "bob", models.Offline)

	// Carol shares nothing with alice or bob and heard none of it: the
	// first presence event she gets is the one of a DM peer.
	_, dave := d.s.User("dave")
	if _, err := dave.OpenDM(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	ev := nextPresence(t, d.cc, "presences", "", "")
	if ev.Stream == "" || !slices.Equal(show(ev.Presences()), []string{"dave:online:"}) {
		t.Fatalf("carol's first presence event: %s", ev.Raw)
	}
	// And now a DM peer, carol hears of dave.
	if err := dave.Close(); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.cc, "user_disconnect", "dave", models.Offline)
}

// TestPresenceInvisible: an invisible user looks offline to everyone
// else and is never announced; the user's own connections see the
// truth.
func TestPresenceInvisible(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	b2 := d.s.Dial(d.bob)

	// Going invisible looks like leaving.
	if err := d.bc.SetStatus(ctx, models.Invisible, "hiding"); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_disconnect", "bob", models.Offline)
	if p := nextPresence(t, b2, "status_update", "bob", models.Invisible).Presence(); p.Text != "hiding" {
		t.Fatalf("bob's other connection saw %+v", p)
	}

	// Connecting and disconnecting while invisible is not announced, and
	// ready does not list him; his own ready shows him invisible.
	ps, closeAlice := readyPresences(t, d.s, d.alice)
	if got := show(ps); !slices.Equal(got, []string{"alice:online:"}) {
		t.Fatalf("alice's ready presences = %v", got)
	}
	closeAlice()
	if err := d.bc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	ps, _ = readyPresences(t, d.s, d.bob) // stored: still invisible
	if got := show(ps); !slices.Equal(got, []string{"bob:invisible:hiding", "alice:online:"}) {
		t.Fatalf("bob's ready presences = %v", got)
	}
	b3 := d.s.Dial(d.bob)

	// Leaving invisible looks like arriving; it is the first thing alice
	// hears since bob went invisible.
	if err := b3.SetStatus(ctx, models.Online, ""); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_connect", "bob", models.Online)
}

// TestPresenceReady: ready lists the user's own status and the online
// co-members (circles and DMs), not offline ones nor strangers.
func TestPresenceReady(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	erin, ec := d.s.User("erin") // a member who goes offline
	if _, err := ec.JoinCircle(ctx, d.circle.ID); err != nil {
		t.Fatal(err)
	}
	if err := ec.Close(); err != nil {
		t.Fatal(err)
	}
	_, dave := d.s.User("dave") // a DM peer
	if _, err := dave.OpenDM(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := d.bc.SetStatus(ctx, models.DND, "busy"); err != nil {
		t.Fatal(err)
	}
	if err := d.ac.SetStatus(ctx, models.Idle, "lunch"); err != nil {
		t.Fatal(err)
	}
	ps, _ := readyPresences(t, d.s, d.alice)
	want := []string{"alice:idle:lunch", "bob:dnd:busy", "dave:online:"}
	if got := show(ps); !slices.Equal(got, want) {
		t.Fatalf("ready presences = %v, want %v (not carol, a stranger, nor erin, offline: %s)", got, want, erin.User.ID)
	}
}

// TestPresenceStatusPersists: a status survives the user going offline
// and the server restarting.
func TestPresenceStatusPersists(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	if err := d.bc.SetStatus(ctx, models.DND, "focus"); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "status_update", "bob", models.DND)
	if err := d.bc.Close(); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_disconnect", "bob", models.Offline)
	d.s.Dial(d.bob)
	if p := nextPresence(t, d.ac, "user_connect", "bob", models.DND).Presence(); p.Text != "focus" {
		t.Fatalf("after reconnecting: %+v", p)
	}

	d.s.Restart()
	ps, _ := readyPresences(t, d.s, d.bob)
	if got := show(ps); !slices.Equal(got, []string{"bob:dnd:focus"}) {
		t.Fatalf("bob's ready presences after a restart = %v", got)
	}
}

// TestPresenceCircleJoin: joining a circle announces the joiner to
// members who did not share anything with them yet, and tells the
// joiner who of the circle is online.
func TestPresenceCircleJoin(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	// Erin already shares a circle with alice, not with bob.
	_, ec := d.s.User("erin")
	other, err := d.ac.CreateCircle(ctx, "Other", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.JoinCircle(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "user_connect", "erin", models.Online)
	nextPresence(t, ec, "presences", "", "")

	if _, err := ec.JoinCircle(ctx, d.circle.ID); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.bc, "user_connect", "erin", models.Online)
	ev := nextPresence(t, ec, "presences", "", "")
	if ev.Circle != d.circle.ID || !slices.Equal(show(ev.Presences()), []string{"alice:online:", "bob:online:"}) {
		t.Fatalf("erin's presences after joining: %s", ev.Raw)
	}
	// Alice knew erin was online: her next presence event is erin's
	// status change, not a second user_connect.
	if err := ec.SetStatus(ctx, models.Idle, ""); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, d.ac, "status_update", "erin", models.Idle)
	nextPresence(t, d.bc, "status_update", "erin", models.Idle)
}

func TestTypingRefusals(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	priv, err := d.ac.CreateCircle(ctx, "Private", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := d.ac.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.ac.Request(ctx, map[string]any{"cmd": "stream_create", "circle": d.circle.ID, "name": "lounge", "kind": "voice"})
	if err != nil {
		t.Fatal(err)
	}
	var voice struct{ Stream models.Stream }
	if err := json.Unmarshal(raw, &voice); err != nil || voice.Stream.ID == "" {
		t.Fatalf("voice stream: %s, %v", raw, err)
	}
	for _, st := range []string{d.general, dm.ID} {
		if _, err := d.ac.Subscribe(ctx, st, -1); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		who    *client.Client
		stream string
		codes  []string
	}{
		{"no stream", d.cc, "", []string{"bad_request"}},
		{"unknown stream", d.cc, "no-such-stream", []string{"not_found"}},
		{"private circle of others", d.cc, priv.Streams[0].ID, []string{"forbidden", "not_found"}},
		{"public circle not joined", d.cc, d.general, []string{"forbidden", "not_found"}},
		{"DM of others", d.cc, dm.ID, []string{"forbidden", "not_found"}},
		{"voice stream", d.bc, voice.Stream.ID, []string{"bad_request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.who.Typing(ctx, tc.stream)
			if !slices.Contains(tc.codes, client.Code(err)) {
				t.Fatalf("got %v, want one of %v", err, tc.codes)
			}
		})
	}
	// None of the refusals reached alice: the first typing she sees is
	// bob's.
	if err := d.bc.Typing(ctx, dm.ID); err != nil {
		t.Fatal(err)
	}
	if ev := oshitest.Next(t, d.ac, "typing"); ev.Stream != dm.ID || ev.User == nil || ev.User.Username != "bob" {
		t.Fatalf("alice got %s", ev.Raw)
	}
}

// TestTyping: typing reaches the stream's subscribers, with the typer
// and an expiry, and is never stored.
func TestTyping(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	if _, err := d.ac.Subscribe(ctx, d.general, -1); err != nil {
		t.Fatal(err)
	}
	raw, err := d.bc.Request(ctx, map[string]any{"cmd": "typing", "stream": d.general})
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Cmd, Stream string
		ExpiresMS   int64 `json:"expires_ms"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil || reply.Cmd != "typing" || reply.Stream != d.general || reply.ExpiresMS != 8000 {
		t.Fatalf("reply = %s", raw)
	}
	ev := oshitest.Next(t, d.ac, "typing")
	var got struct {
		Stream    string         `json:"stream"`
		User      models.UserRef `json:"user"`
		ExpiresMS int64          `json:"expires_ms"`
	}
	if err := json.Unmarshal(ev.Raw, &got); err != nil || got.Stream != d.general || got.User.ID != d.bob.User.ID || got.ExpiresMS != 8000 {
		t.Fatalf("alice got %s", ev.Raw)
	}

	// Nothing stored: no history, and the next message is seq 1.
	hist, err := d.ac.History(ctx, d.general, client.HistoryQuery{Limit: 50})
	if err != nil || len(hist) != 0 {
		t.Fatalf("history after typing: %d messages, %v", len(hist), err)
	}
	m, err := d.bc.Send(ctx, d.general, "done typing", "")
	if err != nil || m.Seq != 1 {
		t.Fatalf("first message after typing: %+v, %v", m, err)
	}
}

// TestPresenceCluster: with two nodes, a user with connections on both
// is announced once, goes offline only when the last one closes, and a
// node that stops, or vanishes without a word, takes its users offline.
func TestPresenceCluster(t *testing.T) {
	ctx := ctxT(t)
	natsURL := oshitest.NATS(t)
	uri, db := oshitest.MongoURI(t), oshitest.Database(t)
	node := func(name string) *oshitest.Server {
		// A short heartbeat: nodes renew presence leases each beat.
		return oshitest.NewServer(t, server.Config{MongoURI: uri, MongoDB: db, NATSURL: natsURL, NodeName: name,
			HeartbeatInterval: 500 * time.Millisecond})
	}
	a, b := node("a"), node("b")
	_, alice := a.User("alice")
	bob, bobOnB := b.User("bob")
	circle, err := alice.CreateCircle(ctx, "Mesh", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bobOnB.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, alice, "user_connect", "bob", models.Online)
	if ev := nextPresence(t, bobOnB, "presences", "", ""); !slices.Equal(show(ev.Presences()), []string{"alice:online:"}) {
		t.Fatalf("bob's presences after joining: %s", ev.Raw)
	}

	// A second connection on the other node: no second user_connect.
	bobOnA := a.Dial(bob)
	if err := bobOnB.SetStatus(ctx, models.Idle, "on B"); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, alice, "status_update", "bob", models.Idle)
	nextPresence(t, bobOnA, "status_update", "bob", models.Idle) // his own, across nodes
	// A status set on A wins over the one set on B, on both nodes.
	if err := bobOnA.SetStatus(ctx, models.DND, "on A"); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, alice, "status_update", "bob", models.DND)
	nextPresence(t, bobOnB, "status_update", "bob", models.DND)

	// Node B stops: bob is still on A, so alice hears nothing of it...
	b.Stop()
	<-bobOnB.Done()
	if err := bobOnA.SetStatus(ctx, models.Online, ""); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, alice, "status_update", "bob", models.Online) // not user_disconnect
	// ...until his last connection closes.
	if err := bobOnA.Close(); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, alice, "user_disconnect", "bob", models.Offline)

	// A node that vanishes without a word: a ghost node says bob is
	// online on it, then is never heard of again. Alice sees bob arrive,
	// then leave once the ghost's lease runs out.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	up, _ := json.Marshal(map[string]any{"op": "up", "node": "ghost", "lease_ms": 200,
		"users": []map[string]any{{"user": bob.User, "status": "online"}}})
	// The cluster bus frame: topic, newline, payload (package cluster).
	if err := nc.Publish("oshi.bus", fmt.Appendf(nil, "presence\n%s", up)); err != nil {
		t.Fatal(err)
	}
	nextPresence(t, alice, "user_connect", "bob", models.Online)
	nextPresence(t, alice, "user_disconnect", "bob", models.Offline)
}

// TestPresenceNoEventBeforeReady: events for a connection made while its
// ready frame is being built wait for ready (a client fails on anything
// else first). Many connections open while a co-member flips status.
func TestPresenceNoEventBeforeReady(t *testing.T) {
	ctx := ctxT(t)
	d := newDen(t)
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		for i := 0; i < 40; i++ {
			status := models.Idle
			if i%2 == 1 {
				status = models.Online
			}
			if err := d.ac.SetStatus(ctx, status, ""); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 20; i++ {
		c, err := client.Dial(ctx, d.s.WSURL, client.Credentials{Token: d.bob.Token}, nil)
		if err != nil {
			t.Fatalf("dial %d while alice changes status: %v", i, err)
		}
		_ = c.Close()
	}
}
