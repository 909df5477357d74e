package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/uuid"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// runChat is the interactive screen: `oshi` without a command.
func runChat(ctx context.Context, env *Env) error {
	c, err := dial(ctx, env, true)
	if err != nil {
		return err
	}
	defer c.Close()
	p := tea.NewProgram(newChatModel(c), tea.WithContext(ctx))
	_, err = p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted
	}
	return err
}

// historyPage is how many messages one History call loads.
const historyPage = 50

// requestTimeout bounds each command the screen sends.
const requestTimeout = 15 * time.Second

// Status line texts.
const (
	statusConnected    = "connected"
	statusReconnecting = "reconnecting…"
)

// item is one line of the left pane that can be selected: a channel of
// a circle, or a DM.
type item struct {
	stream *models.Stream
	circle *models.Circle // nil for DMs
}

// streamView is what the screen knows of one stream.
type streamView struct {
	msgs       []*models.Message // ascending seq, no duplicates
	last       int64             // highest seq seen
	unread     int
	loaded     bool // the newest history page was asked for
	loading    bool // a History call is in flight
	complete   bool // no older messages to load
	subscribed bool
}

// index returns the position of the message with seq, or -1.
func (v *streamView) index(seq int64) int {
	i, found := slices.BinarySearchFunc(v.msgs, seq, func(a *models.Message, seq int64) int {
		return int(max(min(a.Seq-seq, 1), -1))
	})
	if !found {
		return -1
	}
	return i
}

// replace puts a changed message in place of the one with its seq.
func (v *streamView) replace(m *models.Message) {
	if i := v.index(m.Seq); i >= 0 {
		v.msgs[i] = m
	}
}

// setReaction records a reaction count change on the message with id.
func (v *streamView) setReaction(id, emoji string, count int, mine, added bool) {
	i := slices.IndexFunc(v.msgs, func(m *models.Message) bool { return m.ID == id })
	if i < 0 {
		return
	}
	msg := *v.msgs[i]
	rcs := slices.Clone(msg.ReactionCounts)
	j := slices.IndexFunc(rcs, func(r models.ReactionCount) bool { return r.Emoji == emoji })
	if j < 0 {
		rcs = append(rcs, models.ReactionCount{Emoji: emoji})
		j = len(rcs) - 1
	}
	rcs[j].Count = count
	if mine {
		rcs[j].Me = &added
	}
	if count == 0 {
		rcs = slices.Delete(rcs, j, j+1)
	}
	msg.ReactionCounts = rcs
	v.msgs[i] = &msg
}

// merge adds a message unless its seq is already there; it reports
// whether the message is new.
func (v *streamView) merge(m *models.Message) bool {
	i, found := slices.BinarySearchFunc(v.msgs, m.Seq, func(a *models.Message, seq int64) int {
		switch {
		case a.Seq < seq:
			return -1
		case a.Seq > seq:
			return 1
		}
		return 0
	})
	if found {
		return false
	}
	v.msgs = slices.Insert(v.msgs, i, m)
	v.last = max(v.last, m.Seq)
	return true
}

// chatModel is the Bubble Tea model of the interactive screen. Every
// network call runs in a tea.Cmd; results come back as messages, so the
// model itself is only touched by Update and View.
type chatModel struct {
	c       *client.Client
	me      models.UserRef
	circles []*models.Circle
	dms     []*models.Stream
	items   []item
	views   map[string]*streamView
	sel     string // selected stream id
	scroll  int    // lines scrolled up from the bottom of the message pane
	input   textinput.Model
	width   int
	height  int
	status  string
	notice  string
}

// Messages the commands send back to Update.
type (
	eventMsg        client.Event
	eventsClosedMsg struct{ err error }
	subscribedMsg   []subResult
	historyMsg      struct {
		stream string
		before int64
		msgs   []*models.Message
		err    error
	}
	noticeMsg  string
	changedMsg struct{ msg *models.Message }
	errMsg     struct{ err error }
	circleMsg  struct {
		circle *models.Circle
		text   string
	}
	dmMsg struct{ stream *models.Stream }
)

type subResult struct {
	stream string
	err    error
}

