package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// replaceByID replaces the document with that _id; ErrNotFound when there
// is none. Filters on _id are the ones the embedded store answers from
// its index.
func replaceByID(ctx context.Context, c *mongo.Collection, id string, doc any, what string) error {
	res, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc)
	if err != nil {
		return wrap(what, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

func upsertByID(ctx context.Context, c *mongo.Collection, id string, doc any, what string) error {
	_, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
	return wrap(what, err)
}

func deleteByID(ctx context.Context, c *mongo.Collection, id, what string) error {
	res, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return wrap(what, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// PutCircle implements Store.
func (m *Mongo) PutCircle(ctx context.Context, c *models.Circle) error {
	return replaceByID(ctx, m.circles, c.ID, c, "store circle")
}

// DeleteCircle implements Store.
func (m *Mongo) DeleteCircle(ctx context.Context, circleID string) error {
	if err := deleteByID(ctx, m.circles, circleID, "delete circle"); err != nil {
		return err
	}
	streams, err := findAll[models.Stream](ctx, m.streams, bson.D{{Key: "circle_id", Value: circleID}}, nil, "list streams")
	if err != nil {
		return err
	}
	for _, s := range streams {
		if err := m.DeleteStream(ctx, s.ID); err != nil {
			return err
		}
	}
	byCircle := bson.D{{Key: "circle_id", Value: circleID}}
	for _, c := range []*mongo.Collection{m.members, m.roles, m.invites, m.bans, m.audit, m.timeouts, m.webhooks(), m.circleBots()} {
		if _, err := c.DeleteMany(ctx, byCircle); err != nil {
			return wrap("delete circle's "+c.Name(), err)
		}
	}
	if err := m.deleteCircleEmoji(ctx, circleID); err != nil {
		return err
	}
	return nil
}

// Roles implements Store.
func (m *Mongo) Roles(ctx context.Context, circleID string) ([]*models.Role, error) {
	return findAll[models.Role](ctx, m.roles, bson.D{{Key: "circle_id", Value: circleID}}, nil, "list roles")
}

// PutRole implements Store.
func (m *Mongo) PutRole(ctx context.Context, r *models.Role) error {
	return upsertByID(ctx, m.roles, r.ID, r, "store role")
}

// DeleteRole implements Store.
func (m *Mongo) DeleteRole(ctx context.Context, id string) error {
	_, err := m.roles.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return wrap("delete role", err)
}

// PutMember implements Store.
func (m *Mongo) PutMember(ctx context.Context, mem *models.Member) error {
	return replaceByID(ctx, m.members, mem.ID, mem, "store member")
}

// UpdateStreamInfo implements Store. Only these fields are set: last_seq
// and pins are written by others at the same time.
func (m *Mongo) UpdateStreamInfo(ctx context.Context, s *models.Stream) error {
	set := bson.D{
		{Key: "name", Value: s.Name},
		{Key: "topic", Value: s.Topic},
		{Key: "position", Value: s.Position},
		{Key: "overwrites", Value: s.Overwrites},
	}
	return m.updateStream(ctx, s.ID, bson.D{{Key: "$set", Value: set}}, "update stream")
}

// DeleteStream implements Store.
func (m *Mongo) DeleteStream(ctx context.Context, id string) error {
	if _, err := m.streams.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return wrap("delete stream", err)
	}
	if err := m.deleteStreamPolls(ctx, id); err != nil { // before its messages, which name the polls
		return err
	}
	byStream := bson.D{{Key: "stream_id", Value: id}}
	if _, err := m.messages.DeleteMany(ctx, byStream); err != nil {
		return wrap("delete stream's messages", err)
	}
	if err := m.deleteStreamAttachments(ctx, id); err != nil {
		return err
	}
	if err := m.dropReadStates(ctx, id); err != nil {
		return err
	}
	if _, err := m.webhooks().DeleteMany(ctx, byStream); err != nil {
		return wrap("delete stream's webhooks", err)
	}
	return nil
}

// InvitesOf implements Store.
func (m *Mongo) InvitesOf(ctx context.Context, circleID string) ([]*models.Invite, error) {
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}})
	return findAll[models.Invite](ctx, m.invites, bson.D{{Key: "circle_id", Value: circleID}}, opts, "list invites")
}

