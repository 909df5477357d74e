package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// Threads: the active threads of a channel are listed under it, indented;
// a thread is a stream like a channel (subscribed, read, posted in the
// same way). /thread starts one, /threads lists a channel's threads.

// threadPage is how many threads one /threads asks for, active and
// archived each.
const threadPage = 50

// threadMsg is the thread /thread made, to open.
type threadMsg struct {
	circle string
	thread *models.Stream
}

// appendThreads appends to items the threads of channel parent that the
// left pane lists: the active ones, and an archived one while it is the
// selected stream.
func (m *chatModel) appendThreads(items []item, ci *models.Circle, parent string) []item {
	for i := range ci.Streams {
		s := &ci.Streams[i]
		if s.Kind == models.Thread && s.ParentID == parent && (!s.Archived || s.ID == m.sel) {
			items = append(items, item{stream: s, circle: ci})
		}
	}
	return items
}

// indent is what goes before a stream's name in the left pane: threads
// sit under their channel.
func indent(it item) string {
	if it.stream.Kind == models.Thread {
		return "  "
	}
	return ""
}

// title is the heading of a stream's messages: a thread's names its
// parent channel too.
func (m *chatModel) title(it item) string {
	if it.stream.Kind == models.Thread {
		if p := m.itemOf(it.stream.ParentID); p != nil {
			return m.label(*p) + " " + m.label(it)
		}
	}
	return m.label(it)
}

// putThread adds a thread to its circle's streams, or replaces it there.
func (m *chatModel) putThread(circleID string, t *models.Stream) bool {
	for i, ci := range m.circles {
		if ci.ID != circleID {
			continue
		}
		cp := *ci
		cp.Streams = slices.Clone(ci.Streams)
		if j := slices.IndexFunc(cp.Streams, func(s models.Stream) bool { return s.ID == t.ID }); j >= 0 {
			cp.Streams[j] = *t
		} else {
			cp.Streams = append(cp.Streams, *t)
		}
		m.circles[i] = &cp
		return true
	}
	return false
}

// dropThread takes a thread off its circle's streams.
func (m *chatModel) dropThread(circleID, id string) {
	for i, ci := range m.circles {
		if ci.ID == circleID {
			cp := *ci
			cp.Streams = slices.DeleteFunc(slices.Clone(ci.Streams), func(s models.Stream) bool { return s.ID == id })
			m.circles[i] = &cp
		}
	}
}

// threadEvent applies thread_create, thread_update and thread_delete.
func (m *chatModel) threadEvent(ev client.Event) tea.Cmd {
	var f struct {
		Thread json.RawMessage `json:"thread"`
	}
	if decodeRaw(ev, &f) != nil || len(f.Thread) == 0 {
		return nil
	}
	sel := m.sel
	if ev.Cmd == "thread_delete" {
		var id string
		if json.Unmarshal(f.Thread, &id) != nil {
			return nil
		}
		if it := m.itemOf(id); it != nil && id == sel {
			m.notice = "thread " + it.stream.Name + " was deleted"
		}
		m.dropThread(ev.Circle, id)
		m.rebuild()
		m.dropUnlisted()
		if m.sel != sel {
			return tea.Batch(m.unfollow([]string{id}), m.show(m.sel))
		}
		return m.unfollow([]string{id})
	}
	var t models.Stream
	if json.Unmarshal(f.Thread, &t) != nil || t.ID == "" {
		return nil
	}
	known := m.itemOf(t.ID) != nil
	if !m.putThread(ev.Circle, &t) {
		return nil
	}
	m.rebuild()
	if ev.Cmd == "thread_create" && !known && t.OwnerID != m.me.ID {
		parent := "a channel"
		if p := m.itemOf(t.ParentID); p != nil {
			parent = m.label(*p)
		}
		m.notice = fmt.Sprintf("new thread %s under %s", t.Name, parent)
	}
	if m.sel != sel {
		return tea.Batch(m.subscribeNew(), m.show(m.sel))
	}
	return m.subscribeNew()
}

// threadCreated opens the thread /thread made.
func (m *chatModel) threadCreated(t threadMsg) tea.Cmd {
	if t.thread == nil || !m.putThread(t.circle, t.thread) {
		return nil
	}
	m.rebuild()
	m.notice = "started thread " + t.thread.Name
	return tea.Batch(m.subscribeNew(), m.show(t.thread.ID))
}

// parentChannel returns the selected channel, or the channel of the
// selected thread; ok is false in a DM or with nothing selected.
func (m *chatModel) parentChannel() (stream string, circle *models.Circle, ok bool) {
	it := m.selected()
	if it == nil || it.circle == nil {
		return "", nil, false
	}
	if it.stream.Kind == models.Thread {
		return it.stream.ParentID, it.circle, true
	}
	return it.stream.ID, it.circle, true
}

