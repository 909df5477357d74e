package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// PollVotesCollection holds models.PollVote, one document per user and
// poll, found by _id only (models.PollVoteID).
const PollVotesCollection = "poll_votes"

func (m *Mongo) pollVotes() *mongo.Collection { return m.db.Collection(PollVotesCollection) }

// PollVote implements Store.
func (m *Mongo) PollVote(ctx context.Context, messageID, userID string) (*models.PollVote, error) {
	id := models.PollVoteID(messageID, userID)
	return findOne[models.PollVote](ctx, m.pollVotes(), bson.D{{Key: "_id", Value: id}}, "find poll vote")
}

// PutPollVote implements Store.
func (m *Mongo) PutPollVote(ctx context.Context, v *models.PollVote) error {
	return upsertByID(ctx, m.pollVotes(), v.ID, v, "store poll vote")
}

// DeletePollVote implements Store.
func (m *Mongo) DeletePollVote(ctx context.Context, messageID, userID string) error {
	err := deleteByID(ctx, m.pollVotes(), models.PollVoteID(messageID, userID), "delete poll vote")
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// UpdatePoll implements Store. Counts are changed with $inc on each
// option by its position (an option's id), so updates made at once by
// several nodes add up.
func (m *Mongo) UpdatePoll(ctx context.Context, messageID string, inc map[int]int, closed bool) (*models.Message, error) {
	var update bson.D
	if len(inc) > 0 {
		ids := make([]int, 0, len(inc))
		for id := range inc {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		d := bson.D{}
		for _, id := range ids {
			if inc[id] != 0 {
				d = append(d, bson.E{Key: fmt.Sprintf("poll.options.%d.count", id), Value: inc[id]})
			}
		}
		if len(d) > 0 {
			update = append(update, bson.E{Key: "$inc", Value: d})
		}
	}
	if closed {
		update = append(update, bson.E{Key: "$set", Value: bson.D{{Key: "poll.closed", Value: true}}})
	}
	if len(update) == 0 {
		return m.Message(ctx, messageID)
	}
	return m.updateMessage(ctx, messageID, update, "update poll")
}

// OpenPollsCollection holds one OpenPoll per poll not yet closed, so
// that any node can close it at its expiry (streams' poll sweep). It
// only ever holds open polls, so it stays small and is read whole.
const OpenPollsCollection = "open_polls"

// OpenPoll records a poll that is not closed yet: its message, stream
// and expiry. It is written before the poll's message is stored and
// removed once the poll is closed or its message deleted.
type OpenPoll struct {
	MessageID string    `bson:"_id"`
	StreamID  string    `bson:"stream_id"`
	ExpiresAt time.Time `bson:"expires_at"`
	// ClaimedUntil is when the claim of the node closing the poll lapses
	// (ClaimOpenPoll); zero when no node has claimed it.
	ClaimedUntil time.Time `bson:"claimed_until"`
}

func (m *Mongo) openPolls() *mongo.Collection { return m.db.Collection(OpenPollsCollection) }

// PutOpenPoll implements Store.
func (m *Mongo) PutOpenPoll(ctx context.Context, p *OpenPoll) error {
	return upsertByID(ctx, m.openPolls(), p.MessageID, p, "store open poll")
}

// DeleteOpenPoll implements Store.
func (m *Mongo) DeleteOpenPoll(ctx context.Context, messageID string) error {
	_, err := m.openPolls().DeleteOne(ctx, bson.D{{Key: "_id", Value: messageID}})
	return wrap("delete open poll", err)
}

// OpenPolls implements Store. The collection is read whole: it holds
// only the polls not closed yet, and on the embedded store any filter
// but one on _id would read every document anyway.
func (m *Mongo) OpenPolls(ctx context.Context) ([]*OpenPoll, error) {
	return findAll[OpenPoll](ctx, m.openPolls(), bson.D{}, nil, "list open polls")
}

// ClaimOpenPoll implements Store. The update matches the poll's _id and
// a claim that has lapsed, so of several nodes claiming at once one
// matches; the others see the claim already set (or the record gone).
func (m *Mongo) ClaimOpenPoll(ctx context.Context, messageID string, now, until time.Time) (bool, error) {
	res, err := m.openPolls().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: messageID}, {Key: "claimed_until", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "claimed_until", Value: until}}}})
	if err != nil {
		return false, wrap("claim open poll", err)
	}
	return res.MatchedCount == 1, nil
}

// DeletePollVotes implements Store.
func (m *Mongo) DeletePollVotes(ctx context.Context, messageID string) error {
	_, err := m.pollVotes().DeleteMany(ctx, bson.D{{Key: "message_id", Value: messageID}})
	return wrap("delete poll votes", err)
}

// pollIDsPerDelete bounds the message ids of one $in when a stream's
// poll votes are deleted.
const pollIDsPerDelete = 256

// deleteStreamPolls removes the votes and the open-poll records of a
// stream's polls (DeleteStream); it runs before the stream's messages
// are deleted, since they name the polls. A poll deleted before keeps
// no votes (its message's delete removed them).
func (m *Mongo) deleteStreamPolls(ctx context.Context, streamID string) error {
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}})
	polls, err := findAll[struct {
		ID string `bson:"_id"`
	}](ctx, m.messages, bson.D{{Key: "stream_id", Value: streamID}, {Key: "poll", Value: bson.D{{Key: "$exists", Value: true}}}}, opts, "list stream's polls")
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(polls))
	for _, p := range polls {
		ids = append(ids, p.ID)
	}
	for chunk := range slices.Chunk(ids, pollIDsPerDelete) {
		if _, err := m.pollVotes().DeleteMany(ctx, bson.D{{Key: "message_id", Value: bson.D{{Key: "$in", Value: chunk}}}}); err != nil {
			return wrap("delete stream's poll votes", err)
		}
	}
	if _, err := m.openPolls().DeleteMany(ctx, bson.D{{Key: "stream_id", Value: streamID}}); err != nil {
		return wrap("delete stream's open polls", err)
	}
	return nil
}
