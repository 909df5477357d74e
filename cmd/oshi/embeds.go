package main

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// Link embeds, thread marks and bot badges: the lines shown under a
// message, and the events that change them.

// embedMark starts the line of a link embed.
const embedMark = "  › "

// belowMessage renders the dim lines shown under a message, each cut to
// one line of width w: the thread it started, then one per link embed.
func (m *chatModel) belowMessage(msg *models.Message, w int) []string {
	if msg.Deleted {
		return nil
	}
	var lines []string
	if t := msg.Thread; t != nil {
		lines = append(lines, styleTime.Render(ansi.Truncate("  ↳ thread: "+oneLine(t.Name), w, "…")))
	}
	for _, e := range msg.Embeds {
		lines = append(lines, styleTime.Render(ansi.Truncate(embedMark+embedText(e), w, "…")))
	}
	return lines
}

// embedText is the one-line text of an embed: "site — title;
// description", with what the embed lacks left out, or its URL when it
// has neither title nor description (an image).
func embedText(e models.Embed) string {
	var head []string
	if s := oneLine(e.SiteName); s != "" {
		head = append(head, s)
	}
	if s := oneLine(e.Title); s != "" {
		head = append(head, s)
	}
	text := strings.Join(head, " — ")
	if d := oneLine(e.Description); d != "" {
		if text != "" {
			text += "; "
		}
		text += d
	}
	if text == "" {
		text = e.URL
		if e.Type == models.EmbedImage {
			text = "image: " + e.URL
		}
	}
	return text
}

// oneLine folds the whitespace of s, newlines included, to single
// spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// botMark is what follows a bot's name on its messages.
func botMark(u models.UserRef) string {
	if u.Bot {
		return styleTime.Render(" [bot]")
	}
	return ""
}

// embedsEvent applies message_embeds: the message, whole, with the
// embeds of its links.
func (m *chatModel) embedsEvent(ev client.Event) {
	if v := m.views[ev.Stream]; v != nil && ev.Message != nil {
		v.replace(ev.Message)
	}
}

// messageThreadEvent applies message_thread: a message of the stream
// started a thread, or its thread was renamed or deleted (thread null).
func (m *chatModel) messageThreadEvent(ev client.Event) {
	v := m.views[ev.Stream]
	if v == nil || ev.ID == "" {
		return
	}
	var f struct {
		Thread *models.ThreadRef `json:"thread"`
	}
	if decodeRaw(ev, &f) != nil {
		return
	}
	v.update(ev.ID, func(msg *models.Message) { msg.Thread = f.Thread })
}
