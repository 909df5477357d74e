package gateway

// Presence: who is online, with which status, told to the people who
// share a circle or a DM with them (their co-members).
//
// Every node keeps one view of the users online anywhere: its own
// connections counted per user, and for each other node a lease per user
// it reports, learnt from the presence bus (cluster only). A user is
// online while any node counts or reports them. Each node tells only its
// own connections: when a user's public state (offline, or a status and
// text; invisible is offline) changes in its view, the node sends the
// event to its local connections of the user's co-members. Every node
// sees the same changes, so a co-member hears of each change once per
// connection, wherever it is and however many connections the subject
// has, and no event crosses NATS once per co-member.
//
// Lock order: presenceHub.mu, then presenceHub.qmu or a broker shard
// lock (Subscribe, Cancel). Nothing publishes while holding mu: the
// broker calls Deliver on the publisher's goroutine, and the user topic
// watcher takes mu.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/oshichat/oshi/broker"
	"github.com/oshichat/oshi/models"
)

// Error codes of status_set.
const (
	CodeInvalidStatus     = "invalid_status"
	CodeInvalidStatusText = "invalid_status_text"
)

// MaxStatusText is the longest status text, in characters.
const MaxStatusText = 128

// presenceBus is the control topic nodes exchange presence on; other
// nodes' messages reach this node's broker through ReceiveEvent.
const presenceBus = "presence"

// presenceTopic carries the presence events for one user's connections
// on this node. It is local: each node fills it for its own connections.
func presenceTopic(userID string) string { return "presence:" + userID }

// maxPresenceJobs bounds the presence work waiting on one node; past it
// work is dropped (and counted), which leaves clients a stale status
// until the user's next change rather than growing without bound.
const maxPresenceJobs = 100_000

// presenceBeatChunk is how many users one heartbeat message lists, so a
// busy node's heartbeat stays well under NATS's 1 MB payload limit.
const presenceBeatChunk = 500

func init() {
	handle(map[string]handler{"status_set": (*conn).cmdStatusSet})
	onReady = append(onReady, presenceReady)
	onOpen = append(onOpen, presenceOpen)
	onClosed = append(onClosed, presenceClosed)
}

// hubOf returns g's presence hub; nil once g is stopping.
func hubOf(g *Gateway) *presenceHub {
	select {
	case <-g.stop:
		return nil
	default:
	}
	return g.presence
}

// pubState is a user's presence as co-members see it; the zero value
// is offline.
type pubState struct{ status, text string }

// presenceUser is one user in a node's view. It exists while the user
// has connections here (local, recv) or another node reports them
// (remote), and is dropped after.
type presenceUser struct {
	ref models.UserRef
	// The status the user chose. stamp orders choices made on different
	// nodes: the highest wins. A status read from the store has stamp 0.
	status, text string
	stamp        int64

	local  int              // connections open here (onOpen to onClosed)
	recv   int              // connections here receiving presence events (onReady to close)
	remote map[string]int64 // node → when its word expires, unix ns
	told   pubState         // the public state this node last announced

	// While recv > 0: the user's DM peers, and the subscription to the
	// user topic that reveals new DMs and circle joins.
	dms   map[string]struct{}
	watch *broker.Subscription
}

func (u *presenceUser) public() pubState {
	if u.local == 0 && len(u.remote) == 0 || u.status == models.Invisible {
		return pubState{}
	}
	return pubState{u.status, u.text}
}

// presenceHub is one node's presence registry.
type presenceHub struct {
	g     *Gateway
	node  string        // this node's id on the presence bus
	beat  time.Duration // how often this node repeats what it knows
	lease time.Duration // how long other nodes trust it: three beats

	mu    sync.Mutex
	users map[string]*presenceUser
	conns map[uint64]*presenceConn       // receiving connections by conn id
	dmRev map[string]map[string]struct{} // user → local receivers with a DM with them

	// Work for the hub's goroutine, in order: announcements, bus
	// messages in both directions, follow-ups of joins.
	qmu     sync.Mutex
	jobs    []func(context.Context)
	wake    chan struct{}
	dropped atomic.Uint64
	bus     *broker.Subscription
}

