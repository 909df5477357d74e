package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// voiceWorld is a public circle owned by alice with a text channel
// (general) and two voice streams (lobby, stage); bob and erin are
// members, carol is not.
type voiceWorld struct {
	s                          *oshitest.Server
	login                      map[string]*client.Login
	alice, bob, erin, carol    *client.Client
	circle, general, lobby, st string
}

func newVoiceWorld(t *testing.T, s *oshitest.Server) *voiceWorld {
	t.Helper()
	ctx := ctxT(t)
	w := &voiceWorld{s: s, login: map[string]*client.Login{}}
	for _, name := range []string{"alice", "bob", "erin", "carol"} {
		l, c := s.User(name)
		w.login[name] = l
		switch name {
		case "alice":
			w.alice = c
		case "bob":
			w.bob = c
		case "erin":
			w.erin = c
		case "carol":
			w.carol = c
		}
	}
	circle, err := w.alice.CreateCircle(ctx, "Voice Club", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	w.circle, w.general = circle.ID, circle.Streams[0].ID
	w.lobby = voiceStream(t, ctx, w.alice, circle.ID, "Lobby")
	w.st = voiceStream(t, ctx, w.alice, circle.ID, "Stage")
	for _, c := range []*client.Client{w.bob, w.erin} {
		if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *voiceWorld) id(name string) string { return w.login[name].User.ID }

// voiceStream creates a voice stream and returns its id.
func voiceStream(t *testing.T, ctx context.Context, c *client.Client, circleID, name string) string {
	t.Helper()
	raw, err := c.Request(ctx, map[string]any{"cmd": "stream_create", "circle": circleID, "name": name, "kind": "voice"})
	if err != nil {
		t.Fatalf("create voice stream %s: %v", name, err)
	}
	var r struct {
		Stream models.Stream `json:"stream"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Stream.Kind != models.Voice {
		t.Fatalf("stream_create reply %s: %v", raw, err)
	}
	return r.Stream.ID
}

func voiceJoin(t *testing.T, ctx context.Context, c *client.Client, stream, peer string) []client.VoiceParticipant {
	t.Helper()
	ps, err := c.VoiceJoin(ctx, stream, peer)
	if err != nil {
		t.Fatalf("voice_join: %v", err)
	}
	return ps
}

// roster writes participants as "name:peer:muted" joined by spaces.
func roster(ps []client.VoiceParticipant) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s:%s:%v", p.User.Username, p.PeerID, p.Muted))
	}
	return strings.Join(parts, " ")
}

// expectVoice waits for a voice event of kind cmd on c and checks its
// stream, user and peer id ("" means the frame must carry none).
func expectVoice(t *testing.T, c *client.Client, cmd, stream, user, peer string) *client.VoiceEvent {
	t.Helper()
	ev := oshitest.Next(t, c, cmd)
	v, err := client.ParseVoiceEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if v.Stream != stream || v.User.Username != user || v.PeerID != peer {
		t.Fatalf("%s = %s; want stream %s, user %s, peer_id %q", cmd, ev.Raw, stream, user, peer)
	}
	if peer == "" && bytes.Contains(ev.Raw, []byte(`"peer_id"`)) {
		t.Fatalf("%s carries a peer_id: %s", cmd, ev.Raw)
	}
	return v
}

var voiceEvents = []string{"voice_user_joined", "voice_user_left", "voice_user_updated", "voice_signal", "voice_leave", "voice_state"}

// TestVoiceRefusals: every refusal of the voice commands, with its code;
// no signal reaches anyone, and the voice state is unchanged.
func TestVoiceRefusals(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	_, dave := s.User("dave")
	hidden, err := dave.CreateCircle(ctx, "Hidden", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	den := voiceStream(t, ctx, dave, hidden.ID, "Den")
	dm, err := w.alice.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	voiceJoin(t, ctx, w.alice, w.lobby, "alice-peer")
	voiceJoin(t, ctx, w.bob, w.st, "bob-peer")
	alice2 := s.Dial(w.login["alice"]) // alice's second connection, not in voice

	offer := map[string]any{"type": "offer", "sdp": "v=0"}
	cases := []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"join a text channel", w.bob, map[string]any{"cmd": "voice_join", "stream": w.general, "peer_id": "p"}, "not_voice"},
		{"join a dm", w.alice, map[string]any{"cmd": "voice_join", "stream": dm.ID, "peer_id": "p"}, "not_voice"},
		{"join without stream", w.erin, map[string]any{"cmd": "voice_join", "peer_id": "p"}, "bad_request"},
		{"join without peer_id", w.erin, map[string]any{"cmd": "voice_join", "stream": w.lobby}, "bad_request"},
		{"join with a control character in peer_id", w.erin, map[string]any{"cmd": "voice_join", "stream": w.lobby, "peer_id": "a\x01"}, "invalid_peer_id"},
		{"join with a 65-character peer_id", w.erin, map[string]any{"cmd": "voice_join", "stream": w.lobby, "peer_id": strings.Repeat("x", 65)}, "invalid_peer_id"},
		{"join an unknown stream", w.erin, map[string]any{"cmd": "voice_join", "stream": "no-such-stream", "peer_id": "p"}, "not_found"},
		{"join a stream of a private circle one is not in", w.carol, map[string]any{"cmd": "voice_join", "stream": den, "peer_id": "p"}, "forbidden"},
		{"join a stream of a public circle one is not in", w.carol, map[string]any{"cmd": "voice_join", "stream": w.lobby, "peer_id": "p"}, "forbidden"},
		{"voice_state of a circle one is not in", w.carol, map[string]any{"cmd": "voice_state", "circle": hidden.ID}, "forbidden"},
		{"leave when not in voice", w.erin, map[string]any{"cmd": "voice_leave"}, "not_in_voice"},
		{"leave another stream", w.bob, map[string]any{"cmd": "voice_leave", "stream": w.lobby}, "not_in_voice"},
		{"mute when not in voice", w.erin, map[string]any{"cmd": "voice_mute", "muted": true}, "not_in_voice"},
		{"mute from a connection not in voice", alice2, map[string]any{"cmd": "voice_mute", "muted": true}, "not_in_voice"},
		{"mute without muted", w.alice, map[string]any{"cmd": "voice_mute"}, "bad_request"},
		{"signal from a non-participant", w.erin, map[string]any{"cmd": "voice_signal", "to": w.id("alice"), "data": offer}, "not_in_voice"},
		{"signal from a stranger", w.carol, map[string]any{"cmd": "voice_signal", "to": w.id("alice"), "data": offer}, "not_in_voice"},
		{"signal from the participant's other connection", alice2, map[string]any{"cmd": "voice_signal", "to": w.id("bob"), "data": offer}, "not_in_voice"},
		{"signal to a non-participant", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("erin"), "data": offer}, "not_participant"},
		{"signal to a stranger", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("carol"), "data": offer}, "not_participant"},
		{"signal across two voice streams", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("bob"), "data": offer}, "not_participant"},
		{"signal to oneself", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("alice"), "data": offer}, "not_participant"},
		{"signal to an unknown user", w.alice, map[string]any{"cmd": "voice_signal", "to": "nobody", "data": offer}, "not_participant"},
		{"signal without to", w.alice, map[string]any{"cmd": "voice_signal", "data": offer}, "bad_request"},
		{"signal without data", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("bob")}, "bad_request"},
		{"signal with null data", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("bob"), "data": nil}, "bad_request"},
		{"signal over 16 KiB", w.alice, map[string]any{"cmd": "voice_signal", "to": w.id("bob"), "data": strings.Repeat("x", 16<<10)}, "signal_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.c.Request(ctx, tc.frame)
			if got := client.Code(err); got != tc.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.code)
			}
		})
	}
	for name, c := range map[string]*client.Client{"alice": w.alice, "alice's other connection": alice2, "bob": w.bob, "erin": w.erin, "carol": w.carol} {
		t.Run("nothing reaches "+name, func(t *testing.T) {
			oshitest.Quiet(t, c, 200*time.Millisecond, "voice_signal", "voice_leave")
		})
	}
	state, err := w.erin.VoiceState(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range state {
		got[st.Stream] = roster(st.Participants)
	}
	if len(got) != 2 || got[w.lobby] != "alice::false" || got[w.st] != "bob::false" {
		t.Fatalf("voice_state = %v after the refusals", got)
	}
}

// TestVoiceEventsReachViewers: joins, mutes and leaves reach every
// member, with peer_id only for the participants of the stream (every
// connection of theirs), and nothing reaches a stranger.
func TestVoiceEventsReachViewers(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	alice2 := s.Dial(w.login["alice"])

	if got := roster(voiceJoin(t, ctx, w.alice, w.lobby, "pa")); got != "alice:pa:false" {
		t.Fatalf("alice's voice_join participants = %q", got)
	}
	expectVoice(t, w.erin, "voice_user_joined", w.lobby, "alice", "")
	expectVoice(t, w.bob, "voice_user_joined", w.lobby, "alice", "")
	expectVoice(t, alice2, "voice_user_joined", w.lobby, "alice", "pa")

	if got := roster(voiceJoin(t, ctx, w.bob, w.lobby, "pb")); got != "alice:pa:false bob:pb:false" {
		t.Fatalf("bob's voice_join participants = %q", got)
	}
	steps := []struct {
		name string
		do   func() error
		cmd  string
	}{
		{"bob joined", func() error { return nil }, "voice_user_joined"},
		{"bob muted", func() error { return w.bob.VoiceMute(ctx, true) }, "voice_user_updated"},
		{"bob left", func() error { return w.bob.VoiceLeave(ctx) }, "voice_user_left"},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		ev := expectVoice(t, w.alice, step.cmd, w.lobby, "bob", "pb")
		expectVoice(t, alice2, step.cmd, w.lobby, "bob", "pb")
		other := expectVoice(t, w.erin, step.cmd, w.lobby, "bob", "")
		if step.cmd == "voice_user_updated" && (!ev.Muted || !other.Muted) {
			t.Fatalf("%s: muted not set", step.name)
		}
	}
	oshitest.Quiet(t, w.carol, 200*time.Millisecond, voiceEvents...)
	// The asking connection has its reply, not the event.
	oshitest.Quiet(t, w.bob, 100*time.Millisecond, "voice_user_updated", "voice_user_left")
}

// TestVoiceSignal: a signal reaches the target's voice connection only,
// compacted to one line whatever the sender's spacing.
func TestVoiceSignal(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	bob2 := s.Dial(w.login["bob"])
	voiceJoin(t, ctx, w.alice, w.lobby, "pa")
	voiceJoin(t, ctx, w.bob, w.lobby, "pb")

	offer := map[string]any{"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1"}
	if err := w.alice.VoiceSignal(ctx, w.id("bob"), offer); err != nil {
		t.Fatal(err)
	}
	ev := oshitest.Next(t, w.bob, "voice_signal")
	v, err := client.ParseVoiceEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(v.Data, &got); err != nil || got["sdp"] != offer["sdp"] || v.User.Username != "alice" || v.Stream != w.lobby {
		t.Fatalf("voice_signal = %s", ev.Raw)
	}
	if err := w.bob.VoiceSignal(ctx, w.id("alice"), map[string]any{"type": "answer"}); err != nil {
		t.Fatal(err)
	}
	if v := expectSignal(t, w.alice, "bob"); string(v.Data) != `{"type":"answer"}` {
		t.Fatalf("answer data = %s", v.Data)
	}

	raw := fmt.Sprintf("{\"cmd\":\"voice_signal\",\"ref\":\"raw\",\"to\":%q,\"data\":{\n  \"candidate\": \"a b\"\n}}", w.id("bob"))
	if err := w.alice.WriteRaw(ctx, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	if ev := oshitest.Next(t, w.bob, "voice_signal"); bytes.ContainsRune(ev.Raw, '\n') || !bytes.Contains(ev.Raw, []byte(`"data":{"candidate":"a b"}`)) {
		t.Fatalf("voice_signal = %q; want the data compacted", ev.Raw)
	}
	for name, c := range map[string]*client.Client{"bob's other connection": bob2, "erin": w.erin, "carol": w.carol} {
		t.Run("no signal to "+name, func(t *testing.T) {
			oshitest.Quiet(t, c, 200*time.Millisecond, "voice_signal")
		})
	}
}

func expectSignal(t *testing.T, c *client.Client, from string) *client.VoiceEvent {
	t.Helper()
	ev := oshitest.Next(t, c, "voice_signal")
	v, err := client.ParseVoiceEvent(ev)
	if err != nil || v.User.Username != from {
		t.Fatalf("voice_signal = %s, %v; want one from %s", ev.Raw, err, from)
	}
	return v
}

// TestVoiceDroppedConnectionLeaves: closing the voice connection leaves
// the stream; the others are told.
func TestVoiceDroppedConnectionLeaves(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	voiceJoin(t, ctx, w.alice, w.lobby, "pa")
	bobVoice := s.Dial(w.login["bob"])
	voiceJoin(t, ctx, bobVoice, w.lobby, "pb")
	expectVoice(t, w.alice, "voice_user_joined", w.lobby, "bob", "pb")

	if err := bobVoice.Close(); err != nil {
		t.Fatal(err)
	}
	expectVoice(t, w.alice, "voice_user_left", w.lobby, "bob", "pb")
	expectVoice(t, w.bob, "voice_user_left", w.lobby, "bob", "")
	expectVoice(t, w.erin, "voice_user_left", w.lobby, "bob", "")
	state, err := w.erin.VoiceState(ctx, w.circle)
	if err != nil || len(state) != 1 || roster(state[0].Participants) != "alice::false" {
		t.Fatalf("voice_state = %+v, %v; want alice alone", state, err)
	}
}

// TestVoiceOneStreamPerUser: joining a second voice stream leaves the
// first; joining from a second connection moves the session there and
// tells the first connection.
func TestVoiceOneStreamPerUser(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	voiceJoin(t, ctx, w.alice, w.lobby, "pa")
	voiceJoin(t, ctx, w.bob, w.lobby, "pb")

	t.Run("another stream", func(t *testing.T) {
		if got := roster(voiceJoin(t, ctx, w.alice, w.st, "pa")); got != "alice:pa:false" {
			t.Fatalf("stage participants = %q", got)
		}
		expectVoice(t, w.bob, "voice_user_left", w.lobby, "alice", "pa")
		expectVoice(t, w.erin, "voice_user_left", w.lobby, "alice", "")
		expectVoice(t, w.erin, "voice_user_joined", w.st, "alice", "")
		expectVoice(t, w.bob, "voice_user_joined", w.st, "alice", "")
		if err := w.bob.VoiceSignal(ctx, w.id("alice"), "hello"); client.Code(err) != "not_participant" {
			t.Fatalf("signal to a user who left the stream: %v", err)
		}
	})

	t.Run("another connection", func(t *testing.T) {
		alice2 := s.Dial(w.login["alice"])
		voiceJoin(t, ctx, alice2, w.lobby, "pa2")
		if v := expectVoice(t, w.alice, "voice_leave", w.st, "", ""); v.Reason != "moved" {
			t.Fatalf("first connection's voice_leave reason = %q", v.Reason)
		}
		expectVoice(t, w.bob, "voice_user_joined", w.lobby, "alice", "pa2")
		if err := w.alice.VoiceMute(ctx, true); client.Code(err) != "not_in_voice" {
			t.Fatalf("mute from the connection that lost voice: %v", err)
		}
		if err := w.bob.VoiceSignal(ctx, w.id("alice"), "hello"); err != nil {
			t.Fatal(err)
		}
		expectSignal(t, alice2, "bob")
		oshitest.Quiet(t, w.alice, 200*time.Millisecond, "voice_signal")
	})

	t.Run("another connection in the same stream", func(t *testing.T) {
		alice3 := s.Dial(w.login["alice"])
		voiceJoin(t, ctx, alice3, w.lobby, "pa3")
		// A move within the stream replaces the entry: joined, no left.
		expectVoice(t, w.bob, "voice_user_joined", w.lobby, "alice", "pa3")
		oshitest.Quiet(t, w.bob, 200*time.Millisecond, "voice_user_left")
	})
}

// TestVoiceStateAfterReady: a connection of a member is told who is in
// voice right after ready; a stranger is not.
func TestVoiceStateAfterReady(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	voiceJoin(t, ctx, w.alice, w.lobby, "pa")
	cases := []struct {
		user string
		want string // lobby's roster, "" for no voice_state
	}{
		{"erin", "alice::false"},
		{"alice", "alice:pa:false"}, // a participant sees peer ids
		{"carol", ""},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			c := s.Dial(w.login[tc.user])
			if tc.want == "" {
				oshitest.Quiet(t, c, 200*time.Millisecond, "voice_state")
				return
			}
			v, err := client.ParseVoiceEvent(oshitest.Next(t, c, "voice_state"))
			if err != nil || len(v.Streams) != 1 || v.Streams[0].Stream != w.lobby || roster(v.Streams[0].Participants) != tc.want {
				t.Fatalf("voice_state = %+v, %v; want lobby %q", v, err, tc.want)
			}
		})
	}
}

// TestVoicePermissions: a member without speak joins muted and may not
// unmute; a stream hidden from the default role is refused to those
// without the role, and its voice events reach only those who see it.
func TestVoicePermissions(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	// The default role's id is the circle's.
	if _, err := w.alice.Request(ctx, map[string]any{"cmd": "stream_permissions", "stream": w.st, "role": w.circle, "deny": uint64(models.Speak)}); err != nil {
		t.Fatal(err)
	}
	raw, err := w.alice.Request(ctx, map[string]any{"cmd": "role_create", "circle": w.circle, "name": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	var role struct {
		Role models.Role `json:"role"`
	}
	if err := json.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	for _, frame := range []map[string]any{
		{"cmd": "stream_permissions", "stream": w.lobby, "role": w.circle, "deny": uint64(models.ViewStreams)},
		{"cmd": "stream_permissions", "stream": w.lobby, "role": role.Role.ID, "allow": uint64(models.ViewStreams)},
		{"cmd": "role_assign", "circle": w.circle, "role": role.Role.ID, "user": w.id("bob")},
	} {
		if _, err := w.alice.Request(ctx, frame); err != nil {
			t.Fatalf("%v: %v", frame["cmd"], err)
		}
	}

	t.Run("without speak", func(t *testing.T) {
		if got := roster(voiceJoin(t, ctx, w.erin, w.st, "pe")); got != "erin:pe:true" {
			t.Fatalf("participants = %q; want erin muted", got)
		}
		if v := expectVoice(t, w.bob, "voice_user_joined", w.st, "erin", ""); !v.Muted {
			t.Fatal("erin's voice_user_joined is not muted")
		}
		if err := w.erin.VoiceMute(ctx, false); client.Code(err) != "forbidden" {
			t.Fatalf("unmute without speak: %v", err)
		}
		if err := w.erin.VoiceMute(ctx, true); err != nil {
			t.Fatalf("mute without speak: %v", err)
		}
	})
	t.Run("hidden stream", func(t *testing.T) {
		if _, err := w.erin.VoiceJoin(ctx, w.lobby, "pe"); client.Code(err) != "forbidden" && client.Code(err) != "not_found" {
			t.Fatalf("erin joined a stream she cannot see: %v", err)
		}
		voiceJoin(t, ctx, w.alice, w.lobby, "pa")
		expectVoice(t, w.bob, "voice_user_joined", w.lobby, "alice", "")
		oshitest.Quiet(t, w.erin, 200*time.Millisecond, "voice_user_joined")
		state, err := w.erin.VoiceState(ctx, w.circle)
		if err != nil || len(state) != 1 || state[0].Stream != w.st {
			t.Fatalf("erin's voice_state = %+v, %v; want stage only", state, err)
		}
	})
}

// TestVoiceLeavingTheCircleLeavesVoice: circle_leave and member_kick end
// the user's voice session; the voice connection is told.
func TestVoiceLeavingTheCircleLeavesVoice(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	voiceJoin(t, ctx, w.alice, w.lobby, "pa")
	cases := []struct {
		name   string
		user   *client.Client
		remove func() error
	}{
		{"circle_leave", w.bob, func() error { return w.bob.LeaveCircle(ctx, w.circle) }},
		{"member_kick", w.erin, func() error {
			_, err := w.alice.Request(ctx, map[string]any{"cmd": "member_kick", "circle": w.circle, "user": w.id("erin")})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := voiceJoin(t, ctx, tc.user, w.lobby, "p")
			name := ps[len(ps)-1].User.Username
			expectVoice(t, w.alice, "voice_user_joined", w.lobby, name, "p")
			if err := tc.remove(); err != nil {
				t.Fatal(err)
			}
			expectVoice(t, w.alice, "voice_user_left", w.lobby, name, "p")
			if v := expectVoice(t, tc.user, "voice_leave", w.lobby, "", ""); v.Reason != "removed" {
				t.Fatalf("voice_leave reason = %q", v.Reason)
			}
		})
	}
}

// TestVoiceCluster: voice state, events and signals cross nodes; a node
// started later learns who is in voice.
func TestVoiceCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	natsURL, uri, db := oshitest.NATS(t), oshitest.MongoURI(t), oshitest.Database(t)
	node := func(i int) *oshitest.Server {
		return oshitest.NewServer(t, server.Config{MongoURI: uri, MongoDB: db, NATSURL: natsURL, NodeName: fmt.Sprint("node", i)})
	}
	n0, n1 := node(0), node(1)
	aliceLogin, alice := n0.User("alice")
	bobLogin, bob := n1.User("bob")
	_, erin := n1.User("erin")
	circle, err := alice.CreateCircle(ctx, "Everywhere", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	lobby := voiceStream(t, ctx, alice, circle.ID, "Lobby")
	for _, c := range []*client.Client{bob, erin} {
		if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
		oshitest.Next(t, alice, "member_join") // node 0 knows the member
	}

	voiceJoin(t, ctx, alice, lobby, "pa")
	expectVoice(t, erin, "voice_user_joined", lobby, "alice", "")
	if got := roster(voiceJoin(t, ctx, bob, lobby, "pb")); got != "alice:pa:false bob:pb:false" {
		t.Fatalf("bob's participants on node 1 = %q", got)
	}
	expectVoice(t, alice, "voice_user_joined", lobby, "bob", "pb")

	t.Run("signals", func(t *testing.T) {
		if err := alice.VoiceSignal(ctx, bobLogin.User.ID, map[string]any{"type": "offer"}); err != nil {
			t.Fatal(err)
		}
		expectSignal(t, bob, "alice")
		if err := bob.VoiceSignal(ctx, aliceLogin.User.ID, map[string]any{"type": "answer"}); err != nil {
			t.Fatal(err)
		}
		expectSignal(t, alice, "bob")
		if err := alice.VoiceSignal(ctx, erin.Ready().User.ID, "x"); client.Code(err) != "not_participant" {
			t.Fatalf("signal to a non-participant on another node: %v", err)
		}
		oshitest.Quiet(t, erin, 200*time.Millisecond, "voice_signal")
	})

	t.Run("move to another node", func(t *testing.T) {
		alice1 := n1.Dial(aliceLogin)
		voiceJoin(t, ctx, alice1, lobby, "pa1")
		if v := expectVoice(t, alice, "voice_leave", lobby, "", ""); v.Reason != "moved" {
			t.Fatalf("voice_leave reason = %q", v.Reason)
		}
		expectVoice(t, bob, "voice_user_joined", lobby, "alice", "pa1")
		if err := bob.VoiceSignal(ctx, aliceLogin.User.ID, "hi"); err != nil {
			t.Fatal(err)
		}
		expectSignal(t, alice1, "bob")
	})

	t.Run("dropped connection", func(t *testing.T) {
		if err := bob.Close(); err != nil {
			t.Fatal(err)
		}
		// alice's node-0 connection is not her voice connection, but she
		// is a participant: her copy carries the peer id.
		expectVoice(t, alice, "voice_user_left", lobby, "bob", "pb")
		expectVoice(t, erin, "voice_user_left", lobby, "bob", "")
	})

	t.Run("late node", func(t *testing.T) {
		n2 := node(2)
		late := n2.Dial(bobLogin)
		ev := oshitest.Next(t, late, "voice_user_joined", "voice_state")
		if !bytes.Contains(ev.Raw, []byte(`"username":"alice"`)) {
			t.Fatalf("node 2's first voice news = %s; want alice in voice", ev.Raw)
		}
	})
}
