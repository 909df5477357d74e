package main

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/oshichat/oshi/models"
)

// presenceState is who the screen knows to be online, and the user's own
// status.
type presenceState struct {
	others map[string]models.Presence // user id → presence; absent: offline
	mine   models.Presence
	// touched, while reconnecting, holds the users whose events came
	// since the new connection's ready: they are newer than its list.
	touched map[string]bool
}

// statusSetMsg: the server accepted /status.
type statusSetMsg struct{ status, text string }

// setPresence applies a user's presence, as an event states it.
func (m *chatModel) setPresence(p models.Presence) {
	if p.User.ID == "" {
		return
	}
	if p.User.ID == m.me.ID {
		m.presence.mine = p
		return
	}
	if m.presence.touched != nil {
		m.presence.touched[p.User.ID] = true
	}
	if m.presence.others == nil {
		m.presence.others = make(map[string]models.Presence)
	}
	if p.Status == models.Offline || p.Status == models.Invisible || p.Status == "" {
		delete(m.presence.others, p.User.ID)
		return
	}
	m.presence.others[p.User.ID] = p
}

// statusOf returns a user's status as the screen knows it: "online",
// "idle", "dnd" or "offline".
func (m *chatModel) statusOf(userID string) string {
	if userID == m.me.ID && m.presence.mine.Status != "" {
		return m.presence.mine.Status
	}
	if p, ok := m.presence.others[userID]; ok {
		return p.Status
	}
	return models.Offline
}

// presenceReady applies the presences of the latest ready: the user's
// own status, then every co-member online; everyone else is offline.
// After a reconnection, the events that came since ready (noted in
// touched) are newer and kept.
func (m *chatModel) presenceReady(list []models.Presence) {
	touched := m.presence.touched
	m.presence.touched = nil
	fresh := make(map[string]models.Presence)
	for id, p := range m.presence.others {
		if touched[id] {
			fresh[id] = p
		}
	}
	m.presence.others = fresh
	for _, p := range list {
		if !touched[p.User.ID] {
			m.setPresence(p)
		}
	}
}

// Status markers: a glyph each, coloured on screen.
var statusGlyphs = map[string]struct {
	glyph string
	color string
}{
	models.Online:    {"●", "2"},
	models.Idle:      {"◐", "3"},
	models.DND:       {"⊖", "1"},
	models.Invisible: {"○", ""},
	models.Offline:   {"○", ""},
}

func statusGlyph(status string) string {
	if g, ok := statusGlyphs[status]; ok {
		return g.glyph
	}
	return statusGlyphs[models.Offline].glyph
}

// statusMarker is the coloured glyph of a status.
func statusMarker(status string) string {
	g, ok := statusGlyphs[status]
	if !ok || g.color == "" {
		return styleTime.Render(statusGlyph(status))
	}
	return lipgloss.NewStyle().Foreground(lipgloss.Color(g.color)).Render(g.glyph)
}

// describeStatus is a status with its text, as the status line shows it.
func describeStatus(status, text string) string {
	if status == models.DND {
		status = "do not disturb"
	}
	if text != "" {
		return status + ": " + text
	}
	return status
}

// setStatus runs /status online|idle|dnd|invisible [TEXT]. Without a
// text the text is cleared.
func (m *chatModel) setStatus(arg string) tea.Cmd {
	status, text, _ := strings.Cut(arg, " ")
	status, text = strings.ToLower(status), strings.TrimSpace(text)
	switch status {
	case models.Online, models.Idle, models.DND, models.Invisible:
	default:
		m.notice = "usage: /status online|idle|dnd|invisible [TEXT]"
		return nil
	}
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		if err := c.SetStatus(ctx, status, text); err != nil {
			return errMsg{fmt.Errorf("status: %w", err)}
		}
		return statusSetMsg{status, text}
	})
}
