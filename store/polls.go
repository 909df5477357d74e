package store

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

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
