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

// TestMentionCounts: ready counts, per stream, the unread messages that
// mention the user by name; reading past them clears the count; the
// author mentioning themselves counts nothing.
func TestMentionCounts(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	bobL, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	var last *models.Message
	for _, text := range []string{"hi @bob", "no mention", "@bob again", "@alice talks to herself", "and @BOB thrice"} {
		if last, err = ac.Send(ctx, general, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	counts := func(l *client.Login) (unread, mentions int64) {
		t.Helper()
		// Mentions are recorded just after the messages are stored: wait
		// for them, boundedly, through fresh connections' ready.
		for range 100 {
			c := s.Dial(l)
			st := findStream(t, c.Ready().Circles, general)
			c.Close()
			if *st.Mentions >= 3 {
				return *st.Unread, *st.Mentions
			}
		}
		c := s.Dial(l)
		st := findStream(t, c.Ready().Circles, general)
		return *st.Unread, *st.Mentions
	}
	if unread, mentions := counts(bobL); unread != 5 || mentions != 3 {
		t.Fatalf("bob's ready: unread %d, mentions %d; want 5 and 3", unread, mentions)
	}
	// Reading up to the second message leaves two mentions.
	if _, err := bc.Request(ctx, map[string]any{"cmd": "stream_ack", "stream": general, "seq": 2}); err != nil {
		t.Fatal(err)
	}
	c := s.Dial(bobL)
	st := findStream(t, c.Ready().Circles, general)
	if *st.Unread != 3 || *st.Mentions != 2 {
		t.Fatalf("after ack 2: unread %d, mentions %d; want 3 and 2", *st.Unread, *st.Mentions)
	}
	if _, err := bc.Request(ctx, map[string]any{"cmd": "stream_ack", "stream": general, "seq": last.Seq}); err != nil {
		t.Fatal(err)
	}
	c = s.Dial(bobL)
	if st := findStream(t, c.Ready().Circles, general); *st.Unread != 0 || *st.Mentions != 0 {
		t.Fatalf("after reading all: unread %d, mentions %d", *st.Unread, *st.Mentions)
	}
}

// TestRoleAndEveryoneMentions: @everyone and @rolename are mentions only
// from an author holding mention_everyone; from others they are text.
func TestRoleAndEveryoneMentions(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.MentionEveryone)
	devs, err := k.owner.CreateRole(ctx, k.circle.ID, client.RoleSpec{Name: "Devs"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		who      *client.Client
		everyone bool
		roles    []string
	}{
		{k.owner, true, []string{devs.ID}},
		{k.mod, true, []string{devs.ID}},
		{k.plain, false, nil},
	}
	for _, tt := range tests {
		m, err := tt.who.Send(ctx, k.general, "@everyone and @devs: release at noon", "")
		if err != nil {
			t.Fatal(err)
		}
		if m.MentionEveryone != tt.everyone || strings.Join(m.MentionRoles, ",") != strings.Join(tt.roles, ",") {
			t.Fatalf("mentions = everyone %v, roles %v; want %v, %v", m.MentionEveryone, m.MentionRoles, tt.everyone, tt.roles)
		}
		doc := storedMessage(t, k.s, m.ID)
		if got, _ := doc["mention_everyone"].(bool); got != tt.everyone {
			t.Fatalf("stored mention_everyone = %v", doc["mention_everyone"])
		}
	}
}

func findStream(t *testing.T, cs []*models.Circle, id string) models.Stream {
	t.Helper()
	for _, c := range cs {
		for _, st := range c.Streams {
			if st.ID == id {
				return st
			}
		}
	}
	t.Fatalf("stream %s not in ready", id)
	return models.Stream{}
}
