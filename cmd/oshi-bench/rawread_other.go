//go:build !unix

package main

import (
	"net"
	"syscall"
)

// rawConn returns nil: off Unix the library reads every connection.
func rawConn(net.Conn) syscall.RawConn { return nil }

// rawReader is not built off Unix; rawConn never asks for one.
type rawReader struct{ rc syscall.RawConn }

func (r *rawReader) run(func([]byte)) error { return nil }
