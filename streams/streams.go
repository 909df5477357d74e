package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// MaxHistory is the most messages one history read returns.
const MaxHistory = 100

// Errors returned by Service.
var (
	ErrNotFound       = errors.New("stream not found")
	ErrForbidden      = errors.New("not allowed")
	ErrEmptyContent   = errors.New("content is empty")
	ErrTooLong        = errors.New("content is too long")
	ErrInvalidContent = errors.New("content must be valid UTF-8 without control characters")
	ErrInvalidNonce   = errors.New("nonce must be at most 64 bytes of printable text")
	ErrInvalidName    = errors.New("name must be 1-100 characters without control characters")
	ErrUserNotFound   = errors.New("user not found")
	ErrSelfDM         = errors.New("cannot open a DM with yourself")
	ErrClosed         = errors.New("streams service is closed")
	ErrBadRange       = errors.New("before, after and limit must not be negative")
	ErrInvalidReply   = errors.New("reply_to must name a message of this stream that is not deleted")
	ErrContention     = errors.New("too many writers raced for this stream's next seq; retry with the same nonce")
	ErrNotText        = errors.New("this stream holds no messages (a voice stream or a separator)")
)

// Circles is what Service needs to know about circles.
type Circles interface {
	// Require returns the circle when userID is a member holding every
	// permission of need, in streamID when it is not empty.
	Require(ctx context.Context, circleID, userID, streamID string, need models.Permission) (*models.Circle, error)
	// Permissions returns what userID may do in circleID, and in
	// streamID when it is not empty.
	Permissions(ctx context.Context, circleID, userID, streamID string) (models.Permission, error)
	// RoleNames maps the lower-cased names of a circle's roles (the
	// default one left out) to their ids.
	RoleNames(ctx context.Context, circleID string) (map[string]string, error)
	// HasEmoji reports whether emojiID is one of a circle's custom
	// emoji.
	HasEmoji(ctx context.Context, circleID, emojiID string) (bool, error)
}

// Cluster is how a Service exchanges stored messages with other nodes
// (package cluster implements it over NATS).
type Cluster interface {
	// PublishMessage tells the other nodes that m was stored.
	PublishMessage(m *models.Message)
	// SubscribeStream delivers messages other nodes store in a stream
	// until the returned function is called. It returns once no later
	// publication can be missed.
	SubscribeStream(streamID string, fn func(*models.Message)) (func(), error)
}

// Config configures a Service.
type Config struct {
	// MaxMessageLength is the longest content in characters; 0 means 4000.
	MaxMessageLength int
	// MaxBatch bounds the messages stored in one insert; 0 means 128
	// (larger batches were no cheaper per message on the embedded store).
	MaxBatch int
	// QueueLength is how many posts may wait for the committer; 0 means 4096.
	QueueLength int
	// OnStored is called with every stored message, in seq order per
	// stream, exactly once, while the stream's order is held (see Follow).
	// It must not block.
	OnStored func(msg *models.Message)
	// OnChanged is called with every change to a stored message (edit,
	// delete, reaction) made on this node, while the stream's order is
	// held and after the message's own OnStored, in the order the changes
	// were stored. It must not block.
	OnChanged func(c *Change)
	// Cluster, when set, shares stored messages with other nodes and
	// brings theirs; nil means this node is alone.
	Cluster Cluster
	// Hooks may rewrite or reject each message before it is stored.
	Hooks hooks.Hooks
	// SeqFlushInterval is how often streams.last_seq is written; 0 means
	// 5s. Close writes it once more.
	SeqFlushInterval time.Duration
	// Logger receives errors the caller cannot see; nil discards them.
	Logger *slog.Logger
	// OnBatch, when set, is called by the committer after each insert of
	// a batch with the messages in it, how many were stored (fewer when
	// the insert failed part-way), how long the insert took and its
	// error. It feeds metrics and must not block.
	OnBatch func(size, stored int, took time.Duration, err error)
	// PollMinExpiry is the shortest poll a poll_create may ask for; 0
	// means a minute. Tests lower it to see polls expire.
	PollMinExpiry time.Duration
	// PollSweepInterval is how often the node reads the open polls of
	// every node to close those past their expiry whose own node stopped
	// (polls.go); 0 means 30s. It is also read once at start.
	PollSweepInterval time.Duration
	// Embeds, when its Fetch is set, unfurls the links of the messages
	// this node stores (link embeds, embeds.go).
	Embeds EmbedsConfig
}