func newPresenceHub(g *Gateway) *presenceHub {
	return &presenceHub{
		g:     g,
		node:  strconv.FormatUint(rand.Uint64(), 36),
		beat:  g.cfg.HeartbeatInterval,
		lease: 3 * g.cfg.HeartbeatInterval,
		users: make(map[string]*presenceUser),
		conns: make(map[uint64]*presenceConn),
		dmRev: make(map[string]map[string]struct{}),
		wake:  make(chan struct{}, 1),
	}
}

// start subscribes to the presence bus and starts the hub's goroutine,
// which ends when the Gateway stops.
func (h *presenceHub) start() {
	if h.g.svc.Peers != nil {
		if s, err := h.g.svc.Broker.Subscribe(presenceBus, busSub{h}); err == nil {
			h.bus = s
		}
	}
	go h.run()
}

// run does the hub's queued work in order and, in a cluster, sends this
// node's heartbeat and expires the leases of silent nodes every beat.
func (h *presenceHub) run() {
	// Jobs' store reads end when the Gateway stops, not a timeout later.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-h.g.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var tick <-chan time.Time
	if h.g.svc.Peers != nil {
		t := time.NewTicker(h.beat)
		defer t.Stop()
		tick = t.C
		// Ask the others for what they know, so this node's view fills
		// within a round trip rather than a beat.
		h.send(presenceMsg{Op: "hello"})
	}
	for {
		select {
		case <-h.g.stop:
			if h.bus != nil {
				h.bus.Cancel()
				h.send(presenceMsg{Op: "bye"})
			}
			return
		case <-tick:
			h.expire(time.Now().UnixNano())
			h.sendBeat()
		case <-h.wake:
			h.drain(ctx)
		}
	}
}

// drain runs the queued jobs until none is left or the Gateway stops.
func (h *presenceHub) drain(ctx context.Context) {
	for {
		h.qmu.Lock()
		jobs := h.jobs
		h.jobs = nil
		h.qmu.Unlock()
		if len(jobs) == 0 {
			return
		}
		for _, job := range jobs {
			select {
			case <-h.g.stop:
				return
			default:
			}
			jctx, cancel := context.WithTimeout(ctx, commandTimeout)
			job(jctx)
			cancel()
		}
	}
}

