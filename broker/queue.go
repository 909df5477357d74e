package broker

import (
	"context"
	"sync"
)

// defaultQueueMaxBytes is the byte limit when QueueConfig.MaxBytes is 0.
const defaultQueueMaxBytes = 1 << 20

// Ring sizing: the ring starts empty and grows by doubling from minRing
// slots. A ring larger than keepRing slots is released when Pop finds the
// queue empty and has to wait, so an idle queue holds at most keepRing*24
// bytes of ring while a writer that stays busy keeps its ring.
const (
	minRing  = 4
	keepRing = 16
)

// QueueConfig configures a Queue. The zero value is usable.
type QueueConfig struct {
	// MaxBytes bounds the payload bytes held; 0 (or a negative value) means
	// 1 MiB. A Deliver/Push that would exceed it closes the queue with
	// ErrSlowConsumer, unless the queue is empty: one payload of any size
	// is accepted then.
	MaxBytes int
}

// Queue is the bounded outgoing queue of one connection. Publishers push
// into it without blocking (it implements Subscriber); the connection's
// single writer goroutine drains it with Pop. When a push would take it past
// MaxBytes the queue closes itself with ErrSlowConsumer: the policy is to
// disconnect a client that cannot keep up rather than to stall publishers or
// grow without bound.
//
// A Queue is safe for concurrent use. An idle Queue holds no payload buffer.
type Queue struct {
	mu     sync.Mutex
	ring   [][]byte // circular buffer; len(ring) is its capacity
	head   int      // index of the oldest payload
	n      int      // payloads held
	bytes  int      // payload bytes held
	limit  int      // byte limit
	closed bool
	reason error // close reason as given; meaningful once closed

	// waiters counts Pop calls blocked (or about to block) on wake. Push
	// sends a wake-up only when it is non-zero, so a writer that keeps busy
	// costs publishers no channel operation.
	waiters int

	wake chan struct{} // capacity 1: "something changed", never closed
	done chan struct{} // closed on Close
}

