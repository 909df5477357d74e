// Package streams owns streams and their messages: circle channels, DMs,
// posting, history, and the gap-free sequence numbers that order a
// stream.
//
// Posting goes through one committer goroutine that groups the messages
// waiting at that moment into one batched insert (group commit): a message
// is acknowledged only after it is stored, yet throughput grows with load.
// The committer numbers each stream's messages 1, 2, 3… and hands every
// stored message, in seq order, to the OnStored callback, which fans it out.
// Follow lets a subscriber join that order at a known seq, so recovery
// followed by live delivery has no gap and no duplicate.
package streams
