package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// typingInterval is the least time between two typing commands the
// screen sends for one stream. Others show an indicator for 8 s after
// each, so one every 3 s keeps it up while the user types, well within
// the server's typing rate limit.
const typingInterval = 3 * time.Second

// defaultTypingExpiry is how long an indicator lasts when the event does
// not say (expires_ms).
const defaultTypingExpiry = 8 * time.Second

// typingState is who is typing where, and when the user last said they
// were typing in each stream.
type typingState struct {
	others map[string]map[string]typist // stream → user id → typist
	sent   map[string]time.Time         // stream → when typing was last sent
}

type typist struct {
	user  models.UserRef
	until time.Time
}

// typingTickMsg comes when an indicator may have expired.
type typingTickMsg struct{}

// typed is called after a key changed the input. While the user writes a
// message (not a /command) in a stream where they may send, it tells the
// stream's subscribers, at most once per typingInterval.
func (m *chatModel) typed() tea.Cmd {
	text := strings.TrimSpace(m.input.Value())
	it := m.selected()
	if it == nil || text == "" || strings.HasPrefix(text, "/") {
		return nil
	}
	if p := it.stream.Permissions; p != nil && !p.Has(models.SendMessages) {
		return nil
	}
	now := m.now()
	if last, ok := m.typing.sent[m.sel]; ok && now.Sub(last) < typingInterval {
		return nil
	}
	if m.typing.sent == nil {
		m.typing.sent = make(map[string]time.Time)
	}
	m.typing.sent[m.sel] = now
	c, stream := m.c, m.sel
	return request(func(ctx context.Context) tea.Msg {
		// An indicator is a courtesy: a refusal (rate limit, a timeout,
		// a dropped connection) is not worth telling the user about.
		_ = c.Typing(ctx, stream)
		return nil
	})
}

// typingEvent shows that someone else is typing in a stream, until the
// event's expires_ms has passed or their message arrives.
func (m *chatModel) typingEvent(ev client.Event) tea.Cmd {
	if ev.User == nil || ev.User.ID == m.me.ID || m.views[ev.Stream] == nil {
		return nil
	}
	var f struct {
		ExpiresMS int64 `json:"expires_ms"`
	}
	_ = json.Unmarshal(ev.Raw, &f)
	d := time.Duration(f.ExpiresMS) * time.Millisecond
	if d <= 0 {
		d = defaultTypingExpiry
	}
	if m.typing.others == nil {
		m.typing.others = make(map[string]map[string]typist)
	}
	ts := m.typing.others[ev.Stream]
	if ts == nil {
		ts = make(map[string]typist)
		m.typing.others[ev.Stream] = ts
	}
	ts[ev.User.ID] = typist{user: *ev.User, until: m.now().Add(d)}
	// Redraw when it expires.
	return tea.Tick(d, func(time.Time) tea.Msg { return typingTickMsg{} })
}

// stopped ends a user's indicator in a stream: their message arrived.
func (s *typingState) stopped(stream, userID string) {
	delete(s.others[stream], userID)
}

// forget drops everything about a stream no longer shown.
func (s *typingState) forget(stream string) {
	delete(s.others, stream)
	delete(s.sent, stream)
}

// prune drops the indicators expired at now.
func (s *typingState) prune(now time.Time) {
	for stream, ts := range s.others {
		for id, t := range ts {
			if !now.Before(t.until) {
				delete(ts, id)
			}
		}
		if len(ts) == 0 {
			delete(s.others, stream)
		}
	}
}

// line is the indicator shown under a stream's messages at now: "alice
// is typing…", "alice and bob are typing…", "several people are
// typing…", or "".
func (s *typingState) line(stream string, now time.Time) string {
	var names []string
	for _, t := range s.others[stream] {
		if now.Before(t.until) {
			names = append(names, t.user.Username)
		}
	}
	slices.Sort(names)
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0] + " is typing…"
	case 2:
		return names[0] + " and " + names[1] + " are typing…"
	default:
		return "several people are typing…"
	}
}