func newChatModel(c *client.Client) *chatModel {
	r := c.Ready()
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "message, or /help"
	in.CharLimit = 4000
	m := &chatModel{
		c:       c,
		me:      r.User,
		circles: r.Circles,
		dms:     r.DMs,
		views:   make(map[string]*streamView),
		input:   in,
		width:   80,
		height:  24,
		status:  statusConnected,
	}
	m.input.Focus()
	m.rebuild()
	if len(m.items) > 0 {
		m.sel = m.items[0].stream.ID
	}
	return m
}

// Init starts reading events, subscribes to every stream and loads the
// selected stream's history.
func (m *chatModel) Init() tea.Cmd {
	return tea.Batch(m.waitEvent, m.subscribeNew(), m.loadSelected(), textinput.Blink)
}

func (m *chatModel) waitEvent() tea.Msg {
	ev, ok := <-m.c.Events()
	if !ok {
		return eventsClosedMsg{m.c.Err()}
	}
	return eventMsg(ev)
}

// rebuild recomputes the left pane from the circles and DMs, and makes a
// view for every stream in it.
func (m *chatModel) rebuild() {
	m.items = m.items[:0]
	for _, ci := range m.circles {
		for i := range ci.Streams {
			m.items = append(m.items, item{stream: &ci.Streams[i], circle: ci})
		}
	}
	for _, dm := range m.dms {
		m.items = append(m.items, item{stream: dm})
	}
	for _, it := range m.items {
		if m.views[it.stream.ID] == nil {
			m.views[it.stream.ID] = &streamView{last: it.stream.LastSeq}
		}
	}
	if m.sel != "" && m.indexOf(m.sel) < 0 {
		m.sel = ""
		if len(m.items) > 0 {
			m.sel = m.items[0].stream.ID
		}
	}
}

func (m *chatModel) indexOf(id string) int {
	return slices.IndexFunc(m.items, func(it item) bool { return it.stream.ID == id })
}

func (m *chatModel) selected() *item {
	if i := m.indexOf(m.sel); i >= 0 {
		return &m.items[i]
	}
	return nil
}

// subscribeNew subscribes to every stream of the left pane not yet
// followed, each from the last seq known, so messages sent meanwhile
// count as unread.
func (m *chatModel) subscribeNew() tea.Cmd {
	type req struct {
		id    string
		since int64
	}
	var reqs []req
	for _, it := range m.items {
		v := m.views[it.stream.ID]
		if !v.subscribed {
			reqs = append(reqs, req{it.stream.ID, v.last})
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	c := m.c
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		out := make(subscribedMsg, 0, len(reqs))
		for _, r := range reqs {
			_, err := c.Subscribe(ctx, r.id, r.since)
			if client.Code(err) == "already_subscribed" {
				err = nil
			}
			out = append(out, subResult{r.id, err})
		}
		return out
	}
}

// loadSelected loads the newest history page of the selected stream the
// first time it is shown.
func (m *chatModel) loadSelected() tea.Cmd {
	v := m.views[m.sel]
	if v == nil || v.loaded || v.loading {
		return nil
	}
	v.loaded, v.loading = true, true
	return m.history(m.sel, 0)
}

// history loads the page of messages before seq before (0: the newest).
func (m *chatModel) history(stream string, before int64) tea.Cmd {
	c := m.c
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		msgs, err := c.History(ctx, stream, client.HistoryQuery{Before: before, Limit: historyPage})
		return historyMsg{stream: stream, before: before, msgs: msgs, err: err}
	}
}

