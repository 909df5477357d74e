package models

// Thread is a stream started under a circle's text channel (its parent),
// optionally from one of the parent's messages (its starter). It holds
// messages like a channel; who may see and do what in it is decided by
// the parent's overwrites, so it has none of its own.
const Thread StreamKind = "thread"

// ThreadRef is the thread a message started, as the message carries it.
type ThreadRef struct {
	ID   string `bson:"id" json:"id"`
	Name string `bson:"name" json:"name"`
}

// Active reports whether a stream is a thread that is not archived.
func (s *Stream) Active() bool { return s.Kind == Thread && !s.Archived }