// startThread runs /thread [#N] NAME: it starts a thread under the
// selected channel, from its message N when given, and opens it.
func (m *chatModel) startThread(arg, line string) tea.Cmd {
	var seq int64
	if strings.HasPrefix(arg, "#") {
		n, rest, ok := seqArg(arg)
		if !ok {
			m.notice = "usage: /thread [#N] NAME"
			return nil
		}
		seq, arg = n, rest
	}
	if arg == "" {
		m.notice = "usage: /thread [#N] NAME (#N: start it from message N)"
		return nil
	}
	it := m.selected()
	if it == nil || it.circle == nil || it.stream.Kind == models.Thread {
		m.notice = "select a channel of a circle to start a thread in"
		return nil
	}
	c, stream, circle, name := m.c, it.stream.ID, it.circle.ID, arg
	var starter string
	if v := m.views[stream]; v != nil && seq > 0 {
		if msg := v.bySeq(seq); msg != nil {
			starter = msg.ID
		}
	}
	return request(func(ctx context.Context) tea.Msg {
		if seq > 0 && starter == "" {
			msg, err := findMessage(ctx, c, stream, seq)
			if err != nil {
				return errMsg{fmt.Errorf("thread: %w", err)}
			}
			starter = msg.ID
		}
		t, err := c.CreateThread(ctx, stream, name, starter)
		if err != nil {
			return failed("thread", line, err)
		}
		return threadMsg{circle: circle, thread: t}
	})
}

// threadEntry is a thread /threads listed, with its circle.
type threadEntry struct {
	circle string
	thread models.Stream
}

// threadsMsg is what /threads found: the panel, and the threads it
// numbers.
type threadsMsg struct {
	panel   panel
	threads []threadEntry
}

// listThreads runs /threads: the active and archived threads of the
// selected channel (or of the selected thread's channel), numbered, in
// a panel. /threads N opens thread N of the last list.
func (m *chatModel) listThreads(arg string) tea.Cmd {
	if arg != "" {
		return m.openListed(arg)
	}
	stream, ci, ok := m.parentChannel()
	if !ok {
		m.notice = "select a channel of a circle to list its threads"
		return nil
	}
	circle := ci.ID
	title := "Threads"
	if p := m.itemOf(stream); p != nil {
		title += " of " + m.label(*p)
	}
	title += " · Esc closes"
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		active, _, err := c.Threads(ctx, stream, false, "", threadPage)
		if err != nil {
			return errMsg{fmt.Errorf("threads: %w", err)}
		}
		archived, _, err := c.Threads(ctx, stream, true, "", threadPage)
		if err != nil {
			return errMsg{fmt.Errorf("threads: %w", err)}
		}
		var (
			lines  []string
			listed []threadEntry
		)
		for _, t := range active {
			listed = append(listed, threadEntry{circle, t})
			lines = append(lines, threadLine(len(listed), t))
		}
		if len(active) == 0 {
			lines = append(lines, "no active threads: /thread NAME starts one")
		}
		if len(archived) > 0 {
			lines = append(lines, "", "archived (a post brings one back):")
			for _, t := range archived {
				listed = append(listed, threadEntry{circle, t})
				lines = append(lines, threadLine(len(listed), t))
			}
		}
		if len(listed) > 0 {
			lines = append(lines, "", "/threads N opens thread N.")
		}
		return threadsMsg{panel{title: title, lines: lines}, listed}
	})
}

// openListed runs /threads N: it opens thread N of the last /threads,
// archived or not.
func (m *chatModel) openListed(arg string) tea.Cmd {
	n, rest, ok := seqArg(arg)
	if !ok || rest != "" || n > int64(len(m.listed)) {
		m.notice = "usage: /threads, then /threads N to open thread N of the list"
		return nil
	}
	e := m.listed[n-1]
	if m.itemOf(e.thread.ID) == nil {
		t := e.thread
		if !m.putThread(e.circle, &t) {
			m.notice = "that thread's circle is gone"
			return nil
		}
		m.selectStream(t.ID) // an archived thread is listed while selected
		m.rebuild()
	}
	return tea.Batch(m.subscribeNew(), m.show(e.thread.ID))
}

// threadLine describes thread number n in the /threads panel.
func threadLine(n int, t models.Stream) string {
	s := fmt.Sprintf("%d. ↳ %s · %d messages", n, t.Name, t.LastSeq)
	if t.Locked {
		s += " · locked"
	}
	return s
}