// enqueue queues work for the hub's goroutine; it never blocks.
func (h *presenceHub) enqueue(job func(context.Context)) {
	h.qmu.Lock()
	if len(h.jobs) >= maxPresenceJobs {
		h.qmu.Unlock()
		if h.dropped.Add(1)%1000 == 1 {
			h.g.log.Warn("presence work dropped: the queue is full", "dropped", h.dropped.Load())
		}
		return
	}
	h.jobs = append(h.jobs, job)
	h.qmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// userFor returns the view's entry for a user connecting here, making it
// with the status stored for them if the user is not known yet. h.mu
// is held.
func (h *presenceHub) userFor(user *models.User) *presenceUser {
	u := h.users[user.ID]
	if u == nil {
		status := user.Status
		if status == "" {
			status = models.Online
		}
		u = &presenceUser{ref: user.Ref(), status: status, text: user.StatusText}
		h.users[user.ID] = u
	}
	return u
}

// settle announces a change of u's public state to the local co-members
// and drops u once nothing holds it. h.mu is held.
func (h *presenceHub) settle(u *presenceUser) {
	if pub := u.public(); pub != u.told {
		frame := transitionFrame(u.ref, u.told, pub)
		u.told = pub
		id := u.ref.ID
		h.enqueue(func(ctx context.Context) { h.announce(ctx, id, frame) })
	}
	if u.local == 0 && u.recv == 0 && len(u.remote) == 0 {
		delete(h.users, u.ref.ID)
	}
}

// presenceEvent is user_connect, user_disconnect and status_update.
type presenceEvent struct {
	Cmd string `json:"cmd"`
	models.Presence
}

func transitionFrame(ref models.UserRef, from, to pubState) []byte {
	switch {
	case to == pubState{}:
		return encode(presenceEvent{"user_disconnect", models.Presence{User: ref, Status: models.Offline}})
	case from == pubState{}:
		return encode(presenceEvent{"user_connect", models.Presence{User: ref, Status: to.status, Text: to.text}})
	default:
		return encode(presenceEvent{"status_update", models.Presence{User: ref, Status: to.status, Text: to.text}})
	}
}

// announce sends frame, about userID, to this node's connections of the
// user's co-members.
func (h *presenceHub) announce(ctx context.Context, userID string, frame []byte) {
	for _, id := range h.localCoMembers(ctx, userID) {
		h.g.svc.Broker.Publish(presenceTopic(id), frame)
	}
}

// localCoMembers returns the users with receiving connections here who
// share a circle or a DM with userID.
func (h *presenceHub) localCoMembers(ctx context.Context, userID string) []string {
	h.mu.Lock()
	none := len(h.conns) == 0
	h.mu.Unlock()
	if none {
		return nil // nobody here to tell: spare the lookups
	}
	var lists [][]string
	cids, err := h.g.svc.Circles.CircleIDs(ctx, userID)
	if err != nil {
		h.g.log.Warn("presence: circles of user", "user", userID, "err", err)
	}
	for _, cid := range cids {
		ms, err := h.g.svc.Circles.MemberIDs(ctx, cid)
		if err != nil {
			h.g.log.Warn("presence: members of circle", "circle", cid, "err", err)
			continue
		}
		lists = append(lists, ms)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]struct{})
	for _, ms := range lists {
		for _, m := range ms {
			if u := h.users[m]; m != userID && u != nil && u.recv > 0 {
				seen[m] = struct{}{}
			}
		}
	}
	for m := range h.dmRev[userID] {
		seen[m] = struct{}{}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	return out
}

// coMembers returns who shares one of circles or one of dms with
// userID: the candidates for a ready frame's presences.
func (h *presenceHub) coMembers(ctx context.Context, userID string, circles []*models.Circle, dms []*models.Stream) (map[string]struct{}, error) {
	out := make(map[string]struct{})
	for _, c := range circles {
		ms, err := h.g.svc.Circles.MemberIDs(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("members of circle %s: %w", c.ID, err)
		}
		for _, m := range ms {
			out[m] = struct{}{}
		}
	}
	for _, dm := range dms {
		out[dmPeer(dm, userID)] = struct{}{}
	}
	delete(out, userID)
	return out, nil
}

func dmPeer(dm *models.Stream, userID string) string {
	for _, m := range dm.Members {
		if m != userID {
			return m
		}
	}
	if dm.Peer != nil {
		return dm.Peer.ID
	}
	return ""
}

// presencesOf lists the users of ids who are online, as co-members see
// them, by username. h.mu is held.
func (h *presenceHub) presencesOf(ids map[string]struct{}) []models.Presence {
	var out []models.Presence
	for id := range ids {
		u := h.users[id]
		if u == nil {
			continue
		}
		if pub := u.public(); pub != (pubState{}) {
			out = append(out, models.Presence{User: u.ref, Status: pub.status, Text: pub.text})
		}
	}
	slices.SortFunc(out, func(a, b models.Presence) int { return strings.Compare(a.User.Username, b.User.Username) })
	return out
}

// addDM records that local receiver userID has a DM with peer. h.mu is
// held.
func (h *presenceHub) addDM(u *presenceUser, peer string) {
	if peer == "" || peer == u.ref.ID {
		return
	}
	if u.dms == nil {
		u.dms = make(map[string]struct{})
	}
	u.dms[peer] = struct{}{}
	rev := h.dmRev[peer]
	if rev == nil {
		rev = make(map[string]struct{})
		h.dmRev[peer] = rev
	}
	rev[u.ref.ID] = struct{}{}
}

// Connections.

// presenceConn is a connection receiving presence events. Until its
// ready frame is out, events are held back: nothing may precede ready.
type presenceConn struct {
	c       *conn
	sub     *broker.Subscription
	cleanup func() bool // stops the context.AfterFunc that drops it; guarded by presenceHub.mu
	opened  bool        // counted in local; guarded by presenceHub.mu

	mu        sync.Mutex
	live      bool
	held      [][]byte
	heldBytes int
}

// Deliver implements broker.Subscriber for the presence topic.
func (p *presenceConn) Deliver(_ string, frame []byte) error {
	p.mu.Lock()
	if !p.live {
		p.held = append(p.held, frame)
		p.heldBytes += len(frame)
		over := p.heldBytes > p.c.g.cfg.QueueBytes
		p.mu.Unlock()
		if over {
			p.c.close(statusSlowConsumer, "slow consumer")
			return broker.ErrSlowConsumer
		}
		return nil
	}
	p.mu.Unlock()
	return p.c.Deliver("", frame)
}

// release sends the held events and switches to direct delivery.
func (p *presenceConn) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.held {
		p.c.push(f)
	}
	p.held, p.heldBytes, p.live = nil, 0, true
}

