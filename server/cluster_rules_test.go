package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// TestClusterRules: permission changes made on one node hold on the
// other at once: an overwrite hiding a stream ends a live subscription
// there and refuses the next subscribe, a role granted on one node is
// honoured by the other, and a member banned on one node loses their
// subscriptions on the other and cannot rejoin through it.
func TestClusterRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	_, owner := a.User("owner")
	bobL, bob := b.User("bob")

	circle, err := owner.CreateCircle(ctx, "Split", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bob.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}

	// Hidden on node A: bob's subscription on node B ends.
	if _, err := owner.SetStreamPermissions(ctx, general, circle.ID, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, bob, "unsubscribed"); ev.Stream != general {
		t.Fatalf("bob got %s", ev.Raw)
	}
	_, err = bob.Subscribe(ctx, general, -1)
	if client.Code(err) != "forbidden" {
		t.Fatalf("subscribe on node B after the overwrite: %v; want forbidden", err)
	}

	// A role given on node A lets bob back in on node B.
	seer, err := owner.CreateRole(ctx, circle.ID, client.RoleSpec{Name: "seer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetStreamPermissions(ctx, general, seer.ID, models.ViewStreams, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.AssignRole(ctx, circle.ID, seer.ID, bobL.User.ID, true); err != nil {
		t.Fatal(err)
	}
	// Node B learns of it asynchronously, through NATS; its
	// circle_update to bob says when.
	for visible := false; !visible; {
		ev := next(t, bob, "circle_update")
		var upd struct {
			Circle models.Circle `json:"circle"`
		}
		if err := json.Unmarshal(ev.Raw, &upd); err != nil {
			t.Fatal(err)
		}
		for _, st := range upd.Circle.Streams {
			visible = visible || st.ID == general
		}
	}
	if _, err := bob.Subscribe(ctx, general, -1); err != nil {
		t.Fatalf("subscribe on node B with the role given on node A: %v", err)
	}

	// Banned on node A: out on node B at once, and kept out.
	if _, err := owner.Request(ctx, map[string]any{"cmd": "member_ban", "circle": circle.ID, "user": bobL.User.ID, "reason": "test"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, bob, "circle_removed"); ev.Circle != circle.ID {
		t.Fatalf("bob got %s", ev.Raw)
	}
	if _, err := owner.Send(ctx, general, "after the ban", ""); err != nil {
		t.Fatal(err)
	}
	quiet(t, bob, "message_new", 300*time.Millisecond)
	_, err = bob.JoinCircle(ctx, circle.ID)
	if client.Code(err) != "banned" {
		t.Fatalf("rejoin on node B: %v; want banned", err)
	}
	_, err = bob.Send(ctx, general, "still here?", "")
	if client.Code(err) != "forbidden" {
		t.Fatalf("post on node B after the ban: %v; want forbidden", err)
	}
}
