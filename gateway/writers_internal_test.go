package gateway

import (
	"slices"
	"testing"
)

// TestWriterPoolOrder: connections are written for in the order they were
// added, except that addFirst puts one before all that wait (an answer to
// its own command, behind a publish to a big stream).
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
		{"first into room left by a taken one", func(p *writerPool) {
			p.add(e) // taken below, which leaves room at the head
			p.add(a)
			p.add(b)
			if got := p.next(); got != e {
				t.Fatalf("first taken: %s, want e", name[got])
			}
			p.addFirst(c)
			p.addFirst(d)
		}, []string{"d", "c", "a", "b"}},
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
