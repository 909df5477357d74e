package gateway_test

import (
	"testing"

	"github.com/oshichat/oshi/models"
)

// TestTimeoutEndIsAnnounced: when a timeout runs out, members hear of it
// (member_update without timeout_until), and the member's own circle
// copy gets send_messages back (circle_update).
func TestTimeoutEndIsAnnounced(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageMembers)
	if _, err := k.owner.Request(ctx, map[string]any{"cmd": "member_timeout", "circle": k.circle.ID, "user": k.plainL.User.ID, "seconds": 1}); err != nil {
		t.Fatal(err)
	}
	if mu := nextMemberUpdate(t, k.mod, k.plainL.User.ID); mu.TimeoutUntil == nil {
		t.Fatalf("first member_update has no timeout: %+v", mu)
	}
	if mu := nextMemberUpdate(t, k.mod, k.plainL.User.ID); mu.TimeoutUntil != nil {
		t.Fatalf("member_update after the timeout = %+v", mu)
	}
	nextCircleUpdate(t, k.plain, func(c *models.Circle) bool {
		return c.Me != nil && c.Me.TimeoutUntil == nil && c.Me.Permissions.Has(models.SendMessages)
	})
	if _, err := k.plain.Send(ctx, k.general, "back", ""); err != nil {
		t.Fatalf("send after the timeout: %v", err)
	}
}
