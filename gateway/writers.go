package gateway

import (
	"runtime"
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
// of its own, which waits (conn.writeLoop). A connection is in at most
// one of the queues, at most once (conn.writing).
type writerPool struct {
	mu     sync.Mutex
	ready  sync.Cond
	first  connFIFO // connections with a command's reply to write
	rest   connFIFO // connections with other frames to write
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
func (p *writerPool) add(c *conn) { p.push(&p.rest, c) }

// addFirst is add for a connection that goes before those added with
// add: one with a reply to its own command, which should not wait
// behind a publish to a big stream.
func (p *writerPool) addFirst(c *conn) { p.push(&p.first, c) }

func (p *writerPool) push(f *connFIFO, c *conn) {
	p.mu.Lock()
	f.push(c)
	p.mu.Unlock()
	p.ready.Signal()
}

// next waits for a connection to write for; nil once closed and drained.
func (p *writerPool) next() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.first.empty() && p.rest.empty() && !p.closed {
		p.ready.Wait()
	}
	if c := p.first.pop(); c != nil {
		return c
	}
	return p.rest.pop()
}

// connFIFO is a queue of connections that reuses its slice.
type connFIFO struct {
	q    []*conn
	head int
}

func (f *connFIFO) empty() bool { return f.head == len(f.q) }

func (f *connFIFO) push(c *conn) { f.q = append(f.q, c) }

// pop takes the oldest connection; nil when empty.
func (f *connFIFO) pop() *conn {
	if f.empty() {
		return nil
	}
	c := f.q[f.head]
	f.q[f.head] = nil
	f.head++
	switch {
	case f.head == len(f.q):
		f.q, f.head = f.q[:0], 0
	case f.head > 1024 && f.head*2 > len(f.q):
		// Most of the slice is taken: move the rest down rather than
		// let append grow it.
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q, f.head = f.q[:n], 0
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
