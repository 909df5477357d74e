package streams

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Errors of polls.
var (
	ErrInvalidPoll   = errors.New("invalid poll")
	ErrPollClosed    = errors.New("the poll is closed")
	ErrInvalidChoice = errors.New("choices must be distinct option ids of the poll, at most one unless the poll is multi")
	// ErrNotPoll refuses a vote on, or a close of, a message that is no
	// poll; it is a kind of ErrMessageNotFound.
	ErrNotPoll = fmt.Errorf("%w: not a poll", ErrMessageNotFound)
)

// Poll expiries.
const (
	DefaultPollExpiry = 24 * time.Hour
	MaxPollExpiry     = 7 * 24 * time.Hour
)

// PollSpec is what poll_create asks for.
type PollSpec struct {
	Question string
	Options  []string
	Multi    bool
	// Expires is the poll's life in seconds from now; nil means
	// DefaultPollExpiry.
	Expires *int64
}

// newPoll validates spec and returns the poll it describes, with every
// count 0.
func (s *Service) newPoll(spec PollSpec) (*models.Poll, error) {
	q, ok := models.ValidPollText(spec.Question, models.MaxPollQuestionLength)
	if !ok {
		return nil, fmt.Errorf("%w: question must be 1-%d characters without control characters", ErrInvalidPoll, models.MaxPollQuestionLength)
	}
	if n := len(spec.Options); n < models.MinPollOptions || n > models.MaxPollOptions {
		return nil, fmt.Errorf("%w: a poll has %d-%d options", ErrInvalidPoll, models.MinPollOptions, models.MaxPollOptions)
	}
	p := &models.Poll{Question: q, Multi: spec.Multi, Options: make([]models.PollOption, 0, len(spec.Options))}
	seen := make(map[string]bool, len(spec.Options))
	for i, o := range spec.Options {
		text, ok := models.ValidPollText(o, models.MaxPollOptionLength)
		if !ok {
			return nil, fmt.Errorf("%w: option %d must be 1-%d characters without control characters", ErrInvalidPoll, i, models.MaxPollOptionLength)
		}
		if seen[text] {
			return nil, fmt.Errorf("%w: options must be distinct", ErrInvalidPoll)
		}
		seen[text] = true
		p.Options = append(p.Options, models.PollOption{ID: i, Text: text})
	}
	life := DefaultPollExpiry
	if spec.Expires != nil {
		minSec := int64(math.Ceil(s.cfg.PollMinExpiry.Seconds()))
		maxSec := int64(MaxPollExpiry / time.Second)
		if e := *spec.Expires; e < minSec || e > maxSec {
			return nil, fmt.Errorf("%w: expires must be %d-%d seconds", ErrInvalidPoll, minSec, maxSec)
		}
		life = time.Duration(*spec.Expires) * time.Second
	}
	p.ExpiresAt = s.now().Add(life)
	return p, nil
}

// CreatePoll posts a poll to a stream where user may send messages: a
// message whose content is the question and whose poll holds the
// options, posted and delivered like any other (see SubmitDraft; done
// is called the same way).
//
// The poll is recorded in the store's open polls before its message is
// queued, so no stored poll lacks its record, whatever stops when: the
// nodes' sweeps (pollLoop) find every open poll there and close it at
// its expiry. A record whose message was never stored (the post failed,
// or a retried nonce answered with the earlier poll) is removed by this
// node at once or, when a sweep had queued it already, at its expiry by
// the node that finds no open poll for it.
func (s *Service) CreatePoll(ctx context.Context, user *models.User, streamID string, spec PollSpec, nonce string, done func(*models.Message, error)) error {
	poll, err := s.newPoll(spec)
	if err != nil {
		return err
	}
	// Refusals are answered before anything is written.
	if _, err := s.text(ctx, user.ID, streamID, models.SendMessages); err != nil {
		return err
	}
	id := newID()
	if err := s.store.PutOpenPoll(ctx, &store.OpenPoll{MessageID: id, StreamID: streamID, ExpiresAt: poll.ExpiresAt}); err != nil {
		return fmt.Errorf("create poll: %w", err)
	}
	err = s.SubmitDraft(ctx, user, streamID, Draft{Content: poll.Question, Nonce: nonce, Poll: poll, id: id}, func(m *models.Message, err error) {
		// done runs in the committer and must not block: the store work
		// is left to pollLoop.
		switch {
		case err != nil || m.ID != id:
			s.schedulePoll(streamID, id, time.Time{}) // no such poll: its record goes now
			if err == nil && m.Poll != nil && !m.Poll.Closed {
				s.schedulePoll(m.StreamID, m.ID, m.Poll.ExpiresAt)
			}
		case m.Poll != nil && !m.Poll.Closed:
			s.schedulePoll(m.StreamID, m.ID, m.Poll.ExpiresAt)
		}
		done(m, err)
	})
	if err != nil {
		if derr := s.store.DeleteOpenPoll(context.WithoutCancel(ctx), id); derr != nil {
			s.log.Warn("remove the record of a poll not posted", "stream", streamID, "message", id, "err", derr)
		}
		return err
	}
	return nil
}

