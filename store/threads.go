package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/models"
)

// UpdateThread implements Store. Only these fields are set: last_seq
// and pins are written by others at the same time.
func (m *Mongo) UpdateThread(ctx context.Context, s *models.Stream) error {
	set := bson.D{
		{Key: "name", Value: s.Name},
		{Key: "archived", Value: s.Archived},
		{Key: "locked", Value: s.Locked},
	}
	var update bson.D
	if s.ArchivedAt != nil {
		update = bson.D{{Key: "$set", Value: append(set, bson.E{Key: "archived_at", Value: *s.ArchivedAt})}}
	} else {
		update = bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "archived_at", Value: ""}}}}
	}
	return m.updateStream(ctx, s.ID, update, "update thread")
}

// SetMessageThread implements Store.
func (m *Mongo) SetMessageThread(ctx context.Context, id string, ref *models.ThreadRef) (*models.Message, error) {
	if ref == nil {
		return m.updateMessage(ctx, id, bson.D{{Key: "$unset", Value: bson.D{{Key: "thread", Value: ""}}}}, "clear message thread")
	}
	return m.updateMessage(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "thread", Value: ref}}}}, "set message thread")
}
