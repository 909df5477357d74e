package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/models"
)

// SetEmbeds implements Store.
func (m *Mongo) SetEmbeds(ctx context.Context, messageID string, embeds []models.Embed) (*models.Message, error) {
	if len(embeds) == 0 {
		return m.updateMessage(ctx, messageID, bson.D{{Key: "$unset", Value: bson.D{{Key: "embeds", Value: ""}}}}, "clear embeds")
	}
	return m.updateMessage(ctx, messageID, bson.D{{Key: "$set", Value: bson.D{{Key: "embeds", Value: embeds}}}}, "set embeds")
}
