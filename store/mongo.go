package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

var _ Store = (*Mongo)(nil)

// Collection names.
const (
	UsersCollection    = "users"
	SessionsCollection = "sessions"
	CirclesCollection  = "circles"
	MembersCollection  = "members"
	InvitesCollection  = "invites"
	StreamsCollection  = "streams"
	MessagesCollection = "messages"
	// ReadStatesCollection holds each user's read states, one document a
	// user keyed by the user's id (see store/readstates.go).
	ReadStatesCollection = "read_markers"
	// RolesCollection holds models.Role; a circle's default role has
	// the circle's id.
	RolesCollection = "roles"
	// BansCollection holds models.Ban, keyed by models.BanID.
	BansCollection = "bans"
	// AuditCollection holds models.AuditEntry.
	AuditCollection = "audit_log"
	// TimeoutsCollection holds running timeouts by circle and user.
	TimeoutsCollection = "timeouts"
)

// MongoConfig says where the database is.
type MongoConfig struct {
	// URI is a mongodb:// connection string.
	URI string
	// Database is the database name; empty means "oshi".
	Database string
	// Timeout bounds server selection, so calls fail fast while the
	// database is away; 0 means 3 seconds.
	Timeout time.Duration
}

// Mongo is a Store backed by a MongoDB wire-protocol server.
type Mongo struct {
	client *mongo.Client
	db     *mongo.Database

	users, sessions, circles, members, invites, streams, messages *mongo.Collection
	readStates, roles, bans, audit, timeouts                      *mongo.Collection

	// ferret is set when the server is FerretDB, which answers only a
	// single _id equality from an index (see MessagesByID).
	ferret bool
}

// OpenMongo connects to the database in cfg and creates the indexes Oshi
// relies on. It fails when the server does not answer.
func OpenMongo(ctx context.Context, cfg MongoConfig) (*Mongo, error) {
	if cfg.Database == "" {
		cfg.Database = "oshi"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	opts := options.Client().ApplyURI(cfg.URI).
		SetServerSelectionTimeout(cfg.Timeout).
		SetConnectTimeout(cfg.Timeout)
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	db := client.Database(cfg.Database)
	m := &Mongo{
		client:   client,
		db:       db,
		users:    db.Collection(UsersCollection),
		sessions: db.Collection(SessionsCollection),
		circles:  db.Collection(CirclesCollection),
		members:  db.Collection(MembersCollection),
		invites:  db.Collection(InvitesCollection),
		streams:  db.Collection(StreamsCollection),
		messages: db.Collection(MessagesCollection),

		readStates: db.Collection(ReadStatesCollection),
		roles:      db.Collection(RolesCollection),
		bans:       db.Collection(BansCollection),
		audit:      db.Collection(AuditCollection),
		timeouts:   db.Collection(TimeoutsCollection),
	}
	if err := m.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
		_, m.ferret = info["ferretdbVersion"]
	}
	if err := m.EnsureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return m, nil
}

// Database returns the underlying database, for tools and tests that
// inspect the stored documents.
func (m *Mongo) Database() *mongo.Database { return m.db }

