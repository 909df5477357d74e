package gateway

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller lets idle connections wait for their next frame without a
// goroutine: a parked connection's socket is watched by one epoll
// instance, and a reader goroutine starts only when bytes arrive. A
// goroutine parked in a read costs its stack (4 KiB) for as long as the
// connection is idle, which is most of a chat connection's life.
//
// Go's own network poller watches the same sockets (edge-triggered, in
// its own epoll instance); this one arms each socket for one event at a
// time (EPOLLONESHOT), level-triggered, so bytes that arrived before it
// was armed still wake it.
type poller struct {
	epfd int
	wake int // an eventfd that ends wait

	mu    sync.Mutex
	conns map[uint64]*conn // by token
	next  uint64

	done      chan struct{} // wait has returned
	failed    atomic.Bool   // wait gave up (see fail)
	closeOnce sync.Once
}

// newPoller starts the poller's goroutine; Close stops it.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	// Token 0 is the eventfd.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	p := &poller{epfd: epfd, wake: wake, conns: make(map[uint64]*conn), next: 1, done: make(chan struct{})}
	go p.wait()
	return p, nil
}

// pollable returns the socket of nc that the poller can watch, or nil.
// Only plain sockets qualify: a TLS connection may hold decrypted bytes
// the socket no longer shows.
func pollable(nc net.Conn) syscall.RawConn {
	var rc syscall.RawConn
	var err error
	switch t := nc.(type) {
	case *net.TCPConn:
		rc, err = t.SyscallConn()
	case *net.UnixConn:
		rc, err = t.SyscallConn()
	}
	if err != nil {
		return nil
	}
	return rc
}

// errNotArmed reports a socket the poller could not watch (it is
// closing): the caller reads on instead.
var errNotArmed = errors.New("gateway: socket not armed")

// add registers c's socket, disarmed until park.
func (p *poller) add(c *conn, rc syscall.RawConn) error {
	if p.failed.Load() {
		return errNotArmed
	}
	p.mu.Lock()
	token := p.next
	p.next++
	p.mu.Unlock()
	if err := p.ctl(rc, unix.EPOLL_CTL_ADD, token); err != nil {
		return err
	}
	p.mu.Lock()
	p.conns[token] = c
	p.mu.Unlock()
	c.token = token
	return nil
}

// park arms c's socket for one wake-up: c.wakeReader runs when it has
// bytes to read (or has closed).
func (p *poller) park(c *conn) error {
	if p.failed.Load() {
		return errNotArmed
	}
	return p.ctl(c.rc, unix.EPOLL_CTL_MOD, c.token)
}

// ctl adds or re-arms a socket. Registered with ADD, a socket is armed
// only for hang-ups, which epoll always reports.
func (p *poller) ctl(rc syscall.RawConn, op int, token uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLONESHOT, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
	if op == unix.EPOLL_CTL_MOD {
		ev.Events |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	var opErr error
	err := rc.Control(func(fd uintptr) {
		opErr = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err != nil || opErr != nil {
		return errNotArmed // the socket is closing
	}
	return nil
}

// forget drops a connection that has ended. Its socket left the epoll
// set when it was closed; an event already taken for it finds nothing.
func (p *poller) forget(c *conn) {
	if c.token == 0 {
		return
	}
	p.mu.Lock()
	delete(p.conns, c.token)
	p.mu.Unlock()
}

// wait dispatches events until Close.
func (p *poller) wait() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	var ready []*conn
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.fail()
			return
		}
		p.mu.Lock()
		ready = ready[:0]
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				p.mu.Unlock()
				return // Close
			}
			if c := p.conns[token]; c != nil {
				ready = append(ready, c)
			}
		}
		p.mu.Unlock()
		for _, c := range ready {
			c.wakeReader()
		}
		clear(ready) // hold no ended connection until the next wake-up
	}
}

// fail gives up polling after an error epoll should never return: every
// parked connection gets a reader again, and from now on readers wait in
// their reads (park and add refuse), so none is left unread.
func (p *poller) fail() {
	p.failed.Store(true)
	p.mu.Lock()
	parked := make([]*conn, 0, len(p.conns))
	for _, c := range p.conns {
		parked = append(parked, c)
	}
	p.mu.Unlock()
	for _, c := range parked {
		c.wakeReader()
	}
}

// Close stops the poller once every connection has ended.
func (p *poller) Close() {
	p.closeOnce.Do(func() {
		one := [8]byte{1}
		_, _ = unix.Write(p.wake, one[:])
		<-p.done
		unix.Close(p.wake)
		unix.Close(p.epfd)
	})
}

// writeNow writes what the socket takes at once, without waiting: a
// full socket buffer is 0 bytes written, not an error.
func writeNow(rc syscall.RawConn, buf []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), buf)
		return true // one attempt: never wait for the socket
	})
	switch {
	case err != nil:
		return 0, err
	case errors.Is(werr, unix.EAGAIN) || errors.Is(werr, unix.EINTR):
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}