// Service implements streams on a Store. It is safe for concurrent use.
type Service struct {
	cfg     Config
	store   store.Store
	circles Circles
	now     func() time.Time
	log     *slog.Logger

	mu     sync.Mutex
	states map[string]*state // stream id → loaded stream

	readMu [readLocks]sync.Mutex // see readLock

	dirtyMu  sync.Mutex
	dirty    map[string]int64 // stream id → last_seq not yet written
	posts    chan *post
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // committer ended
	flushed  chan struct{} // last last_seq written

	mentioned    chan *models.Message // stored messages with mentions to count
	mentionsDone chan struct{}        // mentionLoop ended

	pollMu    sync.Mutex
	polls     pollQueue           // open polls to close at expiry; see pollLoop
	pollWake  chan struct{}       // a poll was queued
	pollIDs   map[string]struct{} // message ids in polls, so a sweep queues each once
	pollsDone chan struct{}       // pollLoop ended

	embedder *embedder // link embeds (embeds.go); nil when off
}

// state is a loaded stream. mu is held while a message is handed to
// OnStored and while a follower joins, which is what makes Follow exact.
type state struct {
	ready  chan struct{}
	err    error
	stream *models.Stream

	mu       sync.Mutex
	lastSeq  int64                     // newest seq handed to OnStored; all before it were too
	stored   int64                     // newest seq known stored, by any node (>= lastSeq)
	held     map[int64]*models.Message // stored elsewhere, waiting for an earlier seq
	gapTimer *time.Timer
	recent   recent // ids of the newest delivered messages

	// changeMu serializes changes to the stream's stored messages
	// (change.go); it is taken before mu, never while holding it.
	changeMu sync.Mutex

	// Cluster interest: the first local follower subscribes to the other
	// nodes' news of this stream, the last one unsubscribes.
	followMu  sync.Mutex
	followers int
	unfollow  func()
}

// NewService starts a Service and its committer. Close stops it.
func NewService(st store.Store, circles Circles, cfg Config) *Service {
	if cfg.MaxMessageLength == 0 {
		cfg.MaxMessageLength = 4000
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 128
	}
	if cfg.QueueLength == 0 {
		cfg.QueueLength = 4096
	}
	if cfg.SeqFlushInterval == 0 {
		cfg.SeqFlushInterval = 5 * time.Second
	}
	if cfg.OnStored == nil {
		cfg.OnStored = func(*models.Message) {}
	}
	if cfg.OnChanged == nil {
		cfg.OnChanged = func(*Change) {}
	}
	if cfg.PollMinExpiry <= 0 {
		cfg.PollMinExpiry = time.Minute
	}
	if cfg.PollSweepInterval <= 0 {
		cfg.PollSweepInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg:     cfg,
		store:   st,
		circles: circles,
		now:     models.Now,
		log:     cfg.Logger,
		states:  make(map[string]*state),
		dirty:   make(map[string]int64),
		posts:   make(chan *post, cfg.QueueLength),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		flushed: make(chan struct{}),

		mentioned:    make(chan *models.Message, mentionQueue),
		mentionsDone: make(chan struct{}),

		pollWake:  make(chan struct{}, 1),
		pollIDs:   make(map[string]struct{}),
		pollsDone: make(chan struct{}),
	}
	s.embedder = s.startEmbeds(cfg.Embeds)
	go s.commitLoop()
	go s.pollLoop()
	go s.mentionLoop()
	go s.flushLoop()
	return s
}

