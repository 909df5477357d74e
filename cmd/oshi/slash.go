package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// helpLines is what /help shows: every slash command, then the keys.
var helpLines = []string{
	"N is the number shown before a message (#12: N is 12).",
	"",
	"/join CIRCLE_ID_OR_INVITE      join a circle",
	"/create NAME [public|private]  create a circle",
	"/channel NAME                  add a channel to this circle",
	"/invite                        make an invite code for this circle",
	"/dm USER                       open a direct message",
	"/reply N TEXT                  answer message N",
	"/edit TEXT                     change your last message here",
	"/delete                        delete your last message here",
	"/react EMOJI, /unreact EMOJI   on the last message; :NAME: custom",
	"/pins                          list this stream's pinned messages",
	"/pin N, /unpin N               pin or unpin message N",
	"/status online|idle|dnd|invisible [TEXT]  set your status; no TEXT clears it",
	"/members                       this circle's members, their status and roles",
	"/kick USER [REASON]            remove a member (moderators)",
	"/ban USER [REASON], /unban USER",
	"/timeout USER SECONDS [REASON] stop a member posting for a while; 0 lifts it",
	"/thread [#N] NAME              start a thread here (from message N)",
	"/threads, /threads N           this channel's threads; open number N",
	"/cmd, /NAME OPTION=VALUE …     list, run the bots' slash commands",
	"/quit                          leave",
	"",
	"Tab/Shift-Tab or Ctrl-N/Ctrl-P switch streams, PgUp/PgDn scroll, Esc closes this panel, Ctrl-C quits.",
}

// command runs a slash command.
func (m *chatModel) command(line string) tea.Cmd {
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	c := m.c
	switch name {
	case "/quit", "/exit":
		return tea.Quit
	case "/help":
		m.panel = &panel{title: "Commands · Esc closes", lines: helpLines}
		// From the top: PgDn shows the rest on a short screen.
		m.scroll = max(len(m.messageLines(m.messageWidth()))-m.messageRows(), 0)
	case "/join":
		if arg == "" {
			m.notice = "usage: /join CIRCLE_ID_OR_INVITE"
			return nil
		}
		return request(func(ctx context.Context) tea.Msg {
			ci, err := c.JoinCircle(ctx, arg)
			if err != nil && client.Code(err) != "already_member" {
				ci2, err2 := c.JoinInvite(ctx, arg)
				switch {
				case err2 == nil:
					ci, err = ci2, nil
				case client.Code(err2) != "invalid_invite":
					err = err2
				case client.Code(err) == "not_found":
					err = fmt.Errorf("no circle or invite %q", arg)
				}
			}
			if err != nil {
				return errMsg{fmt.Errorf("join: %w", err)}
			}
			return circleMsg{ci, "joined " + ci.Name}
		})
	case "/create":
		vis := models.Public
		if i := strings.LastIndex(arg, " "); i >= 0 {
			switch v := models.Visibility(strings.ToLower(arg[i+1:])); v {
			case models.Public, models.Private:
				vis, arg = v, strings.TrimSpace(arg[:i])
			}
		}
		if arg == "" {
			m.notice = "usage: /create NAME [public|private]"
			return nil
		}
		return request(func(ctx context.Context) tea.Msg {
			ci, err := c.CreateCircle(ctx, arg, vis)
			if err != nil {
				return errMsg{fmt.Errorf("create: %w", err)}
			}
			return circleMsg{ci, fmt.Sprintf("created %s circle %s", vis, ci.Name)}
		})
	case "/channel":
		it := m.selected()
		if it == nil || it.circle == nil || arg == "" {
			m.notice = "usage: /channel NAME, with a channel of the circle selected"
			return nil
		}
		circleID := it.circle.ID
		return request(func(ctx context.Context) tea.Msg {
			s, err := c.CreateStream(ctx, circleID, arg)
			if err != nil {
				return errMsg{fmt.Errorf("channel: %w", err)}
			}
			return noticeMsg("created #" + s.Name)
		})
	case "/invite":
		it := m.selected()
		if it == nil || it.circle == nil {
			m.notice = "select a channel of the circle to invite to"
			return nil
		}
		ci := it.circle
		return request(func(ctx context.Context) tea.Msg {
			code, err := c.CreateInvite(ctx, ci.ID)
			if err != nil {
				return errMsg{fmt.Errorf("invite: %w", err)}
			}
			return noticeMsg(fmt.Sprintf("invite code for %s: %s (others type /join %s)", ci.Name, code, code))
		})
	case "/dm":
		if arg == "" {
			m.notice = "usage: /dm USERNAME"
			return nil
		}
		return request(func(ctx context.Context) tea.Msg {
			s, err := c.OpenDM(ctx, strings.TrimPrefix(arg, "@"))
			if err != nil {
				return errMsg{fmt.Errorf("dm: %w", err)}
			}
			return dmMsg{s}
		})
	case "/reply":
		n, text, ok := seqArg(arg)
		if !ok || text == "" {
			m.notice = "usage: /reply N TEXT (N is the number before the message)"
			return nil
		}
		return m.send(text, line, n)
	case "/edit", "/delete", "/react", "/unreact":
		return m.change(name, arg, line)
	case "/pins":
		return m.listPins()
	case "/pin", "/unpin":
		return m.pin(name, arg)
	case "/status":
		return m.setStatus(arg)
	case "/members":
		return m.members()
	case "/kick", "/ban", "/unban", "/timeout":
		return m.moderate(name, arg)
	case "/thread":
		return m.startThread(arg, line)
	case "/threads":
		return m.listThreads(arg)
	case "/cmd":
		return m.listCommands()
	default:
		return m.botCommand(name, arg, line)
	}
	return nil
}

