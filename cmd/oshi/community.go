package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// dropCircle takes a circle off the screen (left, deleted, or the user
// was removed) and stops following its streams.
func (m *chatModel) dropCircle(id string) tea.Cmd {
	var streams []string
	for _, it := range m.items {
		if it.circle != nil && it.circle.ID == id {
			streams = append(streams, it.stream.ID)
		}
	}
	sel := m.sel
	m.circles = slices.DeleteFunc(slices.Clone(m.circles), func(ci *models.Circle) bool { return ci.ID == id })
	m.rebuild()
	m.dropUnlisted()
	if m.sel != sel {
		return tea.Batch(m.unfollow(streams), m.show(m.sel))
	}
	return m.unfollow(streams)
}

// circleGone applies circle_delete and circle_removed (kicked or
// banned): the circle leaves the screen with a notice saying why.
func (m *chatModel) circleGone(ev client.Event) tea.Cmd {
	ci := m.circle(ev.Circle)
	if ci == nil {
		return nil
	}
	switch {
	case ev.Cmd == "circle_delete":
		m.notice = ci.Name + " was deleted"
	case ev.Ban:
		m.notice = "you were banned from " + ci.Name
	default:
		m.notice = "you were removed from " + ci.Name
	}
	if ev.By != nil {
		m.notice += " by " + ev.By.Username
	}
	if ev.Reason != "" {
		m.notice += ": " + ev.Reason
	}
	return m.dropCircle(ev.Circle)
}

// circleUpdated applies circle_update: the circle as the user now sees
// it (name, streams, roles, their own permissions).
func (m *chatModel) circleUpdated(ci *models.Circle) tea.Cmd {
	if ci == nil || m.circle(ci.ID) == nil {
		return nil
	}
	sel := m.sel
	m.addCircle(ci)
	m.dropUnlisted()
	if sel != "" && m.sel != sel {
		m.notice = "the stream you were in is gone from " + ci.Name
		return tea.Batch(m.subscribeNew(), m.show(m.sel))
	}
	return m.subscribeNew()
}

// unsubscribed applies an unsubscribed event: the server stopped sending
// a stream the user may no longer see (or that was deleted).
func (m *chatModel) unsubscribed(stream, reason string) tea.Cmd {
	it := m.itemOf(stream)
	if it == nil {
		return m.unfollow([]string{stream})
	}
	switch reason {
	case "deleted":
		m.notice = m.label(*it) + " was deleted"
	case "forbidden", "":
		m.notice = m.label(*it) + " is no longer available to you"
	default:
		m.notice = m.label(*it) + " is no longer available to you (" + reason + ")"
	}
	sel := m.sel
	if ci := it.circle; ci != nil {
		cp := *ci
		cp.Streams = slices.DeleteFunc(slices.Clone(ci.Streams), func(s models.Stream) bool { return s.ID == stream })
		m.addCircle(&cp)
	} else {
		m.dms = slices.DeleteFunc(slices.Clone(m.dms), func(s *models.Stream) bool { return s.ID == stream })
		m.rebuild()
	}
	m.dropUnlisted()
	if m.sel != sel {
		return tea.Batch(m.unfollow([]string{stream}), m.show(m.sel))
	}
	return m.unfollow([]string{stream})
}

// memberEvent tells of members who join, leave or are removed.
func (m *chatModel) memberEvent(ev client.Event) {
	if ev.User == nil || ev.User.ID == m.me.ID || ev.By != nil && ev.By.ID == m.me.ID {
		return // about me, or my own act, which its command reported
	}
	verb := map[string]string{"member_join": "joined", "member_leave": "left", "member_remove": "was removed from"}[ev.Cmd]
	if ev.Cmd == "member_remove" && ev.Ban {
		verb = "was banned from"
	}
	m.notice = fmt.Sprintf("%s %s %s", ev.User.Username, verb, m.circleName(ev.Circle))
	if ev.By != nil {
		m.notice += " by " + ev.By.Username
	}
}

// memberUpdated keeps the user's own roles current (they decide which
// @role mentions are for the user).
func (m *chatModel) memberUpdated(circleID string, mv *models.MemberView) {
	ci := m.circle(circleID)
	if ci == nil || mv == nil || mv.User.ID != m.me.ID {
		return
	}
	cp := *ci
	cp.Me = mv
	m.addCircle(&cp)
}

// selectedCircle returns the circle of the selected channel, or nil
// (setting a notice) when a DM or nothing is selected.
func (m *chatModel) selectedCircle(what string) *models.Circle {
	it := m.selected()
	if it == nil || it.circle == nil {
		m.notice = "select a channel of the circle to " + what
		return nil
	}
	return it.circle
}

// members runs /members: the circle's members with their status and
// roles, in a panel.
func (m *chatModel) members() tea.Cmd {
	ci := m.selectedCircle("list its members")
	if ci == nil {
		return nil
	}
	c := m.c
	// The statuses the screen knows: the user's own true one, and the
	// others' for members the list gives none.
	known := make(map[string]string, len(m.presence.others)+1)
	for id, p := range m.presence.others {
		known[id] = p.Status
	}
	me := m.me.ID
	known[me] = m.statusOf(me)
	return request(func(ctx context.Context) tea.Msg {
		members, err := allMembers(ctx, c, ci.ID)
		if err != nil {
			return errMsg{fmt.Errorf("members: %w", err)}
		}
		p := panel{title: fmt.Sprintf("Members of %s (%d) · Esc closes", ci.Name, len(members))}
		for _, mv := range members {
			status := mv.Status
			if status == "" || mv.User.ID == me {
				status = known[mv.User.ID]
			}
			if status == "" {
				status = models.Offline
			}
			p.lines = append(p.lines, memberLine(ci, mv, status))
		}
		return panelMsg{p}
	})
}

