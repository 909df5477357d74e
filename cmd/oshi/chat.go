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
	"github.com/google/uuid"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// The interactive screen is split by concern:
//
//	chat.go      the model: streams, history, sending, events
//	view.go      drawing it
//	slash.go     the slash commands and /help
//	typing.go    typing indicators, sent and shown
//	presence.go  who is online, /status
//	mentions.go  mentions, unread counts and read state
//	pins.go      /pins, /pin, /unpin and pin events
//	community.go moderation, /members, and circle changes made by others
//	embeds.go    link embeds, thread marks and bot badges under messages
//	emoji.go     custom emoji in reactions and content, /react :name:
//	threads.go   threads in the left pane, /thread, /threads
//	botcmds.go   bots' slash commands: /cmd, invoking them, ephemeral replies

// runChat is the interactive screen: `oshi` without a command.
func runChat(ctx context.Context, env *Env) error {
	c, err := dial(ctx, env, true)
	if err != nil {
		return err
	}
	defer c.Close()
	p := tea.NewProgram(newChatModel(c, chatOptions{}), tea.WithContext(ctx))
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
	mentions   int   // unread messages that mention the user
	acked      int64 // the read seq the server has
	acking     bool  // a stream_ack is in flight
	loaded     bool  // the newest history page was asked for
	loading    bool  // a History call is in flight
	complete   bool  // no older messages to load
	subscribed bool
	notes      []note // lines only this user sees (ephemeral bot replies)
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

// bySeq returns the loaded message with seq, or nil.
func (v *streamView) bySeq(seq int64) *models.Message {
	if i := v.index(seq); i >= 0 {
		return v.msgs[i]
	}
	return nil
}

// replace puts a changed message in place of the one with its seq.
func (v *streamView) replace(m *models.Message) {
	if i := v.index(m.Seq); i >= 0 {
		v.msgs[i] = m
	}
}

// update applies change to a copy of the message with id, if loaded.
func (v *streamView) update(id string, change func(*models.Message)) {
	i := slices.IndexFunc(v.msgs, func(m *models.Message) bool { return m.ID == id })
	if i < 0 {
		return
	}
	msg := *v.msgs[i]
	change(&msg)
	v.msgs[i] = &msg
}

// setReaction records a reaction count change on the message with id.
func (v *streamView) setReaction(id, emoji string, count int, mine, added bool) {
	v.update(id, func(msg *models.Message) {
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
	})
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

// chatOptions are what the screen needs besides the connection.
type chatOptions struct {
	// Now is the clock of typing indicators; nil means time.Now.
	Now func() time.Time
}

// chatModel is the Bubble Tea model of the interactive screen. Every
// network call runs in a tea.Cmd; results come back as messages, so the
// model itself is only touched by Update and View.
type chatModel struct {
	c       *client.Client
	opts    chatOptions
	now     func() time.Time
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
	panel   *panel // shown in place of the messages until Esc

	presence presenceState
	typing   typingState
	// bots are the bots' slash commands of each circle (by id), as the
	// last command_list gave them.
	bots map[string][]client.BotCommands
	// listed are the threads the last /threads showed, numbered from 1
	// there, for /threads N.
	listed []threadEntry
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
	changedMsg struct {
		msg  *models.Message
		text string // notice, if any
	}
	errMsg    struct{ err error }
	circleMsg struct {
		circle *models.Circle
		text   string
	}
	dmMsg struct{ stream *models.Stream }
	// rateLimitedMsg: the server refused line under the rate limits.
	rateLimitedMsg struct {
		line string
		wait time.Duration
	}
)

type subResult struct {
	stream string
	err    error
}

func newChatModel(c *client.Client, opts chatOptions) *chatModel {
	r := c.Ready()
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "message, or /help"
	in.CharLimit = 4000
	m := &chatModel{
		c:       c,
		opts:    opts,
		now:     opts.Now,
		me:      r.User,
		circles: r.Circles,
		dms:     r.DMs,
		views:   make(map[string]*streamView),
		input:   in,
		width:   80,
		height:  24,
		status:  statusConnected,
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.input.Focus()
	m.presenceReady(r.Presences)
	m.rebuild()
	if len(m.items) > 0 {
		m.selectStream(m.items[0].stream.ID)
	}
	return m
}

// Init starts reading events, subscribes to every stream, loads the
// selected stream's history and marks it read.
func (m *chatModel) Init() tea.Cmd {
	return tea.Batch(m.waitEvent, m.subscribeNew(), m.loadSelected(), m.markRead(), textinput.Blink)
}

func (m *chatModel) waitEvent() tea.Msg {
	ev, ok := <-m.c.Events()
	if !ok {
		return eventsClosedMsg{m.c.Err()}
	}
	return eventMsg(ev)
}

// shown reports whether the screen lists a stream: channels and DMs;
// voice streams and separators hold no messages.
func shown(s *models.Stream) bool {
	return s.Kind == models.Channel || s.Kind == models.DM || s.Kind == ""
}

// rebuild recomputes the left pane from the circles and DMs, and makes a
// view for every stream in it, with the unread counts ready gave.
func (m *chatModel) rebuild() {
	m.items = m.items[:0]
	for _, ci := range m.circles {
		for i := range ci.Streams {
			if shown(&ci.Streams[i]) {
				m.items = append(m.items, item{stream: &ci.Streams[i], circle: ci})
				m.items = m.appendThreads(m.items, ci, ci.Streams[i].ID)
			}
		}
	}
	for _, dm := range m.dms {
		m.items = append(m.items, item{stream: dm})
	}
	for _, it := range m.items {
		if m.views[it.stream.ID] == nil {
			m.views[it.stream.ID] = newStreamView(it.stream)
		}
	}
	if m.sel != "" && m.indexOf(m.sel) < 0 {
		m.sel = ""
		if len(m.items) > 0 {
			m.selectStream(m.items[0].stream.ID)
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

// itemOf returns the left pane's item of a stream, or nil.
func (m *chatModel) itemOf(id string) *item {
	if i := m.indexOf(id); i >= 0 {
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

// unfollow tells the client library to stop following streams the
// server dropped (a circle left, a stream no longer visible), so it does
// not try them again after a reconnect.
func (m *chatModel) unfollow(ids []string) tea.Cmd {
	if len(ids) == 0 {
		return nil
	}
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		for _, id := range ids {
			_ = c.Unsubscribe(ctx, id) // not_subscribed still forgets it
		}
		return nil
	})
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
		if msg.text != "" {
			m.notice = msg.text
		}
		return m, nil
	case errMsg:
		m.notice = "error: " + msg.err.Error()
		return m, nil
	case rateLimitedMsg:
		m.rateLimited(msg)
		return m, nil
	case circleMsg:
		m.notice = msg.text
		m.addCircle(msg.circle)
		for _, s := range msg.circle.Streams {
			if m.indexOf(s.ID) >= 0 {
				return m, tea.Batch(m.subscribeNew(), m.show(s.ID))
			}
		}
		return m, m.subscribeNew()
	case threadMsg:
		return m, m.threadCreated(msg)
	case threadsMsg:
		m.listed = msg.threads
		m.panel = &msg.panel
		m.scroll = 0
		return m, nil
	case botsMsg:
		return m, m.botsLoaded(msg)
	case dmMsg:
		m.addDM(msg.stream)
		return m, tea.Batch(m.subscribeNew(), m.show(msg.stream.ID))
	case panelMsg:
		m.panel = &msg.panel
		m.scroll = 0
		return m, nil
	case ackedMsg:
		return m, m.acked(msg)
	case statusSetMsg:
		m.presence.mine = models.Presence{User: m.me, Status: msg.status, Text: msg.text}
		m.notice = "status: " + describeStatus(msg.status, msg.text)
		return m, nil
	case typingTickMsg:
		m.typing.prune(m.now())
		return m, nil
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
	case "esc":
		if m.panel != nil {
			m.panel, m.scroll = nil, 0
			return nil
		}
	case "enter":
		text := strings.TrimSpace(m.input.Value())
		m.input.Reset()
		if text == "" {
			return nil
		}
		if strings.HasPrefix(text, "/") {
			return m.command(text)
		}
		return m.send(text, text, 0)
	}
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	if m.input.Value() != before {
		return tea.Batch(cmd, m.typed())
	}
	return cmd
}

// move selects the next (1) or previous (-1) stream of the left pane.
func (m *chatModel) move(d int) tea.Cmd {
	if len(m.items) == 0 {
		return nil
	}
	i := m.indexOf(m.sel)
	i = ((i+d)%len(m.items) + len(m.items)) % len(m.items)
	return m.show(m.items[i].stream.ID)
}

// show selects a stream, loads its history the first time and marks it
// read.
func (m *chatModel) show(id string) tea.Cmd {
	m.selectStream(id)
	return tea.Batch(m.loadSelected(), m.markRead())
}

func (m *chatModel) selectStream(id string) {
	m.sel = id
	m.scroll = 0
	m.panel = nil
	if v := m.views[id]; v != nil {
		v.unread, v.mentions = 0, 0
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
	if m.panel != nil || v.complete || v.loading {
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
	if h.before > 0 && h.stream == m.sel && m.panel == nil {
		top := max(len(m.messageLines(m.messageWidth()))-m.pageSize(), 0)
		m.scroll = min(m.scroll+m.pageSize(), top)
	}
	if h.stream == m.sel {
		return m.markRead()
	}
	return nil
}

// send posts text to the selected stream, as a reply to the message with
// seq replyTo when that is above 0. line is what the user typed, put back
// in the input if the server refuses it under its rate limits. A send
// made while the connection is down is retried with the same nonce, so
// it is stored once.
func (m *chatModel) send(text, line string, replyTo int64) tea.Cmd {
	if m.sel == "" {
		m.notice = "no stream selected: /join or /create a circle, or /dm someone"
		return nil
	}
	var replyID string
	if v := m.views[m.sel]; v != nil && replyTo > 0 {
		if msg := v.bySeq(replyTo); msg != nil {
			replyID = msg.ID
		}
	}
	// Typing again after this message starts a new indicator at once.
	delete(m.typing.sent, m.sel)
	c, stream, nonce := m.c, m.sel, uuid.NewString()
	return func() tea.Msg {
		deadline := time.Now().Add(30 * time.Second)
		if replyTo > 0 && replyID == "" {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			msg, err := findMessage(ctx, c, stream, replyTo)
			cancel()
			if err != nil {
				return errMsg{fmt.Errorf("reply: %w", err)}
			}
			replyID = msg.ID
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			var err error
			if replyID != "" {
				_, err = c.SendReply(ctx, stream, replyID, text, nonce)
			} else {
				_, err = c.Send(ctx, stream, text, nonce)
			}
			cancel()
			if err == nil {
				return nil
			}
			if !errors.Is(err, client.ErrDisconnected) && client.Code(err) != "unavailable" || time.Now().After(deadline) {
				return failed("send", line, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// failed turns the error of a command the user typed as line into the
// message that reports it: a rate limit puts line back in the input.
func failed(what, line string, err error) tea.Msg {
	var rl *client.RateLimitError
	if errors.As(err, &rl) {
		return rateLimitedMsg{line: line, wait: rl.Wait}
	}
	return errMsg{fmt.Errorf("%s: %w", what, err)}
}

// rateLimited tells the user to slow down and gives back what they
// typed, unless they have typed something else since.
func (m *chatModel) rateLimited(r rateLimitedMsg) {
	secs := int((r.wait + time.Second - 1) / time.Second)
	m.notice = fmt.Sprintf("slow down: wait %d s", max(secs, 1))
	switch strings.TrimSpace(m.input.Value()) {
	case "", r.line:
		m.input.SetValue(r.line)
		m.input.CursorEnd()
	default:
		m.notice += "; not sent: " + r.line
	}
}

// request turns a network call into a command bounded by requestTimeout.
func request(f func(ctx context.Context) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		return f(ctx)
	}
}

// findMessage returns the message with seq of a stream, asking the
// server.
func findMessage(ctx context.Context, c *client.Client, stream string, seq int64) (*models.Message, error) {
	msgs, err := c.History(ctx, stream, client.HistoryQuery{After: client.Seq(seq - 1), Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 || msgs[0].Seq != seq || msgs[0].Deleted {
		return nil, fmt.Errorf("no message #%d here", seq)
	}
	return msgs[0], nil
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
				gone.PinnedAt, gone.PinnedBy = nil, nil
				v.msgs[i] = &gone
			}
		}
	case "message_react_add", "message_react_remove":
		if v := m.views[ev.Stream]; v != nil {
			v.setReaction(ev.ID, ev.Emoji, ev.Count, ev.User != nil && ev.User.ID == m.me.ID, ev.Cmd == "message_react_add")
		}
	case "message_pin", "message_unpin":
		m.pinEvent(ev)
	case "message_embeds":
		m.embedsEvent(ev)
	case "message_thread":
		m.messageThreadEvent(ev)
	case "emoji_update":
		m.emojiUpdate(ev)
	case "thread_create", "thread_update", "thread_delete":
		return m.threadEvent(ev)
	case "interaction_reply":
		m.interactionReply(ev)
	case "message_new":
		return m.newMessage(ev)
	case "typing":
		return m.typingEvent(ev)
	case "user_connect", "user_disconnect", "status_update":
		m.setPresence(ev.Presence())
	case "presences":
		for _, p := range ev.Presences() {
			m.setPresence(p)
		}
	case "stream_ack":
		m.readElsewhere(ev.Stream, ev.Seq)
	case "stream_create":
		s := ev.NewStream
		if s == nil {
			return nil
		}
		for i, ci := range m.circles {
			if ci.ID == s.CircleID && !slices.ContainsFunc(ci.Streams, func(x models.Stream) bool { return x.ID == s.ID }) {
				cp := *ci
				cp.Streams = append(slices.Clone(ci.Streams), *s)
				m.circles[i] = &cp
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
		return m.dropCircle(ev.Circle)
	case "circle_delete", "circle_removed":
		return m.circleGone(ev)
	case "circle_update":
		return m.circleUpdated(ev.CircleInfo)
	case "unsubscribed":
		return m.unsubscribed(ev.Stream, ev.Reason)
	case "dm_open":
		m.addDM(ev.NewStream)
		return m.subscribeNew()
	case "member_join", "member_leave", "member_remove":
		m.memberEvent(ev)
	case "member_update":
		m.memberUpdated(ev.Circle, ev.Member)
	case "error":
		// A subscription whose replay failed: follow it again from the
		// last seq seen.
		if v := m.views[ev.Stream]; v != nil {
			v.subscribed = false
			return m.subscribeNew()
		}
	case client.EventReconnecting:
		m.status = statusReconnecting
		m.presence.touched = make(map[string]bool)
	case client.EventReconnected:
		m.status = statusConnected
		// Circles, channels, DMs and presences may have changed while
		// away; the client has already resubscribed the streams it
		// followed.
		r := m.c.Ready()
		m.circles, m.dms = r.Circles, r.DMs
		m.presenceReady(r.Presences)
		m.rebuild()
		m.dropUnlisted()
		return tea.Batch(m.subscribeNew(), m.loadSelected(), m.markRead())
	}
	return nil
}

// newMessage applies a message_new event: the message joins its stream,
// its author stops typing, and it counts as unread (and as a mention)
// unless the stream is on screen or the message is the user's own.
func (m *chatModel) newMessage(ev client.Event) tea.Cmd {
	v := m.views[ev.Stream]
	if v == nil || ev.Message == nil {
		return nil
	}
	m.typing.stopped(ev.Stream, ev.Message.Author.ID)
	newer := ev.Message.Seq > v.last
	if !v.merge(ev.Message) || !newer {
		return nil
	}
	if ev.Stream == m.sel {
		return m.markRead()
	}
	if ev.Message.Author.ID != m.me.ID {
		v.unread++
		if m.mentionsMe(ev.Message) {
			v.mentions++
		}
	}
	return nil
}

// dropUnlisted forgets the views of streams no longer in the left pane.
func (m *chatModel) dropUnlisted() {
	for id := range m.views {
		if m.indexOf(id) < 0 {
			delete(m.views, id)
			m.typing.forget(id)
		}
	}
}

func (m *chatModel) circleName(id string) string {
	if ci := m.circle(id); ci != nil {
		return ci.Name
	}
	return "a circle"
}

// circle returns the circle with id, or nil.
func (m *chatModel) circle(id string) *models.Circle {
	for _, ci := range m.circles {
		if ci.ID == id {
			return ci
		}
	}
	return nil
}