// Close stops accepting posts, stores those already accepted and waits for
// the committer to finish or ctx to end.
func (s *Service) Close(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	if err := s.closeEmbeds(ctx); err != nil {
		return fmt.Errorf("close streams: %w", err)
	}
	select {
	case <-s.pollsDone:
	case <-ctx.Done():
		return fmt.Errorf("close streams: %w", ctx.Err())
	}
	select {
	case <-s.flushed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close streams: %w", ctx.Err())
	}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// load returns the stream's state, reading it from the store on first use.
func (s *Service) load(ctx context.Context, id string) (*state, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	s.mu.Lock()
	st, ok := s.states[id]
	if !ok {
		st = &state{ready: make(chan struct{})}
		s.states[id] = st
	}
	s.mu.Unlock()
	if ok {
		select {
		case <-st.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if st.err != nil {
			return nil, st.err
		}
		return st, nil
	}
	st.err = s.fill(ctx, st, id)
	if st.err != nil {
		// Failures are not cached: the next caller asks the store again.
		s.mu.Lock()
		delete(s.states, id)
		s.mu.Unlock()
	}
	close(st.ready)
	if st.err != nil {
		return nil, st.err
	}
	return st, nil
}

func (s *Service) fill(ctx context.Context, st *state, id string) error {
	stream, err := s.store.Stream(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("load stream: %w", err)
	}
	// last_seq is written a moment after the messages, so after a crash
	// it may lag them. Reading the true head here would scan the stream's
	// messages (the embedded store has no index-backed sort); instead the
	// first post past a stale head meets the unique index, catches up
	// (commit), and the messages it skipped are delivered from the store
	// (fillGap).
	st.stream = stream
	st.lastSeq = stream.LastSeq
	st.stored = st.lastSeq
	return nil
}

// Access returns the stream when userID may view it (Allowed with
// ViewStreams).
func (s *Service) Access(ctx context.Context, userID, streamID string) (*models.Stream, error) {
	return s.Allowed(ctx, userID, streamID, models.ViewStreams)
}

// Allowed returns the stream when userID may view it and holds every
// permission of need in it: in a circle's stream as the circle's roles
// and the stream's overwrites say, in a DM as a participant (who holds
// models.DefaultPermissions). It returns ErrNotFound for an unknown
// stream, ErrForbidden otherwise.
func (s *Service) Allowed(ctx context.Context, userID, streamID string, need models.Permission) (*models.Stream, error) {
	st, err := s.check(ctx, userID, streamID, need)
	if err != nil {
		return nil, err
	}
	out := *st.stream
	st.mu.Lock()
	out.LastSeq = st.lastSeq
	st.mu.Unlock()
	return &out, nil
}

// text is check for a command on messages: the stream must hold them.
func (s *Service) text(ctx context.Context, userID, streamID string, need models.Permission) (*state, error) {
	st, err := s.check(ctx, userID, streamID, need)
	if err != nil {
		return nil, err
	}
	if k := st.stream.Kind; k != models.Channel && k != models.DM && k != models.Thread {
		return nil, ErrNotText
	}
	return st, nil
}

// check is Allowed returning the loaded state.
func (s *Service) check(ctx context.Context, userID, streamID string, need models.Permission) (*state, error) {
	st, err := s.load(ctx, streamID)
	if err != nil {
		return nil, err
	}
	if st.stream.Kind == models.DM {
		if !slices.Contains(st.stream.Members, userID) || !models.DefaultPermissions.Has(need) {
			return nil, ErrForbidden
		}
		return st, nil
	}
	if _, err := s.circles.Require(ctx, st.stream.CircleID, userID, streamID, need|models.ViewStreams); err != nil {
		return nil, err
	}
	return st, nil
}

// Drop forgets a deleted stream: the next use reads the store again
// (and finds nothing).
func (s *Service) Drop(streamID string) {
	s.mu.Lock()
	delete(s.states, streamID)
	s.mu.Unlock()
}

// Current raises st.LastSeq to the seq the service has published, which
// may be ahead of the stored last_seq for a moment after each batch.
func (s *Service) Current(st *models.Stream) {
	s.mu.Lock()
	state := s.states[st.ID]
	s.mu.Unlock()
	if state == nil {
		return
	}
	select {
	case <-state.ready:
	default:
		return
	}
	if state.err != nil {
		return
	}
	state.mu.Lock()
	st.LastSeq = max(st.LastSeq, state.lastSeq)
	state.mu.Unlock()
}

// dmNamespace makes DM stream ids: the same two people always get the
// same id, so opening a DM twice, even at once, finds one stream.
var dmNamespace = uuid.MustParse("6f7368a1-0000-4000-8000-00000000d0d0")

// DMID returns the id of the DM stream between two users.
func DMID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return uuid.NewSHA1(dmNamespace, []byte(a+"|"+b)).String()
}

// OpenDM returns the DM stream between user and the user named peer,
// creating it the first time (created reports that). Peer is filled in.
func (s *Service) OpenDM(ctx context.Context, user *models.User, peer string) (dm *models.Stream, created bool, err error) {
	other, err := s.store.UserByName(ctx, peer)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, ErrUserNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("open dm: %w", err)
	}
	if other.ID == user.ID {
		return nil, false, ErrSelfDM
	}
	members := []string{user.ID, other.ID}
	slices.Sort(members)
	dm = &models.Stream{ID: DMID(user.ID, other.ID), Kind: models.DM, Members: members, CreatedAt: s.now()}
	err = s.store.CreateStream(ctx, dm)
	switch {
	case err == nil:
		created = true
	case !errors.Is(err, store.ErrDuplicate):
		return nil, false, fmt.Errorf("open dm: %w", err)
	}
	out, err := s.Access(ctx, user.ID, dm.ID)
	if err != nil {
		return nil, false, err
	}
	ref := other.Ref()
	out.Peer = &ref
	return out, created, nil
}