// seqArg splits "N REST" into the message number N and the rest.
func seqArg(arg string) (n int64, rest string, ok bool) {
	first, rest, _ := strings.Cut(arg, " ")
	n, err := strconv.ParseInt(strings.TrimPrefix(first, "#"), 10, 64)
	if err != nil || n < 1 {
		return 0, "", false
	}
	return n, strings.TrimSpace(rest), true
}

// change runs /edit TEXT and /delete on the user's last message in the
// selected stream, /react EMOJI and /unreact EMOJI on its last message.
func (m *chatModel) change(name, arg, line string) tea.Cmd {
	v := m.views[m.sel]
	if v == nil || len(v.msgs) == 0 {
		m.notice = "no message here to " + strings.TrimPrefix(name, "/")
		return nil
	}
	if (name != "/delete") && arg == "" {
		m.notice = "usage: " + map[string]string{"/edit": "/edit NEW TEXT", "/react": "/react EMOJI", "/unreact": "/unreact EMOJI"}[name]
		return nil
	}
	if name == "/react" || name == "/unreact" {
		reaction, err := m.reactionArg(arg)
		if err != nil {
			m.notice = err.Error()
			return nil
		}
		arg = reaction
	}
	target := v.msgs[len(v.msgs)-1]
	if name == "/edit" || name == "/delete" {
		target = nil
		for j := len(v.msgs) - 1; j >= 0; j-- {
			if msg := v.msgs[j]; msg.Author.ID == m.me.ID && !msg.Deleted {
				target = msg
				break
			}
		}
		if target == nil {
			m.notice = "you have no message here to " + strings.TrimPrefix(name, "/")
			return nil
		}
	}
	c, stream, id := m.c, m.sel, target.ID
	return request(func(ctx context.Context) tea.Msg {
		var (
			msg *models.Message
			err error
		)
		switch name {
		case "/edit":
			msg, err = c.Edit(ctx, stream, id, arg)
		case "/delete":
			msg, err = c.Delete(ctx, stream, id)
		case "/react":
			msg, err = c.React(ctx, stream, id, arg)
		case "/unreact":
			msg, err = c.Unreact(ctx, stream, id, arg)
		}
		if err != nil {
			return failed(strings.TrimPrefix(name, "/"), line, err)
		}
		return changedMsg{msg: msg}
	})
}