// presenceReady makes the connection a receiver of its co-members'
// presence and lists those online in ready, with the user's own entry
// first. Both happen under one lock, so every change is either in the
// list or sent after it.
func presenceReady(ctx context.Context, c *conn, r *readyFrame) error {
	h := hubOf(c.g)
	if h == nil {
		return nil
	}
	cands, err := h.coMembers(ctx, c.user.ID, r.Circles, r.DMs)
	if err != nil {
		return fmt.Errorf("presence for ready: %w", err)
	}
	pc := &presenceConn{c: c}
	// Subscribed before counting as a receiver, so no event sent to
	// receivers can miss it.
	if pc.sub, err = c.g.svc.Broker.Subscribe(presenceTopic(c.user.ID), pc); err != nil {
		return errCode(CodeUnavailable, "server is shutting down")
	}
	h.mu.Lock()
	u := h.userFor(c.user)
	u.recv++
	for _, dm := range r.DMs {
		h.addDM(u, dmPeer(dm, c.user.ID))
	}
	if u.watch == nil {
		u.watch, _ = c.g.svc.Broker.Subscribe(userTopic(c.user.ID), watchSub{h, c.user.ID})
	}
	h.conns[c.id] = pc
	// A connection refused after this hook never reaches onClosed; its
	// end drops it all the same. (Set under mu: drop reads it.)
	pc.cleanup = context.AfterFunc(c.ctx, func() { h.drop(c) })
	self := models.Presence{User: u.ref, Status: u.status, Text: u.text}
	r.Presences = append([]models.Presence{self}, h.presencesOf(cands)...)
	h.mu.Unlock()
	return nil
}

// presenceOpen counts the connection as online once ready is out, and
// sends what was held for it.
func presenceOpen(c *conn) {
	h := hubOf(c.g)
	if h == nil {
		return
	}
	h.mu.Lock()
	pc := h.conns[c.id]
	if pc == nil {
		h.mu.Unlock()
		return
	}
	pc.release()
	pc.opened = true
	u := h.users[c.user.ID]
	u.local++
	if u.local == 1 {
		h.tellPeers(presenceMsg{Op: "up", Users: []presenceEntry{entryOf(u)}})
	}
	h.settle(u)
	h.mu.Unlock()
}

func presenceClosed(c *conn) {
	if h := hubOf(c.g); h != nil {
		h.drop(c)
	}
}

// drop ends a connection's part in presence; calling it again does
// nothing.
func (h *presenceHub) drop(c *conn) {
	h.mu.Lock()
	pc := h.conns[c.id]
	if pc == nil {
		h.mu.Unlock()
		return
	}
	delete(h.conns, c.id)
	u := h.users[c.user.ID]
	u.recv--
	if pc.opened {
		u.local--
		if u.local == 0 {
			h.tellPeers(presenceMsg{Op: "down", User: u.ref.ID})
		}
	}
	if u.recv == 0 {
		for peer := range u.dms {
			if rev := h.dmRev[peer]; rev != nil {
				delete(rev, u.ref.ID)
				if len(rev) == 0 {
					delete(h.dmRev, peer)
				}
			}
		}
		u.dms = nil
		if u.watch != nil {
			u.watch.Cancel()
			u.watch = nil
		}
	}
	h.settle(u)
	cleanup := pc.cleanup
	h.mu.Unlock()
	pc.sub.Cancel()
	cleanup()
}

// status_set

type statusReply struct {
	header
	Status string `json:"status"`
	Text   string `json:"text"`
}

// validStatusText accepts valid UTF-8 of at most MaxStatusText
// characters without control characters (newlines and tabs included:
// the text is one line).
func validStatusText(s string) error {
	if !utf8.ValidString(s) {
		return errCode(CodeInvalidStatusText, "text must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxStatusText {
		return errCode(CodeInvalidStatusText, fmt.Sprintf("text must be at most %d characters", MaxStatusText))
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return errCode(CodeInvalidStatusText, "text must not contain control characters")
		}
	}
	return nil
}