// EnsureIndexes creates the indexes Oshi relies on, and so every
// collection Oshi uses. It is idempotent.
func (m *Mongo) EnsureIndexes(ctx context.Context) error {
	// Names are explicit: FerretDB derives clashing names for keys with
	// underscores (username and username_key both become "username_1").
	index := func(name string, unique bool, keys ...string) mongo.IndexModel {
		d := bson.D{}
		for _, k := range keys {
			d = append(d, bson.E{Key: k, Value: 1})
		}
		return mongo.IndexModel{Keys: d, Options: options.Index().SetName(name).SetUnique(unique)}
	}
	plan := []struct {
		coll *mongo.Collection
		idx  mongo.IndexModel
	}{
		{m.users, index("username_unique", true, "username")},
		{m.users, index("username_key_unique", true, "username_key")},
		{m.sessions, index("user", false, "user_id")},
		{m.circles, index("visibility", false, "visibility")},
		{m.members, index("circle_user_unique", true, "circle_id", "user_id")},
		{m.members, index("user", false, "user_id")},
		{m.streams, index("circle", false, "circle_id")},
		{m.streams, index("members", false, "members")},
		{m.messages, index("stream_seq_unique", true, "stream_id", "seq")},
		{m.messages, index("stream_author_nonce_unique", true, "stream_id", "author_id", "nonce")},
		{m.invites, index("circle", false, "circle_id")},
		{m.roles, index("circle", false, "circle_id")},
		{m.bans, index("circle", false, "circle_id")},
		{m.audit, index("circle", false, "circle_id")},
		{m.timeouts, index("circle", false, "circle_id")},
		{m.webhooks(), index("circle", false, "circle_id")},
		{m.attachmentFiles(), index("stream", false, "metadata.stream_id")},
		{m.pollVotes(), index("message", false, "message_id")},
		// Bots (bots.go).
		{m.bots(), index("owner", false, "owner_id")},
		{m.circleBots(), index("circle", false, "circle_id")},
		{m.circleBots(), index("bot", false, "bot_id")},
		{m.interactions(), index("expiry", false, "expires_at")},
	}
	for _, p := range plan {
		if _, err := p.coll.Indexes().CreateOne(ctx, p.idx); err != nil {
			return fmt.Errorf("create index on %s: %w", p.coll.Name(), classify(err))
		}
	}
	// Collections with no index of their own (GridFS indexes its chunks
	// itself on the first upload) are made now, so that they exist when
	// the embedded store's _id lookups are indexed (embedded.IndexIDs).
	for _, name := range []string{AttachmentsBucket + ".chunks", ReadStatesCollection, DMListsCollection,
		EmojiSetsCollection, EmojiBucket + ".files", EmojiBucket + ".chunks",
		OpenPollsCollection} {
		if err := m.db.CreateCollection(ctx, name); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", name, classify(err))
		}
	}
	return nil
}

// isNamespaceExists reports the error of creating a collection that
// exists (code 48).
func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}

// classify maps a driver error onto the package's sentinel errors.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, classify(err))
}

func findOne[T any](ctx context.Context, c *mongo.Collection, filter any, what string) (*T, error) {
	var v T
	if err := c.FindOne(ctx, filter).Decode(&v); err != nil {
		return nil, wrap(what, err)
	}
	return &v, nil
}

func findAll[T any](ctx context.Context, c *mongo.Collection, filter any, opts *options.FindOptionsBuilder, what string) ([]*T, error) {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap(what, err)
	}
	var out []*T
	if err := cur.All(ctx, &out); err != nil {
		return nil, wrap(what, err)
	}
	return out, nil
}

func insert(ctx context.Context, c *mongo.Collection, doc any, what string) error {
	_, err := c.InsertOne(ctx, doc)
	return wrap(what, err)
}

// CreateUser implements Store.
func (m *Mongo) CreateUser(ctx context.Context, u *models.User) error {
	if u.UsernameKey == "" {
		u.UsernameKey = strings.ToLower(u.Username)
	}
	return insert(ctx, m.users, u, "insert user")
}

// UserByName implements Store.
func (m *Mongo) UserByName(ctx context.Context, username string) (*models.User, error) {
	return findOne[models.User](ctx, m.users, bson.D{{Key: "username_key", Value: strings.ToLower(username)}}, "find user")
}

// UserByID implements Store.
func (m *Mongo) UserByID(ctx context.Context, id string) (*models.User, error) {
	return findOne[models.User](ctx, m.users, bson.D{{Key: "_id", Value: id}}, "find user")
}

