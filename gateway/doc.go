// Package gateway serves Oshi's HTTP API (register, login, logout, health)
// and its WebSocket protocol, documented in docs/protocol.md.
//
// Each connection has two goroutines: the HTTP handler's, which reads
// frames and serves commands in order, and a writer that owns the socket
// and drains a bounded broker.Queue. Everything sent to a client, replies
// and events alike, goes through that queue, so no publisher ever waits on
// a socket; a client whose queue overflows is closed with 4008.
//
// Events are encoded once per publish (MessageEvent) and the same bytes
// are queued to every subscriber.
package gateway