// DMsOf lists the user's DMs, each with Peer filled in.
func (s *Service) DMsOf(ctx context.Context, userID string) ([]*models.Stream, error) {
	dms, err := s.store.DMsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	var peers []string
	for _, dm := range dms {
		peers = append(peers, peerOf(dm, userID))
	}
	users, err := s.store.UsersByID(ctx, peers)
	if err != nil {
		return nil, err
	}
	for _, dm := range dms {
		if u := users[peerOf(dm, userID)]; u != nil {
			ref := u.Ref()
			dm.Peer = &ref
		}
	}
	return dms, nil
}

func peerOf(dm *models.Stream, userID string) string {
	for _, m := range dm.Members {
		if m != userID {
			return m
		}
	}
	return userID
}

// History returns up to limit messages of a stream the user may read,
// oldest first: the first ones with seq > *after when after is set (0
// reads from the start), otherwise the newest ones, before `before` when
// that is set. Limit is clamped to 1..MaxHistory; 0 means 50.
func (s *Service) History(ctx context.Context, userID, streamID string, after *int64, before int64, limit int) ([]*models.Message, error) {
	if after != nil && *after < 0 || before < 0 || limit < 0 {
		return nil, ErrBadRange
	}
	var from int64
	if after != nil {
		from = *after
	}
	st, err := s.text(ctx, userID, streamID, models.ReadHistory)
	if err != nil {
		return nil, err
	}
	limit = historyLimit(limit)
	msgs, err := s.readRange(ctx, st, store.HistoryQuery{StreamID: streamID, After: from, Before: before, Limit: limit, Newest: after == nil})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return msgs, nil
}

// historyLimit clamps a history page size to 1..MaxHistory; 0 means 50.
func historyLimit(limit int) int {
	switch {
	case limit <= 0:
		return 50
	case limit > MaxHistory:
		return MaxHistory
	}
	return limit
}

// Page is a contiguous run of a stream's messages, oldest first, with how
// many of the stream's messages come before and after it. Seqs are
// gap-free from 1, so the counts are read off seqs (tombstones count).
type Page struct {
	Messages []*models.Message
	// Before is the number of messages older than the page; After the
	// number newer, up to the newest seq this node knows of (in a cluster
	// it may miss messages stored elsewhere a moment ago).
	Before, After int64
}