// UsersByID implements Store.
func (m *Mongo) UsersByID(ctx context.Context, ids []string) (map[string]*models.User, error) {
	out := make(map[string]*models.User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	users, err := findByIDs[models.User](ctx, m, m.users, ids, "find users")
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}

// SetPasswordHash implements Store.
func (m *Mongo) SetPasswordHash(ctx context.Context, userID, hash string) error {
	res, err := m.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "password_hash", Value: hash}}}})
	if err != nil {
		return wrap("set password", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("set password: %w", ErrNotFound)
	}
	return nil
}

// CreateSession implements Store.
func (m *Mongo) CreateSession(ctx context.Context, s *models.Session) error {
	return insert(ctx, m.sessions, s, "insert session")
}

// Session implements Store.
func (m *Mongo) Session(ctx context.Context, tokenHash string, now time.Time) (*models.Session, error) {
	s, err := findOne[models.Session](ctx, m.sessions, bson.D{{Key: "_id", Value: tokenHash}}, "find session")
	if err != nil {
		return nil, err
	}
	if !now.Before(s.ExpiresAt) {
		return nil, fmt.Errorf("find session: expired: %w", ErrNotFound)
	}
	return s, nil
}

// DeleteSession implements Store.
func (m *Mongo) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := m.sessions.DeleteOne(ctx, bson.D{{Key: "_id", Value: tokenHash}})
	return wrap("delete session", err)
}

// DeleteSessions implements Store. It finds the user's sessions (through
// the user_id index), then deletes exactly those, so the hashes returned
// are the sessions removed; a session created in between survives.
func (m *Mongo) DeleteSessions(ctx context.Context, userID string) ([]string, error) {
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}})
	found, err := findAll[models.Session](ctx, m.sessions, bson.D{{Key: "user_id", Value: userID}}, opts, "find sessions")
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, nil
	}
	hashes := make([]string, len(found))
	for i, s := range found {
		hashes[i] = s.TokenHash
	}
	_, err = m.sessions.DeleteMany(ctx, bson.D{
		{Key: "user_id", Value: userID},
		{Key: "_id", Value: bson.D{{Key: "$in", Value: hashes}}},
	})
	if err != nil {
		return nil, wrap("delete sessions", err)
	}
	return hashes, nil
}

// CreateCircle implements Store. The documents are written one by one
// (the embedded store has no transactions); the circle goes last so a
// half-written circle is never listed.
func (m *Mongo) CreateCircle(ctx context.Context, c *models.Circle, streams []*models.Stream, owner *models.Member) error {
	if err := m.AddMember(ctx, owner); err != nil {
		return err
	}
	for _, s := range streams {
		if err := m.CreateStream(ctx, s); err != nil {
			return err
		}
	}
	return insert(ctx, m.circles, c, "insert circle")
}

// Circle implements Store.
func (m *Mongo) Circle(ctx context.Context, id string) (*models.Circle, error) {
	return findOne[models.Circle](ctx, m.circles, bson.D{{Key: "_id", Value: id}}, "find circle")
}

// PublicCircles implements Store.
func (m *Mongo) PublicCircles(ctx context.Context, limit int) ([]*models.Circle, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit))
	return findAll[models.Circle](ctx, m.circles, bson.D{{Key: "visibility", Value: models.Public}}, opts, "list circles")
}

// CirclesByID implements Store.
func (m *Mongo) CirclesByID(ctx context.Context, ids []string) ([]*models.Circle, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	return findAll[models.Circle](ctx, m.circles, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, opts, "find circles")
}

// AddMember implements Store.
func (m *Mongo) AddMember(ctx context.Context, mem *models.Member) error {
	return insert(ctx, m.members, mem, "insert member")
}

