package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// DMListsCollection holds, per user, the ids of the DM streams the user
// takes part in: one document a user, keyed by the user's id, so that
// listing a user's DMs (every connect's ready) is a lookup by _id rather
// than a query on the streams' members, which the embedded store answers
// by reading every stream.
const DMListsCollection = "dm_lists"

// dmList is a user's document in DMListsCollection. Complete is set once
// the list is known to hold every DM of the user: DMs made before the
// collection existed are found by one query on the streams, the first
// time the user's DMs are listed.
type dmList struct {
	UserID   string   `bson:"_id"`
	Streams  []string `bson:"streams"`
	Complete bool     `bson:"complete"`
}

func (m *Mongo) dmLists() *mongo.Collection { return m.db.Collection(DMListsCollection) }

// addDMs records DM streams in a user's list; it is idempotent.
func (m *Mongo) addDMs(ctx context.Context, userID string, streamIDs []string, complete bool) error {
	set := bson.D{}
	if complete {
		set = append(set, bson.E{Key: "complete", Value: true})
	}
	update := bson.D{{Key: "$addToSet", Value: bson.D{{Key: "streams", Value: bson.D{{Key: "$each", Value: streamIDs}}}}}}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	filter := bson.D{{Key: "_id", Value: userID}}
	_, err := m.dmLists().UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		// Two upserts of one new list raced (the user's connections
		// listing their DMs at once) and the other inserted it: update it.
		_, err = m.dmLists().UpdateOne(ctx, filter, update)
	}
	return wrap("record dm", err)
}

// recordDM adds a DM stream to both participants' lists.
func (m *Mongo) recordDM(ctx context.Context, dm *models.Stream) error {
	for _, u := range dm.Members {
		if err := m.addDMs(ctx, u, []string{dm.ID}, false); err != nil {
			return err
		}
	}
	return nil
}

// DMsOf implements Store.
func (m *Mongo) DMsOf(ctx context.Context, userID string) ([]*models.Stream, error) {
	list, err := findOne[dmList](ctx, m.dmLists(), bson.D{{Key: "_id", Value: userID}}, "find dm list")
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if list == nil || !list.Complete {
		// Older DMs were not listed: find them once, and list them.
		opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
		dms, err := findAll[models.Stream](ctx, m.streams, bson.D{{Key: "kind", Value: models.DM}, {Key: "members", Value: userID}}, opts, "list dms")
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(dms))
		for _, dm := range dms {
			ids = append(ids, dm.ID)
		}
		if err := m.addDMs(ctx, userID, ids, true); err != nil {
			return nil, err
		}
		if list == nil {
			return dms, nil
		}
		// A DM recorded while the query ran is in the list: read it again.
		if list, err = findOne[dmList](ctx, m.dmLists(), bson.D{{Key: "_id", Value: userID}}, "find dm list"); err != nil {
			return nil, err
		}
	}
	dms, err := findByIDs[models.Stream](ctx, m, m.streams, list.Streams, "find dms")
	if err != nil {
		return nil, err
	}
	slices.SortFunc(dms, func(a, b *models.Stream) int { return strings.Compare(a.ID, b.ID) })
	return dms, nil
}

// lookupConcurrency bounds the parallel _id lookups of findByIDs on
// FerretDB.
const lookupConcurrency = 8

// findByIDs returns the documents of c with the given ids, in the order
// of ids, leaving out those that do not exist. MongoDB answers one $in
// query from the _id index; FerretDB would read every document of the
// collection for it, so there each id is looked up alone, a few at a time.
func findByIDs[T any](ctx context.Context, m *Mongo, c *mongo.Collection, ids []string, what string) ([]*T, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if !m.ferret {
		return findAll[T](ctx, c, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, nil, what)
	}
	out := make([]*T, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, lookupConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = findOne[T](ctx, c, bson.D{{Key: "_id", Value: id}}, what)
		}()
	}
	wg.Wait()
	found := out[:0]
	for i, v := range out {
		switch {
		case errs[i] == nil:
			found = append(found, v)
		case !errors.Is(errs[i], ErrNotFound):
			return nil, errs[i]
		}
	}
	return found, nil
}
