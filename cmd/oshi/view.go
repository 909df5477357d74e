package main

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/oshichat/oshi/models"
)

// Styles.
var (
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleHeading  = lipgloss.NewStyle().Bold(true)
	styleTime     = lipgloss.NewStyle().Faint(true)
	styleAuthor   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6"))
	styleMe       = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2"))
	styleUnread   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3"))
	styleMention  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1"))
	styleMark     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3"))
	styleStatus   = lipgloss.NewStyle().Reverse(true)
	styleWarn     = lipgloss.NewStyle().Reverse(true).Foreground(lipgloss.Color("3"))
)

// mentionMark starts every line of a message that mentions the user.
const mentionMark = "▌"

// panel is a list shown in place of the messages (/help, /pins,
// /members) until Esc or another stream is selected.
type panel struct {
	title string
	lines []string
}

// panelMsg opens a panel.
type panelMsg struct{ panel panel }

func (m *chatModel) leftWidth() int    { return min(28, max(m.width/3, 12)) }
func (m *chatModel) messageWidth() int { return max(m.width-m.leftWidth()-3, 10) }
func (m *chatModel) bodyHeight() int   { return max(m.height-3, 1) }

// messageRows is the height of the message pane between its heading and
// the typing line.
func (m *chatModel) messageRows() int { return max(m.bodyHeight()-2, 1) }
func (m *chatModel) pageSize() int    { return max(m.messageRows()-1, 1) }
func pad(s string, w int) string      { return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0)) }
func fit(s string, w int) string      { return pad(ansi.Truncate(s, w, "…"), w) }

func (m *chatModel) label(it item) string {
	if it.circle == nil {
		return "@" + peerName(it.stream)
	}
	if it.stream.Kind == models.Thread {
		return "↳ " + it.stream.Name
	}
	return "#" + it.stream.Name
}

// leftLines renders the circles, their channels and the DMs, with unread
// and mention counts, and the DM peers' presence.
func (m *chatModel) leftLines(w int) []string {
	var lines []string
	var circle string
	dmHeading := false
	for _, it := range m.items {
		switch {
		case it.circle != nil && it.circle.ID != circle:
			circle = it.circle.ID
			lines = append(lines, styleHeading.Render(fit(it.circle.Name, w)))
		case it.circle == nil && !dmHeading:
			dmHeading = true
			lines = append(lines, styleHeading.Render(fit("Direct messages", w)))
		}
		marker := "  "
		if it.stream.ID == m.sel {
			marker = "▸ "
		}
		var counts, countsPlain string
		if v := m.views[it.stream.ID]; v != nil && v.unread > 0 {
			counts = styleUnread.Render(fmt.Sprintf(" %d", v.unread))
			if v.mentions > 0 {
				counts += styleMention.Render(fmt.Sprintf(" @%d", v.mentions))
			}
			countsPlain = ansi.Strip(counts)
		}
		var presence, presencePlain string
		if it.circle == nil && it.stream.Peer != nil {
			presencePlain = " " + statusGlyph(m.statusOf(it.stream.Peer.ID))
			presence = " " + statusMarker(m.statusOf(it.stream.Peer.ID))
		}
		avail := w - ansi.StringWidth(countsPlain)
		name := ansi.Truncate(marker+indent(it)+m.label(it), avail-ansi.StringWidth(presencePlain), "…")
		if it.stream.ID == m.sel {
			lines = append(lines, styleSelected.Render(pad(name+presencePlain, avail))+countsPlain)
		} else {
			lines = append(lines, pad(name+presence, avail)+counts)
		}
	}
	if len(m.items) == 0 {
		lines = append(lines, "no circles yet:", "/create NAME", "/join ID_OR_INVITE", "/dm USERNAME")
	}
	return lines
}

// messageLines renders the selected stream's messages (or the open
// panel), wrapped to w.
func (m *chatModel) messageLines(w int) []string {
	if m.panel != nil {
		var lines []string
		for _, l := range m.panel.lines {
			lines = append(lines, strings.Split(ansi.Wrap(l, w, " "), "\n")...)
		}
		return lines
	}
	v := m.views[m.sel]
	if v == nil {
		return nil
	}
	var lines []string
	if v.complete && len(v.msgs) > 0 {
		lines = append(lines, styleTime.Render("— beginning of the conversation —"))
	}
	notes := v.notes
	for _, msg := range v.msgs {
		for len(notes) > 0 && notes[0].after < msg.Seq {
			lines = append(lines, notes[0].render(w)...)
			notes = notes[1:]
		}
		lines = append(lines, m.renderMessage(msg, w)...)
	}
	for _, n := range notes {
		lines = append(lines, n.render(w)...)
	}
	return lines
}