// RemoveMember implements Store.
func (m *Mongo) RemoveMember(ctx context.Context, circleID, userID string) error {
	res, err := m.members.DeleteOne(ctx, bson.D{{Key: "circle_id", Value: circleID}, {Key: "user_id", Value: userID}})
	if err != nil {
		return wrap("delete member", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete member: %w", ErrNotFound)
	}
	return nil
}

// Member implements Store.
func (m *Mongo) Member(ctx context.Context, circleID, userID string) (*models.Member, error) {
	return findOne[models.Member](ctx, m.members, bson.D{{Key: "circle_id", Value: circleID}, {Key: "user_id", Value: userID}}, "find member")
}

// Members implements Store.
func (m *Mongo) Members(ctx context.Context, circleID string) ([]*models.Member, error) {
	return findAll[models.Member](ctx, m.members, bson.D{{Key: "circle_id", Value: circleID}}, nil, "list members")
}

// MembershipsOf implements Store.
func (m *Mongo) MembershipsOf(ctx context.Context, userID string) ([]*models.Member, error) {
	return findAll[models.Member](ctx, m.members, bson.D{{Key: "user_id", Value: userID}}, nil, "list memberships")
}

// CreateInvite implements Store.
func (m *Mongo) CreateInvite(ctx context.Context, inv *models.Invite) error {
	return insert(ctx, m.invites, inv, "insert invite")
}

// Invite implements Store.
func (m *Mongo) Invite(ctx context.Context, code string) (*models.Invite, error) {
	return findOne[models.Invite](ctx, m.invites, bson.D{{Key: "_id", Value: code}}, "find invite")
}

// CreateStream implements Store.
func (m *Mongo) CreateStream(ctx context.Context, s *models.Stream) error {
	err := insert(ctx, m.streams, s, "insert stream")
	if s.Kind == models.DM && (err == nil || errors.Is(err, ErrDuplicate)) {
		// Also when it exists: its first creation may have failed
		// between the insert and the lists.
		if lerr := m.recordDM(ctx, s); lerr != nil {
			return lerr
		}
	}
	return err
}

// Stream implements Store.
func (m *Mongo) Stream(ctx context.Context, id string) (*models.Stream, error) {
	return findOne[models.Stream](ctx, m.streams, bson.D{{Key: "_id", Value: id}}, "find stream")
}

// StreamsOfCircles implements Store.
func (m *Mongo) StreamsOfCircles(ctx context.Context, circleIDs []string) ([]*models.Stream, error) {
	if len(circleIDs) == 0 {
		return nil, nil
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	return findAll[models.Stream](ctx, m.streams, bson.D{{Key: "circle_id", Value: bson.D{{Key: "$in", Value: circleIDs}}}}, opts, "list streams")
}

// maxUpdatesPerCommand bounds the updates sent in one bulk write: the
// embedded FerretDB (v1.24, SQLite) holds a pooled connection per update
// until the command ends and deadlocks once a command has as many
// updates as its pool has connections (100 did, 10 did not).
const maxUpdatesPerCommand = 8

// SetLastSeq implements Store.
func (m *Mongo) SetLastSeq(ctx context.Context, seqs map[string]int64) error {
	writes := make([]mongo.WriteModel, 0, min(len(seqs), maxUpdatesPerCommand))
	flush := func() error {
		if len(writes) == 0 {
			return nil
		}
		_, err := m.streams.BulkWrite(ctx, writes, options.BulkWrite().SetOrdered(false))
		writes = writes[:0]
		return wrap("update last_seq", err)
	}
	for id, seq := range seqs {
		writes = append(writes, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: id}}).
			SetUpdate(bson.D{{Key: "$max", Value: bson.D{{Key: "last_seq", Value: seq}}}}))
		if len(writes) == maxUpdatesPerCommand {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// InsertMessages implements Store.
func (m *Mongo) InsertMessages(ctx context.Context, msgs []*models.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	docs := make([]any, len(msgs))
	for i, msg := range msgs {
		docs[i] = msg
	}
	_, err := m.messages.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
	if err == nil {
		return len(msgs), nil
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 && bwe.WriteConcernError == nil {
		// Ordered: everything before the first failed document was written.
		first := bwe.WriteErrors[0].Index
		return first, wrap("insert messages", err)
	}
	return 0, wrap("insert messages", err)
}

// History implements Store.
func (m *Mongo) History(ctx context.Context, q HistoryQuery) ([]*models.Message, error) {
	seq := bson.D{}
	if q.After > 0 {
		seq = append(seq, bson.E{Key: "$gt", Value: q.After})
	}
	if q.Before > 0 {
		seq = append(seq, bson.E{Key: "$lt", Value: q.Before})
	}
	filter := bson.D{{Key: "stream_id", Value: q.StreamID}}
	if len(seq) > 0 {
		filter = append(filter, bson.E{Key: "seq", Value: seq})
	}
	if !q.Since.IsZero() {
		filter = append(filter, bson.E{Key: "created_at", Value: bson.D{{Key: "$gte", Value: q.Since}}})
	}
	newest := q.Newest
	order := 1
	if newest {
		order = -1
	}
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: order}})
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	msgs, err := findAll[models.Message](ctx, m.messages, filter, opts, "read history")
	if err != nil {
		return nil, err
	}
	if newest {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	return msgs, nil
}

// MessageByNonce implements Store.
func (m *Mongo) MessageByNonce(ctx context.Context, streamID, authorID, nonce string) (*models.Message, error) {
	return findOne[models.Message](ctx, m.messages, bson.D{
		{Key: "stream_id", Value: streamID}, {Key: "author_id", Value: authorID}, {Key: "nonce", Value: nonce},
	}, "find message by nonce")
}

// MaxSeq implements Store.
func (m *Mongo) MaxSeq(ctx context.Context, streamID string) (int64, error) {
	opts := options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})
	var doc struct {
		Seq int64 `bson:"seq"`
	}
	err := m.messages.FindOne(ctx, bson.D{{Key: "stream_id", Value: streamID}}, opts).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("find max seq", err)
	}
	return doc.Seq, nil
}

