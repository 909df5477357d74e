package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/oshichat/oshi/models"
)

// Custom emoji are kept in two places: a circle's list (EmojiSet, one
// document by _id in EmojiSetsCollection, so reading it is one indexed
// lookup on the embedded store) and each emoji's image, a file of the
// GridFS bucket EmojiBucket whose _id is the emoji's id (written and
// read with the attachments' own code: putGridFile, openGridFile).

// EmojiSetsCollection holds EmojiSet, one document per circle that has
// had custom emoji, by the circle's id.
const EmojiSetsCollection = "emoji_sets"

// EmojiBucket is the GridFS bucket of custom emoji images.
const EmojiBucket = "emoji"

// ErrConflict means a compare-and-set write found the document changed
// since it was read; read it again and retry.
var ErrConflict = errors.New("changed meanwhile")

// EmojiSet is a circle's custom emoji list as stored. Rev counts its
// writes: PutEmojiSet writes only over the revision it was read at.
type EmojiSet struct {
	CircleID string         `bson:"_id"`
	Emojis   []models.Emoji `bson:"emojis"`
	Rev      int64          `bson:"rev"`
}

// emojiMeta is the metadata of an emoji's GridFS file. The file's
// filename is the emoji's name when it was uploaded.
type emojiMeta struct {
	CircleID    string         `bson:"circle_id"`
	ContentType string         `bson:"content_type"`
	Animated    bool           `bson:"animated"`
	Creator     models.UserRef `bson:"creator"`
	CreatedAt   time.Time      `bson:"created_at"`
}

// emojiFile is a document of the emoji bucket's files collection.
type emojiFile struct {
	ID       string    `bson:"_id"`
	Length   int64     `bson:"length"`
	Filename string    `bson:"filename"`
	Metadata emojiMeta `bson:"metadata"`
}

func (m *Mongo) emojiSets() *mongo.Collection { return m.db.Collection(EmojiSetsCollection) }

// EmojiSet implements Store.
func (m *Mongo) EmojiSet(ctx context.Context, circleID string) (*EmojiSet, error) {
	set, err := findOne[EmojiSet](ctx, m.emojiSets(), bson.D{{Key: "_id", Value: circleID}}, "find emoji set")
	if errors.Is(err, ErrNotFound) {
		return &EmojiSet{CircleID: circleID, Emojis: []models.Emoji{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if set.Emojis == nil {
		set.Emojis = []models.Emoji{}
	}
	return set, nil
}

// PutEmojiSet implements Store.
func (m *Mongo) PutEmojiSet(ctx context.Context, set *EmojiSet) error {
	next := *set
	next.Rev++
	if set.Rev == 0 {
		_, err := m.emojiSets().InsertOne(ctx, next)
		if err != nil && mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("store emoji set: %w", ErrConflict)
		}
		if err != nil {
			return wrap("store emoji set", err)
		}
	} else {
		res, err := m.emojiSets().ReplaceOne(ctx, bson.D{{Key: "_id", Value: set.CircleID}, {Key: "rev", Value: set.Rev}}, next)
		if err != nil {
			return wrap("store emoji set", err)
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("store emoji set: %w", ErrConflict)
		}
	}
	set.Rev = next.Rev
	return nil
}

// PutEmojiImage implements Store.
func (m *Mongo) PutEmojiImage(ctx context.Context, e *models.Emoji, content io.Reader) error {
	f := gridFile{ID: e.ID, UploadDate: e.CreatedAt, Filename: e.Name, Metadata: emojiMeta{
		CircleID: e.CircleID, ContentType: e.ContentType, Animated: e.Animated, Creator: e.Creator, CreatedAt: e.CreatedAt,
	}}
	if err := m.putGridFile(ctx, EmojiBucket, &f, content, "store emoji image"); err != nil {
		return err
	}
	e.Size = f.Length
	return nil
}

// EmojiImage implements Store.
func (m *Mongo) EmojiImage(ctx context.Context, id string) (*models.Emoji, error) {
	f, err := findOne[emojiFile](ctx, m.gridFiles(EmojiBucket), bson.D{{Key: "_id", Value: id}}, "find emoji image")
	if err != nil {
		return nil, err
	}
	return &models.Emoji{
		ID: f.ID, CircleID: f.Metadata.CircleID, Name: f.Filename, Animated: f.Metadata.Animated,
		ContentType: f.Metadata.ContentType, Size: f.Length, Creator: f.Metadata.Creator, CreatedAt: f.Metadata.CreatedAt,
	}, nil
}

// OpenEmojiImage implements Store.
func (m *Mongo) OpenEmojiImage(ctx context.Context, e *models.Emoji) AttachmentReader {
	return m.openGridFile(ctx, EmojiBucket, e.ID, e.Size)
}

// DeleteEmojiImages implements Store.
func (m *Mongo) DeleteEmojiImages(ctx context.Context, ids []string) error {
	return m.deleteGridFiles(ctx, EmojiBucket, ids, "delete emoji image")
}

// deleteCircleEmoji deletes a circle's emoji images and list
// (DeleteCircle).
func (m *Mongo) deleteCircleEmoji(ctx context.Context, circleID string) error {
	set, err := m.EmojiSet(ctx, circleID)
	if err != nil {
		return err
	}
	ids := make([]string, len(set.Emojis))
	for i, e := range set.Emojis {
		ids[i] = e.ID
	}
	if err := m.DeleteEmojiImages(ctx, ids); err != nil {
		return err
	}
	if _, err := m.emojiSets().DeleteOne(ctx, bson.D{{Key: "_id", Value: circleID}}); err != nil {
		return wrap("delete emoji set", err)
	}
	return nil
}
