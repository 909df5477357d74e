package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestChatTyping: what alice types shows on bob's screen as "alice is
// typing…" until it expires or her message arrives; several typists are
// summed up; bob's own typing is not shown to him. The screens share a
// clock that moves only when the test says, so nothing depends on time.
func TestChatTyping(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, _ := s.User("bob")
	_, cc := s.User("carol")
	_, dc := s.User("dave")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	for _, c := range []*client.Client{s.Dial(bob), cc, dc} {
		if _, err := c.JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
	}

	clock := newFakeClock()
	sa := newScreenWith(t, s, alice, chatOptions{Now: clock.Now})
	sb := newScreenWith(t, s, bob, chatOptions{Now: clock.Now})
	sa.waitSubscribed(general)
	sb.waitSubscribed(general)

	// Typing a message tells the stream once per 3 s, not per key, and
	// not for commands or an empty input.
	sa.typeText("hel")
	if got := sa.m.typing.sent[general]; !got.Equal(clock.Now()) {
		t.Fatalf("typing last sent at %v, want %v", got, clock.Now())
	}
	if cmd := sa.m.typed(); cmd != nil {
		t.Error("a second typing within 3 s")
	}
	sb.waitText("alice is typing…")

	// It expires after expires_ms (8 s) without another typing.
	clock.Add(7 * time.Second)
	if !strings.Contains(sb.text(), "alice is typing…") {
		t.Errorf("the indicator is gone after 7 s:\n%s", sb.text())
	}
	clock.Add(2 * time.Second)
	if strings.Contains(sb.text(), "is typing") {
		t.Errorf("the indicator is still there after 9 s:\n%s", sb.text())
	}

	// Typing again renews it; alice's message ends it at once.
	sa.typeText("lo")
	sb.waitText("alice is typing…")
	sa.press(enterKey)
	sb.waitText("alice: hello")
	if strings.Contains(sb.text(), "is typing") {
		t.Errorf("the indicator outlived alice's message:\n%s", sb.text())
	}
	// Right after sending, typing the next message is announced at once.
	sa.typeText("and")
	if got := sa.m.typing.sent[general]; !got.Equal(clock.Now()) {
		t.Error("typing after a message waited for the 3 s interval")
	}
	sb.waitText("alice is typing…")

	// Two typists are named, more are "several". bob's own typing
	// event comes back to him and is not shown: his client's request is
	// answered after the event is published, so it is ahead of carol's.
	if err := sb.m.c.Typing(ctx, general); err != nil {
		t.Fatal(err)
	}
	if err := cc.Typing(ctx, general); err != nil {
		t.Fatal(err)
	}
	sb.waitText("alice and carol are typing…")
	if err := dc.Typing(ctx, general); err != nil {
		t.Fatal(err)
	}
	sb.waitText("several people are typing…")
	if _, ok := sb.m.typing.others[general][bob.User.ID]; ok {
		t.Error("bob is shown his own typing")
	}
	clock.Add(9 * time.Second)
	if strings.Contains(sb.text(), "typing…") {
		t.Errorf("indicators still there after they expired:\n%s", sb.text())
	}

	// Commands and an empty input are not typing.
	sa.press(enterKey) // sends "and"
	clock.Add(10 * time.Second)
	sa.typeText("/stat")
	if got := sa.m.typing.sent[general]; !got.Before(clock.Now()) {
		t.Error("typing a /command was announced")
	}
}