// PutInvite implements Store.
func (m *Mongo) PutInvite(ctx context.Context, inv *models.Invite) error {
	return replaceByID(ctx, m.invites, inv.Code, inv, "store invite")
}

// DeleteInvite implements Store.
func (m *Mongo) DeleteInvite(ctx context.Context, code string) error {
	return deleteByID(ctx, m.invites, code, "delete invite")
}

// PutBan implements Store.
func (m *Mongo) PutBan(ctx context.Context, b *models.Ban) error {
	return upsertByID(ctx, m.bans, b.ID, b, "store ban")
}

// DeleteBan implements Store.
func (m *Mongo) DeleteBan(ctx context.Context, circleID, userID string) error {
	return deleteByID(ctx, m.bans, models.BanID(circleID, userID), "delete ban")
}

// Ban implements Store.
func (m *Mongo) Ban(ctx context.Context, circleID, userID string) (*models.Ban, error) {
	return findOne[models.Ban](ctx, m.bans, bson.D{{Key: "_id", Value: models.BanID(circleID, userID)}}, "find ban")
}

// Bans implements Store.
func (m *Mongo) Bans(ctx context.Context, circleID string) ([]*models.Ban, error) {
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}})
	return findAll[models.Ban](ctx, m.bans, bson.D{{Key: "circle_id", Value: circleID}}, opts, "list bans")
}

// AddAudit implements Store.
func (m *Mongo) AddAudit(ctx context.Context, e *models.AuditEntry) error {
	return insert(ctx, m.audit, e, "insert audit entry")
}

// Audit implements Store.
func (m *Mongo) Audit(ctx context.Context, q AuditQuery) ([]*models.AuditEntry, error) {
	f := bson.D{{Key: "circle_id", Value: q.CircleID}}
	if q.ActorID != "" {
		f = append(f, bson.E{Key: "actor.id", Value: q.ActorID})
	}
	if q.TargetID != "" {
		f = append(f, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "target.id", Value: q.TargetID}},
			bson.D{{Key: "target_id", Value: q.TargetID}},
		}})
	}
	if q.Action != "" {
		f = append(f, bson.E{Key: "action", Value: q.Action})
	}
	at := bson.D{}
	if !q.Since.IsZero() {
		at = append(at, bson.E{Key: "$gte", Value: q.Since})
	}
	if !q.Until.IsZero() {
		at = append(at, bson.E{Key: "$lt", Value: q.Until})
	}
	if len(at) > 0 {
		f = append(f, bson.E{Key: "at", Value: at})
	}
	if q.Before != "" {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: q.Before}}})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(q.Limit))
	return findAll[models.AuditEntry](ctx, m.audit, f, opts, "read audit log")
}

type timeoutDoc struct {
	ID       string    `bson:"_id"`
	CircleID string    `bson:"circle_id"`
	Until    time.Time `bson:"until"`
}

// SetTimeout implements Store.
func (m *Mongo) SetTimeout(ctx context.Context, circleID, userID string, until time.Time) error {
	id := models.BanID(circleID, userID)
	if until.IsZero() {
		_, err := m.timeouts.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		return wrap("lift timeout", err)
	}
	return upsertByID(ctx, m.timeouts, id, timeoutDoc{ID: id, CircleID: circleID, Until: until}, "store timeout")
}

// Timeout implements Store.
func (m *Mongo) Timeout(ctx context.Context, circleID, userID string) (time.Time, error) {
	d, err := findOne[timeoutDoc](ctx, m.timeouts, bson.D{{Key: "_id", Value: models.BanID(circleID, userID)}}, "find timeout")
	if err != nil {
		return time.Time{}, err
	}
	return d.Until, nil
}