// renderMessage renders one message wrapped to w: the message it answers
// first, when it is a reply, and a mark at the start of every line when
// it mentions the user.
func (m *chatModel) renderMessage(msg *models.Message, w int) []string {
	mention := m.mentionsMe(msg)
	if mention {
		w = max(w-1, 1)
	}
	var lines []string
	if r := msg.Reply; r != nil {
		preview := strings.Join(strings.Fields(r.Preview), " ")
		lines = append(lines, styleTime.Render(ansi.Truncate(fmt.Sprintf("↳ replying to %s: %s", r.Author.Username, preview), w, "…")))
	}
	if in := msg.Interaction; in != nil && !msg.Deleted {
		lines = append(lines, styleTime.Render(ansi.Truncate(fmt.Sprintf("↳ %s used /%s", in.User.Username, in.Command), w, "…")))
	}
	author := styleAuthor
	if msg.Author.ID == m.me.ID {
		author = styleMe
	}
	content := m.emojiContent(msg.StreamID, msg.Content)
	switch {
	case msg.Deleted:
		content = styleTime.Render("(deleted)")
	case msg.EditedAt != nil:
		content += styleTime.Render(" (edited)")
	}
	for _, r := range msg.ReactionCounts {
		content += fmt.Sprintf(" [%s %d]", m.reactionLabel(msg.StreamID, r.Emoji), r.Count)
	}
	if msg.PinnedAt != nil {
		content += " 📌"
	}
	text := styleTime.Render(fmt.Sprintf("#%d %s", msg.Seq, timestamp(msg.CreatedAt))) + " " + author.Render(msg.Author.Username) + botMark(msg.Author) + ": " + content
	lines = append(lines, strings.Split(ansi.Wrap(text, w, " "), "\n")...)
	lines = append(lines, m.belowMessage(msg, w)...)
	if mention {
		for i, l := range lines {
			lines[i] = styleMark.Render(mentionMark) + l
		}
	}
	return lines
}

// timestamp shows a message's time: the hour today, the date before.
func timestamp(t time.Time) string {
	t = t.Local()
	if t.Format("2006-01-02") != time.Now().Format("2006-01-02") {
		return t.Format("Jan 02 15:04")
	}
	return t.Format("15:04")
}

// View draws the left pane, the message pane, the input and the status.
func (m *chatModel) View() tea.View {
	lw, mw, rows := m.leftWidth(), m.messageWidth(), m.bodyHeight()
	left := m.leftLines(lw)

	var header string
	switch it := m.selected(); {
	case m.panel != nil:
		header = m.panel.title
	case it != nil:
		header = m.title(*it)
		if it.circle != nil {
			header += " · " + it.circle.Name
		}
		if v := m.views[m.sel]; v != nil && v.loading {
			header += " · loading…"
		}
	}
	mid := []string{styleHeading.Render(fit(header, mw))}
	lines := m.messageLines(mw)
	n := m.messageRows()
	end := max(len(lines)-m.scroll, 0)
	start := max(end-n, 0)
	visible := lines[start:end]
	for range n - len(visible) {
		mid = append(mid, "") // keep messages at the bottom
	}
	mid = append(mid, visible...)
	typing := ""
	if m.panel == nil {
		typing = m.typing.line(m.sel, m.now())
	}
	if typing != "" {
		typing = styleTime.Render(ansi.Truncate(typing, mw, "…"))
	}
	mid = append(mid, typing)

	var b strings.Builder
	for i := range rows {
		l := ""
		if i < len(left) {
			l = left[i]
		}
		r := ""
		if i < len(mid) {
			r = mid[i]
		}
		b.WriteString(pad(l, lw) + " │ " + r + "\n")
	}
	b.WriteString(strings.Repeat("─", max(m.width, 1)) + "\n")
	b.WriteString(m.input.View() + "\n")

	status := m.status + " · " + m.me.Username
	if p := m.presence.mine; p.Status != "" && (p.Status != models.Online || p.Text != "") {
		status += " (" + describeStatus(p.Status, p.Text) + ")"
	}
	if m.scroll > 0 {
		status += " · scrolled (PgDn)"
	}
	if m.notice != "" {
		status += " · " + m.notice
	}
	style := styleStatus
	if m.status != statusConnected {
		style = styleWarn
	}
	b.WriteString(style.Render(fit(status, max(m.width, 1))))

	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = "oshi"
	return v
}
