// Package broker is Oshi's in-process publish/subscribe core: it routes
// payloads published to a topic to every subscriber of that topic. It
// imports only the standard library and can be embedded on its own.
//
// # Model
//
// A topic is a string such as "room:42"; it exists while it has at least
// one subscriber. A Subscriber is anything with a non-blocking Deliver
// method; Broker.Subscribe registers one on a topic and returns a
// Subscription, whose Cancel ends it. Broker.Publish hands a payload to
// every current subscriber of the topic and returns how many accepted it.
//
// Topics are spread over shards (64 by default) by an FNV-1a hash of their
// name, so subscribing on one topic never contends with publishing on a
// topic of another shard. Each topic keeps its subscribers in a
// copy-on-write snapshot: Publish holds a shard's read lock only to find the
// topic, then walks the snapshot with no lock held and no allocation.
// Subscribe and Cancel are amortised O(1) even for topics with tens of
// thousands of subscribers.
//
// # Encode once, never block
//
// A payload is the final wire bytes of a message, encoded once by the
// publisher. The same slice is given to every subscriber, so neither the
// publisher nor any subscriber may modify it after Publish.
//
// Publish never blocks. Deliver must accept or refuse at once; it must not
// write to a network connection. The usual subscriber is a Queue: the
// bounded outgoing queue of one connection, drained by that connection's
// single writer goroutine with Queue.Pop, which can return many payloads at
// once so that they go out in one write.
//
// # Slow consumers
//
// A Queue holds at most QueueConfig.MaxBytes bytes (1 MiB by default),
// except that an empty queue takes one payload of any size. The Push that
// would exceed the limit does not block and does not drop
// silently: it closes the queue with ErrSlowConsumer, returns
// ErrSlowConsumer (once), and the broker counts it in
// Stats.SlowConsumers. Later pushes return ErrClosed, and the broker cancels
// a subscription whose Deliver returns ErrClosed. The owner of the queue is
// expected to notice (Queue.Pop returns ErrSlowConsumer, Queue.Done is
// closed) and disconnect the client, which then recovers what it missed by
// other means, such as message history.
//
// # Lock order
//
// A shard's lock is the only broker lock, and a Queue's lock is never held
// while calling into the broker. No lock is held while Deliver runs, so
// Deliver may call Cancel, Subscribe or Publish.
package broker