// Update handles keys, window sizes, client events and command results.
func (m *chatModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.input.SetWidth(max(m.width-4, 10))
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case eventMsg:
		return m, tea.Batch(m.event(client.Event(msg)), m.waitEvent)
	case eventsClosedMsg:
		m.status = "disconnected"
		if msg.err != nil {
			m.status += ": " + msg.err.Error()
		}
		return m, nil
	case subscribedMsg:
		for _, r := range msg {
			v := m.views[r.stream]
			switch {
			case v == nil:
			case r.err == nil:
				v.subscribed = true
			case errors.Is(r.err, client.ErrDisconnected):
				// Tried while reconnecting: the reconnected event retries.
			default:
				m.notice = "subscribe: " + r.err.Error()
			}
		}
		return m, nil
	case historyMsg:
		return m, m.historyLoaded(msg)
	case noticeMsg:
		m.notice = string(msg)
		return m, nil
	case changedMsg:
		if v := m.views[m.sel]; v != nil && msg.msg != nil && msg.msg.StreamID == m.sel {
			v.replace(msg.msg)
		}
		return m, nil
	case errMsg:
		m.notice = "error: " + msg.err.Error()
		return m, nil
	case circleMsg:
		m.notice = msg.text
		m.addCircle(msg.circle)
		if len(msg.circle.Streams) > 0 {
			m.selectStream(msg.circle.Streams[0].ID)
		}
		return m, tea.Batch(m.subscribeNew(), m.loadSelected())
	case dmMsg:
		m.addDM(msg.stream)
		m.selectStream(msg.stream.ID)
		return m, tea.Batch(m.subscribeNew(), m.loadSelected())
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

func (m *chatModel) key(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c":
		return tea.Quit
	case "tab", "ctrl+n":
		return m.move(1)
	case "shift+tab", "ctrl+p":
		return m.move(-1)
	case "pgup":
		return m.pageUp()
	case "pgdown":
		m.scroll = max(m.scroll-m.pageSize(), 0)
		return nil
	case "enter":
		text := strings.TrimSpace(m.input.Value())
		m.input.Reset()
		if text == "" {
			return nil
		}
		if strings.HasPrefix(text, "/") {
			return m.command(text)
		}
		return m.send(text)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

// move selects the next (1) or previous (-1) stream of the left pane.
func (m *chatModel) move(d int) tea.Cmd {
	if len(m.items) == 0 {
		return nil
	}
	i := m.indexOf(m.sel)
	i = ((i+d)%len(m.items) + len(m.items)) % len(m.items)
	m.selectStream(m.items[i].stream.ID)
	return m.loadSelected()
}

func (m *chatModel) selectStream(id string) {
	m.sel = id
	m.scroll = 0
	if v := m.views[id]; v != nil {
		v.unread = 0
	}
}

// pageUp scrolls up a page; at the top of what is loaded it asks for the
// page of history before the oldest loaded message.
func (m *chatModel) pageUp() tea.Cmd {
	v := m.views[m.sel]
	if v == nil {
		return nil
	}
	m.scroll += m.pageSize()
	top := max(len(m.messageLines(m.messageWidth()))-m.pageSize(), 0)
	if m.scroll < top {
		return nil
	}
	m.scroll = top
	if v.complete || v.loading {
		return nil
	}
	if len(v.msgs) == 0 || v.msgs[0].Seq <= 1 {
		v.complete = true
		return nil
	}
	v.loading = true
	return m.history(m.sel, v.msgs[0].Seq)
}

func (m *chatModel) historyLoaded(h historyMsg) tea.Cmd {
	v := m.views[h.stream]
	if v == nil {
		return nil
	}
	v.loading = false
	if h.err != nil {
		if h.before == 0 {
			v.loaded = false // try again when selected again
		}
		m.notice = "history: " + h.err.Error()
		return nil
	}
	for _, msg := range h.msgs {
		v.merge(msg)
	}
	if len(h.msgs) < historyPage || (len(v.msgs) > 0 && v.msgs[0].Seq <= 1) {
		v.complete = true
	}
	if h.before > 0 && h.stream == m.sel {
		top := max(len(m.messageLines(m.messageWidth()))-m.pageSize(), 0)
		m.scroll = min(m.scroll+m.pageSize(), top)
	}
	return nil
}

// send posts text to the selected stream. A send made while the
// connection is down is retried with the same nonce, so it is stored once.
func (m *chatModel) send(text string) tea.Cmd {
	if m.sel == "" {
		m.notice = "no stream selected: /join or /create a circle, or /dm someone"
		return nil
	}
	c, stream, nonce := m.c, m.sel, uuid.NewString()
	return func() tea.Msg {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			_, err := c.Send(ctx, stream, text, nonce)
			cancel()
			if err == nil {
				return nil
			}
			if !errors.Is(err, client.ErrDisconnected) && client.Code(err) != "unavailable" || time.Now().After(deadline) {
				return errMsg{fmt.Errorf("send: %w", err)}
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

const helpText = "/join CIRCLE_ID_OR_INVITE · /create NAME [public|private] · /channel NAME · /invite · /dm USER · /edit TEXT · /delete · /react EMOJI · /unreact EMOJI · /quit"

// request turns a network call into a command bounded by requestTimeout.
func request(f func(ctx context.Context) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		return f(ctx)
	}
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
		m.notice = helpText
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
	case "/edit", "/delete", "/react", "/unreact":
		return m.change(name, arg)
	default:
		m.notice = "unknown command " + name + "; " + helpText
	}
	return nil
}

func (m *chatModel) addCircle(ci *models.Circle) {
	if ci == nil {
		return
	}
	if i := slices.IndexFunc(m.circles, func(x *models.Circle) bool { return x.ID == ci.ID }); i >= 0 {
		m.circles[i] = ci
	} else {
		m.circles = append(m.circles, ci)
	}
	m.rebuild()
}

func (m *chatModel) addDM(s *models.Stream) {
	if s == nil || slices.ContainsFunc(m.dms, func(x *models.Stream) bool { return x.ID == s.ID }) {
		return
	}
	m.dms = append(m.dms, s)
	m.rebuild()
}

// change runs /edit TEXT and /delete on the user's last message in the
// selected stream, /react EMOJI and /unreact EMOJI on its last message.
func (m *chatModel) change(name, arg string) tea.Cmd {
	v := m.views[m.sel]
	if v == nil || len(v.msgs) == 0 {
		m.notice = "no message here to " + strings.TrimPrefix(name, "/")
		return nil
	}
	if (name != "/delete") && arg == "" {
		m.notice = "usage: " + map[string]string{"/edit": "/edit NEW TEXT", "/react": "/react EMOJI", "/unreact": "/unreact EMOJI"}[name]
		return nil
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
			return errMsg{fmt.Errorf("%s: %w", strings.TrimPrefix(name, "/"), err)}
		}
		return changedMsg{msg}
	})
}

// event applies one client event.
func (m *chatModel) event(ev client.Event) tea.Cmd {
	switch ev.Cmd {
	case "message_edit", "message_delete":
		if v := m.views[ev.Stream]; v != nil {
			if ev.Message != nil {
				v.replace(ev.Message)
			} else if i := v.index(ev.Seq); i >= 0 {
				gone := *v.msgs[i]
				gone.Content, gone.Deleted, gone.ReactionCounts = "", true, nil
				v.msgs[i] = &gone
			}
		}
	case "message_react_add", "message_react_remove":
		if v := m.views[ev.Stream]; v != nil {
			v.setReaction(ev.ID, ev.Emoji, ev.Count, ev.User != nil && ev.User.ID == m.me.ID, ev.Cmd == "message_react_add")
		}
	case "message_new":
		v := m.views[ev.Stream]
		if v == nil || ev.Message == nil {
			return nil
		}
		newer := ev.Message.Seq > v.last
		if v.merge(ev.Message) && newer && ev.Stream != m.sel && ev.Message.Author.ID != m.me.ID {
			v.unread++
		}
	case "stream_create":
		s := ev.NewStream
		if s == nil {
			return nil
		}
		for _, ci := range m.circles {
			if ci.ID == s.CircleID && !slices.ContainsFunc(ci.Streams, func(x models.Stream) bool { return x.ID == s.ID }) {
				ci.Streams = append(ci.Streams, *s)
			}
		}
		m.rebuild()
		return m.subscribeNew()
	case "circle_create", "circle_join":
		var f struct {
			Circle *models.Circle `json:"circle"`
		}
		if json.Unmarshal(ev.Raw, &f) == nil && f.Circle != nil {
			m.addCircle(f.Circle)
			return m.subscribeNew()
		}
	case "circle_leave":
		m.circles = slices.DeleteFunc(m.circles, func(ci *models.Circle) bool { return ci.ID == ev.Circle })
		m.rebuild()
		m.dropUnlisted()
	case "dm_open":
		m.addDM(ev.NewStream)
		return m.subscribeNew()
	case "member_join", "member_leave":
		if ev.User != nil {
			verb := map[string]string{"member_join": "joined", "member_leave": "left"}[ev.Cmd]
			m.notice = fmt.Sprintf("%s %s %s", ev.User.Username, verb, m.circleName(ev.Circle))
		}
	case "error":
		// A subscription whose replay failed: follow it again from the
		// last seq seen.
		if v := m.views[ev.Stream]; v != nil {
			v.subscribed = false
			return m.subscribeNew()
		}
	case client.EventReconnecting:
		m.status = statusReconnecting
	case client.EventReconnected:
		m.status = statusConnected
		// Circles, channels and DMs may have changed while away; the
		// client has already resubscribed the streams it followed.
		r := m.c.Ready()
		m.circles, m.dms = r.Circles, r.DMs
		m.rebuild()
		m.dropUnlisted()
		return m.subscribeNew()
	}
	return nil
}

// dropUnlisted forgets the views of streams no longer in the left pane.
func (m *chatModel) dropUnlisted() {
	for id := range m.views {
		if m.indexOf(id) < 0 {
			delete(m.views, id)
		}
	}
}

func (m *chatModel) circleName(id string) string {
	for _, ci := range m.circles {
		if ci.ID == id {
			return ci.Name
		}
	}
	return "a circle"
}

// Styles.
var (
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleHeading  = lipgloss.NewStyle().Bold(true)
	styleTime     = lipgloss.NewStyle().Faint(true)
	styleAuthor   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6"))
	styleMe       = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2"))
	styleUnread   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3"))
	styleStatus   = lipgloss.NewStyle().Reverse(true)
	styleWarn     = lipgloss.NewStyle().Reverse(true).Foreground(lipgloss.Color("3"))
)

func (m *chatModel) leftWidth() int    { return min(28, max(m.width/3, 12)) }
func (m *chatModel) messageWidth() int { return max(m.width-m.leftWidth()-3, 10) }
func (m *chatModel) bodyHeight() int   { return max(m.height-3, 1) }
func (m *chatModel) pageSize() int     { return max(m.bodyHeight()-2, 1) }
func (m *chatModel) messageRows() int  { return max(m.bodyHeight()-1, 1) }
func pad(s string, w int) string       { return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0)) }
func fit(s string, w int) string       { return pad(ansi.Truncate(s, w, "…"), w) }
func (m *chatModel) label(it item) string {
	if it.circle == nil {
		return "@" + peerName(it.stream)
	}
	return "#" + it.stream.Name
}

