package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// screen drives a chatModel the way tea.Program does: commands run in
// goroutines and their messages are fed back to Update, one at a time,
// on the test goroutine; View is read between messages.
type screen struct {
	t    *testing.T
	m    *chatModel
	msgs chan tea.Msg
	done chan struct{}
	quit bool
}

// newScreen connects as l the way the interactive client does and
// starts a screen on it.
func newScreen(t *testing.T, s *oshitest.Server, l *client.Login) *screen {
	t.Helper()
	return newScreenWith(t, s, l, chatOptions{})
}

// newScreenWith is newScreen with options (a clock).
func newScreenWith(t *testing.T, s *oshitest.Server, l *client.Login, opts chatOptions) *screen {
	t.Helper()
	c := dialReconnecting(t, s, l)
	sc := &screen{t: t, m: newChatModel(c, opts), msgs: make(chan tea.Msg, 64), done: make(chan struct{})}
	t.Cleanup(func() { close(sc.done) })
	sc.handle(tea.WindowSizeMsg{Width: 100, Height: 30})
	sc.run(sc.m.Init())
	return sc
}

func (sc *screen) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		// Like tea.Program, run a batch's commands at once rather than
		// waiting for the test to read the screen's messages.
		if batch, ok := msg.(tea.BatchMsg); ok {
			for _, cmd := range batch {
				sc.run(cmd)
			}
			return
		}
		select {
		case sc.msgs <- msg:
		case <-sc.done:
		}
	}()
}

func (sc *screen) handle(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, cmd := range msg {
			sc.run(cmd)
		}
		return
	case tea.QuitMsg:
		sc.quit = true
		return
	}
	_, cmd := sc.m.Update(msg)
	sc.run(cmd)
}

// text is what a person would see: the view without colours.
func (sc *screen) text() string { return ansi.Strip(sc.m.View().Content) }

// status is the last line of the screen.
func (sc *screen) status() string {
	lines := strings.Split(sc.text(), "\n")
	return lines[len(lines)-1]
}

// waitFor processes messages until cond holds for the screen.
func (sc *screen) waitFor(what string, cond func(screen string) bool) {
	sc.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if cond(sc.text()) {
			return
		}
		select {
		case msg := <-sc.msgs:
			sc.handle(msg)
		case <-deadline:
			sc.t.Fatalf("the screen never showed %s:\n%s", what, sc.text())
		}
	}
}