// cmdStatusSet sets the user's status and, when text is given, the
// status text (absent keeps it, "" clears it). The choice is stored, so
// it survives reconnects.
func (c *conn) cmdStatusSet(ctx context.Context, req *request) error {
	switch req.Status {
	case models.Online, models.Idle, models.DND, models.Invisible:
	default:
		return errCode(CodeInvalidStatus, "status must be online, idle, dnd or invisible")
	}
	if req.Text != nil {
		if err := validStatusText(*req.Text); err != nil {
			return err
		}
	}
	h := hubOf(c.g)
	if h == nil {
		return errCode(CodeUnavailable, "the server is restarting; retry after reconnecting")
	}
	h.mu.Lock()
	text := c.user.StatusText
	if u := h.users[c.user.ID]; u != nil {
		text = u.text
	}
	h.mu.Unlock()
	if req.Text != nil {
		text = *req.Text
	}
	if err := c.g.svc.Store.SetUserStatus(ctx, c.user.ID, req.Status, text); err != nil {
		return fmt.Errorf("status_set: %w", err)
	}
	changed := h.setStatus(c.user, req.Status, text)
	c.reply(statusReply{hdr(req), req.Status, text})
	if changed {
		// The user's other connections, on every node, show the new
		// status, invisible included.
		own := encode(presenceEvent{"status_update", models.Presence{User: c.user.Ref(), Status: req.Status, Text: text}})
		c.g.publish(userTopic(c.user.ID), userControl(opEvent, c.id, "", own))
	}
	return nil
}

// setStatus records a status chosen on this node and reports whether it
// changed anything.
func (h *presenceHub) setStatus(user *models.User, status, text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.userFor(user)
	if u.status == status && u.text == text {
		return false
	}
	// Later than anything known, whatever the clocks of other nodes say.
	u.stamp = max(time.Now().UnixNano(), u.stamp+1)
	u.status, u.text = status, text
	if u.local > 0 {
		h.tellPeers(presenceMsg{Op: "up", Users: []presenceEntry{entryOf(u)}})
	}
	h.settle(u)
	return true
}

