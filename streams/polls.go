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
// is called the same way). Once stored, the poll is queued to be closed
// at its expiry by this node (pollLoop).
func (s *Service) CreatePoll(ctx context.Context, user *models.User, streamID string, spec PollSpec, nonce string, done func(*models.Message, error)) error {
	poll, err := s.newPoll(spec)
	if err != nil {
		return err
	}
	return s.SubmitDraft(ctx, user, streamID, Draft{Content: poll.Question, Nonce: nonce, Poll: poll}, func(m *models.Message, err error) {
		if err == nil && m.Poll != nil && !m.Poll.Closed {
			s.schedulePoll(m.StreamID, m.ID, m.Poll.ExpiresAt)
		}
		done(m, err)
	})
}

// Vote replaces user's vote on the poll of message msgID with choices
// (option ids); no choices withdraws it. The user needs SendMessages in
// the stream (a timed-out member cannot vote). It returns the message as
// updated and the user's choices, sorted. A poll found past its expiry
// (its node stopped before closing it) is closed now, announced, and
// the vote refused with ErrPollClosed.
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

// closePoll closes m's poll; it runs under the stream's change lock.
func (s *Service) closePoll(ctx context.Context, m *models.Message, by models.UserRef) (*Change, error) {
	updated, err := s.store.UpdatePoll(ctx, m.ID, nil, true)
	if err != nil {
		return nil, fmt.Errorf("close poll: %w", err)
	}
	return &Change{Kind: PollUpdated, Message: updated, User: by}, nil
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

// schedulePoll queues a poll to be closed at its expiry. It never
// blocks (it runs in the committer's done callbacks).
func (s *Service) schedulePoll(streamID, msgID string, at time.Time) {
	s.pollMu.Lock()
	heap.Push(&s.polls, pollTimer{at: at, stream: streamID, message: msgID})
	s.pollMu.Unlock()
	select {
	case s.pollWake <- struct{}{}:
	default:
	}
}

// pollLoop closes the polls created on this node at their expiry, one
// after the other, until the service stops. The queue lives in memory:
// polls whose node stopped before their expiry are closed by the first
// vote after it (Vote), on any node.
func (s *Service) pollLoop() {
	defer close(s.pollsDone)
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
				s.expirePoll(p)
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.pollWake:
		case <-s.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// expirePoll closes one poll at its expiry and announces it.
func (s *Service) expirePoll(p pollTimer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.load(ctx, p.stream)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.log.Warn("close poll at expiry", "stream", p.stream, "message", p.message, "err", err)
		}
		return
	}
	_, err = s.changeIn(ctx, st, p.stream, p.message, func(_ *state, m *models.Message) (*Change, error) {
		if m.Poll == nil || m.Poll.Closed {
			return nil, nil
		}
		return s.closePoll(ctx, m, models.UserRef{})
	})
	if err != nil && !errors.Is(err, ErrMessageNotFound) {
		s.log.Warn("close poll at expiry", "stream", p.stream, "message", p.message, "err", err)
	}
}
