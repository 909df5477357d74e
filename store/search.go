package store

import (
	"context"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// SearchQuery selects messages for SearchMessages.
//
// A message matches when it is in one of StreamIDs, is not deleted, and
// its content holds every one of Words, each taken literally (no pattern
// characters) and compared case-insensitively, anywhere in the content
// (so "log" matches "Login"). Results are newest first by id: message
// ids are UUIDv7 strings, whose text order is their creation order and
// is total, so Before, an id, resumes a listing without duplicates or
// gaps across streams.
type SearchQuery struct {
	StreamIDs []string
	Words     []string
	// Before, when not empty, keeps only messages whose id is lower.
	Before string
	// Through, when not empty, keeps only messages whose id is lower or
	// equal.
	Through string
	// Limit bounds the results; 0 means no bound.
	Limit int
}

// SearchMessages implements Store.
//
// The same filter serves MongoDB and the embedded FerretDB: an AND of
// escaped, case-insensitive regular expressions on content. FerretDB 1.24
// has neither text indexes nor $text (creating one fails with
// IndexNotFound, the operator with "unknown top level operator"), and a
// MongoDB text index would match differently (stemming, stop words, whole
// words only), so one rule everywhere keeps results the same on both. The
// cost is a scan: of the streams' index range on MongoDB, of the whole
// collection on the embedded store (docs/performance.md).
func (m *Mongo) SearchMessages(ctx context.Context, q SearchQuery) ([]*models.Message, error) {
	if len(q.StreamIDs) == 0 {
		return nil, nil
	}
	filter := bson.D{
		{Key: "stream_id", Value: bson.D{{Key: "$in", Value: q.StreamIDs}}},
		{Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}},
	}
	if len(q.Words) > 0 {
		words := make(bson.A, len(q.Words))
		for i, w := range q.Words {
			words[i] = bson.D{{Key: "content", Value: bson.Regex{Pattern: regexp.QuoteMeta(w), Options: "i"}}}
		}
		filter = append(filter, bson.E{Key: "$and", Value: words})
	}
	if q.Before != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: q.Before}}})
	}
	if q.Through != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lte", Value: q.Through}}})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}})
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	return findAll[models.Message](ctx, m.messages, filter, opts, "search messages")
}
