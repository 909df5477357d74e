// Package store persists Oshi's users, sessions, circles, members, invites,
// streams and messages.
//
// Store is the interface the rest of Oshi uses; Mongo implements it with the
// official MongoDB Go driver against any server that speaks the MongoDB wire
// protocol: MongoDB itself or the embedded FerretDB that package
// store/embedded starts when no MongoDB is configured.
//
// Errors are ErrNotFound, ErrDuplicate or ErrUnavailable (wrapped with
// context) so callers can answer clients with a precise error code.
package store
