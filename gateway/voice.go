package gateway

// Voice channels, signalling only: who is in which voice stream, muted
// or not, and the relay of WebRTC offers, answers and ICE candidates
// between the participants of one voice stream. Audio never touches the
// server.
//
// Every node holds the voice sessions of the whole cluster in a
// voiceRegistry. A session belongs to one connection (the user's voice
// connection) on one node; a user has at most one. Changes are applied
// under the registry's lock by the node that makes them and replicated
// to the others as ops on the "voice" control topic; every node applies
// every op to its own registry and delivers the resulting events to its
// own connections only, so each event crosses the cluster once, and a
// node's clients see the events, replies and voice_state snapshots of
// one stream in the order its registry changed.
//
// Replicas converge because every session carries a version (a hybrid
// clock TS, then the connection id): of two sessions of one user the
// later wins on every node, whatever order the ops arrive in; leave and
// mute name the version they act on and do nothing to another one. Each
// node also announces its own sessions every voiceAnnounceEvery, so a
// node that starts late, or missed ops while NATS was away, catches up,
// and the sessions of a node that stops announcing (a crash) are
// dropped after voiceExpireAfter.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/models"
)

// Error codes of the voice commands; docs/protocol.md lists them with
// their meaning (section 3.11, and the error codes of section 6).
const (
	// CodeNotVoice: voice_join named a stream that is not a voice stream.
	CodeNotVoice = "not_voice"
	// CodeInvalidPeerID: peer_id is not 1-64 printable characters.
	CodeInvalidPeerID = "invalid_peer_id"
	// CodeNotInVoice: the command needs the user (voice_leave) or this
	// connection (voice_mute, voice_signal) to be in a voice stream.
	CodeNotInVoice = "not_in_voice"
	// CodeNotParticipant: voice_signal's target is not another
	// participant of the sender's voice stream.
	CodeNotParticipant = "not_participant"
	// CodeSignalTooLarge: voice_signal's data is over maxSignalBytes.
	CodeSignalTooLarge = "signal_too_large"
)

const (
	// maxSignalBytes bounds voice_signal's data, as sent.
	maxSignalBytes = 16 << 10
	// maxPeerIDLen bounds peer_id, in characters.
	maxPeerIDLen = 64
	// voiceTopic carries voice ops between nodes (Peers); on a node, the
	// registry is its only subscriber.
	voiceTopic = "voice"
	// voiceAnnounceEvery is how often a node announces its own sessions.
	voiceAnnounceEvery = 5 * time.Second
	// voiceExpireAfter drops the sessions of a node not heard from.
	voiceExpireAfter = 3 * voiceAnnounceEvery
	// voiceAnnounceChunk bounds the sessions of one announcement op, to
	// stay well under NATS's payload limit (1 MiB by default).
	voiceAnnounceChunk = 200
	// voiceTimeout bounds the store work of voice changes no command
	// waits for (a dropped connection, an op from another node).
	voiceTimeout = 5 * time.Second
)

// Why a voice connection lost its session, in the ref-less voice_leave
// it is sent.
const (
	voiceMoved     = "moved"     // the user joined voice on another connection
	voiceLeft      = "left"      // voice_leave from another connection of the user
	voiceRemoved   = "removed"   // the user left the circle or was removed from it
	voiceForbidden = "forbidden" // the user may no longer connect to the stream
)

func init() {
	handle(map[string]handler{
		"voice_join":   (*conn).cmdVoiceJoin,
		"voice_leave":  (*conn).cmdVoiceLeave,
		"voice_mute":   (*conn).cmdVoiceMute,
		"voice_signal": (*conn).cmdVoiceSignal,
		"voice_state":  (*conn).cmdVoiceState,
	})
	onOpen = append(onOpen, func(c *conn) { c.g.voice.opened(c) })
	onClosed = append(onClosed, func(c *conn) { c.g.voice.closed(c) })
	onRemoved = append(onRemoved, func(g *Gateway, circleID, userID string) { g.leaveVoice(userID, circleID) })
}