// HistoryAround returns the page of up to limit messages around the
// message msgID of a stream the user may read: as many before it as
// after it (one more after for an even limit), filled from the other
// side near either end of the stream; the message itself is included,
// deleted or not. ErrMessageNotFound when the stream has no such message.
// Limit is clamped like History's.
func (s *Service) HistoryAround(ctx context.Context, userID, streamID, msgID string, limit int) (*Page, error) {
	if limit < 0 {
		return nil, ErrBadRange
	}
	st, err := s.text(ctx, userID, streamID, models.ReadHistory)
	if err != nil {
		return nil, err
	}
	if msgID == "" || len(msgID) > 64 {
		return nil, ErrMessageNotFound
	}
	m, err := s.store.Message(ctx, msgID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrMessageNotFound
	case err != nil:
		return nil, fmt.Errorf("history around: %w", err)
	case m.StreamID != streamID:
		return nil, ErrMessageNotFound
	}
	limit = historyLimit(limit)
	// Everything within limit-1 of the message on both sides, so the
	// page can be filled from one side when the other runs short.
	span := int64(limit - 1)
	msgs, err := s.readRange(ctx, st, store.HistoryQuery{StreamID: streamID, After: max(0, m.Seq-span-1), Before: m.Seq + span + 1, Limit: 2*limit - 1})
	if err != nil {
		return nil, fmt.Errorf("history around: %w", err)
	}
	i := slices.IndexFunc(msgs, func(x *models.Message) bool { return x.Seq == m.Seq })
	if i < 0 {
		return nil, ErrMessageNotFound // the stream was deleted meanwhile
	}
	start, end := window(len(msgs), i, limit)
	return s.page(st, msgs[start:end], msgs[len(msgs)-1].Seq), nil
}

// window picks limit consecutive items out of n that include item i,
// (limit-1)/2 of them before it when there are that many, and returns
// their bounds [start, end).
func window(n, i, limit int) (start, end int) {
	start = max(0, i-(limit-1)/2)
	end = start + limit
	if end > n {
		end = n
		start = max(0, n-limit)
	}
	return start, end
}

// HistoryAt returns up to limit messages of a stream the user may read,
// oldest first, from the first one (in seq order) created at or after
// at; the page is contiguous in seqs, so it pages on with History's
// after. Limit is clamped like History's.
func (s *Service) HistoryAt(ctx context.Context, userID, streamID string, at time.Time, limit int) (*Page, error) {
	if limit < 0 {
		return nil, ErrBadRange
	}
	st, err := s.text(ctx, userID, streamID, models.ReadHistory)
	if err != nil {
		return nil, err
	}
	limit = historyLimit(limit)
	msgs, err := s.store.History(ctx, store.HistoryQuery{StreamID: streamID, Since: at, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("history at: %w", err)
	}
	if len(msgs) == 0 {
		return s.page(st, nil, 0), nil
	}
	// Times follow seqs on one node, so the messages since at are usually
	// the run of seqs wanted. Clocks of several nodes may disagree, though:
	// a later seq with an earlier time would leave a hole, and then the
	// run is read by seq from the first match.
	first, last := msgs[0].Seq, msgs[len(msgs)-1].Seq
	if last-first != int64(len(msgs)-1) || len(msgs) < limit && last < s.head(st) {
		if msgs, err = s.store.History(ctx, store.HistoryQuery{StreamID: streamID, After: first - 1, Limit: limit}); err != nil {
			return nil, fmt.Errorf("history at: %w", err)
		}
	}
	var seen int64
	if len(msgs) > 0 {
		seen = msgs[len(msgs)-1].Seq
	}
	return s.page(st, msgs, seen), nil
}

// head is the newest seq this node knows of in a stream: published here,
// or stored by any node.
func (s *Service) head(st *state) int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return max(st.lastSeq, st.stored)
}

// page counts the messages on either side of msgs; seen is the highest
// seq read from the store, which may be ahead of head for a moment.
func (s *Service) page(st *state, msgs []*models.Message, seen int64) *Page {
	head := max(s.head(st), seen)
	if len(msgs) == 0 {
		return &Page{Messages: []*models.Message{}, Before: head}
	}
	return &Page{
		Messages: msgs,
		Before:   msgs[0].Seq - 1,
		After:    max(0, head-msgs[len(msgs)-1].Seq),
	}
}

// Range returns stored messages with after < seq <= upTo, oldest first, at
// most limit. It checks no access: it serves recovery after Follow.
func (s *Service) Range(ctx context.Context, streamID string, after, upTo int64, limit int) ([]*models.Message, error) {
	st, err := s.load(ctx, streamID)
	if err != nil {
		return nil, err
	}
	msgs, err := s.readRange(ctx, st, store.HistoryQuery{StreamID: streamID, After: after, Before: upTo + 1, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	return msgs, nil
}
