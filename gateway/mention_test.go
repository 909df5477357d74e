package gateway_test

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func TestMessageMentions(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	bob, bc := s.User("bob")
	carol, _ := s.User("carol")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}

	m, err := ac.Send(ctx, general, "@BOB see this, @carol too; not @nobody or x@bob", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []models.UserRef{bob.User, carol.User}
	same := func(got []models.UserRef) bool {
		return len(got) == 2 && got[0] == want[0] && got[1] == want[1]
	}
	if !same(m.Mentions) {
		t.Fatalf("reply mentions = %+v, want %+v", m.Mentions, want)
	}
	ev := nextEvent(t, bc, "message_new")
	if !same(ev.Message.Mentions) || !strings.Contains(string(ev.Raw), `"mentions":[{"id":"`+bob.User.ID+`","username":"bob"}`) {
		t.Fatalf("message_new event = %s", ev.Raw)
	}
	doc := storedMessage(t, s, m.ID)
	ids, _ := doc["mentions"].(bson.A)
	if len(ids) != 2 || ids[0] != bob.User.ID || ids[1] != carol.User.ID {
		t.Fatalf("stored mentions = %v", doc["mentions"])
	}
	hist, err := bc.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || !same(hist[0].Mentions) {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// Only the first ten distinct names are looked up; none is not an error.
	m, err = ac.Send(ctx, general, "@x1 @x2 @x3 @x4 @x5 @x6 @x7 @x8 @x9 @x10 @bob", "")
	if err != nil || len(m.Mentions) != 0 {
		t.Fatalf("eleventh name = %+v, %v", m, err)
	}
	if ev := nextEvent(t, bc, "message_new"); strings.Contains(string(ev.Raw), "mentions") {
		t.Fatalf("a message without mentions carries them: %s", ev.Raw)
	}
}
