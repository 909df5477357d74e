package gateway

import (
	"runtime"
	"slices"
	"sync"
)

// writerPool is a few goroutines that write for connections whose
// sockets take writes without waiting (plain TCP on Linux). A publish to
// a 1 000-subscriber stream used to make 1 000 writer goroutines
// runnable at once; every goroutine the store's round trip wakes then
// queued behind them, and a message insert that takes 0.6 ms took
// 8–32 ms during such fan-outs. Workers take connections in turn, write
// what each has queued without waiting, and yield every few connections.
// A connection whose socket will not take it all gets a writer goroutine
// of its own, which waits (conn.writeLoop).
type writerPool struct {
	mu     sync.Mutex
	ready  sync.Cond
	queue  []*conn // connections with frames to write, each at most once (conn.writing)
	head   int
	closed bool
	done   sync.WaitGroup
}

// yieldEvery is how many connections a worker writes for before it lets
// other goroutines run.
const yieldEvery = 32

// newWriterPool starts n workers; Close stops them.
func newWriterPool(n int) *writerPool {
	p := &writerPool{}
	p.ready.L = &p.mu
	p.done.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// add queues c for a worker. The caller owns c's writes (c.writing).
func (p *writerPool) add(c *conn) {
	p.mu.Lock()
	p.queue = append(p.queue, c)
	p.mu.Unlock()
	p.ready.Signal()
}

// addFirst is add for a connection that goes before those waiting.
func (p *writerPool) addFirst(c *conn) {
	p.mu.Lock()
	if p.head > 0 {
		p.head--
		p.queue[p.head] = c
	} else {
		p.queue = slices.Insert(p.queue, 0, c)
	}
	p.mu.Unlock()
	p.ready.Signal()
}

// next waits for a connection to write for; nil once closed and drained.
func (p *writerPool) next() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head == len(p.queue) && !p.closed {
		p.ready.Wait()
	}
	if p.head == len(p.queue) {
		return nil
	}
	c := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	switch {
	case p.head == len(p.queue):
		p.queue, p.head = p.queue[:0], 0
	case p.head > 1024 && p.head*2 > len(p.queue):
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	return c
}

func (p *writerPool) work() {
	defer p.done.Done()
	var frames [][]byte
	for i := 1; ; i++ {
		c := p.next()
		if c == nil {
			return
		}
		frames = c.writeSome(frames[:0])
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

// Close stops the workers once the queue is empty.
func (p *writerPool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ready.Broadcast()
	p.done.Wait()
}
