package streams

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// post is one message waiting for the committer.
type post struct {
	st   *state
	msg  *models.Message
	done func(*models.Message, error)
}

// Draft is a message to post: its content, the sender's optional nonce
// and, for a reply, the id of the message it answers (empty otherwise).
type Draft struct {
	Content string
	Nonce   string
	ReplyTo string
	// Attachments are files the caller has stored and checked (owned by
	// the author, not used by another message); the message refers to
	// them. A message with attachments may have empty content.
	Attachments []models.Attachment
	// Webhook, when set, marks a message posted by that webhook (see
	// SubmitAs).
	Webhook *models.WebhookRef
	// Poll, when set, makes the message a poll (see CreatePoll).
	Poll *models.Poll
	// Interaction, when set, marks a bot's answer to a slash command
	// (gateway's interaction_respond).
	Interaction *models.InteractionRef
	// id, when set, is the message's id: CreatePoll chooses it to record
	// the open poll before the message is stored.
	id string
}

// Submit validates a message from user to a stream and queues it for
// storage. done is called exactly once, from the committer goroutine, with
// the stored message or an error; it must not block. Validation and access
// errors are returned at once and done is not called. Submits from one
// goroutine are stored in the order they were made.
//
// A nonce makes the post idempotent: posting again with the nonce the same
// author already used in that stream returns the stored message instead
// of storing a second one.
func (s *Service) Submit(ctx context.Context, user *models.User, streamID, content, nonce string, done func(*models.Message, error)) error {
	return s.SubmitDraft(ctx, user, streamID, Draft{Content: content, Nonce: nonce}, done)
}

// SubmitDraft is Submit for a Draft. A reply (d.ReplyTo set) must answer
// a message of the same stream that is not deleted, else ErrInvalidReply;
// the original is read by its _id before the reply is queued, and the
// reply keeps its seq, author and a preview of its content (see
// models.ReplyRef). The users the content mentions (@username) are
// looked up after the hooks have seen it and kept on the message.
func (s *Service) SubmitDraft(ctx context.Context, user *models.User, streamID string, d Draft, done func(*models.Message, error)) error {
	if err := s.validateDraft(d); err != nil {
		return err
	}
	st, err := s.text(ctx, user.ID, streamID, models.SendMessages)
	if err != nil {
		return err
	}
	return s.submit(ctx, st, user.Ref(), d, done)
}

// SubmitAs queues a message posted in author's name without checking
// author's permissions, for integrations authorised otherwise (a
// webhook's secret token): author need not be a user. The stream must be
// a circle's channel. Mentions of users are resolved; @everyone and
// @role are not (they need a member's mention_everyone).
func (s *Service) SubmitAs(ctx context.Context, author models.UserRef, streamID string, d Draft, done func(*models.Message, error)) error {
	if err := s.validateDraft(d); err != nil {
		return err
	}
	st, err := s.load(ctx, streamID)
	if err != nil {
		return err
	}
	if st.stream.Kind != models.Channel {
		return ErrNotText
	}
	return s.submit(ctx, st, author, d, done)
}

// validateDraft checks content and nonce; empty content is allowed when
// the draft carries attachments.
func (s *Service) validateDraft(d Draft) error {
	if d.Content == "" && len(d.Attachments) > 0 {
		return s.validate(" ", d.Nonce)
	}
	return s.validate(d.Content, d.Nonce)
}

