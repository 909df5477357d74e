// Package models holds Oshi's plain data types: users, sessions, circles,
// members, invites, streams and messages.
//
// The bson tags name the MongoDB fields; the json tags give the shape the
// types take on the wire (see docs/protocol.md). Fields tagged json:"-" are
// stored but never sent to clients.
package models
