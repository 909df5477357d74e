package gateway

import (
	"bytes"
	"net"
	"testing"
)

// writeCounter is a net.Conn that records each Write it is given.
type writeCounter struct {
	net.Conn
	writes [][]byte
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestCorkConn(t *testing.T) {
	tests := []struct {
		name   string
		corked bool
		parts  []string
		want   []string // the writes the socket sees
	}{
		{"uncorked writes pass through", false, []string{"a", "bc"}, []string{"a", "bc"}},
		{"corked writes become one", true, []string{"a", "bc", "def"}, []string{"abcdef"}},
		{"cork without writes sends nothing", true, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &writeCounter{}
			c := &corkConn{Conn: w}
			if tc.corked {
				c.cork()
			}
			for _, p := range tc.parts {
				if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", p, n, err)
				}
			}
			if err := c.uncork(); err != nil {
				t.Fatal(err)
			}
			if len(w.writes) != len(tc.want) {
				t.Fatalf("socket writes %q, want %q", w.writes, tc.want)
			}
			for i := range tc.want {
				if string(w.writes[i]) != tc.want[i] {
					t.Fatalf("socket writes %q, want %q", w.writes, tc.want)
				}
			}
			// After uncork, writes pass through again.
			c.Write([]byte("z"))
			if last := w.writes[len(w.writes)-1]; string(last) != "z" {
				t.Fatalf("write after uncork: socket saw %q last, want \"z\"", last)
			}
		})
	}
}