// voiceSession is one user's presence in one voice stream.
type voiceSession struct {
	User   models.UserRef `json:"user"`
	Circle string         `json:"circle"`
	Stream string         `json:"stream"`
	PeerID string         `json:"peer_id"`
	Muted  bool           `json:"muted"`
	// Conn, TS and Node identify the session in the cluster: the
	// connection that holds it, when it began (hybrid clock, unix ns),
	// and that connection's node.
	Conn uint64 `json:"conn"`
	TS   int64  `json:"ts"`
	Node uint64 `json:"node"`

	local *conn // the connection, when it is on this node
}

// before reports whether s is older than o: of two sessions of one user,
// the later one wins on every node.
func (s *voiceSession) before(o *voiceSession) bool {
	return s.TS < o.TS || s.TS == o.TS && s.Conn < o.Conn
}

// same reports whether s and o are the same session.
func (s *voiceSession) same(o *voiceSession) bool {
	return o != nil && s.Conn == o.Conn && s.TS == o.TS && s.User.ID == o.User.ID
}

// voiceRoom is the participants of one voice stream.
type voiceRoom struct {
	circle string
	users  map[string]*voiceSession
}

// voiceRegistry is the voice state of the cluster as this node knows it.
type voiceRegistry struct {
	g     *Gateway
	node  uint64 // random: names this node's sessions in the cluster
	hello sync.Once

	// mu guards the maps below. It is held while the events of a change
	// are delivered, so the events, replies and snapshots a connection
	// gets follow the order of the changes. Lock order: mu, then
	// Gateway.mu; nothing that holds Gateway.mu or a broker lock calls
	// in here.
	mu       sync.Mutex
	users    map[string]*voiceSession         // by user id
	rooms    map[string]*voiceRoom            // by stream id
	byCircle map[string]map[string]*voiceRoom // circle id → stream id → room
	clock    int64                            // the highest TS seen
	peers    map[uint64]*voicePeer            // other nodes, by id
	epoch    uint64                           // of this node's announcements
}

// voicePeer is another node as the registry knows it.
type voicePeer struct {
	heard time.Time       // last op from it
	epoch uint64          // of the announcement being received
	seen  map[string]bool // users of that announcement so far
}

// newVoiceRegistry returns the registry of g. In a cluster it subscribes
// to the voice ops other nodes send (ReceiveEvent publishes them on this
// node's broker) and starts the announcement loop, which ends when g is
// closed.
func newVoiceRegistry(g *Gateway) *voiceRegistry {
	v := &voiceRegistry{
		g:        g,
		node:     rand.Uint64(),
		users:    make(map[string]*voiceSession),
		rooms:    make(map[string]*voiceRoom),
		byCircle: make(map[string]map[string]*voiceRoom),
		peers:    make(map[uint64]*voicePeer),
	}
	if g.svc.Peers != nil {
		if _, err := g.svc.Broker.Subscribe(voiceTopic, v); err != nil {
			g.log.Error("voice: subscribe to other nodes' ops", "err", err)
		}
		go v.announceLoop()
	}
	return v
}

// Frames.

type voiceParticipant struct {
	User   models.UserRef `json:"user"`
	PeerID string         `json:"peer_id,omitempty"`
	Muted  bool           `json:"muted"`
}

// voiceEvent is voice_user_joined, voice_user_left and
// voice_user_updated; PeerID is set only in the copy for participants.
type voiceEvent struct {
	Cmd    string         `json:"cmd"`
	Stream string         `json:"stream"`
	Circle string         `json:"circle"`
	User   models.UserRef `json:"user"`
	PeerID string         `json:"peer_id,omitempty"`
	Muted  bool           `json:"muted"`
}

type voiceJoinReply struct {
	header
	Stream       string             `json:"stream"`
	Circle       string             `json:"circle"`
	Participants []voiceParticipant `json:"participants"`
}

// voiceLeaveFrame is the voice_leave reply, and without ref the event a
// voice connection gets when it lost its session for Reason.
type voiceLeaveFrame struct {
	header
	Stream string `json:"stream"`
	Reason string `json:"reason,omitempty"`
}

type voiceMuteReply struct {
	header
	Stream string `json:"stream"`
	Muted  bool   `json:"muted"`
}

type voiceSignalFrame struct {
	Cmd    string          `json:"cmd"`
	Stream string          `json:"stream"`
	From   models.UserRef  `json:"from"`
	Data   json.RawMessage `json:"data"`
}

type voiceSignalReply struct {
	header
	Stream string `json:"stream"`
	To     string `json:"to"`
}

