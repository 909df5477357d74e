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

// TestChatRepliesAndPins: /reply N answers message N and the answer
// shows what it replies to; /pin and /unpin mark and unmark a message,
// /pins lists them in a panel that Esc closes.
func TestChatRepliesAndPins(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	_, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	question, err := bc.Send(ctx, general, "who brings snacks on Friday?", "")
	if err != nil {
		t.Fatal(err)
	}

	sc := newScreen(t, s, alice)
	sc.waitText("#1 ", "bob: who brings snacks on Friday?")

	sc.typeLine("/reply 1 I do")
	sc.waitText("alice: I do")
	lines := strings.Split(sc.text(), "\n")
	for i, l := range lines {
		if strings.Contains(l, "alice: I do") {
			if i == 0 || !strings.Contains(lines[i-1], "↳ replying to bob: who brings snacks on Friday?") {
				t.Errorf("the reply is not under what it answers:\n%s", sc.text())
			}
		}
	}
	hist, err := bc.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[1].Reply == nil || hist[1].Reply.ID != question.ID {
		t.Fatalf("the server has %+v, %v", hist, err)
	}

	// A reply from someone else shows the same way.
	if _, err := bc.SendReply(ctx, general, hist[1].ID, "great, thanks", ""); err != nil {
		t.Fatal(err)
	}
	sc.waitText("↳ replying to alice: I do", "bob: great, thanks")

	sc.typeLine("/reply 99 nobody wrote that")
	sc.waitText("reply: no message #99 here")
	sc.typeLine("/reply hello")
	sc.waitText("usage: /reply N TEXT")

	// Pins.
	sc.typeLine("/pin 1")
	sc.waitText("pinned #1", "bob: who brings snacks on Friday? 📌")
	sc.typeLine("/pins")
	sc.waitText("Pinned in #general (1)", "bob: who brings snacks on Friday? (pinned by alice)")
	if strings.Contains(sc.text(), "alice: I do") {
		t.Error("the messages are shown under the pins panel")
	}
	sc.press(escKey)
	sc.waitText("#general · Gophers", "alice: I do")
	sc.typeLine("/unpin 1")
	sc.waitText("unpinned #1")
	if strings.Contains(sc.text(), "📌") {
		t.Errorf("still pinned on screen:\n%s", sc.text())
	}
	sc.typeLine("/pins")
	sc.waitText("no pinned messages in #general")

	// /help opens the list of commands the same way.
	sc.typeLine("/help")
	sc.waitText("Commands", "/reply N TEXT", "/kick USER [REASON]")
	sc.press(escKey)
	sc.waitText("alice: I do")
}

// TestChatRateLimit: a message the server refuses under its rate limits
// is not lost: the screen says how long to wait and puts the text back
// in the input.
func TestChatRateLimit(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{RateBurst: 2, RateBurstWindow: time.Hour})
	alice, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	sc := newScreen(t, s, alice)
	sc.waitText("▸ #general")
	sc.typeLine("one")
	sc.waitText("alice: one")
	sc.typeLine("two")
	sc.waitText("alice: two")
	sc.typeLine("three")
	sc.waitFor("the rate limit notice", func(string) bool {
		return regexp.MustCompile(`slow down: wait \d+ s`).MatchString(sc.status())
	})
	if got := sc.m.input.Value(); got != "three" {
		t.Errorf("the input holds %q after the refusal, want %q", got, "three")
	}
	if !strings.Contains(sc.text(), "> three") {
		t.Errorf("the refused text is not in the input line:\n%s", sc.text())
	}
	if strings.Contains(sc.text(), "alice: three") {
		t.Error("the refused message is shown as sent")
	}
	hist, err := ac.History(ctx, circle.Streams[0].ID, client.HistoryQuery{})
	if err != nil || len(hist) != 2 {
		t.Errorf("the server has %d messages, %v", len(hist), err)
	}
}
