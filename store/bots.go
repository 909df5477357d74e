package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// Collections of bot accounts and slash commands. Bots holds
// models.Bot (a bot's owner, flags and commands, by the bot's user id);
// CircleBots holds models.CircleBot (a bot's place in a circle, by
// models.CircleBotID); Interactions holds models.Interaction (invocations
// waiting for an answer, by id). Lookups on the hot path (command_invoke,
// interaction_respond) are all by _id.
const (
	BotsCollection         = "bots"
	CircleBotsCollection   = "circle_bots"
	InteractionsCollection = "interactions"
)

func (m *Mongo) bots() *mongo.Collection { return m.db.Collection(BotsCollection) }
func (m *Mongo) circleBots() *mongo.Collection {
	return m.db.Collection(CircleBotsCollection)
}
func (m *Mongo) interactions() *mongo.Collection {
	return m.db.Collection(InteractionsCollection)
}

// PutBot implements Store.
func (m *Mongo) PutBot(ctx context.Context, b *models.Bot) error {
	return upsertByID(ctx, m.bots(), b.ID, b, "store bot")
}

// Bot implements Store.
func (m *Mongo) Bot(ctx context.Context, id string) (*models.Bot, error) {
	return findOne[models.Bot](ctx, m.bots(), bson.D{{Key: "_id", Value: id}}, "find bot")
}

// BotsOf implements Store.
func (m *Mongo) BotsOf(ctx context.Context, ownerID string) ([]*models.Bot, error) {
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}})
	return findAll[models.Bot](ctx, m.bots(), bson.D{{Key: "owner_id", Value: ownerID}}, opts, "list bots")
}

// SetBotCommands implements Store.
func (m *Mongo) SetBotCommands(ctx context.Context, botID string, cmds []models.Command) error {
	if cmds == nil {
		cmds = []models.Command{}
	}
	res, err := m.bots().UpdateOne(ctx, bson.D{{Key: "_id", Value: botID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "commands", Value: cmds}}}})
	if err != nil {
		return wrap("store bot commands", err)
	}
	if res.MatchedCount == 0 {
		return wrap("store bot commands", mongo.ErrNoDocuments)
	}
	return nil
}

// DeleteBot implements Store: the bot's settings, its records in
// circles and its user document. Its sessions and memberships are the
// caller's to remove first.
func (m *Mongo) DeleteBot(ctx context.Context, id string) error {
	if _, err := m.circleBots().DeleteMany(ctx, bson.D{{Key: "bot_id", Value: id}}); err != nil {
		return wrap("delete bot's circles", err)
	}
	if err := deleteByID(ctx, m.bots(), id, "delete bot"); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return deleteByID(ctx, m.users, id, "delete bot user")
}

// PutCircleBot implements Store.
func (m *Mongo) PutCircleBot(ctx context.Context, cb *models.CircleBot) error {
	return upsertByID(ctx, m.circleBots(), cb.ID, cb, "store circle bot")
}

// CircleBot implements Store.
func (m *Mongo) CircleBot(ctx context.Context, circleID, botID string) (*models.CircleBot, error) {
	id := models.CircleBotID(circleID, botID)
	return findOne[models.CircleBot](ctx, m.circleBots(), bson.D{{Key: "_id", Value: id}}, "find circle bot")
}

// CircleBots implements Store.
func (m *Mongo) CircleBots(ctx context.Context, circleID string) ([]*models.CircleBot, error) {
	opts := options.Find().SetSort(bson.D{{Key: "added_at", Value: 1}, {Key: "_id", Value: 1}})
	return findAll[models.CircleBot](ctx, m.circleBots(), bson.D{{Key: "circle_id", Value: circleID}}, opts, "list circle bots")
}

// DeleteCircleBot implements Store; a missing record is not an error.
func (m *Mongo) DeleteCircleBot(ctx context.Context, circleID, botID string) error {
	_, err := m.circleBots().DeleteOne(ctx, bson.D{{Key: "_id", Value: models.CircleBotID(circleID, botID)}})
	return wrap("delete circle bot", err)
}

// PutInteraction implements Store.
func (m *Mongo) PutInteraction(ctx context.Context, in *models.Interaction) error {
	return upsertByID(ctx, m.interactions(), in.ID, in, "store interaction")
}

// Interaction implements Store.
func (m *Mongo) Interaction(ctx context.Context, id string) (*models.Interaction, error) {
	return findOne[models.Interaction](ctx, m.interactions(), bson.D{{Key: "_id", Value: id}}, "find interaction")
}

// TakeInteraction implements Store: one DeleteOne by _id, so of answers
// racing on several nodes exactly one takes it.
func (m *Mongo) TakeInteraction(ctx context.Context, id string) error {
	return deleteByID(ctx, m.interactions(), id, "take interaction")
}

// SetCommandPermission implements Store with one update by _id ($set or
// $unset of permissions.<command>), so changes to different commands
// made at once do not undo each other. Command names hold no dots or
// dollars (models.ValidCommandName).
func (m *Mongo) SetCommandPermission(ctx context.Context, circleID, botID, command string, roles []string) error {
	field := "permissions." + command
	update := bson.D{{Key: "$unset", Value: bson.D{{Key: field, Value: ""}}}}
	if len(roles) > 0 {
		update = bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: roles}}}}
	}
	res, err := m.circleBots().UpdateOne(ctx, bson.D{{Key: "_id", Value: models.CircleBotID(circleID, botID)}}, update)
	if err != nil {
		return wrap("set command permission", err)
	}
	if res.MatchedCount == 0 {
		return wrap("set command permission", mongo.ErrNoDocuments)
	}
	return nil
}

// DeleteExpiredInteractions implements Store. On the embedded store it
// reads the whole collection, so the gateway calls it rarely.
func (m *Mongo) DeleteExpiredInteractions(ctx context.Context, now time.Time) error {
	_, err := m.interactions().DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
	return wrap("delete expired interactions", err)
}
