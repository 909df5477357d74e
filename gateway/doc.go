// Package gateway serves Oshi's HTTP API (register, login, logout, health)
// and its WebSocket protocol, documented in docs/protocol.md.
//
// A connection holds goroutines only while it has work. A reader reads
// frames and serves commands in order; on Linux, once every byte received
// has been served, the connection parks in an epoll poller and the reader
// returns, and a new one starts when bytes arrive (elsewhere, and over
// TLS, the reader waits in its read). A writer owns the socket while
// frames are queued and drains a bounded broker.Queue, framing the
// messages itself and sending what has queued up with one write: on
// Linux one of a few pool workers, which write without waiting and hand
// a socket that will not take everything to a goroutine of its own
// (elsewhere, and over TLS, always such a goroutine).
// Everything sent to a client, replies and events alike, goes through
// that queue, so no publisher ever waits on a socket; a client whose
// queue overflows is closed with 4008.
//
// Events are encoded once per publish (MessageEvent) and the same bytes
// are queued to every subscriber.
package gateway