// NewQueue returns an empty, open Queue configured by cfg.
func NewQueue(cfg QueueConfig) *Queue {
	limit := cfg.MaxBytes
	if limit <= 0 {
		limit = defaultQueueMaxBytes
	}
	return &Queue{
		limit: limit,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// Deliver implements Subscriber by calling Push(payload).
func (q *Queue) Deliver(_ string, payload []byte) error {
	return q.Push(payload)
}

// Push appends payload to the queue without copying it and without
// blocking. It returns nil on success; ErrSlowConsumer if payload would take
// the queue past MaxBytes, in which case the queue is closed with
// ErrSlowConsumer as its reason (only that one call returns
// ErrSlowConsumer); or ErrClosed once the queue is closed. An empty queue
// takes one payload of any size: the bound is on what a slow reader lets
// pile up, not on the size of a single payload.
func (q *Queue) Push(payload []byte) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.bytes+len(payload) > q.limit && q.n > 0 {
		q.closeLocked(ErrSlowConsumer)
		q.mu.Unlock()
		return ErrSlowConsumer
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = payload
	q.n++
	q.bytes += len(payload)
	wake := q.waiters > 0
	q.mu.Unlock()
	if wake {
		q.signal()
	}
	return nil
}

// grow doubles the ring, unwrapping it. q.mu must be held.
func (q *Queue) grow() {
	size := 2 * len(q.ring)
	if size < minRing {
		size = minRing
	}
	ring := make([][]byte, size)
	k := copy(ring, q.ring[q.head:])
	copy(ring[k:], q.ring[:q.head])
	q.ring = ring
	q.head = 0
}

// signal leaves a wake-up token for a waiting Pop, if none is pending.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Pop blocks until at least one payload is queued, then appends up to max
// (0 means all) queued payloads to dst in FIFO order and returns it.
//
// After Close with a nil reason, Pop keeps returning what is still queued
// (a graceful drain) and then returns ErrClosed. After Close with a non-nil
// reason, queued payloads are discarded and Pop returns that reason at once.
// If ctx ends first Pop returns dst and ctx.Err(). Queued payloads take
// priority over a closed or ended ctx.
//
// Pop is meant for one writer goroutine per queue, but concurrent calls are
// safe.
func (q *Queue) Pop(ctx context.Context, dst [][]byte, max int) ([][]byte, error) {
	waited := false
	for {
		q.mu.Lock()
		if waited {
			q.waiters--
			waited = false
		}
		if q.n > 0 {
			dst = q.popLocked(dst, max)
			more := q.n > 0 && q.waiters > 0
			q.mu.Unlock()
			if more {
				// Pass the wake-up on to another waiting Pop.
				q.signal()
			}
			return dst, nil
		}
		if q.closed {
			err := q.errLocked()
			q.mu.Unlock()
			return dst, err
		}
		// The queue is idle: give back the memory of a past burst.
		if len(q.ring) > keepRing {
			q.ring, q.head = nil, 0
		}
		q.waiters++
		waited = true
		q.mu.Unlock()

		select {
		case <-q.wake:
		case <-q.done:
		case <-ctx.Done():
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
			return dst, ctx.Err()
		}
	}
}

// TryPop is Pop without waiting: it appends up to max (0 means all) queued
// payloads to dst and returns it, or returns dst unchanged when nothing is
// queued. Once the queue is closed and drained it returns the close error,
// as Pop does. A writer that runs only while there is something to write
// (and so holds no goroutine while its connection is idle) drains with
// TryPop.
func (q *Queue) TryPop(dst [][]byte, max int) ([][]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n > 0 {
		return q.popLocked(dst, max), nil
	}
	if q.closed {
		return dst, q.errLocked()
	}
	if len(q.ring) > keepRing {
		q.ring, q.head = nil, 0
	}
	return dst, nil
}

// popLocked moves up to max payloads (0 means all) to dst. q.mu must be held
// and q.n must be positive.
func (q *Queue) popLocked(dst [][]byte, max int) [][]byte {
	k := q.n
	if max > 0 && max < k {
		k = max
	}
	for i := 0; i < k; i++ {
		p := q.ring[q.head]
		q.ring[q.head] = nil // let the payload be collected once written
		q.head++
		if q.head == len(q.ring) {
			q.head = 0
		}
		q.bytes -= len(p)
		dst = append(dst, p)
	}
	q.n -= k
	if q.n == 0 {
		q.head = 0
	}
	return dst
}

// Close closes the queue. The first call's reason wins; later calls do
// nothing. A nil reason means a graceful close: Pop still returns what is
// queued. A non-nil reason discards what is queued. Close wakes any Pop and
// closes the Done channel.
func (q *Queue) Close(reason error) {
	q.mu.Lock()
	q.closeLocked(reason)
	q.mu.Unlock()
}

// closeLocked implements Close. q.mu must be held.
func (q *Queue) closeLocked(reason error) {
	if q.closed {
		return
	}
	q.closed = true
	q.reason = reason
	if reason != nil {
		q.ring, q.head, q.n, q.bytes = nil, 0, 0, 0
	}
	close(q.done)
}

// Done returns a channel that is closed when the queue is closed.
func (q *Queue) Done() <-chan struct{} { return q.done }

// Err returns the reason the queue was closed: nil while it is open,
// ErrClosed if it was closed with a nil reason, otherwise that reason (for
// example ErrSlowConsumer).
func (q *Queue) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		return nil
	}
	return q.errLocked()
}

// errLocked returns the close error of a closed queue. q.mu must be held.
func (q *Queue) errLocked() error {
	if q.reason == nil {
		return ErrClosed
	}
	return q.reason
}

// Len returns the number of payloads and payload bytes currently queued.
func (q *Queue) Len() (payloads, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}
