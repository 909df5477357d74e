package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// Bots' slash commands: /cmd lists those of the selected circle
// (command_list); /NAME ARG=VALUE … that is not one of the screen's own
// commands invokes the bot command NAME (command_invoke); a bot's
// ephemeral answer (interaction_reply) is a line only this user sees.

// botsMsg carries a circle's bot commands from command_list; with show
// set they open the /cmd panel, and text, when set, is the notice.
type botsMsg struct {
	circle string
	bots   []client.BotCommands
	show   bool
	text   string
}

// note is a line in a stream only this user sees, placed after the
// message with seq after.
type note struct {
	after int64
	text  string
}

// render wraps a note to w, dim.
func (n note) render(w int) []string {
	lines := strings.Split(ansi.Wrap(n.text, w, " "), "\n")
	for i, l := range lines {
		lines[i] = styleTime.Render(l)
	}
	return lines
}

// listCommands runs /cmd.
func (m *chatModel) listCommands() tea.Cmd {
	_, ci, ok := m.parentChannel()
	if !ok {
		m.notice = "select a channel of a circle to list its bots' commands"
		return nil
	}
	c, circle := m.c, ci.ID
	return request(func(ctx context.Context) tea.Msg {
		bots, err := c.Commands(ctx, circle)
		if err != nil {
			return errMsg{fmt.Errorf("cmd: %w", err)}
		}
		return botsMsg{circle: circle, bots: bots, show: true}
	})
}

// botsLoaded keeps a circle's bot commands and shows them for /cmd.
func (m *chatModel) botsLoaded(b botsMsg) tea.Cmd {
	if m.bots == nil {
		m.bots = make(map[string][]client.BotCommands)
	}
	m.bots[b.circle] = b.bots
	if b.text != "" {
		m.notice = b.text
	}
	if !b.show {
		return nil
	}
	var lines []string
	for _, b := range b.bots {
		for _, cmd := range b.Commands {
			lines = append(lines, commandUsage(cmd), "    "+cmd.Description+" ("+b.Bot.Username+" [bot])")
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "no bot commands you may use in "+m.circleName(b.circle))
	} else {
		lines = append(lines, "", "Type /NAME OPTION=VALUE … to run one; OPTION? is optional.")
	}
	m.panel = &panel{title: "Bot commands of " + m.circleName(b.circle) + " · Esc closes", lines: lines}
	m.scroll = 0
	return nil
}

// commandUsage shows how a bot command is typed: /roll sides=integer
// count?=integer.
func commandUsage(cmd models.Command) string {
	s := "/" + cmd.Name
	for _, o := range cmd.Options {
		opt := o.Name
		if !o.Required {
			opt += "?"
		}
		s += " " + opt + "=" + o.Type
	}
	return s
}

// botCommand runs /NAME ARGS for a name that is not one of the screen's
// commands: the bot command of that name in the selected circle, with
// its arguments converted to the types of its options.
func (m *chatModel) botCommand(name, arg, line string) tea.Cmd {
	it := m.selected()
	if it == nil || it.circle == nil {
		m.notice = "unknown command " + name + "; /help lists them"
		return nil
	}
	c, stream, ci := m.c, it.stream.ID, it.circle
	cmdName := strings.TrimPrefix(name, "/")
	return request(func(ctx context.Context) tea.Msg {
		bots, err := c.Commands(ctx, ci.ID)
		if err != nil {
			return errMsg{fmt.Errorf("%s: %w", cmdName, err)}
		}
		bot, cmd := findCommand(bots, cmdName)
		if cmd == nil {
			return botsMsg{circle: ci.ID, bots: bots, text: "unknown command " + name + "; /help lists them, /cmd the bots'"}
		}
		args, err := commandArgs(ci, cmd, arg)
		if err != nil {
			return botsMsg{circle: ci.ID, bots: bots, text: cmdName + ": " + err.Error() + " (usage: " + commandUsage(*cmd) + ")"}
		}
		for _, o := range cmd.Options {
			// A user option takes a member's username (or nickname).
			if v, ok := args[o.Name].(string); ok && o.Type == models.OptionUser {
				if mv, err := findMember(ctx, c, ci, strings.TrimPrefix(v, "@")); err == nil {
					args[o.Name] = mv.User.ID
				}
			}
		}
		if _, err := c.InvokeCommand(ctx, stream, bot.ID, cmd.Name, args); err != nil {
			return failed(cmdName, line, err)
		}
		return botsMsg{circle: ci.ID, bots: bots, text: "sent /" + cmd.Name + " to " + bot.Username}
	})
}

// findCommand returns the first bot with a command of that name.
func findCommand(bots []client.BotCommands, name string) (models.UserRef, *models.Command) {
	for _, b := range bots {
		for i := range b.Commands {
			if b.Commands[i].Name == name {
				return b.Bot, &b.Commands[i]
			}
		}
	}
	return models.UserRef{}, nil
}

// commandArgs parses "OPTION=VALUE …" for cmd. A word without = goes on
// the value before it (so strings may hold spaces); words before any
// OPTION= are the first option's. Values are converted to the option's
// type: integer, number and boolean; #channel and a role's name become
// their ids (a member's name is looked up by botCommand); anything else
// is sent as typed and checked by the server.
func commandArgs(ci *models.Circle, cmd *models.Command, arg string) (map[string]any, error) {
	raw := make(map[string]string)
	var order []string
	cur := ""
	for _, word := range strings.Fields(arg) {
		if k, v, ok := strings.Cut(word, "="); ok && k != "" {
			cur = k
			if _, seen := raw[k]; !seen {
				order = append(order, k)
			}
			raw[k] = v
			continue
		}
		if cur == "" {
			if len(cmd.Options) == 0 {
				return nil, fmt.Errorf("the command takes no options")
			}
			cur = cmd.Options[0].Name
			order = append(order, cur)
			raw[cur] = word
			continue
		}
		if raw[cur] == "" {
			raw[cur] = word
		} else {
			raw[cur] += " " + word
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	args := make(map[string]any, len(order))
	for _, k := range order {
		v, err := optionArg(ci, cmd, k, raw[k])
		if err != nil {
			return nil, fmt.Errorf("option %s: %w", k, err)
		}
		args[k] = v
	}
	return args, nil
}

// optionArg converts the text of option name to its type.
func optionArg(ci *models.Circle, cmd *models.Command, name, text string) (any, error) {
	var typ string
	for _, o := range cmd.Options {
		if o.Name == name {
			typ = o.Type
		}
	}
	switch typ {
	case models.OptionInteger:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		return n, nil
	case models.OptionNumber:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("must be a number")
		}
		return f, nil
	case models.OptionBoolean:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	case models.OptionStream:
		for _, s := range ci.Streams {
			if "#"+s.Name == text || s.Name == text {
				return s.ID, nil
			}
		}
	case models.OptionRole:
		for _, r := range ci.Roles {
			if strings.EqualFold(r.Name, strings.TrimPrefix(text, "@")) {
				return r.ID, nil
			}
		}
	}
	return text, nil
}

// interactionReply applies interaction_reply: a bot's answer only this
// user sees, shown in its stream after the last message there.
func (m *chatModel) interactionReply(ev client.Event) {
	r, ok := client.ParseInteractionReply(ev)
	if !ok {
		return
	}
	text := fmt.Sprintf("%s [bot] /%s, only you see this: %s", r.Bot.Username, r.Command, r.Content)
	v := m.views[r.Stream]
	if v == nil {
		m.notice = text
		return
	}
	v.notes = append(v.notes, note{after: v.last, text: text})
}
