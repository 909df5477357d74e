package gateway_test

import (
	"encoding/json"
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestVoicePermissionChangesApplyAtOnce: a participant who loses speak
// is muted at once, one who loses connect leaves at once, each told.
func TestVoicePermissionChangesApplyAtOnce(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	voiceJoin(t, ctx, w.bob, w.st, "pb")
	voiceJoin(t, ctx, w.erin, w.st, "pe")
	expectVoice(t, w.bob, "voice_user_joined", w.st, "erin", "pe")

	if _, err := w.alice.SetStreamPermissions(ctx, w.st, w.circle, 0, models.Speak); err != nil {
		t.Fatal(err)
	}
	// Bob, a participant, hears both being muted, in either order.
	muted := map[string]bool{}
	for range 2 {
		v, err := client.ParseVoiceEvent(oshitest.Next(t, w.bob, "voice_user_updated"))
		if err != nil {
			t.Fatal(err)
		}
		muted[v.User.Username] = v.Muted
	}
	if !muted["bob"] || !muted["erin"] {
		t.Fatalf("muted after losing speak: %v; want bob and erin", muted)
	}
	if err := w.bob.VoiceMute(ctx, false); err == nil {
		t.Fatal("bob unmuted without speak")
	}

	if _, err := w.alice.SetStreamPermissions(ctx, w.st, w.circle, 0, models.Connect); err != nil {
		t.Fatal(err)
	}
	ev := oshitest.Next(t, w.bob, "voice_leave")
	if v, err := parseLeave(ev.Raw); err != nil || v != "forbidden" {
		t.Fatalf("bob's voice_leave = %s (%v); want reason forbidden", ev.Raw, err)
	}
	state, err := w.alice.VoiceState(ctx, w.circle)
	if err != nil || len(state) != 0 {
		t.Fatalf("voice_state after connect was denied = %+v, %v; want nobody", state, err)
	}
}

func parseLeave(raw []byte) (string, error) {
	var f struct {
		Reason string `json:"reason"`
	}
	err := json.Unmarshal(raw, &f)
	return f.Reason, err
}

// TestVoiceSignalRateLimit: a flood of signals is cut off with
// rate_limit after 100 in 10 s; the signals before it are relayed.
func TestVoiceSignalRateLimit(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	w := newVoiceWorld(t, s)
	voiceJoin(t, ctx, w.bob, w.st, "pb")
	voiceJoin(t, ctx, w.erin, w.st, "pe")
	for i := range 100 {
		if err := w.bob.VoiceSignal(ctx, w.id("erin"), map[string]int{"n": i}); err != nil {
			t.Fatalf("signal %d: %v", i, err)
		}
	}
	err := w.bob.VoiceSignal(ctx, w.id("erin"), map[string]int{"n": 100})
	if client.Code(err) != "rate_limit" {
		t.Fatalf("signal 101: %v; want rate_limit", err)
	}
	for range 100 {
		oshitest.Next(t, w.erin, "voice_signal")
	}
}