func (s *Service) submit(ctx context.Context, st *state, author models.UserRef, d Draft, done func(*models.Message, error)) error {
	streamID := st.stream.ID
	var (
		reply *models.ReplyRef
		err   error
	)
	if d.ReplyTo != "" {
		if reply, err = s.replyRef(ctx, streamID, d.ReplyTo); err != nil {
			return err
		}
	}
	id := d.id
	if id == "" {
		id = newID()
	}
	nonce := d.Nonce
	if nonce == "" {
		nonce = id
	}
	p := &post{st: st, done: done, msg: &models.Message{
		ID: id, StreamID: streamID, AuthorID: author.ID, Author: author,
		Content: d.Content, Nonce: nonce, Attachments: d.Attachments, Webhook: d.Webhook,
	}}
	p.msg.Poll = d.Poll
	p.msg.Interaction = d.Interaction
	if reply != nil {
		p.msg.ReplyToID, p.msg.Reply = reply.ID, reply
	}
	if len(s.cfg.Hooks) > 0 {
		if err := s.cfg.Hooks.OnMessage(ctx, p.msg); err != nil {
			return err
		}
		if err := s.validateDraft(Draft{Content: p.msg.Content, Attachments: d.Attachments}); err != nil {
			return fmt.Errorf("content after hooks: %w", err)
		}
	}
	if err := s.resolveMentions(ctx, st, author.ID, d.Webhook == nil, p.msg); err != nil {
		return err
	}
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	select {
	case s.posts <- p:
		return nil
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// replyRef reads the message a reply answers, by its _id, and returns
// what the reply keeps of it.
func (s *Service) replyRef(ctx context.Context, streamID, id string) (*models.ReplyRef, error) {
	if len(id) > 64 {
		return nil, ErrInvalidReply
	}
	m, err := s.store.Message(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidReply
	case err != nil:
		return nil, fmt.Errorf("find replied message: %w", err)
	case m.StreamID != streamID || m.Deleted:
		return nil, ErrInvalidReply
	}
	return &models.ReplyRef{ID: m.ID, Seq: m.Seq, Author: m.Author, Preview: models.Preview(m.Content)}, nil
}

// Post stores a message and returns it once stored; see Submit.
func (s *Service) Post(ctx context.Context, user *models.User, streamID, content, nonce string) (*models.Message, error) {
	type result struct {
		msg *models.Message
		err error
	}
	ch := make(chan result, 1)
	err := s.Submit(ctx, user, streamID, content, nonce, func(m *models.Message, err error) { ch <- result{m, err} })
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.msg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Service) validate(content, nonce string) error {
	switch {
	case content == "":
		return ErrEmptyContent
	case utf8.RuneCountInString(content) > s.cfg.MaxMessageLength:
		return ErrTooLong
	case !models.ValidText(content):
		return ErrInvalidContent
	case len(nonce) > 64 || !models.ValidText(nonce):
		return ErrInvalidNonce
	}
	return nil
}

// commitLoop is the committer: it takes whatever posts are waiting, up to
// MaxBatch, stores them in one insert and publishes them. While one batch
// is being written the next one gathers, which is the group commit.
//
// It also writes the streams' new last_seq, every SeqFlushInterval: one
// stream at a time while no post waits, and seqFlushStep of them every
// seqFlushEvery batches under sustained load. On the embedded store each
// write is a disk sync and writes are serialized: written all at once
// beside the committer, as they were, 200 busy streams held message
// inserts for a few hundred milliseconds every interval, the whole tail
// of the chat benchmark's acknowledgement latency.
func (s *Service) commitLoop() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.SeqFlushInterval)
	defer tick.Stop()
	batch := make([]*post, 0, s.cfg.MaxBatch)
	due := false   // last_seq values wait to be written
	sinceStep := 0 // batches since the last flush step while due
	for {
		var p *post
		if due && (len(s.posts) == 0 || sinceStep >= seqFlushEvery) {
			// Idle, one stream per step: a post that arrives meanwhile
			// waits for one update, not seqFlushStep of them.
			n := 1
			if sinceStep >= seqFlushEvery {
				n = seqFlushStep
			}
			due = s.flushSeqs(n)
			sinceStep = 0
			continue
		}
		select {
		case p = <-s.posts:
		case <-tick.C:
			due = true
			continue
		case <-s.stop:
			// Store what was accepted before the stop, then quit;
			// flushLoop writes every last_seq after.
			for {
				select {
				case p := <-s.posts:
					s.commit(append(batch[:0], p))
				default:
					return
				}
			}
		}
		batch = append(batch[:0], p)
	gather:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case p := <-s.posts:
				batch = append(batch, p)
			default:
				break gather
			}
		}
		s.commit(batch)
		if due {
			sinceStep++
		}
	}
}

// seqFlushStep is how many streams' last_seq a step forced by sustained
// load writes: one update command on the embedded store (see
// store.SetLastSeq). Each stream's update is a transaction and a disk
// sync there, which the posts waiting behind the step wait for too.
const seqFlushStep = 8

// seqFlushEvery is how many batches the committer stores at most, while
// last_seq values wait, before it writes a step of them anyway.
const seqFlushEvery = 32

// flushLoop records every stream's new last_seq once the committer and
// the mention recorder have stopped; while they run, the committer writes
// them (commitLoop).
func (s *Service) flushLoop() {
	defer close(s.flushed)
	<-s.mentionsDone
	s.flushSeqs(0)
}

