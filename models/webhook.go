package models

import "time"

// Webhook lets an outside program post into one channel of a circle by
// POST /api/webhooks/{id}/{token}. The token is shown once, when the
// webhook is created or its token rotated; only its SHA-256 hash is
// stored, as for sessions.
type Webhook struct {
	ID       string `bson:"_id" json:"id"`
	CircleID string `bson:"circle_id" json:"circle"`
	StreamID string `bson:"stream_id" json:"stream"`
	// Name is shown as the author of its posts unless a post names
	// itself otherwise.
	Name      string `bson:"name" json:"name"`
	TokenHash string `bson:"token_hash" json:"-"`
	// CreatedBy is the member who created the webhook.
	CreatedBy UserRef   `bson:"created_by" json:"created_by"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}
