package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestChatMentions: messages that mention bob (by name, @everyone, or a
// role of his) are marked; unread mentions are counted beside unread
// messages, from ready and live; reading a stream acks it, so the next
// start counts nothing there.
func TestChatMentions(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	bob, bc := s.User("bob")
	_, cc := s.User("carol")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	random, err := ac.CreateStream(ctx, circle.ID, "random")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{bc, cc} {
		if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
	}
	devs, err := ac.CreateRole(ctx, circle.ID, client.RoleSpec{Name: "devs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.AssignRole(ctx, circle.ID, devs.ID, bob.User.ID, true); err != nil {
		t.Fatal(err)
	}
	send := func(stream, text string) {
		t.Helper()
		if _, err := ac.Send(ctx, stream, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	// While bob is away: two messages in #random, one naming him.
	send(random.ID, "hey @bob look at this")
	send(random.ID, "plain words")
	// The server counts mentions just after storing a message: wait
	// until a ready has it.
	waitReady(t, s, bob, func(st *models.Stream) bool {
		return st.ID == random.ID && deref(st.Mentions) == 1
	})

	sc := newScreen(t, s, bob)
	sc.waitFor("#random with 2 unread, 1 mention", regexp.MustCompile(`#random +2 @1 │`).MatchString)

	// In the stream on screen, mentions of bob are marked, others not.
	send(general, "@everyone standup now")
	send(general, "@devs deploy at noon")
	send(general, "@carol can you check")
	send(general, "thanks @bob")
	sc.waitText("alice: thanks @bob")
	for text, marked := range map[string]bool{
		"alice: @everyone standup now": true,
		"alice: @devs deploy at noon":  true,
		"alice: @carol can you check":  false,
		"alice: thanks @bob":           true,
	} {
		line := sc.line(text)
		_, pane, _ := strings.Cut(line, "│ ")
		if got := strings.HasPrefix(pane, mentionMark); got != marked {
			t.Errorf("%q marked %v, want %v: %q", text, got, marked, line)
		}
	}

	// Elsewhere they count: by name, and by role.
	send(random.ID, "@bob ping")
	sc.waitFor("#random with 3 unread, 2 mentions", regexp.MustCompile(`#random +3 @2 │`).MatchString)
	send(random.ID, "@devs ping")
	sc.waitFor("#random with 4 unread, 3 mentions", regexp.MustCompile(`#random +4 @3 │`).MatchString)
	if _, err := cc.Send(ctx, random.ID, "@alice only", ""); err != nil {
		t.Fatal(err)
	}
	sc.waitFor("#random with 5 unread, 3 mentions", regexp.MustCompile(`#random +5 @3 │`).MatchString)

	// Showing the stream clears the counts and marks it read on the
	// server: a new connection of bob's has nothing unread there.
	sc.press(tabKey)
	sc.waitText("▸ #random", "alice: hey @bob look at this", "carol: @alice only")
	if regexp.MustCompile(`#random +\d`).MatchString(sc.text()) {
		t.Errorf("counts left after selecting #random:\n%s", sc.text())
	}
	if line := sc.line("alice: hey @bob look"); !strings.Contains(line, "│ "+mentionMark) {
		t.Errorf("the mention from before is not marked: %q", line)
	}
	v := sc.m.views[random.ID]
	sc.waitFor("the ack of #random", func(string) bool { return !v.acking && v.acked == v.last })
	again := s.Dial(bob)
	for _, ci := range again.Ready().Circles {
		for _, st := range ci.Streams {
			if st.ID == random.ID && (st.Unread == nil || *st.Unread != 0 || st.Mentions != nil && *st.Mentions != 0) {
				t.Errorf("after reading, ready has #random unread %v mentions %v", deref(st.Unread), deref(st.Mentions))
			}
		}
	}
}

// waitReady dials as l until one of the streams of ready satisfies ok.
func waitReady(t *testing.T, s *oshitest.Server, l *client.Login, ok func(*models.Stream) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := client.Dial(context.Background(), s.WSURL, client.Credentials{Token: l.Token}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Ready()
		_ = c.Close()
		for _, ci := range r.Circles {
			for i := range ci.Streams {
				if ok(&ci.Streams[i]) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready of %s had the stream wanted", l.User.Username)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}