// Message implements Store.
func (m *Mongo) Message(ctx context.Context, id string) (*models.Message, error) {
	return findOne[models.Message](ctx, m.messages, bson.D{{Key: "_id", Value: id}}, "find message")
}

// updateMessage applies one update to the message with that _id (the
// only filter the embedded store answers from its index) and returns the
// message as updated.
func (m *Mongo) updateMessage(ctx context.Context, id string, update bson.D, what string) (*models.Message, error) {
	opts := options.FindOneAndUpdate().SetReturnDocument(options.After)
	var out models.Message
	if err := m.messages.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update, opts).Decode(&out); err != nil {
		return nil, wrap(what, err)
	}
	return &out, nil
}

// EditMessage implements Store.
func (m *Mongo) EditMessage(ctx context.Context, id, content string, prev models.Edit) (*models.Message, error) {
	return m.updateMessage(ctx, id, bson.D{
		{Key: "$set", Value: bson.D{{Key: "content", Value: content}, {Key: "edited_at", Value: prev.EditedAt}}},
		{Key: "$push", Value: bson.D{{Key: "edits", Value: prev}}},
	}, "edit message")
}

// DeleteMessage implements Store.
func (m *Mongo) DeleteMessage(ctx context.Context, id string, at time.Time) (*models.Message, error) {
	return m.updateMessage(ctx, id, bson.D{
		{Key: "$set", Value: bson.D{{Key: "content", Value: ""}, {Key: "deleted", Value: true}, {Key: "deleted_at", Value: at}}},
		{Key: "$unset", Value: bson.D{{Key: "edits", Value: ""}, {Key: "edited_at", Value: ""}, {Key: "reactions", Value: ""},
			{Key: "pinned_at", Value: ""}, {Key: "pinned_by", Value: ""}, {Key: "poll", Value: ""},
			{Key: "embeds", Value: ""}}}, // link embeds
	}, "delete message")
}

// PinMessage implements Store.
func (m *Mongo) PinMessage(ctx context.Context, id string, by models.UserRef, at time.Time) (*models.Message, error) {
	return m.updateMessage(ctx, id, bson.D{
		{Key: "$set", Value: bson.D{{Key: "pinned_at", Value: at}, {Key: "pinned_by", Value: by}}},
	}, "pin message")
}

