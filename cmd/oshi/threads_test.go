package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestChatThreads: /thread #N starts a thread from a message and opens
// it; posts go to the thread; threads others start, archive and delete
// come and go under their channel; /threads lists them.
func TestChatThreads(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	_, ac := s.User("alice")
	bob, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Town", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := ac.CreateStream(ctx, circle.ID, "random"); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Send(ctx, general, "Who brings what on Saturday?", ""); err != nil {
		t.Fatal(err)
	}

	sc := newScreen(t, s, bob)
	sc.waitText("▸ #general", "alice: Who brings what on Saturday?")
	sc.typeLine("/thread")
	sc.waitText("usage: /thread [#N] NAME")
	sc.typeLine("/thread #1 Saturday picnic")
	// The thread opens, listed under its channel, headed with it.
	sc.waitText("▸   ↳ Saturday picnic", "#general ↳ Saturday picnic · Town", "started thread Saturday picnic")
	if !regexp.MustCompile(`#general +│[^\n]*\n[^\n]*↳ Saturday picnic`).MatchString(sc.text()) {
		t.Errorf("the thread is not right under its channel:\n%s", sc.text())
	}
	threads, _, err := ac.Threads(ctx, general, false, "", 0)
	if err != nil || len(threads) != 1 {
		t.Fatalf("threads of general: %+v, %v", threads, err)
	}
	thread := threads[0]
	sc.waitSubscribed(thread.ID)
	sc.typeLine("I'll bring lemonade")
	sc.waitText("bob: I'll bring lemonade")
	msgs, err := ac.History(ctx, thread.ID, client.HistoryQuery{})
	if err != nil || len(msgs) != 1 || msgs[0].Content != "I'll bring lemonade" {
		t.Fatalf("the thread's history: %+v, %v", msgs, err)
	}
	// alice's posts in the thread reach the screen like a channel's.
	if _, err := ac.Send(ctx, thread.ID, "and I bring cups", ""); err != nil {
		t.Fatal(err)
	}
	sc.waitText("alice: and I bring cups")

	// The starter message is marked in its channel.
	sc.press(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	sc.waitText("▸ #general", "↳ thread: Saturday picnic")

	// A thread alice starts appears; archived, it leaves the list.
	second, err := ac.CreateThread(ctx, general, "Rides", "")
	if err != nil {
		t.Fatal(err)
	}
	sc.waitText("  ↳ Rides", "new thread Rides under #general")
	sc.typeLine("/threads")
	sc.waitText("Threads of #general", "↳ Saturday picnic · 2 messages", "↳ Rides · 0 messages")
	sc.press(escKey)
	archived := true
	if _, err := ac.EditThread(ctx, second.ID, client.ThreadEdit{Archived: &archived}); err != nil {
		t.Fatal(err)
	}
	sc.waitFor("Rides gone from the list", func(s string) bool { return !strings.Contains(s, "↳ Rides") })
	sc.typeLine("/threads")
	sc.waitText("archived (a post brings one back):", "2. ↳ Rides · 0 messages")
	// /threads N opens an archived one too; a post brings it back.
	sc.typeLine("/threads 2")
	sc.waitText("▸   ↳ Rides", "#general ↳ Rides · Town")
	sc.waitSubscribed(second.ID)
	sc.typeLine("who drives?")
	sc.waitText("bob: who drives?")
	active, _, err := ac.Threads(ctx, general, false, "", 0)
	if err != nil || len(active) != 2 {
		t.Fatalf("active threads after posting in the archived one: %+v, %v", active, err)
	}

	// Deleted, a thread leaves the list, and its mark its message.
	if err := ac.DeleteThread(ctx, thread.ID); err != nil {
		t.Fatal(err)
	}
	sc.waitFor("the thread gone", func(s string) bool { return !strings.Contains(s, "Saturday picnic") })
	sc.press(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	sc.waitText("▸ #general", "alice: Who brings what on Saturday?", "  ↳ Rides")
	if strings.Contains(sc.text(), "thread:") {
		t.Errorf("the deleted thread's message still shows it:\n%s", sc.text())
	}
}