// leftLines renders the circles, their channels and the DMs.
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
		count := ""
		if v := m.views[it.stream.ID]; v != nil && v.unread > 0 {
			count = fmt.Sprintf(" %d", v.unread)
		}
		name := fit(marker+m.label(it), w-len(count))
		line := name + styleUnread.Render(count)
		if it.stream.ID == m.sel {
			line = styleSelected.Render(name) + count
		}
		lines = append(lines, line)
	}
	if len(m.items) == 0 {
		lines = append(lines, "no circles yet:", "/create NAME", "/join ID_OR_INVITE", "/dm USERNAME")
	}
	return lines
}

// messageLines renders the selected stream's messages, wrapped to w.
func (m *chatModel) messageLines(w int) []string {
	v := m.views[m.sel]
	if v == nil {
		return nil
	}
	var lines []string
	if v.complete && len(v.msgs) > 0 {
		lines = append(lines, styleTime.Render("— beginning of the conversation —"))
	}
	today := time.Now().Format("2006-01-02")
	for _, msg := range v.msgs {
		t := msg.CreatedAt.Local()
		ts := t.Format("15:04")
		if t.Format("2006-01-02") != today {
			ts = t.Format("Jan 02 15:04")
		}
		author := styleAuthor
		if msg.Author.ID == m.me.ID {
			author = styleMe
		}
		content := msg.Content
		switch {
		case msg.Deleted:
			content = styleTime.Render("(deleted)")
		case msg.EditedAt != nil:
			content += styleTime.Render(" (edited)")
		}
		for _, r := range msg.ReactionCounts {
			content += fmt.Sprintf(" [%s %d]", r.Emoji, r.Count)
		}
		text := styleTime.Render(ts) + " " + author.Render(msg.Author.Username) + ": " + content
		lines = append(lines, strings.Split(ansi.Wrap(text, w, " "), "\n")...)
	}
	return lines
}

// View draws the left pane, the message pane, the input and the status.
func (m *chatModel) View() tea.View {
	lw, mw, rows := m.leftWidth(), m.messageWidth(), m.bodyHeight()
	left := m.leftLines(lw)

	var header string
	if it := m.selected(); it != nil {
		header = m.label(*it)
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
