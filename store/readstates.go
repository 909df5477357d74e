package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// readStates is one user's read states, all streams in one document
// keyed by the user's id, so that building a user's ready reads one
// document by _id, not one per stream.
type readStates struct {
	ID      string               `bson:"_id"`
	Streams map[string]readState `bson:"streams"`
}

type readState struct {
	Seq       int64     `bson:"seq"`
	Mentions  []int64   `bson:"mentions,omitempty"`
	UpdatedAt time.Time `bson:"updated_at"`
}

func (r readState) model(userID, streamID string) *models.ReadState {
	return &models.ReadState{ID: models.ReadStateID(userID, streamID), UserID: userID, StreamID: streamID,
		Seq: r.Seq, Mentions: r.Mentions, UpdatedAt: r.UpdatedAt}
}

// ReadStates implements Store.
func (m *Mongo) ReadStates(ctx context.Context, userID string) (map[string]*models.ReadState, error) {
	doc, err := findOne[readStates](ctx, m.readStates, bson.D{{Key: "_id", Value: userID}}, "find read states")
	out := make(map[string]*models.ReadState)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return out, nil
		}
		return nil, err
	}
	for id, r := range doc.Streams {
		out[id] = r.model(userID, id)
	}
	return out, nil
}

// ReadState implements Store.
func (m *Mongo) ReadState(ctx context.Context, userID, streamID string) (*models.ReadState, error) {
	all, err := m.ReadStates(ctx, userID)
	if err != nil {
		return nil, err
	}
	rs := all[streamID]
	if rs == nil {
		return nil, fmt.Errorf("find read state: %w", ErrNotFound)
	}
	return rs, nil
}

// SetReadState implements Store: it sets the one stream's field of the
// user's document, creating the document the first time.
func (m *Mongo) SetReadState(ctx context.Context, rs *models.ReadState) error {
	set := bson.D{{Key: "streams." + rs.StreamID, Value: readState{Seq: rs.Seq, Mentions: rs.Mentions, UpdatedAt: rs.UpdatedAt}}}
	_, err := m.readStates.UpdateOne(ctx, bson.D{{Key: "_id", Value: rs.UserID}}, bson.D{{Key: "$set", Value: set}}, options.UpdateOne().SetUpsert(true))
	return wrap("store read state", err)
}

// dropReadStates removes a deleted stream's read states from every
// user's document.
func (m *Mongo) dropReadStates(ctx context.Context, streamID string) error {
	field := "streams." + streamID
	_, err := m.readStates.UpdateMany(ctx, bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: field, Value: ""}}}})
	return wrap("delete stream's read states", err)
}
