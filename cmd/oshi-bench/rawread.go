//go:build unix

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/coder/websocket"
)

// The load generator shares the machine with the server, so what it
// spends reading is taken from the server. Reading through the WebSocket
// library costs two read system calls per frame: one that returns the
// frame and one that finds the socket empty (EAGAIN) before the reader
// parks. rawReader reads the socket itself: one read per arrival, frames
// parsed in place. Writes still go through the library.

// rawConn returns the connection's socket for rawReader, or nil where it
// cannot be used.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawReader reads WebSocket frames from a server (unmasked, as RFC 6455
// requires) straight from a socket.
type rawReader struct {
	rc   syscall.RawConn
	buf  []byte // bytes read and not yet parsed
	frag []byte // a fragmented message so far
	op   byte   // the opcode of frag
}

// errMaskedFrame is a frame a server must not send.
var errMaskedFrame = errors.New("masked frame from the server")

// run calls msg with each text message until the connection ends, and
// returns why it ended: a websocket.CloseError when the server closed it.
// msg's data is valid until it returns.
func (r *rawReader) run(msg func(data []byte)) error {
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			if len(r.buf) == cap(r.buf) {
				grown := make([]byte, len(r.buf), max(1024, 2*cap(r.buf)))
				copy(grown, r.buf)
				r.buf = grown
			}
			free := r.buf[len(r.buf):cap(r.buf)]
			n, err := syscall.Read(int(fd), free)
			switch {
			case err == syscall.EAGAIN:
				return false // park until data comes
			case err == syscall.EINTR:
				continue
			case err != nil:
				rerr = err
				return true
			case n == 0:
				rerr = io.EOF
				return true
			}
			r.buf = r.buf[:len(r.buf)+n]
			used, err := r.frames(msg)
			if err != nil {
				rerr = err
				return true
			}
			r.buf = r.buf[:copy(r.buf, r.buf[used:])]
			if len(r.buf) == 0 && cap(r.buf) > 64<<10 {
				r.buf = nil // give back what a big message grew
			}
			if n < len(free) {
				// The socket had no more. Data that comes later wakes
				// the poller, which the next wait sees: no read to find
				// the socket empty.
				return false
			}
		}
	})
	if rerr != nil {
		return rerr
	}
	return err
}

// frames hands every whole message in r.buf to msg and returns how many
// bytes it took.
func (r *rawReader) frames(msg func([]byte)) (int, error) {
	used := 0
	for {
		b := r.buf[used:]
		if len(b) < 2 {
			return used, nil
		}
		fin, op := b[0]&0x80 != 0, b[0]&0x0f
		if b[1]&0x80 != 0 {
			return used, errMaskedFrame
		}
		hdr, size := 2, uint64(b[1]&0x7f)
		switch size {
		case 126:
			if len(b) < 4 {
				return used, nil
			}
			hdr, size = 4, uint64(binary.BigEndian.Uint16(b[2:]))
		case 127:
			if len(b) < 10 {
				return used, nil
			}
			hdr, size = 10, binary.BigEndian.Uint64(b[2:])
		}
		if size > maxFrame {
			return used, fmt.Errorf("frame of %d bytes from the server, over %d", size, maxFrame)
		}
		if uint64(len(b)-hdr) < size {
			return used, nil // run reads more, growing the buffer when full
		}
		payload := b[hdr : hdr+int(size)]
		used += hdr + int(size)
		switch {
		case op == 0x8: // close
			code := websocket.StatusNoStatusRcvd
			if len(payload) >= 2 {
				code = websocket.StatusCode(binary.BigEndian.Uint16(payload))
			}
			return used, websocket.CloseError{Code: code, Reason: string(payload[min(2, len(payload)):])}
		case op >= 0x8: // ping, pong: the server sends none, and none is needed
		case op == 0x0 || !fin: // a fragment
			if op != 0x0 {
				r.op, r.frag = op, r.frag[:0]
			}
			r.frag = append(r.frag, payload...)
			if fin && r.op == 0x1 {
				msg(r.frag)
			}
		case op == 0x1: // a whole text message
			msg(payload)
		}
	}
}
