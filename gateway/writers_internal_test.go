package gateway

import (
	"slices"
	"testing"
)

// TestWriterPoolOrder: connections are written for in the order they were
// added, except that those added with addFirst (an answer to a command,
// behind a publish to a big stream) go before all added with add.
func TestWriterPoolOrder(t *testing.T) {
	a, b, c, d, e := &conn{}, &conn{}, &conn{}, &conn{}, &conn{}
	name := map[*conn]string{a: "a", b: "b", c: "c", d: "d", e: "e"}
	tests := []struct {
		name string
		fill func(p *writerPool)
		want []string
	}{
		{"fifo", func(p *writerPool) { p.add(a); p.add(b); p.add(c) }, []string{"a", "b", "c"}},
		{"first into an empty queue", func(p *writerPool) { p.addFirst(a); p.add(b) }, []string{"a", "b"}},
		{"first before waiting ones", func(p *writerPool) { p.add(a); p.add(b); p.addFirst(c); p.add(d) }, []string{"c", "a", "b", "d"}},
		{"firsts in the order added", func(p *writerPool) { p.add(a); p.addFirst(b); p.add(c); p.addFirst(d) }, []string{"b", "d", "a", "c"}},
		{"first after some were taken", func(p *writerPool) {
			p.add(e)
			p.add(a)
			if got := p.next(); got != e {
				t.Fatalf("first taken: %s, want e", name[got])
			}
			p.add(b)
			p.addFirst(c)
		}, []string{"c", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newWriterPool(0) // no workers: the test takes from the queue
			tt.fill(p)
			p.Close()
			var got []string
			for c := p.next(); c != nil; c = p.next() {
				got = append(got, name[c])
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("written in the order %v, want %v", got, tt.want)
			}
		})
	}
}

// TestConnFIFO: the queue keeps its order across the compaction that
// moves what is left to the front of its slice.
func TestConnFIFO(t *testing.T) {
	conns := make([]*conn, 3000)
	for i := range conns {
		conns[i] = &conn{}
	}
	var f connFIFO
	var got []*conn
	for _, c := range conns[:2500] {
		f.push(c)
	}
	for range 2000 { // past half of the slice: compacts
		got = append(got, f.pop())
	}
	if len(f.q) >= 2500 {
		t.Fatalf("slice of %d after taking 2 000 of 2 500: not compacted", len(f.q))
	}
	for _, c := range conns[2500:] {
		f.push(c)
	}
	for c := f.pop(); c != nil; c = f.pop() {
		got = append(got, c)
	}
	if !slices.Equal(got, conns) {
		t.Fatal("connections came out of the queue in another order than they went in")
	}
	if !f.empty() || len(f.q) != 0 {
		t.Fatalf("queue not empty after taking all: head %d, len %d", f.head, len(f.q))
	}
}
