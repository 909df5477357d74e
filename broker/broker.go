package broker

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ErrSlowConsumer is returned by the one Queue.Push (or Queue.Deliver) call
// that would have taken the queue past its byte limit. That call closes the
// queue with ErrSlowConsumer as its reason; later pushes return ErrClosed.
var ErrSlowConsumer = errors.New("broker: slow consumer")

// ErrClosed is returned when using a closed Queue or a closed Broker.
var ErrClosed = errors.New("broker: closed")

// defaultShards is the number of subscription shards when Config.Shards is 0.
const defaultShards = 64

// cacheLine is the padding unit that keeps shards on separate cache lines.
// 128 rather than 64 bytes because adjacent-line prefetching pairs lines.
const cacheLine = 128

// Config configures a Broker. The zero value is usable; zero fields mean
// documented defaults.
type Config struct {
	// Shards is the number of subscription shards; 0 (or a negative value)
	// means 64. Topics pick a shard by FNV-1a hash of the topic name.
	Shards int
}

// Subscriber receives payloads published to the topics it is subscribed to.
//
// Deliver must never block: it accepts the payload (returns nil) or refuses
// it (returns an error) at once. It may be called concurrently by different
// publishers. The payload is shared with every other subscriber of the topic
// and must not be modified. If Deliver returns ErrClosed (or an error wrapping
// it) the broker cancels that subscription.
type Subscriber interface {
	Deliver(topic string, payload []byte) error
}

// Broker routes published payloads to the subscribers of a topic. It is safe
// for concurrent use. Publishing never blocks: it calls each subscriber's
// non-blocking Deliver with the same payload slice.
type Broker struct {
	shards []shard
	closed atomic.Bool
}

// shard owns the topics whose names hash to it.
//
// Lock rules: mu guards topics, subs and every topic's live/dead fields and
// its slice array beyond the published length. Publish holds mu (read) only
// while looking up a topic, never while calling Deliver.
type shard struct {
	shardState
	_ [cacheLine - unsafe.Sizeof(shardState{})%cacheLine]byte
}

type shardState struct {
	mu     sync.RWMutex
	topics map[string]*topic
	subs   int // live subscriptions in this shard; guarded by mu

	// Counters live in the shard to avoid a single contended cache line.
	published     atomic.Uint64
	delivered     atomic.Uint64
	dropped       atomic.Uint64
	slowConsumers atomic.Uint64
}

// topic holds the subscribers of one topic as a copy-on-write snapshot.
//
// Invariants (all changes under the shard's mu):
//   - a published snapshot's elements [0:len) are never written again, so
//     Publish may iterate it with no lock;
//   - Subscribe appends in place (writing only past every published len),
//     so subscribing is amortised O(1);
//   - Cancel only marks the Subscription canceled; the slice is compacted
//     into a fresh array once canceled entries outnumber live ones, so
//     cancelling is amortised O(1) as well.
type topic struct {
	name string
	subs atomic.Pointer[[]*Subscription]
	live int // guarded by shard mu
	dead int // canceled entries still in the snapshot; guarded by shard mu
}

// Subscription is one subscriber's registration on one topic. It is returned
// by Broker.Subscribe and ends with Cancel.
type Subscription struct {
	sub      Subscriber
	sh       *shard
	t        *topic
	canceled atomic.Bool
}

// Stats is a snapshot of a Broker's counters. Each field is read atomically,
// but the fields are not read at one instant, so under load they may be
// slightly inconsistent with each other.
type Stats struct {
	// Topics is the current number of topics with at least one subscriber.
	Topics int `json:"topics"`
	// Subscribers is the current number of live subscriptions.
	Subscribers int `json:"subscribers"`
	// Published counts Publish calls, including those that reached nobody.
	Published uint64 `json:"published"`
	// Delivered counts payloads accepted by subscribers.
	Delivered uint64 `json:"delivered"`
	// Dropped counts payloads refused by subscribers, whatever the error.
	Dropped uint64 `json:"dropped"`
	// SlowConsumers counts Deliver calls that returned ErrSlowConsumer.
	SlowConsumers uint64 `json:"slow_consumers"`
}

// New returns a Broker configured by cfg.
func New(cfg Config) *Broker {
	n := cfg.Shards
	if n <= 0 {
		n = defaultShards
	}
	b := &Broker{shards: make([]shard, n)}
	for i := range b.shards {
		b.shards[i].topics = make(map[string]*topic)
	}
	return b
}

// shardFor returns the shard that owns topic, chosen by 32-bit FNV-1a.
// The hash is computed inline so that no []byte conversion is allocated.
func (b *Broker) shardFor(topic string) *shard {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= prime32
	}
	return &b.shards[h%uint32(len(b.shards))]
}