// flushSeqs writes the new last_seq of up to n streams (all when n is 0)
// and reports whether more wait. last_seq is a convenience copy: the
// messages are the truth, and a stale value is caught up with on the next
// post (commit), so a failure here is only logged, and the values are
// tried again at the next interval.
func (s *Service) flushSeqs(n int) bool {
	s.dirtyMu.Lock()
	take := s.dirty
	if n > 0 && len(s.dirty) > n {
		take = make(map[string]int64, n)
		for id, seq := range s.dirty {
			take[id] = seq
			delete(s.dirty, id)
			if len(take) == n {
				break
			}
		}
	} else {
		s.dirty = make(map[string]int64)
	}
	more := len(s.dirty) > 0
	s.dirtyMu.Unlock()
	if len(take) == 0 {
		return false
	}
	if err := s.store.SetLastSeq(context.Background(), take); err != nil {
		s.log.Warn("update last_seq", "err", err)
		s.dirtyMu.Lock()
		for id, seq := range take {
			s.dirty[id] = max(s.dirty[id], seq)
		}
		s.dirtyMu.Unlock()
		return false
	}
	return more
}

// maxConflicts bounds retries after seq conflicts in one batch. Only
// another node writing the same stream causes them, and each conflict
// means that node stored a message, so the cluster as a whole progresses;
// the bound only keeps one unlucky batch from retrying for ever.
const maxConflicts = 64

// commit stores a batch. Seqs are given from each stream's last stored
// seq; an insert that fails part-way keeps what was written (the insert is
// ordered), settles the failed post and numbers the rest again, so seqs
// stay gap-free.
func (s *Service) commit(batch []*post) {
	ctx := context.Background()
	conflicts := 0
	for len(batch) > 0 {
		now := s.now()
		next := make(map[*state]int64, 4)
		msgs := make([]*models.Message, len(batch))
		for i, p := range batch {
			seq, ok := next[p.st]
			if !ok {
				p.st.mu.Lock()
				seq = p.st.stored
				p.st.mu.Unlock()
			}
			seq++
			next[p.st] = seq
			p.msg.Seq = seq
			p.msg.CreatedAt = now
			msgs[i] = p.msg
		}
		began := time.Now()
		n, err := s.store.InsertMessages(ctx, msgs)
		if s.cfg.OnBatch != nil {
			s.cfg.OnBatch(len(msgs), n, time.Since(began), err)
		}
		s.publish(batch[:n])
		if err == nil {
			return
		}
		failed := batch[n]
		if !errors.Is(err, store.ErrDuplicate) {
			for _, p := range batch[n:] {
				p.done(nil, fmt.Errorf("store message: %w", err))
			}
			return
		}
		batch = batch[n+1:]
		prior, ferr := s.store.MessageByNonce(ctx, failed.msg.StreamID, failed.msg.AuthorID, failed.msg.Nonce)
		switch {
		case ferr == nil:
			failed.done(prior, nil) // an idempotent retry
		case errors.Is(ferr, store.ErrNotFound) && conflicts < maxConflicts:
			// Another writer took this seq: catch up and try again.
			conflicts++
			if maxSeq, err := s.store.MaxSeq(ctx, failed.msg.StreamID); err == nil {
				failed.st.mu.Lock()
				failed.st.stored = max(failed.st.stored, maxSeq)
				failed.st.mu.Unlock()
			}
			batch = append([]*post{failed}, batch...)
		case errors.Is(ferr, store.ErrNotFound):
			failed.done(nil, fmt.Errorf("store message: %w: %w", ErrContention, err))
		default:
			failed.done(nil, fmt.Errorf("store message: %w", err))
		}
	}
}

// publish hands stored posts to the other nodes and to OnStored, in order,
// and answers their senders; flushSeqs later records the streams' new
// last_seq.
func (s *Service) publish(stored []*post) {
	for _, p := range stored {
		if s.cfg.Cluster != nil {
			s.cfg.Cluster.PublishMessage(p.msg)
		}
		p.st.mu.Lock()
		s.deliverLocked(p.st, p.msg)
		p.st.mu.Unlock()
		s.dirtyMu.Lock()
		s.dirty[p.msg.StreamID] = p.msg.Seq
		s.dirtyMu.Unlock()
		s.noteMentions(p.msg)
		s.noteLinks(p.msg) // link embeds
		p.done(p.msg, nil)
	}
}