type voiceStreamState struct {
	Stream       string             `json:"stream"`
	Circle       string             `json:"circle"`
	Participants []voiceParticipant `json:"participants"`
}

type voiceStateFrame struct {
	header
	Streams []voiceStreamState `json:"streams"`
}

// Commands.

func validPeerID(id string) bool {
	if id == "" || !utf8.ValidString(id) || utf8.RuneCountInString(id) > maxPeerIDLen {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (c *conn) cmdVoiceJoin(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if err := required("peer_id", req.PeerID); err != nil {
		return err
	}
	if !validPeerID(req.PeerID) {
		return errCode(CodeInvalidPeerID, fmt.Sprintf("peer_id must be 1-%d printable characters", maxPeerIDLen))
	}
	st, err := c.g.svc.Streams.Allowed(ctx, c.user.ID, req.Stream, models.Connect)
	if err != nil {
		return fmt.Errorf("voice_join: %w", err)
	}
	if st.Kind != models.Voice {
		return errCode(CodeNotVoice, "not a voice stream")
	}
	p, err := c.g.svc.Circles.Permissions(ctx, st.CircleID, c.user.ID, st.ID)
	if err != nil {
		return fmt.Errorf("voice_join: %w", err)
	}
	// Without Speak the user listens only: muted, and voice_mute cannot
	// change that.
	muted := !p.Has(models.Speak) || req.Muted != nil && *req.Muted
	c.g.voice.join(ctx, c, hdr(req), st, req.PeerID, muted)
	return nil
}

func (c *conn) cmdVoiceLeave(ctx context.Context, req *request) error {
	return c.g.voice.leave(ctx, c, hdr(req), req.Stream)
}

func (c *conn) cmdVoiceMute(ctx context.Context, req *request) error {
	if req.Muted == nil {
		return errCode(CodeBadRequest, "muted is required")
	}
	return c.g.voice.mute(ctx, c, hdr(req), req.Stream, *req.Muted)
}

func (c *conn) cmdVoiceSignal(_ context.Context, req *request) error {
	if err := required("to", req.To); err != nil {
		return err
	}
	if len(req.Data) == 0 || bytes.Equal(req.Data, []byte("null")) {
		return errCode(CodeBadRequest, "data is required")
	}
	if len(req.Data) > maxSignalBytes {
		return errCode(CodeSignalTooLarge, fmt.Sprintf("data must be at most %d bytes", maxSignalBytes))
	}
	return c.g.voice.signal(c, hdr(req), req.To, req.Data)
}

func (c *conn) cmdVoiceState(ctx context.Context, req *request) error {
	return c.g.voice.state(ctx, c, hdr(req), req.Circle, true)
}

// The registry's changes. Each reads what its permission checks need
// (warm) before it takes the lock, so the checks made under the lock are
// answered from memory.

// warm loads a circle's members and permission rules into the circles
// service's caches.
func (v *voiceRegistry) warm(ctx context.Context, circleID, userID string) {
	_, _ = v.g.svc.Circles.MemberIDs(ctx, circleID)
	_, _ = v.g.svc.Circles.Permissions(ctx, circleID, userID, "")
}

// join makes st c's user's voice stream, held by c, and replies with
// the participants.
func (v *voiceRegistry) join(ctx context.Context, c *conn, h header, st *models.Stream, peerID string, muted bool) {
	v.mu.Lock()
	old := v.users[c.user.ID]
	v.mu.Unlock()
	if old != nil && old.Circle != st.CircleID {
		v.warm(ctx, old.Circle, c.user.ID)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := &voiceSession{
		User: c.user.Ref(), Circle: st.CircleID, Stream: st.ID, PeerID: peerID, Muted: muted,
		Conn: c.id, TS: v.nextTSLocked(), Node: v.node, local: c,
	}
	v.joinLocked(ctx, s)
	c.reply(voiceJoinReply{h, st.ID, st.CircleID, v.participantsLocked(v.rooms[st.ID], true)})
	v.publishLocked(voiceOp{Op: opVoiceJoin, Session: s})
}

// leave ends the user's session, from any of the user's connections;
// stream, when set, must be the session's.
func (v *voiceRegistry) leave(ctx context.Context, c *conn, h header, stream string) error {
	v.mu.Lock()
	s := v.users[c.user.ID]
	v.mu.Unlock()
	if s == nil || stream != "" && s.Stream != stream {
		return errCode(CodeNotInVoice, "you are not in that voice stream")
	}
	v.warm(ctx, s.Circle, c.user.ID)
	v.mu.Lock()
	defer v.mu.Unlock()
	s = v.users[c.user.ID]
	if s == nil || stream != "" && s.Stream != stream {
		return errCode(CodeNotInVoice, "you are not in that voice stream")
	}
	v.leaveLocked(ctx, s, c.id, voiceLeft)
	c.reply(voiceLeaveFrame{header: h, Stream: s.Stream})
	v.publishLocked(voiceOp{Op: opVoiceLeave, Session: s, Origin: c.id, Reason: voiceLeft})
	return nil
}

// mute sets the muted flag of the session c holds. Unmuting needs Speak,
// checked now: roles may have changed since the join.
func (v *voiceRegistry) mute(ctx context.Context, c *conn, h header, stream string, muted bool) error {
	notIn := errCode(CodeNotInVoice, "this connection is not in that voice stream")
	v.mu.Lock()
	s := v.users[c.user.ID]
	v.mu.Unlock()
	if s == nil || s.local != c || stream != "" && s.Stream != stream {
		return notIn
	}
	if !muted {
		p, err := v.g.svc.Circles.Permissions(ctx, s.Circle, c.user.ID, s.Stream)
		if err != nil {
			return fmt.Errorf("voice_mute: %w", err)
		}
		if !p.Has(models.Speak) {
			return errCode(CodeForbidden, "you may not speak in this voice stream")
		}
	}
	v.warm(ctx, s.Circle, c.user.ID)
	v.mu.Lock()
	defer v.mu.Unlock()
	if cur := v.users[c.user.ID]; cur != s {
		return notIn
	}
	if v.muteLocked(ctx, s, muted, c.id) {
		v.publishLocked(voiceOp{Op: opVoiceMute, Session: s, Origin: c.id})
	}
	c.reply(voiceMuteReply{h, s.Stream, muted})
	return nil
}

// signal relays data from the session c holds to the voice connection of
// the participant to of the same stream, on whichever node it is.
func (v *voiceRegistry) signal(c *conn, h header, to string, data json.RawMessage) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	from := v.users[c.user.ID]
	if from == nil || from.local != c {
		return errCode(CodeNotInVoice, "this connection is not in a voice stream")
	}
	target := v.users[to]
	if target == nil || target.Stream != from.Stream || target.User.ID == from.User.ID {
		return errCode(CodeNotParticipant, "to is not another participant of your voice stream")
	}
	if target.local != nil {
		target.local.push(encode(voiceSignalFrame{Cmd: "voice_signal", Stream: from.Stream, From: from.User, Data: data}))
	} else {
		v.publishLocked(voiceOp{Op: opVoiceSignal, Session: from, To: target, Data: data})
	}
	c.reply(voiceSignalReply{h, from.Stream, to})
	return nil
}

// state sends c the participants of the voice streams it may view, in
// circleID or in all the user's circles. As a reply (always) it answers
// voice_state; as the event after ready (always false) it is sent only
// when some stream has participants.
func (v *voiceRegistry) state(ctx context.Context, c *conn, h header, circleID string, always bool) error {
	var ids []string
	if circleID != "" {
		if _, err := v.g.svc.Circles.Permissions(ctx, circleID, c.user.ID, ""); err != nil {
			return fmt.Errorf("voice_state: %w", err)
		}
		ids = []string{circleID}
	} else {
		var err error
		if ids, err = v.g.svc.Circles.CircleIDs(ctx, c.user.ID); err != nil {
			return fmt.Errorf("voice_state: %w", err)
		}
	}
	v.mu.Lock()
	active := ids[:0:0]
	for _, id := range ids {
		if len(v.byCircle[id]) > 0 {
			active = append(active, id)
		}
	}
	v.mu.Unlock()
	for _, id := range active {
		v.warm(ctx, id, c.user.ID)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	out := []voiceStreamState{}
	for _, id := range ids {
		for streamID, room := range v.byCircle[id] {
			p, err := v.g.svc.Circles.Permissions(ctx, id, c.user.ID, streamID)
			if err != nil || !p.Has(models.ViewStreams) {
				continue
			}
			in := room.users[c.user.ID] != nil
			out = append(out, voiceStreamState{streamID, id, v.participantsLocked(room, in)})
		}
	}
	if len(out) == 0 && !always {
		return nil
	}
	slices.SortFunc(out, func(a, b voiceStreamState) int { return cmp.Compare(a.Stream, b.Stream) })
	c.reply(voiceStateFrame{h, out})
	return nil
}

// opened runs once a connection has its ready: in a cluster the first
// one asks the other nodes for their sessions, and the connection is
// sent who is in voice in its circles.
func (v *voiceRegistry) opened(c *conn) {
	if v.g.svc.Peers != nil {
		v.hello.Do(func() {
			v.mu.Lock()
			v.publishLocked(voiceOp{Op: opVoiceHello})
			v.mu.Unlock()
		})
	}
	ctx, cancel := context.WithTimeout(c.ctx, voiceTimeout)
	defer cancel()
	if err := v.state(ctx, c, header{Cmd: "voice_state"}, "", false); err != nil {
		v.g.log.Warn("voice: state after ready", "user", c.user.Username, "err", err)
	}
}

// closed ends the session of a connection that ended.
func (v *voiceRegistry) closed(c *conn) {
	v.mu.Lock()
	s := v.users[c.user.ID]
	v.mu.Unlock()
	if s == nil || s.local != c {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), voiceTimeout)
	defer cancel()
	v.warm(ctx, s.Circle, c.user.ID)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.leaveLocked(ctx, s, c.id, "") {
		v.publishLocked(voiceOp{Op: opVoiceLeave, Session: s, Origin: c.id})
	}
}

// leaveVoice ends userID's voice session when it is in circleID (any
// circle when empty), on whichever node its connection is; that
// connection is sent voice_leave with reason "removed". It runs when the
// user leaves the circle or is removed from it (onRemoved), and may be
// called on any node.
func (g *Gateway) leaveVoice(userID, circleID string) {
	v := g.voice
	v.mu.Lock()
	s := v.users[userID]
	v.mu.Unlock()
	if s == nil || circleID != "" && s.Circle != circleID {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), voiceTimeout)
	defer cancel()
	v.warm(ctx, s.Circle, userID)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.leaveLocked(ctx, s, 0, voiceRemoved) {
		v.publishLocked(voiceOp{Op: opVoiceLeave, Session: s, Reason: voiceRemoved})
	}
}

// recheckVoice applies a change of circleID's rules to the voice
// sessions this node's connections hold in it: a user who may no longer
// connect to (or view) the stream leaves it (voice_leave reason
// "forbidden"), one who may no longer speak is muted. Every node should
// call it when told that the circle's rules changed.
func (g *Gateway) recheckVoice(circleID string) {
	v := g.voice
	ctx, cancel := context.WithTimeout(context.Background(), voiceTimeout)
	defer cancel()
	v.mu.Lock()
	var mine []*voiceSession
	for _, room := range v.byCircle[circleID] {
		for _, s := range room.users {
			if s.local != nil {
				mine = append(mine, s)
			}
		}
	}
	v.mu.Unlock()
	if len(mine) == 0 {
		return
	}
	v.warm(ctx, circleID, "")
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range mine {
		if !s.same(v.users[s.User.ID]) {
			continue
		}
		p, err := g.svc.Circles.Permissions(ctx, circleID, s.User.ID, s.Stream)
		if err != nil && !errors.Is(err, circles.ErrForbidden) && !errors.Is(err, circles.ErrNotFound) {
			g.log.Warn("voice: recheck permissions", "circle", circleID, "err", err)
			continue // keep what we cannot check rather than drop it
		}
		switch {
		case !p.Has(models.Connect | models.ViewStreams):
			if v.leaveLocked(ctx, s, 0, voiceForbidden) {
				v.publishLocked(voiceOp{Op: opVoiceLeave, Session: s, Reason: voiceForbidden})
			}
		case !p.Has(models.Speak) && !s.Muted:
			if v.muteLocked(ctx, s, true, 0) {
				v.publishLocked(voiceOp{Op: opVoiceMute, Session: s})
			}
		}
	}
}

// The state machine. Functions named *Locked need v.mu held.

func (v *voiceRegistry) nextTSLocked() int64 {
	ts := time.Now().UnixNano()
	if ts <= v.clock {
		ts = v.clock + 1
	}
	v.clock = ts
	return ts
}

func (v *voiceRegistry) putLocked(s *voiceSession) {
	v.users[s.User.ID] = s
	room := v.rooms[s.Stream]
	if room == nil {
		room = &voiceRoom{circle: s.Circle, users: make(map[string]*voiceSession)}
		v.rooms[s.Stream] = room
		if v.byCircle[s.Circle] == nil {
			v.byCircle[s.Circle] = make(map[string]*voiceRoom)
		}
		v.byCircle[s.Circle][s.Stream] = room
	}
	room.users[s.User.ID] = s
}

func (v *voiceRegistry) dropLocked(s *voiceSession) {
	delete(v.users, s.User.ID)
	room := v.rooms[s.Stream]
	if room == nil {
		return
	}
	delete(room.users, s.User.ID)
	if len(room.users) == 0 {
		delete(v.rooms, s.Stream)
		delete(v.byCircle[s.Circle], s.Stream)
		if len(v.byCircle[s.Circle]) == 0 {
			delete(v.byCircle, s.Circle)
		}
	}
}

// joinLocked applies a new session unless the user already has a later
// one. A session it replaces ends: voice_user_left when the stream
// changes (a move within the stream is announced by voice_user_joined
// alone, which replaces the entry), and a local connection that held it
// is sent voice_leave "moved". It reports whether s was applied.
func (v *voiceRegistry) joinLocked(ctx context.Context, s *voiceSession) bool {
	if s.TS > v.clock {
		v.clock = s.TS
	}
	old := v.users[s.User.ID]
	if old != nil && !old.before(s) {
		return false
	}
	if old != nil {
		v.dropLocked(old)
		if old.Stream != s.Stream {
			var origin uint64
			if old.Conn == s.Conn {
				origin = s.Conn // the connection moved itself: its reply says so
			}
			v.emitLocked(ctx, "voice_user_left", old, origin)
		}
		if old.local != nil && old.Conn != s.Conn {
			old.local.push(encode(voiceLeaveFrame{header: header{Cmd: "voice_leave"}, Stream: old.Stream, Reason: voiceMoved}))
		}
	}
	v.putLocked(s)
	v.emitLocked(ctx, "voice_user_joined", s, s.Conn)
	return true
}

// leaveLocked ends the session id names, if it is still the user's.
// origin (the connection that asked, which gets a reply) gets no event;
// a local voice connection other than origin is sent voice_leave with
// reason, unless reason is empty.
func (v *voiceRegistry) leaveLocked(ctx context.Context, id *voiceSession, origin uint64, reason string) bool {
	s := v.users[id.User.ID]
	if !id.same(s) {
		return false
	}
	v.dropLocked(s)
	v.emitLocked(ctx, "voice_user_left", s, origin)
	if s.local != nil && s.Conn != origin && reason != "" {
		s.local.push(encode(voiceLeaveFrame{header: header{Cmd: "voice_leave"}, Stream: s.Stream, Reason: reason}))
	}
	return true
}

// muteLocked sets the muted flag of the session id names, if it is
// still the user's; it reports whether anything changed.
func (v *voiceRegistry) muteLocked(ctx context.Context, id *voiceSession, muted bool, origin uint64) bool {
	s := v.users[id.User.ID]
	if !id.same(s) || s.Muted == muted {
		return false
	}
	s.Muted = muted
	v.emitLocked(ctx, "voice_user_updated", s, origin)
	return true
}

// emitLocked sends an event about s to every connection on this node of
// the circle's members who may view the stream, origin excepted. The
// participants of the stream get the copy with peer_id.
//
// Viewers are checked member by member: streams can be hidden from some
// roles, and voice events are rare. Only members with a connection on
// this node are checked, since other nodes deliver to their own.
func (v *voiceRegistry) emitLocked(ctx context.Context, cmd string, s *voiceSession, origin uint64) {
	viewers := v.viewersLocked(ctx, s.Circle, s.Stream)
	if len(viewers) == 0 {
		return
	}
	ev := voiceEvent{Cmd: cmd, Stream: s.Stream, Circle: s.Circle, User: s.User, Muted: s.Muted}
	plain := encode(ev)
	ev.PeerID = s.PeerID
	withPeer := encode(ev)
	room := v.rooms[s.Stream]
	for _, uid := range viewers {
		f := plain
		if room != nil && room.users[uid] != nil {
			f = withPeer
		}
		v.g.svc.Broker.Publish(userTopic(uid), userControl(opEvent, origin, "", f))
	}
}

// viewersLocked returns the members of circleID with a connection on this
// node who may view streamID.
func (v *voiceRegistry) viewersLocked(ctx context.Context, circleID, streamID string) []string {
	members, err := v.g.svc.Circles.MemberIDs(ctx, circleID)
	if err != nil {
		v.g.log.Warn("voice: members of circle", "circle", circleID, "err", err)
		return nil
	}
	g := v.g
	g.mu.Lock()
	online := members[:0:0]
	for _, id := range members {
		if g.perUser[id] > 0 {
			online = append(online, id)
		}
	}
	g.mu.Unlock()
	viewers := online[:0]
	for _, id := range online {
		p, err := g.svc.Circles.Permissions(ctx, circleID, id, streamID)
		switch {
		case err == nil && p.Has(models.ViewStreams):
			viewers = append(viewers, id)
		case err != nil && !errors.Is(err, circles.ErrForbidden):
			g.log.Warn("voice: permissions of viewer", "circle", circleID, "err", err)
		}
	}
	return viewers
}

// participantsLocked lists a room in join order; peer ids only for a
// participant.
func (v *voiceRegistry) participantsLocked(room *voiceRoom, withPeer bool) []voiceParticipant {
	out := []voiceParticipant{}
	if room == nil {
		return out
	}
	ss := make([]*voiceSession, 0, len(room.users))
	for _, s := range room.users {
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b *voiceSession) int { return cmp.Compare(a.TS, b.TS) })
	for _, s := range ss {
		p := voiceParticipant{User: s.User, Muted: s.Muted}
		if withPeer {
			p.PeerID = s.PeerID
		}
		out = append(out, p)
	}
	return out
}