// Vote replaces user's vote on the poll of message msgID with choices
// (option ids); no choices withdraws it. The user needs SendMessages in
// the stream (a timed-out member cannot vote). It returns the message as
// updated and the user's choices, sorted. A poll found past its expiry
// (a vote came before any node's timer closed it) is closed now,
// announced, and the vote refused with ErrPollClosed.
func (s *Service) Vote(ctx context.Context, user *models.User, streamID, msgID string, choices []int) (*models.Message, []int, error) {
	mine := slices.Clone(choices)
	slices.Sort(mine)
	if mine == nil {
		mine = []int{}
	}
	expired := false
	m, err := s.change(ctx, user.ID, streamID, msgID, models.SendMessages, func(_ *state, m *models.Message) (*Change, error) {
		switch {
		case m.Poll == nil:
			return nil, ErrNotPoll
		case m.Poll.Closed:
			return nil, ErrPollClosed
		case m.Poll.Expired(s.now()):
			expired = true
			return s.closePoll(ctx, m, models.UserRef{})
		}
		if len(mine) > 1 && !m.Poll.Multi {
			return nil, ErrInvalidChoice
		}
		for i, c := range mine {
			if c < 0 || c >= len(m.Poll.Options) || i > 0 && mine[i-1] == c {
				return nil, ErrInvalidChoice
			}
		}
		var old []int
		prev, err := s.store.PollVote(ctx, m.ID, user.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("vote: %w", err)
		default:
			old = prev.Choices
		}
		if slices.Equal(old, mine) || len(old) == 0 && len(mine) == 0 {
			return nil, nil
		}
		inc := make(map[int]int, len(old)+len(mine))
		for _, c := range old {
			inc[c]--
		}
		for _, c := range mine {
			inc[c]++
		}
		// The vote is written first: a failure before the counts leaves
		// them one vote behind, never counting a vote that is not kept.
		if len(mine) == 0 {
			err = s.store.DeletePollVote(ctx, m.ID, user.ID)
		} else {
			err = s.store.PutPollVote(ctx, &models.PollVote{
				ID: models.PollVoteID(m.ID, user.ID), MessageID: m.ID, UserID: user.ID, Choices: mine, VotedAt: s.now(),
			})
		}
		if err != nil {
			return nil, fmt.Errorf("vote: %w", err)
		}
		updated, err := s.store.UpdatePoll(ctx, m.ID, inc, false)
		if err != nil {
			return nil, fmt.Errorf("vote: %w", err)
		}
		return &Change{Kind: PollUpdated, Message: updated, User: user.Ref()}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if expired {
		return nil, nil, ErrPollClosed
	}
	return m, mine, nil
}

// ClosePoll closes the poll of message msgID before its expiry: its
// author may, and in a channel a member with ManageMessages too.
// Closing a closed poll changes nothing and announces nothing.
func (s *Service) ClosePoll(ctx context.Context, user *models.User, streamID, msgID string) (*models.Message, error) {
	return s.change(ctx, user.ID, streamID, msgID, models.ViewStreams, func(st *state, m *models.Message) (*Change, error) {
		if m.Poll == nil {
			return nil, ErrNotPoll
		}
		if m.AuthorID != user.ID {
			if st.stream.Kind == models.DM {
				return nil, fmt.Errorf("poll_close: only the author may: %w", ErrForbidden)
			}
			if _, err := s.circles.Require(ctx, st.stream.CircleID, user.ID, streamID, models.ManageMessages); err != nil {
				return nil, err
			}
		}
		if m.Poll.Closed {
			return nil, nil
		}
		return s.closePoll(ctx, m, user.Ref())
	})
}

// closePoll closes m's poll and removes its open-poll record; it runs
// under the stream's change lock. The poll is closed first: a record
// left behind (the removal failed) is removed by a later sweep, which
// finds the poll closed.
func (s *Service) closePoll(ctx context.Context, m *models.Message, by models.UserRef) (*Change, error) {
	updated, err := s.store.UpdatePoll(ctx, m.ID, nil, true)
	if err != nil {
		return nil, fmt.Errorf("close poll: %w", err)
	}
	s.dropOpenPoll(ctx, m.ID)
	return &Change{Kind: PollUpdated, Message: updated, User: by}, nil
}

// dropOpenPoll removes the open-poll record of a message; a failure is
// only logged (a sweep removes the record later).
func (s *Service) dropOpenPoll(ctx context.Context, msgID string) {
	if err := s.store.DeleteOpenPoll(context.WithoutCancel(ctx), msgID); err != nil {
		s.log.Warn("remove open poll record", "message", msgID, "err", err)
	}
}

// dropPoll removes what was kept beside the poll of a deleted message:
// its votes and its open-poll record. Failures are only logged, as the
// message is deleted already.
func (s *Service) dropPoll(ctx context.Context, msgID string) {
	if err := s.store.DeletePollVotes(context.WithoutCancel(ctx), msgID); err != nil {
		s.log.Warn("delete poll votes", "message", msgID, "err", err)
	}
	s.dropOpenPoll(ctx, msgID)
}

// pollTimer is a poll waiting for its expiry.
type pollTimer struct {
	at              time.Time
	stream, message string
}

// pollQueue is a min-heap of pollTimers by expiry.
type pollQueue []pollTimer

func (q pollQueue) Len() int           { return len(q) }
func (q pollQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q pollQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *pollQueue) Push(x any)        { *q = append(*q, x.(pollTimer)) }
func (q *pollQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// pollClaim is how long a node's claim to close a poll holds
// (ClaimOpenPoll): another node retries a poll left open after it (the
// claiming node stopped) on a sweep after the claim lapses.
const pollClaim = time.Minute

// schedulePoll queues a poll to be closed at its expiry, unless it is
// queued already. It never blocks (it runs in the committer's done
// callbacks).
func (s *Service) schedulePoll(streamID, msgID string, at time.Time) {
	s.pollMu.Lock()
	if _, ok := s.pollIDs[msgID]; ok {
		s.pollMu.Unlock()
		return
	}
	s.pollIDs[msgID] = struct{}{}
	heap.Push(&s.polls, pollTimer{at: at, stream: streamID, message: msgID})
	s.pollMu.Unlock()
	select {
	case s.pollWake <- struct{}{}:
	default:
	}
}

// pollLoop closes polls at their expiry, one after the other, until the
// service stops. The queue lives in memory; it is filled with the polls
// created on this node and, at start and every PollSweepInterval, with
// every open poll of the store (sweepPolls), so the polls of a node
// that stopped are closed by the others within a sweep interval of
// their expiry. Every node queues every open poll: the first to claim
// it in the store closes it (expirePoll), the others find it closed.
func (s *Service) pollLoop() {
	defer close(s.pollsDone)
	s.sweepPolls()
	sweep := time.NewTicker(s.cfg.PollSweepInterval)
	defer sweep.Stop()
	for {
		now := s.now()
		var due []pollTimer
		wait := time.Hour
		s.pollMu.Lock()
		for len(s.polls) > 0 && !s.polls[0].at.After(now) {
			due = append(due, heap.Pop(&s.polls).(pollTimer))
		}
		if len(s.polls) > 0 {
			wait = s.polls[0].at.Sub(now)
		}
		s.pollMu.Unlock()
		if len(due) > 0 {
			for _, p := range due {
				select {
				case <-s.stop:
					return
				default:
				}
				s.expirePoll(p)
				// Unmarked once handled: a poll left open (an error, a
				// claim held elsewhere) is queued again by a sweep.
				s.pollMu.Lock()
				delete(s.pollIDs, p.message)
				s.pollMu.Unlock()
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-sweep.C:
			s.sweepPolls()
		case <-s.pollWake:
		case <-s.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// sweepPolls queues every open poll of the store this node has not
// queued. The open polls are read whole: the collection holds only the
// polls not closed yet, so it stays small, and on the embedded store a
// filter on anything but _id would read all of it anyway.
func (s *Service) sweepPolls() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open, err := s.store.OpenPolls(ctx)
	if err != nil {
		s.log.Warn("read open polls", "err", err)
		return
	}
	for _, p := range open {
		s.schedulePoll(p.StreamID, p.MessageID, p.ExpiresAt)
	}
}

// expirePoll closes one poll at its expiry and announces it, when this
// node wins the claim to close it. It removes the open-poll record of a
// poll found closed, of a message deleted or never stored, and of a
// deleted stream. A poll found not yet expired (another node's clock)
// is left for a later sweep.
func (s *Service) expirePoll(p pollTimer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.load(ctx, p.stream)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.dropOpenPoll(ctx, p.message)
		} else {
			s.log.Warn("close poll at expiry", "stream", p.stream, "message", p.message, "err", err)
		}
		return
	}
	_, err = s.changeIn(ctx, st, p.stream, p.message, func(_ *state, m *models.Message) (*Change, error) {
		now := s.now()
		switch {
		case m.Poll == nil || m.Poll.Closed:
			s.dropOpenPoll(ctx, m.ID)
			return nil, nil
		case !m.Poll.Expired(now):
			return nil, nil
		}
		// Every node queues every open poll: one claims it, and only it
		// closes and announces. (On the embedded store, whose updates
		// read then write, two nodes at the same instant may both win;
		// the second close then announces the same closed poll again.)
		ok, err := s.store.ClaimOpenPoll(ctx, m.ID, now, now.Add(pollClaim))
		if err != nil || !ok {
			return nil, err
		}
		return s.closePoll(ctx, m, models.UserRef{})
	})
	switch {
	case errors.Is(err, ErrMessageNotFound):
		s.dropOpenPoll(ctx, p.message)
	case err != nil:
		s.log.Warn("close poll at expiry", "stream", p.stream, "message", p.message, "err", err)
	}
}
