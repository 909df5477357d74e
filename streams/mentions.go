package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// MaxMentionSeqs bounds the unread mentions kept per user and stream;
// older ones fall off (the count then reads MaxMentionSeqs, a floor).
const MaxMentionSeqs = 100

// mentionQueue bounds the stored messages waiting for their mentions to
// be recorded; past it the counts of the overflow are lost (and logged),
// never the messages.
const mentionQueue = 4096

// resolveMentions records on m whom its content mentions (see
// models.MentionNames): users by username, one UserByName each; in a
// circle's stream also roles by name (a name that is a role's) and
// @everyone, both only for a member (member) who holds MentionEveryone
// there. Unknown names are not mentions.
func (s *Service) resolveMentions(ctx context.Context, st *state, author string, member bool, m *models.Message) error {
	m.MentionIDs, m.Mentions, m.MentionRoles, m.MentionEveryone = nil, nil, nil, false
	names := models.MentionNames(m.Content)
	if len(names) == 0 {
		return nil
	}
	var roles map[string]string // lower-cased name → id, when the author may mention roles
	if st.stream.Kind != models.DM && member {
		p, err := s.circles.Permissions(ctx, st.stream.CircleID, author, st.stream.ID)
		if err != nil {
			return err
		}
		if p.Has(models.MentionEveryone) {
			if roles, err = s.circles.RoleNames(ctx, st.stream.CircleID); err != nil {
				return err
			}
		}
	}
	for _, name := range names {
		key := strings.ToLower(name)
		if roles != nil {
			if key == "everyone" {
				m.MentionEveryone = true
				continue
			}
			if id, ok := roles[key]; ok {
				m.MentionRoles = append(m.MentionRoles, id)
				continue
			}
		}
		u, err := s.store.UserByName(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("find mentioned user: %w", err)
		}
		m.MentionIDs = append(m.MentionIDs, u.ID)
		m.Mentions = append(m.Mentions, u.Ref())
	}
	return nil
}

// noteMentions queues a stored message whose content mentions users, so
// their read states count it (mentionLoop). It never blocks the
// committer.
func (s *Service) noteMentions(m *models.Message) {
	if len(m.MentionIDs) == 0 {
		return
	}
	select {
	case s.mentioned <- m:
	default:
		s.log.Warn("mention counts dropped: queue full", "stream", m.StreamID, "seq", m.Seq)
	}
}

// mentionLoop records each queued message's seq in the read state of
// every user it mentions (but its author), until the committer has
// stopped and the queue is empty.
func (s *Service) mentionLoop() {
	defer close(s.mentionsDone)
	for {
		select {
		case m := <-s.mentioned:
			s.recordMentions(m)
		case <-s.done:
			for {
				select {
				case m := <-s.mentioned:
					s.recordMentions(m)
				default:
					return
				}
			}
		}
	}
}

func (s *Service) recordMentions(m *models.Message) {
	ctx := context.Background()
	for _, userID := range m.MentionIDs {
		if userID == m.AuthorID {
			continue
		}
		if err := s.addMention(ctx, userID, m.StreamID, m.Seq); err != nil {
			s.log.Warn("record mention", "user", userID, "stream", m.StreamID, "err", err)
		}
	}
}

// addMention adds seq to a user's unread mentions of a stream.
func (s *Service) addMention(ctx context.Context, userID, streamID string, seq int64) error {
	id := models.ReadStateID(userID, streamID)
	defer s.readLock(userID)()
	rs, err := s.store.ReadState(ctx, userID, streamID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rs = &models.ReadState{ID: id, UserID: userID, StreamID: streamID}
	case err != nil:
		return err
	}
	if seq <= rs.Seq || slices.Contains(rs.Mentions, seq) {
		return nil // read already
	}
	rs.Mentions = append(rs.Mentions, seq)
	if n := len(rs.Mentions); n > MaxMentionSeqs {
		rs.Mentions = rs.Mentions[n-MaxMentionSeqs:]
	}
	rs.UpdatedAt = s.now()
	return s.store.SetReadState(ctx, rs)
}

// unreadMentions counts the mentions past the read seq.
func unreadMentions(rs *models.ReadState) int64 {
	var n int64
	for _, seq := range rs.Mentions {
		if seq > rs.Seq {
			n++
		}
	}
	return n
}
