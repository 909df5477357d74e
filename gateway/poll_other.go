//go:build !linux

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// poller is Linux's epoll watcher of parked connections (poll_linux.go).
// Elsewhere there is none, and each connection keeps a goroutine parked
// in its read.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("gateway: no poller on this platform") }

func pollable(net.Conn) syscall.RawConn { return nil }

var errNotArmed = errors.New("gateway: socket not armed")

func (p *poller) add(*conn, syscall.RawConn) error { return errNotArmed }
func (p *poller) park(*conn) error                 { return errNotArmed }
func (p *poller) forget(*conn)                     {}
func (p *poller) Close()                           {}

// writeNow is not used where there is no poller: connections have no
// socket for it (c.rc is nil).
func writeNow(syscall.RawConn, []byte) (int, error) { return 0, errNotArmed }
