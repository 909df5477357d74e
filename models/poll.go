package models

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Poll limits (poll_create).
const (
	MinPollOptions        = 2
	MaxPollOptions        = 10
	MaxPollQuestionLength = 300 // characters
	MaxPollOptionLength   = 100 // characters
)

// Poll is the question a poll message asks, with its options and their
// vote counts. It is stored on the message; who voted what is kept
// apart (PollVote) and never sent to others.
type Poll struct {
	Question string       `bson:"question" json:"question"`
	Options  []PollOption `bson:"options" json:"options"`
	// Multi allows a vote for several options; otherwise one.
	Multi bool `bson:"multi" json:"multi"`
	// ExpiresAt is when the poll closes by itself.
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
	// Closed is set at expiry or by poll_close; a closed poll takes no
	// votes.
	Closed bool `bson:"closed" json:"closed"`
}

// PollOption is one answer of a poll. IDs are the options' positions,
// 0 first, so option i is Options[i].
type PollOption struct {
	ID    int    `bson:"id" json:"id"`
	Text  string `bson:"text" json:"text"`
	Count int    `bson:"count" json:"count"`
}

// Expired reports whether the poll should be closed at now.
func (p *Poll) Expired(now time.Time) bool { return !p.Closed && !now.Before(p.ExpiresAt) }

// PollVote is one user's vote on one poll. Its _id is
// PollVoteID(message, user), so it is always found by _id.
type PollVote struct {
	ID        string    `bson:"_id" json:"-"`
	MessageID string    `bson:"message_id" json:"-"`
	UserID    string    `bson:"user_id" json:"-"`
	Choices   []int     `bson:"choices" json:"choices"`
	VotedAt   time.Time `bson:"voted_at" json:"-"`
}

// PollVoteID returns the _id of a user's vote on the poll of a message.
func PollVoteID(messageID, userID string) string { return messageID + ":" + userID }

// ValidPollText trims a poll question or option and checks it: 1 to max
// characters of valid UTF-8 without control characters (newlines
// included).
func ValidPollText(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return s, true
}