// Subscribe registers s to receive every payload later published to topic.
// Subscribing the same Subscriber twice yields two subscriptions and two
// deliveries per payload. It returns ErrClosed after Close. It panics if s is
// nil.
func (b *Broker) Subscribe(topicName string, s Subscriber) (*Subscription, error) {
	if s == nil {
		panic("broker: Subscribe with nil Subscriber")
	}
	sh := b.shardFor(topicName)
	sub := &Subscription{sub: s, sh: sh}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	// Checked under the shard lock: Close sets closed before it sweeps the
	// shards, so either Close sees this subscription or we see closed.
	if b.closed.Load() {
		return nil, ErrClosed
	}
	t := sh.topics[topicName]
	if t == nil {
		t = &topic{name: topicName}
		sh.topics[topicName] = t
	}
	sub.t = t
	var cur []*Subscription
	if p := t.subs.Load(); p != nil {
		cur = *p
	}
	// append writes past len(cur) only (or into a fresh array), which no
	// published snapshot covers.
	next := append(cur, sub)
	t.subs.Store(&next)
	t.live++
	sh.subs++
	return sub, nil
}

// Topic returns the topic the subscription was made for.
func (s *Subscription) Topic() string { return s.t.name }

// Cancel ends the subscription: Publish calls that start after Cancel returns
// do not deliver to it (one already iterating may still deliver once). Cancel
// is idempotent and safe to call from any goroutine, including from inside
// the subscriber's own Deliver.
func (s *Subscription) Cancel() {
	if !s.canceled.CompareAndSwap(false, true) {
		return
	}
	sh := s.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := s.t
	if sh.topics[t.name] != t {
		// Already swept by Broker.Close.
		return
	}
	t.live--
	t.dead++
	sh.subs--
	if t.live == 0 {
		delete(sh.topics, t.name)
		t.subs.Store(nil)
		return
	}
	if t.dead > t.live {
		t.compact()
	}
}

// compact replaces the snapshot with a fresh one holding only live
// subscriptions. The shard lock must be held.
func (t *topic) compact() {
	cur := *t.subs.Load()
	next := make([]*Subscription, 0, t.live+t.live/4+1)
	for _, s := range cur {
		if !s.canceled.Load() {
			next = append(next, s)
		}
	}
	// A Cancel whose CAS has won but which has not yet taken the lock is
	// left out here yet still counted in live; when it gets the lock it
	// counts itself in dead, which only makes the next compaction a little
	// early.
	t.dead = 0
	t.subs.Store(&next)
}

// Publish delivers payload to every current subscriber of topic and returns
// how many accepted it. It never blocks on a subscriber and holds no lock
// while calling Deliver, so subscribers may Subscribe, Cancel or Publish from
// inside Deliver. The same payload slice goes to every subscriber; neither
// the caller nor the subscribers may modify it afterwards. After Close it
// returns 0.
func (b *Broker) Publish(topicName string, payload []byte) int {
	sh := b.shardFor(topicName)
	sh.published.Add(1)
	if b.closed.Load() {
		return 0
	}
	sh.mu.RLock()
	t := sh.topics[topicName]
	sh.mu.RUnlock()
	if t == nil {
		return 0
	}
	p := t.subs.Load()
	if p == nil {
		return 0
	}
	var delivered, dropped, slow uint64
	for _, s := range *p {
		if s.canceled.Load() {
			continue
		}
		err := s.sub.Deliver(topicName, payload)
		if err == nil {
			delivered++
			continue
		}
		dropped++
		switch {
		case errors.Is(err, ErrSlowConsumer):
			slow++
		case errors.Is(err, ErrClosed):
			// Lazily drop a subscriber that has gone away. No lock is held
			// here, so taking the shard lock in Cancel cannot deadlock.
			s.Cancel()
		}
	}
	if delivered != 0 {
		sh.delivered.Add(delivered)
	}
	if dropped != 0 {
		sh.dropped.Add(dropped)
	}
	if slow != 0 {
		sh.slowConsumers.Add(slow)
	}
	return int(delivered)
}

// Stats returns a snapshot of the broker's counters.
func (b *Broker) Stats() Stats {
	var st Stats
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.RLock()
		st.Topics += len(sh.topics)
		st.Subscribers += sh.subs
		sh.mu.RUnlock()
		st.Published += sh.published.Load()
		st.Delivered += sh.delivered.Load()
		st.Dropped += sh.dropped.Load()
		st.SlowConsumers += sh.slowConsumers.Load()
	}
	return st
}

// Close cancels every subscription. Afterwards Publish returns 0 and
// Subscribe returns ErrClosed. Close does not close the subscribers
// themselves (for example Queues): their owners do that. Close is
// idempotent.
func (b *Broker) Close() {
	if !b.closed.CompareAndSwap(false, true) {
		return
	}
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for _, t := range sh.topics {
			if p := t.subs.Load(); p != nil {
				for _, s := range *p {
					s.canceled.Store(true)
				}
			}
			t.subs.Store(nil)
			t.live, t.dead = 0, 0
		}
		clear(sh.topics)
		sh.subs = 0
		sh.mu.Unlock()
	}
}
