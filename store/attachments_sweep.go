package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collecting unattached uploads: a file no stored message uses (its
// metadata.message_id is empty) whose upload is older than the grace
// period is deleted, with its chunks, by SweepAttachments. The gateway
// refuses to attach a file older than the grace period, and sweeps with
// a cutoff some minutes before it, so a message claiming a file just
// before its grace ends is stored and recorded long before the sweep
// may look at the file.

// sweptClaim marks a file the sweep is deleting: no message_new claim
// equals it (theirs start "nonce:" or "once:"), so from then on the file
// can be neither claimed nor attached, and an interrupted sweep finds it
// again and finishes.
const sweptClaim = "swept"

// sweepBatch is how many candidates one scan of the files collection
// returns; they are then deleted one by one.
const sweepBatch = 100

// SweepResult counts what SweepAttachments did.
type SweepResult struct {
	// Deleted counts the files deleted, with their chunks.
	Deleted int
	// Recorded counts the files found carried by a stored message whose
	// use of them had not been recorded (the recording failed): they are
	// now recorded as that message's and kept.
	Recorded int
}

// sweepCandidate is what the sweep reads of a files document.
type sweepCandidate struct {
	ID       string `bson:"_id"`
	Length   int64  `bson:"length"`
	Metadata struct {
		StreamID string `bson:"stream_id"`
		Claim    string `bson:"claim"`
	} `bson:"metadata"`
}

// SweepAttachments deletes the uploaded files that no stored message
// uses and that were uploaded before cutoff, and their chunks. A file
// claimed by a message_new whose message was never stored is deleted
// too, but first the stream it was claimed for is searched for a message
// carrying it: one found (its recording failed) gets the file recorded
// as its own, and the file is kept. A file whose metadata.message_id is
// set is never touched.
//
// The deletes are conditional and idempotent, so several nodes may
// sweep at once. On the embedded store the filter on metadata reads
// every document of the files collection (file documents only, never
// the chunks, which hold the bytes): acceptable for an hourly sweep.
// Chunks are deleted one by one by _id, which the embedded store answers
// from its index (by files_id it would read every chunk).
func (m *Mongo) SweepAttachments(ctx context.Context, cutoff time.Time) (SweepResult, error) {
	var res SweepResult
	filter := bson.D{
		{Key: "metadata.message_id", Value: ""},
		{Key: "uploadDate", Value: bson.D{{Key: "$lt", Value: cutoff}}},
	}
	opts := options.Find().SetLimit(sweepBatch).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "length", Value: 1}, {Key: "metadata", Value: 1}})
	for {
		var batch []sweepCandidate
		cur, err := m.attachmentFiles().Find(ctx, filter, opts)
		if err == nil {
			err = cur.All(ctx, &batch)
		}
		if err != nil {
			return res, wrap("find unattached attachments", err)
		}
		progress := false
		for _, f := range batch {
			deleted, recorded, err := m.sweepAttachment(ctx, &f, cutoff)
			if err != nil {
				return res, err
			}
			if deleted {
				res.Deleted++
			}
			if recorded {
				res.Recorded++
			}
			progress = progress || deleted || recorded
		}
		// A batch in which nothing could be done (files changed under
		// the sweep) ends it; the next sweep sees them again.
		if len(batch) < sweepBatch || !progress {
			return res, nil
		}
	}
}

// sweepAttachment deletes one candidate of SweepAttachments, or records
// it as used by the stored message that carries it.
func (m *Mongo) sweepAttachment(ctx context.Context, f *sweepCandidate, cutoff time.Time) (deleted, recorded bool, err error) {
	if c := f.Metadata.Claim; c != "" && c != sweptClaim && f.Metadata.StreamID != "" {
		msgID, err := m.messageCarrying(ctx, f.Metadata.StreamID, f.ID)
		switch {
		case err == nil:
			_, err := m.attachmentFiles().UpdateOne(ctx, bson.D{
				{Key: "_id", Value: f.ID}, {Key: "metadata.message_id", Value: ""},
			}, bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.message_id", Value: msgID}}}})
			if err != nil {
				return false, false, wrap("record swept attachment", err)
			}
			return false, true, nil
		case !errors.Is(err, ErrNotFound):
			return false, false, err
		}
	}
	// Mark it, unless it changed since it was read: from here on no
	// message can claim or attach it.
	r, err := m.attachmentFiles().UpdateOne(ctx, bson.D{
		{Key: "_id", Value: f.ID},
		{Key: "metadata.message_id", Value: ""},
		{Key: "metadata.claim", Value: f.Metadata.Claim},
		{Key: "uploadDate", Value: bson.D{{Key: "$lt", Value: cutoff}}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.claim", Value: sweptClaim}}}})
	if err != nil {
		return false, false, wrap("mark swept attachment", err)
	}
	if r.MatchedCount == 0 {
		return false, false, nil
	}
	if err := deleteChunks(ctx, m.attachmentChunks(), f.ID, chunkCount(f.Length)); err != nil {
		return false, false, wrap("delete swept attachment's chunks", err)
	}
	d, err := m.attachmentFiles().DeleteOne(ctx, bson.D{
		{Key: "_id", Value: f.ID}, {Key: "metadata.claim", Value: sweptClaim}, {Key: "metadata.message_id", Value: ""},
	})
	if err != nil {
		return false, false, wrap("delete swept attachment", err)
	}
	return d.DeletedCount == 1, false, nil
}

// messageCarrying returns the id of a stored message of streamID whose
// attachments include fileID; ErrNotFound when none does. With MongoDB it
// reads the stream's messages (index stream_seq_unique); on the embedded
// store every message: it runs only for files claimed by a message_new
// whose outcome was not recorded, which are rare.
func (m *Mongo) messageCarrying(ctx context.Context, streamID, fileID string) (string, error) {
	var doc struct {
		ID string `bson:"_id"`
	}
	err := m.messages.FindOne(ctx, bson.D{
		{Key: "stream_id", Value: streamID}, {Key: "attachments.id", Value: fileID},
	}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", wrap("find message carrying attachment", err)
	}
	return doc.ID, nil
}
