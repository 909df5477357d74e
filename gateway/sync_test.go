package gateway_test

import (
	"strings"
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestUserConnectionsStayInStep: what a user does on one connection
// reaches their other connections, and a new DM reaches its peer.
func TestUserConnectionsStayInStep(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice, phone := s.User("alice")
	laptop := s.Dial(alice)
	bob, bc := s.User("bob")

	circle, err := phone.CreateCircle(ctx, "Synced", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, laptop, "circle_create"); !strings.Contains(string(ev.Raw), circle.ID) {
		t.Fatalf("laptop got %s", ev.Raw)
	}
	// The laptop now hears the circle's news.
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, laptop, "member_join"); ev.User.ID != bob.User.ID {
		t.Fatalf("laptop got %s", ev.Raw)
	}
	general := circle.Streams[0].ID
	if _, err := laptop.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}

	// Bob's second connection hears of his leaving, and drops the stream.
	bobPhone := s.Dial(bob)
	if _, err := bobPhone.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}
	if err := bc.LeaveCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, bobPhone, "circle_leave"); ev.Circle != circle.ID {
		t.Fatalf("bob's phone got %s", ev.Raw)
	}
	if err := bobPhone.Unsubscribe(ctx, general); client.Code(err) != "not_subscribed" {
		t.Fatalf("unsubscribe after leaving elsewhere: %v, want not_subscribed", err)
	}

	// A new DM reaches the peer once.
	dm, err := bc.OpenDM(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, laptop, "dm_open")
	if !strings.Contains(string(ev.Raw), dm.ID) || !strings.Contains(string(ev.Raw), `"username":"bob"`) {
		t.Fatalf("alice got %s", ev.Raw)
	}
}

// TestLargeHistoryFits: a history page of 100 maximal messages is larger
// than the queue bound and still arrives; "<" is not escaped.
func TestLargeHistoryFits(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{QueueBytes: 64 << 10})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Big", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	big := strings.Repeat("<", 4000)
	for i := 0; i < 100; i++ {
		if _, err := ac.Send(ctx, general, big, ""); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := ac.History(ctx, general, client.HistoryQuery{Limit: 100})
	if err != nil || len(hist) != 100 || hist[0].Content != big {
		t.Fatalf("history: %d messages, %v", len(hist), err)
	}
	// Replaying them all, six times the queue bound, paces itself.
	if _, err := ac.Subscribe(ctx, general, 0); err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 100; want++ {
		if ev := nextEvent(t, ac, "message_new"); ev.Message.Seq != want {
			t.Fatalf("replay seq %d, want %d", ev.Message.Seq, want)
		}
	}
}
