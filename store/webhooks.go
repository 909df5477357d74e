package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// WebhooksCollection holds models.Webhook.
const WebhooksCollection = "webhooks"

func (m *Mongo) webhooks() *mongo.Collection { return m.db.Collection(WebhooksCollection) }

// PutWebhook implements Store.
func (m *Mongo) PutWebhook(ctx context.Context, w *models.Webhook) error {
	return upsertByID(ctx, m.webhooks(), w.ID, w, "store webhook")
}

// Webhook implements Store.
func (m *Mongo) Webhook(ctx context.Context, id string) (*models.Webhook, error) {
	return findOne[models.Webhook](ctx, m.webhooks(), bson.D{{Key: "_id", Value: id}}, "find webhook")
}

// WebhooksOf implements Store.
func (m *Mongo) WebhooksOf(ctx context.Context, circleID string) ([]*models.Webhook, error) {
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}})
	return findAll[models.Webhook](ctx, m.webhooks(), bson.D{{Key: "circle_id", Value: circleID}}, opts, "list webhooks")
}

// DeleteWebhook implements Store.
func (m *Mongo) DeleteWebhook(ctx context.Context, id string) error {
	return deleteByID(ctx, m.webhooks(), id, "delete webhook")
}