// publicStatus is a user's status as co-members see it: a chosen
// status, or offline. Member lists show it (community.go's
// presenceStatus).
func publicStatus(g *Gateway, userID string) string {
	h := hubOf(g)
	if h == nil {
		return models.Offline
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[userID]; u != nil {
		if pub := u.public(); pub.status != "" {
			return pub.status
		}
	}
	return models.Offline
}

// Membership changes, seen on the user topic of a local receiver.

// watchSub watches a local receiver's user topic for circle joins and
// new DMs (see controlSub for the payload).
type watchSub struct {
	h      *presenceHub
	userID string
}

// Deliver implements broker.Subscriber; the work is queued, as it may
// read the store.
func (w watchSub) Deliver(_ string, payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	origin, rest, _ := bytes.Cut(payload[1:], []byte{' '})
	circleID, frame, _ := bytes.Cut(rest, []byte{'\n'})
	h, userID := w.h, w.userID
	switch payload[0] {
	case opJoin:
		if bytes.Contains(frame, []byte(`"cmd":"circle_create"`)) {
			return nil // the creator is alone in it
		}
		cid := string(circleID)
		id, err := strconv.ParseUint(string(origin), 16, 64)
		h.mu.Lock()
		_, here := h.conns[id]
		h.mu.Unlock()
		if err == nil && here {
			// The join was made on this node: tell the other nodes, so
			// each tells its own members.
			h.enqueue(func(context.Context) { h.send(presenceMsg{Op: "join", User: userID, Circle: cid}) })
			h.enqueue(func(ctx context.Context) { h.joinedMembers(ctx, userID, cid) })
		}
		h.enqueue(func(ctx context.Context) { h.joinedList(ctx, userID, cid) })
	case opEvent:
		if !bytes.Contains(frame, []byte(`"cmd":"dm_open"`)) {
			return nil
		}
		var f struct {
			Stream *models.Stream `json:"stream"`
		}
		if json.Unmarshal(frame, &f) != nil || f.Stream == nil {
			return nil
		}
		peer := dmPeer(f.Stream, userID)
		h.mu.Lock()
		if u := h.users[userID]; u != nil && u.recv > 0 {
			h.addDM(u, peer)
		}
		h.mu.Unlock()
		dmID := f.Stream.ID
		h.enqueue(func(context.Context) {
			h.sendList(userID, presencesFrame{Cmd: "presences", Stream: dmID}, map[string]struct{}{peer: {}})
		})
	}
	return nil
}

// presencesFrame follows circle_join (to the joiner: the circle's online
// members) and dm_open (the peer, if online).
type presencesFrame struct {
	Cmd       string            `json:"cmd"`
	Circle    string            `json:"circle,omitempty"`
	Stream    string            `json:"stream,omitempty"`
	Presences []models.Presence `json:"presences"`
}

// joinedList sends the joiner's connections here the circle's online
// members.
func (h *presenceHub) joinedList(ctx context.Context, userID, circleID string) {
	ms, err := h.g.svc.Circles.MemberIDs(ctx, circleID)
	if err != nil {
		h.g.log.Warn("presence: members of joined circle", "circle", circleID, "err", err)
		return
	}
	ids := make(map[string]struct{}, len(ms))
	for _, m := range ms {
		if m != userID {
			ids[m] = struct{}{}
		}
	}
	h.sendList(userID, presencesFrame{Cmd: "presences", Circle: circleID}, ids)
}

// sendList sends f, with the online users of ids, to userID's
// connections here; nothing when none of them is online.
func (h *presenceHub) sendList(userID string, f presencesFrame, ids map[string]struct{}) {
	h.mu.Lock()
	f.Presences = h.presencesOf(ids)
	h.mu.Unlock()
	if len(f.Presences) > 0 {
		h.g.svc.Broker.Publish(presenceTopic(userID), encode(f))
	}
}

// joinedMembers tells this node's connections of the circle's members
// that the joiner is online, unless they shared a circle or a DM with
// the joiner already and so know.
func (h *presenceHub) joinedMembers(ctx context.Context, userID, circleID string) {
	h.mu.Lock()
	u := h.users[userID]
	var pub pubState
	var ref models.UserRef
	if u != nil {
		pub, ref = u.public(), u.ref
	}
	none := len(h.conns) == 0
	h.mu.Unlock()
	if pub == (pubState{}) || none {
		return
	}
	ms, err := h.g.svc.Circles.MemberIDs(ctx, circleID)
	if err != nil {
		h.g.log.Warn("presence: members of joined circle", "circle", circleID, "err", err)
		return
	}
	cids, err := h.g.svc.Circles.CircleIDs(ctx, userID)
	if err != nil {
		h.g.log.Warn("presence: circles of user", "user", userID, "err", err)
		return
	}
	h.mu.Lock()
	var targets []string
	for _, m := range ms {
		if mu := h.users[m]; m != userID && mu != nil && mu.recv > 0 {
			if _, dm := h.dmRev[userID][m]; !dm {
				targets = append(targets, m)
			}
		}
	}
	h.mu.Unlock()
	frame := transitionFrame(ref, pubState{}, pub)
	for _, m := range targets {
		if h.sharesOther(ctx, m, cids, circleID) {
			continue
		}
		h.g.svc.Broker.Publish(presenceTopic(m), frame)
	}
}

// sharesOther reports whether userID belongs to one of cids other than
// except.
func (h *presenceHub) sharesOther(ctx context.Context, userID string, cids []string, except string) bool {
	for _, cid := range cids {
		if cid == except {
			continue
		}
		if ok, err := h.g.svc.Circles.IsMember(ctx, cid, userID); err == nil && ok {
			return true
		}
	}
	return false
}

// The presence bus (cluster only).

// presenceMsg is what nodes tell each other on the presence bus:
//
//	hello  a node started: send it your beat now
//	up     users online on Node (first connection there, or a new status)
//	beat   every user online on Node (a part of them when many): renews
//	       their leases
//	down   User has no connection on Node any more
//	join   User joined Circle on Node: tell your members
//	bye    Node stops: forget its users
//
// A user a node reported and did not renew within LeaseMS is dropped,
// so the users of a node that vanished go offline.
type presenceMsg struct {
	Op      string          `json:"op"`
	Node    string          `json:"node"`
	LeaseMS int64           `json:"lease_ms,omitempty"`
	Users   []presenceEntry `json:"users,omitempty"`
	User    string          `json:"user,omitempty"`
	Circle  string          `json:"circle,omitempty"`
}

type presenceEntry struct {
	User   models.UserRef `json:"user"`
	Status string         `json:"status"`
	Text   string         `json:"text,omitempty"`
	Stamp  int64          `json:"stamp,omitempty"`
}

func entryOf(u *presenceUser) presenceEntry {
	return presenceEntry{User: u.ref, Status: u.status, Text: u.text, Stamp: u.stamp}
}

// tellPeers queues m for the other nodes, in order with the hub's other
// work. h.mu may be held.
func (h *presenceHub) tellPeers(m presenceMsg) {
	if h.g.svc.Peers != nil {
		h.enqueue(func(context.Context) { h.send(m) })
	}
}

// send publishes m on the presence bus now.
func (h *presenceHub) send(m presenceMsg) {
	if h.g.svc.Peers == nil {
		return
	}
	m.Node = h.node
	if m.Op == "up" || m.Op == "beat" {
		m.LeaseMS = h.lease.Milliseconds()
	}
	data, err := json.Marshal(m)
	if err != nil {
		h.g.log.Error("presence: encode bus message", "err", err)
		return
	}
	h.g.svc.Peers.PublishEvent(presenceBus, data)
}

// sendBeat renews this node's word on every user online here.
func (h *presenceHub) sendBeat() {
	h.mu.Lock()
	var all []presenceEntry
	for _, u := range h.users {
		if u.local > 0 {
			all = append(all, entryOf(u))
		}
	}
	h.mu.Unlock()
	for part := range slices.Chunk(all, presenceBeatChunk) {
		h.send(presenceMsg{Op: "beat", Users: part})
	}
}

// expire drops what other nodes said and did not renew in time.
func (h *presenceHub) expire(now int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.users {
		n := len(u.remote)
		for node, until := range u.remote {
			if until < now {
				delete(u.remote, node)
			}
		}
		if len(u.remote) != n {
			h.settle(u)
		}
	}
}

// busSub receives the other nodes' presence messages.
type busSub struct{ h *presenceHub }

// Deliver implements broker.Subscriber; the message is applied on the
// hub's goroutine, in arrival order.
func (b busSub) Deliver(_ string, payload []byte) error {
	var m presenceMsg
	if err := json.Unmarshal(payload, &m); err != nil || m.Node == "" {
		return nil
	}
	b.h.enqueue(func(ctx context.Context) { b.h.receive(ctx, &m) })
	return nil
}

// receive applies another node's message.
func (h *presenceHub) receive(ctx context.Context, m *presenceMsg) {
	if m.Node == h.node {
		return
	}
	switch m.Op {
	case "hello":
		h.sendBeat()
	case "up", "beat":
		until := time.Now().Add(time.Duration(m.LeaseMS) * time.Millisecond).UnixNano()
		h.mu.Lock()
		for _, e := range m.Users {
			if e.User.ID == "" {
				continue
			}
			u := h.users[e.User.ID]
			if u == nil {
				u = &presenceUser{ref: e.User, status: e.Status, text: e.Text, stamp: e.Stamp}
				h.users[e.User.ID] = u
			} else if e.Stamp > u.stamp {
				u.status, u.text, u.stamp = e.Status, e.Text, e.Stamp
			}
			if u.status == "" {
				u.status = models.Online
			}
			if u.remote == nil {
				u.remote = make(map[string]int64)
			}
			u.remote[m.Node] = until
			h.settle(u)
		}
		h.mu.Unlock()
	case "down":
		h.mu.Lock()
		if u := h.users[m.User]; u != nil {
			delete(u.remote, m.Node)
			h.settle(u)
		}
		h.mu.Unlock()
	case "bye":
		h.mu.Lock()
		for _, u := range h.users {
			if _, ok := u.remote[m.Node]; ok {
				delete(u.remote, m.Node)
				h.settle(u)
			}
		}
		h.mu.Unlock()
	case "join":
		h.joinedMembers(ctx, m.User, m.Circle)
	}
}