// Replication between nodes.

// voiceOp is one change sent to the other nodes on voiceTopic, as JSON.
type voiceOp struct {
	Op   string `json:"op"`
	Node uint64 `json:"node"`
	// Session is the session joined (J), left (L), muted or unmuted (M,
	// with its new Muted), or the sender of a signal (S).
	Session *voiceSession `json:"session,omitempty"`
	// Origin is the connection that asked, which had a reply instead of
	// the event; Reason is why the session ended (L).
	Origin uint64 `json:"origin,omitempty"`
	Reason string `json:"reason,omitempty"`
	// To and Data are a signal's target session and payload (S).
	To   *voiceSession   `json:"to,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	// Sessions are a part of the sender's announcement of its own
	// sessions (A); Last marks the announcement's final part.
	Epoch    uint64          `json:"epoch,omitempty"`
	Sessions []*voiceSession `json:"sessions,omitempty"`
	Last     bool            `json:"last,omitempty"`
}

// Voice ops.
const (
	opVoiceJoin     = "J"
	opVoiceLeave    = "L"
	opVoiceMute     = "M"
	opVoiceSignal   = "S"
	opVoiceAnnounce = "A"
	opVoiceHello    = "H" // a node starts serving: announce to it
)

// publishLocked sends op to the other nodes. It is called under v.mu so
// that ops leave in the order this node applied them, which NATS keeps.
func (v *voiceRegistry) publishLocked(op voiceOp) {
	if v.g.svc.Peers == nil {
		return
	}
	op.Node = v.node
	data, err := json.Marshal(op)
	if err != nil {
		v.g.log.Error("voice: encode op", "err", err)
		return
	}
	v.g.svc.Peers.PublishEvent(voiceTopic, data)
}

// Deliver implements broker.Subscriber for voiceTopic: it applies an op
// from another node and delivers the events to this node's connections.
func (v *voiceRegistry) Deliver(_ string, payload []byte) error {
	var op voiceOp
	if err := json.Unmarshal(payload, &op); err != nil {
		v.g.log.Warn("voice: bad op from another node", "err", err)
		return nil
	}
	if op.Node == v.node {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), voiceTimeout)
	defer cancel()
	if s := op.Session; s != nil && op.Op != opVoiceSignal {
		v.warm(ctx, s.Circle, s.User.ID)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.peers[op.Node]
	if p == nil {
		p = &voicePeer{}
		v.peers[op.Node] = p
	}
	p.heard = time.Now()
	switch op.Op {
	case opVoiceJoin:
		if s := op.Session; s != nil && s.Node == op.Node {
			v.joinLocked(ctx, s)
		}
	case opVoiceLeave:
		if op.Session != nil {
			v.leaveLocked(ctx, op.Session, op.Origin, op.Reason)
		}
	case opVoiceMute:
		if op.Session != nil {
			v.muteLocked(ctx, op.Session, op.Session.Muted, op.Origin)
		}
	case opVoiceSignal:
		v.relayLocked(&op)
	case opVoiceAnnounce:
		v.announcedLocked(ctx, p, &op)
	case opVoiceHello:
		v.announceLocked()
	}
	return nil
}

// relayLocked delivers a signal from another node when its target is
// held by a connection of this node and both sessions are, here too,
// current and in the same stream.
func (v *voiceRegistry) relayLocked(op *voiceOp) {
	from, to := op.Session, op.To
	if from == nil || to == nil || len(op.Data) == 0 {
		return
	}
	target := v.users[to.User.ID]
	if !to.same(target) || target.local == nil || !from.same(v.users[from.User.ID]) || from.Stream != target.Stream {
		return
	}
	target.local.push(encode(voiceSignalFrame{Cmd: "voice_signal", Stream: target.Stream, From: from.User, Data: op.Data}))
}

// announceLocked sends this node's own sessions to the other nodes, in
// parts of voiceAnnounceChunk.
func (v *voiceRegistry) announceLocked() {
	if v.g.svc.Peers == nil {
		return
	}
	var own []*voiceSession
	for _, s := range v.users {
		if s.Node == v.node {
			own = append(own, s)
		}
	}
	v.epoch++
	for i := 0; ; i += voiceAnnounceChunk {
		end := min(i+voiceAnnounceChunk, len(own))
		v.publishLocked(voiceOp{Op: opVoiceAnnounce, Epoch: v.epoch, Sessions: own[i:end], Last: end == len(own)})
		if end == len(own) {
			return
		}
	}
}

// announcedLocked applies a part of another node's announcement; after
// the last part, the sessions attributed to that node that it did not
// list end (it ended them, or they moved to a node not yet heard from).
func (v *voiceRegistry) announcedLocked(ctx context.Context, p *voicePeer, op *voiceOp) {
	if p.seen == nil || p.epoch != op.Epoch {
		p.epoch, p.seen = op.Epoch, make(map[string]bool)
	}
	for _, s := range op.Sessions {
		if s == nil || s.Node != op.Node {
			continue
		}
		p.seen[s.User.ID] = true
		if cur := v.users[s.User.ID]; s.same(cur) {
			v.muteLocked(ctx, cur, s.Muted, 0) // repairs a lost mute op
			continue
		}
		v.joinLocked(ctx, s)
	}
	if !op.Last {
		return
	}
	for _, s := range v.sessionsOfLocked(op.Node) {
		if !p.seen[s.User.ID] {
			v.leaveLocked(ctx, s, 0, "")
		}
	}
	p.seen = nil
}

func (v *voiceRegistry) sessionsOfLocked(node uint64) []*voiceSession {
	var out []*voiceSession
	for _, s := range v.users {
		if s.Node == node {
			out = append(out, s)
		}
	}
	return out
}

// announceLoop announces this node's sessions every voiceAnnounceEvery
// and drops those of nodes not heard from for voiceExpireAfter, until
// the gateway closes.
func (v *voiceRegistry) announceLoop() {
	t := time.NewTicker(voiceAnnounceEvery)
	defer t.Stop()
	for {
		select {
		case <-v.g.stop:
			return
		case now := <-t.C:
			v.tick(now)
		}
	}
}

func (v *voiceRegistry) tick(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), voiceTimeout)
	defer cancel()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.announceLocked()
	for id, p := range v.peers {
		if now.Sub(p.heard) < voiceExpireAfter {
			continue
		}
		for _, s := range v.sessionsOfLocked(id) {
			v.leaveLocked(ctx, s, 0, "")
		}
		delete(v.peers, id)
	}
}
