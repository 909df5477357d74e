package gateway_test

import (
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/server"
)

// TestAuditBotsAndThreads checks the audit entries of adding a bot,
// restricting its command, and editing and deleting a thread.
func TestAuditBotsAndThreads(t *testing.T) {
	ctx := ctxT(t)
	f := newBotFixture(t, server.Config{})
	if err := f.alice.AddBot(ctx, f.circle.ID, f.botSecret.Bot.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.alice.SetCommandRoles(ctx, f.circle.ID, f.botSecret.Bot.ID, "admin", []string{f.circle.ID}); err != nil {
		t.Fatal(err)
	}
	th, err := f.bob.CreateThread(ctx, f.general, "plans", "")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := f.alice.EditThread(ctx, th.ID, client.ThreadEdit{Locked: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := f.alice.DeleteThread(ctx, th.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		action  string
		target  string // user id, or TargetID
		details map[string]any
	}{
		{"bot_add", f.botSecret.Bot.ID, nil},
		{"command_permissions", f.botSecret.Bot.ID, map[string]any{"command": "admin"}},
		{"thread_edit", th.ID, map[string]any{"locked": true}},
		{"thread_delete", th.ID, map[string]any{"name": "plans"}},
	} {
		entries, _, err := f.alice.AuditLog(ctx, f.circle.ID, client.AuditFilter{Action: tc.action})
		if err != nil {
			t.Fatalf("%s: %v", tc.action, err)
		}
		if len(entries) != 1 {
			t.Fatalf("%s: %d entries, want 1", tc.action, len(entries))
		}
		e := entries[0]
		target := e.TargetID
		if e.Target != nil {
			target = e.Target.ID
		}
		if e.Actor.ID != f.aliceL.User.ID || target != tc.target {
			t.Errorf("%s: actor %s target %s, want alice and %s", tc.action, e.Actor.ID, target, tc.target)
		}
		for k, v := range tc.details {
			if e.Details[k] != v {
				t.Errorf("%s: details[%s] = %v, want %v", tc.action, k, e.Details[k], v)
			}
		}
	}
}
