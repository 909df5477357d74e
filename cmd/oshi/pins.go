package main

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// listPins runs /pins: the selected stream's pinned messages, in a panel.
func (m *chatModel) listPins() tea.Cmd {
	it := m.selected()
	if it == nil {
		m.notice = "select a stream to list its pins"
		return nil
	}
	c, stream, label := m.c, it.stream.ID, m.label(*it)
	return request(func(ctx context.Context) tea.Msg {
		msgs, err := c.Pins(ctx, stream)
		if err != nil {
			return errMsg{fmt.Errorf("pins: %w", err)}
		}
		if len(msgs) == 0 {
			return noticeMsg("no pinned messages in " + label)
		}
		p := panel{title: fmt.Sprintf("Pinned in %s (%d) · Esc closes", label, len(msgs))}
		for _, msg := range msgs {
			line := styleTime.Render(fmt.Sprintf("#%d %s", msg.Seq, timestamp(msg.CreatedAt))) + " " +
				styleAuthor.Render(msg.Author.Username) + ": " + msg.Content
			if msg.PinnedBy != nil {
				line += styleTime.Render(" (pinned by " + msg.PinnedBy.Username + ")")
			}
			p.lines = append(p.lines, line)
		}
		return panelMsg{p}
	})
}

// pin runs /pin N and /unpin N on message N of the selected stream.
func (m *chatModel) pin(name, arg string) tea.Cmd {
	n, _, ok := seqArg(arg)
	if !ok || m.sel == "" {
		m.notice = "usage: " + name + " N (N is the number before the message)"
		return nil
	}
	var known *models.Message
	if v := m.views[m.sel]; v != nil {
		known = v.bySeq(n)
	}
	c, stream, verb := m.c, m.sel, strings.TrimPrefix(name, "/")
	return request(func(ctx context.Context) tea.Msg {
		target := known
		if target == nil {
			var err error
			if target, err = findMessage(ctx, c, stream, n); err != nil {
				return errMsg{fmt.Errorf("%s: %w", verb, err)}
			}
		}
		pin := c.Pin
		if verb == "unpin" {
			pin = c.Unpin
		}
		msg, err := pin(ctx, stream, target.ID)
		if client.Code(err) == "forbidden" {
			return noticeMsg(verb + ": not allowed (pinning in a channel needs manage_messages)")
		}
		if err != nil {
			return errMsg{fmt.Errorf("%s: %w", verb, err)}
		}
		return changedMsg{msg: msg, text: fmt.Sprintf("%sned #%d: %s", verb, n, ansi.Truncate(msg.Content, 40, "…"))}
	})
}

// pinEvent applies message_pin and message_unpin to a loaded message.
func (m *chatModel) pinEvent(ev client.Event) {
	v := m.views[ev.Stream]
	if v == nil {
		return
	}
	v.update(ev.ID, func(msg *models.Message) {
		if ev.Cmd == "message_unpin" {
			msg.PinnedAt, msg.PinnedBy = nil, nil
			return
		}
		now := m.now()
		msg.PinnedAt, msg.PinnedBy = &now, ev.By
	})
}