// waitText waits until the screen contains every one of want.
func (sc *screen) waitText(want ...string) {
	sc.t.Helper()
	sc.waitFor(strings.Join(want, ", "), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

func (sc *screen) press(k tea.KeyPressMsg) { sc.handle(k) }

var (
	enterKey = tea.KeyPressMsg{Code: tea.KeyEnter}
	escKey   = tea.KeyPressMsg{Code: tea.KeyEscape}
	tabKey   = tea.KeyPressMsg{Code: tea.KeyTab}
)

// typeText types text without pressing Enter.
func (sc *screen) typeText(text string) {
	for _, r := range text {
		sc.handle(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// typeLine types text and presses Enter.
func (sc *screen) typeLine(text string) {
	sc.typeText(text)
	sc.press(tea.KeyPressMsg{Code: tea.KeyEnter})
}

// waitSubscribed waits until the screen follows a stream, so events of
// the stream (typing) reach it.
func (sc *screen) waitSubscribed(stream string) {
	sc.t.Helper()
	sc.waitFor("a subscription to "+stream, func(string) bool {
		v := sc.m.views[stream]
		return v != nil && v.subscribed
	})
}

// line returns the first line of the screen containing s, or "".
func (sc *screen) line(s string) string {
	for _, l := range strings.Split(sc.text(), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// fakeClock is the screens' clock in tests of what expires: it moves only
// when the test says.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// dialReconnecting connects like the interactive client does.
func dialReconnecting(t *testing.T, s *oshitest.Server, l *client.Login) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), s.WSURL, client.Credentials{Token: l.Token},
		&client.Options{Reconnect: true, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestChatScreen(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	random, err := ac.CreateStream(ctx, circle.ID, "random")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.OpenDM(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"earlier one", "earlier two"} {
		if _, err := bc.Send(ctx, general, text, ""); err != nil {
			t.Fatal(err)
		}
	}

	sc := newScreen(t, s, alice)
	// The left pane lists the circle with its channels and the DM; the
	// first channel is selected and shows its history.
	sc.waitText("Gophers", "▸ #general", "#random", "Direct messages", "@bob", "bob: earlier one", "bob: earlier two")
	if !strings.HasPrefix(sc.status(), "connected · alice") {
		t.Errorf("status line %q", sc.status())
	}

	// A message from another client appears with its author.
	if _, err := bc.Send(ctx, general, "hello alice", ""); err != nil {
		t.Fatal(err)
	}
	sc.waitText("bob: hello alice")

	// One in another channel counts as unread there.
	if _, err := bc.Send(ctx, random.ID, "over here", ""); err != nil {
		t.Fatal(err)
	}
	unread := regexp.MustCompile(`#random +1 │`)
	sc.waitFor("#random with 1 unread", unread.MatchString)
	if strings.Contains(sc.text(), "over here") {
		t.Error("a message of an unselected channel is shown")
	}

	// Tab selects it and clears the count; Enter sends.
	sc.press(tea.KeyPressMsg{Code: tea.KeyTab})
	sc.waitText("▸ #random", "bob: over here")
	if unread.MatchString(sc.text()) {
		t.Error("unread count not cleared on selection")
	}
	sc.typeLine("hi bob")
	sc.waitText("alice: hi bob")
	msgs, err := bc.History(ctx, random.ID, client.HistoryQuery{})
	if err != nil || len(msgs) != 2 || msgs[1].Content != "hi bob" {
		t.Errorf("random's history after sending: %v, %v", msgs, err)
	}

	// Ctrl-P goes back, Ctrl-N forward, wrapping round.
	sc.press(tea.KeyPressMsg{Code: 'p', Mod: tea.ModCtrl})
	sc.waitText("▸ #general")
	sc.press(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	sc.waitText("▸ @bob")
	sc.press(tea.KeyPressMsg{Code: 'n', Mod: tea.ModCtrl})
	sc.waitText("▸ #general")

	// Edit, react to and delete messages.
	sc.typeLine("first draft")
	sc.waitText("alice: first draft")
	sc.typeLine("/edit second draft")
	sc.waitText("alice: second draft (edited)")
	sc.typeLine("/react 👍")
	sc.waitText("second draft (edited) [👍 1]")
	hist, err := bc.History(ctx, general, client.HistoryQuery{Limit: 1})
	if err != nil || len(hist) != 1 || hist[0].Content != "second draft" || len(hist[0].ReactionCounts) != 1 {
		t.Fatalf("after /edit and /react the server has %+v, %v", hist, err)
	}
	sc.typeLine("/delete")
	sc.waitText("alice: (deleted)")
	sc.typeLine("/invite")
	sc.waitText("invite code for Gophers: ")

	// The status line follows the connection across a server restart.
	s.Restart()
	sc.waitFor("reconnecting in the status line", func(string) bool { return strings.HasPrefix(sc.status(), "reconnecting") })
	sc.waitFor("connected in the status line", func(string) bool { return strings.HasPrefix(sc.status(), "connected") })
	bc = s.Dial(bob)
	if _, err := bc.Send(ctx, general, "after the restart", ""); err != nil {
		t.Fatal(err)
	}
	sc.waitText("bob: after the restart")

	sc.press(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	sc.waitFor("the end (Ctrl-C)", func(string) bool { return sc.quit })
}

func TestChatCommands(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	carol, _ := s.User("carol")
	s.Register("dave")
	_, ec := s.User("erin")
	secret, err := ec.CreateCircle(ctx, "Secret Lab", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	code, err := ec.CreateInvite(ctx, secret.ID)
	if err != nil {
		t.Fatal(err)
	}

	sc := newScreen(t, s, carol)
	sc.waitText("no circles yet")

	sc.typeLine("/create Book Club private")
	sc.waitText("Book Club", "▸ #general", "created private circle Book Club")

	sc.typeLine("/channel novels")
	sc.waitText("#novels", "created #novels")

	sc.typeLine("/join not-a-code")
	sc.waitText("join: ")

	sc.typeLine("/join " + code)
	sc.waitText("Secret Lab", "joined Secret Lab")
	if _, err := ec.Send(ctx, secret.Streams[0].ID, "welcome carol", ""); err != nil {
		t.Fatal(err)
	}
	sc.waitText("erin: welcome carol")

	sc.typeLine("/dm dave")
	sc.waitText("▸ @dave")
	sc.typeLine("hey dave")
	sc.waitText("carol: hey dave")

	sc.typeLine("/quit")
	sc.waitFor("the end (/quit)", func(string) bool { return sc.quit })
}

func TestChatPageUp(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Archive", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	for i := 1; i <= historyPage+10; i++ {
		if _, err := ac.Send(ctx, general, fmt.Sprintf("message %02d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	sc := newScreen(t, s, alice)
	sc.waitText("alice: message 60")
	if strings.Contains(sc.text(), "message 01") {
		t.Fatal("the oldest message is shown before paging up")
	}
	// PgUp scrolls through the loaded page, then loads the one before.
	for range 10 {
		sc.press(tea.KeyPressMsg{Code: tea.KeyPgUp})
		sc.waitFor("the history page loaded", func(string) bool { return !sc.m.views[general].loading })
		if strings.Contains(sc.text(), "message 01") {
			break
		}
	}
	sc.waitText("alice: message 01", "beginning of the conversation")
	if n := len(sc.m.views[general].msgs); n != historyPage+10 {
		t.Errorf("%d messages loaded, want %d", n, historyPage+10)
	}
}