// memberLine is one member of /members: status, name, nickname, roles.
func memberLine(ci *models.Circle, mv models.MemberView, status string) string {
	line := statusMarker(status) + " " + styleAuthor.Render(mv.User.Username)
	if mv.Nickname != "" {
		line += " (" + mv.Nickname + ")"
	}
	var roles []string
	if mv.User.ID == ci.OwnerID {
		roles = append(roles, "owner")
	}
	for _, id := range mv.Roles {
		name := id
		for _, r := range ci.Roles {
			if r.ID == id {
				name = r.Name
			}
		}
		roles = append(roles, name)
	}
	if len(roles) > 0 {
		line += " · " + strings.Join(roles, ", ")
	}
	if t := mv.TimeoutUntil; t != nil && t.After(time.Now()) {
		line += styleTime.Render(" · timed out until " + timestamp(*t))
	}
	return line
}

// maxMemberPages bounds what /members and the moderation commands read
// of a circle's member list.
const maxMemberPages = 20

func allMembers(ctx context.Context, c *client.Client, circleID string) ([]models.MemberView, error) {
	var out []models.MemberView
	cursor := ""
	for range maxMemberPages {
		page, next, err := c.Members(ctx, circleID, cursor, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// findMember finds a member by username or nickname.
func findMember(ctx context.Context, c *client.Client, ci *models.Circle, name string) (*models.MemberView, error) {
	members, err := allMembers(ctx, c, ci.ID)
	if err != nil {
		return nil, err
	}
	for _, match := range []func(models.MemberView) bool{
		func(mv models.MemberView) bool { return strings.EqualFold(mv.User.Username, name) },
		func(mv models.MemberView) bool { return mv.Nickname != "" && strings.EqualFold(mv.Nickname, name) },
	} {
		if i := slices.IndexFunc(members, match); i >= 0 {
			return &members[i], nil
		}
	}
	return nil, fmt.Errorf("%s has no member %q", ci.Name, name)
}

// moderate runs /kick USER [REASON], /ban USER [REASON], /unban USER and
// /timeout USER SECONDS [REASON] in the selected circle. The server
// checks the permissions.
func (m *chatModel) moderate(name, arg string) tea.Cmd {
	usage := map[string]string{
		"/kick":    "/kick USER [REASON]",
		"/ban":     "/ban USER [REASON]",
		"/unban":   "/unban USER",
		"/timeout": "/timeout USER SECONDS [REASON] (0 lifts it; 10m, 1h also work)",
	}[name]
	user, rest, _ := strings.Cut(arg, " ")
	user, rest = strings.TrimPrefix(user, "@"), strings.TrimSpace(rest)
	var d time.Duration
	if name == "/timeout" {
		var length string
		length, rest, _ = strings.Cut(rest, " ")
		var ok bool
		if d, ok = parseSeconds(length); !ok {
			user = ""
		}
		rest = strings.TrimSpace(rest)
	}
	if user == "" {
		m.notice = "usage: " + usage
		return nil
	}
	ci := m.selectedCircle(strings.TrimPrefix(name, "/") + " someone")
	if ci == nil {
		return nil
	}
	c, verb := m.c, strings.TrimPrefix(name, "/")
	return request(func(ctx context.Context) tea.Msg {
		var (
			done string
			err  error
		)
		if name == "/unban" {
			done, err = unban(ctx, c, ci, user)
		} else {
			var mv *models.MemberView
			if mv, err = findMember(ctx, c, ci, user); err == nil {
				switch name {
				case "/kick":
					err = c.Kick(ctx, ci.ID, mv.User.ID, rest)
					done = "removed " + mv.User.Username + " from " + ci.Name
				case "/ban":
					err = c.Ban(ctx, ci.ID, mv.User.ID, rest)
					done = "banned " + mv.User.Username + " from " + ci.Name
				case "/timeout":
					_, err = c.Timeout(ctx, ci.ID, mv.User.ID, d, rest)
					done = fmt.Sprintf("%s timed out for %v", mv.User.Username, d)
					if d == 0 {
						done = mv.User.Username + "'s timeout lifted"
					}
				}
			}
		}
		switch {
		case client.Code(err) == "forbidden":
			return noticeMsg(verb + ": not allowed (you need the permission and a higher role than theirs)")
		case err != nil:
			return errMsg{fmt.Errorf("%s: %w", verb, err)}
		}
		return noticeMsg(done)
	})
}

// unban lifts the ban of the user named in a circle's ban list.
func unban(ctx context.Context, c *client.Client, ci *models.Circle, name string) (string, error) {
	bans, err := c.Bans(ctx, ci.ID)
	if err != nil {
		return "", err
	}
	for _, b := range bans {
		if strings.EqualFold(b.User.Username, name) {
			if err := c.Unban(ctx, ci.ID, b.User.ID); err != nil {
				return "", err
			}
			return "unbanned " + b.User.Username + " from " + ci.Name, nil
		}
	}
	return "", fmt.Errorf("%s is not banned from %s", name, ci.Name)
}

// parseSeconds reads a timeout length: whole seconds, or a Go duration
// (10m, 1h30m).
func parseSeconds(s string) (time.Duration, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}
