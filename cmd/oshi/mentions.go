package main

import (
	"context"
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/oshichat/oshi/models"
)

// newStreamView starts the view of a stream with the counts ready gave:
// unread messages, and those of them that mention the user by name.
func newStreamView(s *models.Stream) *streamView {
	v := &streamView{last: s.LastSeq, acked: s.LastSeq}
	if s.Unread != nil {
		v.unread = int(*s.Unread)
		v.acked = s.LastSeq - *s.Unread
	}
	if s.Mentions != nil {
		v.mentions = int(*s.Mentions)
	}
	return v
}

// mentionsMe reports whether a message of someone else mentions the
// user: by name, with @everyone, or with a role the user holds in the
// stream's circle.
func (m *chatModel) mentionsMe(msg *models.Message) bool {
	if msg.Author.ID == m.me.ID || msg.Deleted {
		return false
	}
	if msg.MentionEveryone || slices.ContainsFunc(msg.Mentions, func(u models.UserRef) bool { return u.ID == m.me.ID }) {
		return true
	}
	if len(msg.MentionRoles) == 0 {
		return false
	}
	it := m.itemOf(msg.StreamID)
	if it == nil || it.circle == nil || it.circle.Me == nil {
		return false
	}
	return slices.ContainsFunc(msg.MentionRoles, func(role string) bool { return slices.Contains(it.circle.Me.Roles, role) })
}

// ackedMsg is the answer to a stream_ack.
type ackedMsg struct {
	stream string
	seq    int64
	err    error
}

// markRead tells the server the user has read the selected stream up to
// its newest message, so the next start (and the user's other clients)
// count unread messages and mentions from there. One ack is in flight
// per stream at a time.
func (m *chatModel) markRead() tea.Cmd {
	v := m.views[m.sel]
	if v == nil || v.acking || v.last <= v.acked {
		return nil
	}
	v.acking = true
	c, stream, seq := m.c, m.sel, v.last
	return request(func(ctx context.Context) tea.Msg {
		got, err := c.Ack(ctx, stream, seq)
		return ackedMsg{stream, got, err}
	})
}

// acked records an ack's answer and acks again if more arrived meanwhile.
func (m *chatModel) acked(a ackedMsg) tea.Cmd {
	v := m.views[a.stream]
	if v == nil {
		return nil
	}
	v.acking = false
	if a.err != nil {
		return nil // tried again when the stream is next shown or gets a message
	}
	v.acked = max(v.acked, a.seq)
	if a.stream == m.sel {
		return m.markRead()
	}
	return nil
}

// readElsewhere applies a stream_ack event: another client of the user
// read the stream up to seq.
func (m *chatModel) readElsewhere(stream string, seq int64) {
	v := m.views[stream]
	if v == nil {
		return
	}
	v.acked = max(v.acked, seq)
	if seq >= v.last {
		v.unread, v.mentions = 0, 0
		return
	}
	v.unread = min(v.unread, int(v.last-seq))
	v.mentions = min(v.mentions, v.unread)
}