// UnpinMessage implements Store.
func (m *Mongo) UnpinMessage(ctx context.Context, id string) (*models.Message, error) {
	return m.updateMessage(ctx, id, bson.D{
		{Key: "$unset", Value: bson.D{{Key: "pinned_at", Value: ""}, {Key: "pinned_by", Value: ""}}},
	}, "unpin message")
}

// updateStream applies one update to the stream with that _id.
func (m *Mongo) updateStream(ctx context.Context, id string, update bson.D, what string) error {
	res, err := m.streams.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update)
	if err != nil {
		return wrap(what, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// AddPin implements Store.
func (m *Mongo) AddPin(ctx context.Context, streamID, msgID string) error {
	return m.updateStream(ctx, streamID, bson.D{{Key: "$addToSet", Value: bson.D{{Key: "pins", Value: msgID}}}}, "add pin")
}

// RemovePin implements Store.
func (m *Mongo) RemovePin(ctx context.Context, streamID, msgID string) error {
	return m.updateStream(ctx, streamID, bson.D{{Key: "$pull", Value: bson.D{{Key: "pins", Value: msgID}}}}, "remove pin")
}

func reactionIndex(msg *models.Message, emoji string) int {
	for i, r := range msg.Reactions {
		if r.Emoji == emoji {
			return i
		}
	}
	return -1
}

// AddReaction implements Store. Neither arrayFilters nor the positional
// operator work on the embedded store, so the reaction is addressed by
// its index in the message as read.
func (m *Mongo) AddReaction(ctx context.Context, msg *models.Message, emoji, userID string) (*models.Message, error) {
	var update bson.D
	switch i := reactionIndex(msg, emoji); {
	case i < 0:
		update = bson.D{{Key: "$push", Value: bson.D{{Key: "reactions", Value: models.Reaction{Emoji: emoji, Users: []string{userID}}}}}}
	default:
		update = bson.D{{Key: "$addToSet", Value: bson.D{{Key: fmt.Sprintf("reactions.%d.users", i), Value: userID}}}}
	}
	return m.updateMessage(ctx, msg.ID, update, "add reaction")
}

// RemoveReaction implements Store. A reaction left with no user is
// pulled whole: $pull compares whole elements on the embedded store, and
// that one is exactly {emoji, users: [userID]}.
func (m *Mongo) RemoveReaction(ctx context.Context, msg *models.Message, emoji, userID string) (*models.Message, error) {
	i := reactionIndex(msg, emoji)
	if i < 0 {
		return m.Message(ctx, msg.ID)
	}
	var update bson.D
	if users := msg.Reactions[i].Users; len(users) == 1 && users[0] == userID {
		update = bson.D{{Key: "$pull", Value: bson.D{{Key: "reactions", Value: models.Reaction{Emoji: emoji, Users: []string{userID}}}}}}
	} else {
		update = bson.D{{Key: "$pull", Value: bson.D{{Key: fmt.Sprintf("reactions.%d.users", i), Value: userID}}}}
	}
	return m.updateMessage(ctx, msg.ID, update, "remove reaction")
}

// Ping implements Store.
func (m *Mongo) Ping(ctx context.Context) error {
	return wrap("ping mongodb", m.client.Ping(ctx, nil))
}

// Close implements Store.
func (m *Mongo) Close(ctx context.Context) error {
	return wrap("disconnect mongodb", m.client.Disconnect(ctx))
}

// SetUserStatus implements Store.
func (m *Mongo) SetUserStatus(ctx context.Context, userID, status, text string) error {
	res, err := m.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: status}, {Key: "status_text", Value: text}}}})
	if err != nil {
		return wrap("set user status", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("set user status: %w", ErrNotFound)
	}
	return nil
}

// MessagesByID implements Store.
func (m *Mongo) MessagesByID(ctx context.Context, ids []string) ([]*models.Message, error) {
	return findByIDs[models.Message](ctx, m, m.messages, ids, "find messages")
}
