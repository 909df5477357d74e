package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oshichat/oshi/models"
)

// AttachmentsBucket is the GridFS bucket of uploaded files: its
// collections are AttachmentsBucket+".files" (one document a file, Oshi's
// fields under metadata) and AttachmentsBucket+".chunks" (the bytes, in
// chunks of 255 KiB).
const AttachmentsBucket = "attachments"

// AttachmentReader reads one stored file; Seek is cheap (nothing is read
// until the next Read), so http.ServeContent can answer ranges with it.
type AttachmentReader interface {
	io.ReadSeekCloser
}

// attachmentMeta is the metadata Oshi keeps in a GridFS file document.
type attachmentMeta struct {
	Uploader    string    `bson:"uploader"`
	ContentType string    `bson:"content_type"`
	StreamID    string    `bson:"stream_id"`
	MessageID   string    `bson:"message_id"`
	Claim       string    `bson:"claim"`
	CreatedAt   time.Time `bson:"created_at"`
}

// attachmentFile is a document of the files collection.
type attachmentFile struct {
	ID       string         `bson:"_id"`
	Length   int64          `bson:"length"`
	Filename string         `bson:"filename"`
	Metadata attachmentMeta `bson:"metadata"`
}

func (f *attachmentFile) model() *models.StoredAttachment {
	return &models.StoredAttachment{
		Attachment: models.Attachment{
			ID: f.ID, Filename: f.Filename, ContentType: f.Metadata.ContentType, Size: f.Length,
		},
		UploaderID: f.Metadata.Uploader,
		StreamID:   f.Metadata.StreamID,
		MessageID:  f.Metadata.MessageID,
		Claim:      f.Metadata.Claim,
		CreatedAt:  f.Metadata.CreatedAt,
	}
}

// bucket returns a GridFS bucket for one operation: a bucket keeps
// buffers and state of its own and is not safe for concurrent use.
func (m *Mongo) bucket() *mongo.GridFSBucket {
	return m.db.GridFSBucket(options.GridFSBucket().SetName(AttachmentsBucket))
}

func (m *Mongo) attachmentFiles() *mongo.Collection {
	return m.db.Collection(AttachmentsBucket + ".files")
}

// sourceReader remembers the error of the reader an upload reads, so
// that the caller's own error (a size limit) comes back unwrapped.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// PutAttachment implements Store.
func (m *Mongo) PutAttachment(ctx context.Context, a *models.StoredAttachment, content io.Reader) error {
	meta := attachmentMeta{
		Uploader: a.UploaderID, ContentType: a.ContentType, CreatedAt: a.CreatedAt,
	}
	src := &sourceReader{r: content}
	err := m.bucket().UploadFromStreamWithID(ctx, a.ID, a.Filename, src, options.GridFSUpload().SetMetadata(meta))
	if src.err != nil {
		// The upload has been aborted: its chunks are deleted.
		return src.err
	}
	if err != nil {
		return wrap("store attachment", err)
	}
	return nil
}

// Attachment implements Store.
func (m *Mongo) Attachment(ctx context.Context, id string) (*models.StoredAttachment, error) {
	f, err := findOne[attachmentFile](ctx, m.attachmentFiles(), bson.D{{Key: "_id", Value: id}}, "find attachment")
	if err != nil {
		return nil, err
	}
	return f.model(), nil
}

// ClaimAttachment implements Store.
func (m *Mongo) ClaimAttachment(ctx context.Context, id, uploaderID, streamID, claim string) (*models.StoredAttachment, bool, error) {
	filter := bson.D{
		{Key: "_id", Value: id},
		{Key: "metadata.uploader", Value: uploaderID},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "metadata.claim", Value: ""}},
			bson.D{{Key: "metadata.claim", Value: claim}, {Key: "metadata.stream_id", Value: streamID}},
		}},
	}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "metadata.claim", Value: claim}, {Key: "metadata.stream_id", Value: streamID},
	}}}
	var before attachmentFile
	err := m.attachmentFiles().FindOneAndUpdate(ctx, filter, update).Decode(&before)
	if err != nil {
		return nil, false, wrap("claim attachment", err)
	}
	fresh := before.Metadata.Claim == ""
	before.Metadata.Claim, before.Metadata.StreamID = claim, streamID
	return before.model(), fresh, nil
}

// ReleaseAttachments implements Store.
func (m *Mongo) ReleaseAttachments(ctx context.Context, ids []string, claim string) error {
	for _, id := range ids {
		_, err := m.attachmentFiles().UpdateOne(ctx, bson.D{
			{Key: "_id", Value: id}, {Key: "metadata.claim", Value: claim}, {Key: "metadata.message_id", Value: ""},
		}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "metadata.claim", Value: ""}, {Key: "metadata.stream_id", Value: ""},
		}}})
		if err != nil {
			return wrap("release attachment", err)
		}
	}
	return nil
}

// AttachAttachments implements Store.
func (m *Mongo) AttachAttachments(ctx context.Context, ids []string, claim, messageID string) error {
	for _, id := range ids {
		_, err := m.attachmentFiles().UpdateOne(ctx, bson.D{
			{Key: "_id", Value: id}, {Key: "metadata.claim", Value: claim},
		}, bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.message_id", Value: messageID}}}})
		if err != nil {
			return wrap("attach attachment", err)
		}
	}
	return nil
}

// DeleteAttachments implements Store.
func (m *Mongo) DeleteAttachments(ctx context.Context, ids []string) error {
	b := m.bucket()
	for _, id := range ids {
		if err := b.Delete(ctx, id); err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
			return wrap("delete attachment", err)
		}
	}
	return nil
}

// ClearMessageAttachments implements Store.
func (m *Mongo) ClearMessageAttachments(ctx context.Context, messageID string) error {
	_, err := m.messages.UpdateOne(ctx, bson.D{{Key: "_id", Value: messageID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "attachments", Value: ""}}}})
	return wrap("clear message's attachments", err)
}

// deleteStreamAttachments deletes the files claimed for messages of a
// stream (DeleteStream).
func (m *Mongo) deleteStreamAttachments(ctx context.Context, streamID string) error {
	cur, err := m.attachmentFiles().Find(ctx, bson.D{{Key: "metadata.stream_id", Value: streamID}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return wrap("find stream's attachments", err)
	}
	var files []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &files); err != nil {
		return wrap("find stream's attachments", err)
	}
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.ID
	}
	return m.DeleteAttachments(ctx, ids)
}

// OpenAttachment implements Store.
func (m *Mongo) OpenAttachment(ctx context.Context, id string) (AttachmentReader, error) {
	a, err := m.Attachment(ctx, id)
	if err != nil {
		return nil, err
	}
	return &attachmentReader{ctx: ctx, m: m, id: id, size: a.Size}, nil
}

// attachmentReader reads a GridFS file from pos. The driver's download
// stream reads forward only (Skip fetches the chunks it passes over), so
// a seek backwards closes the stream and the next Read opens it again and
// skips to pos; a seek alone reads nothing.
type attachmentReader struct {
	ctx  context.Context
	m    *Mongo
	id   string
	size int64
	pos  int64
	ds   *mongo.GridFSDownloadStream
	dsAt int64 // the position of ds
}

func (r *attachmentReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.ds != nil && r.dsAt > r.pos {
		r.closeStream()
	}
	if r.ds == nil {
		ds, err := r.m.bucket().OpenDownloadStream(r.ctx, r.id)
		if err != nil {
			return 0, wrap("open attachment", err)
		}
		r.ds, r.dsAt = ds, 0
	}
	if r.dsAt < r.pos {
		n, err := r.ds.Skip(r.pos - r.dsAt)
		r.dsAt += n
		if err != nil {
			return 0, wrap("read attachment", err)
		}
		if r.dsAt != r.pos {
			return 0, io.ErrUnexpectedEOF
		}
	}
	n, err := r.ds.Read(p)
	r.pos += int64(n)
	r.dsAt = r.pos
	if err != nil && err != io.EOF {
		err = wrap("read attachment", err)
	}
	return n, err
}

func (r *attachmentReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("attachment: invalid whence")
	}
	if abs < 0 {
		return 0, fmt.Errorf("attachment: negative position %d", abs)
	}
	r.pos = abs
	return abs, nil
}

func (r *attachmentReader) closeStream() {
	if r.ds != nil {
		_ = r.ds.Close()
		r.ds = nil
	}
}

func (r *attachmentReader) Close() error {
	r.closeStream()
	return nil
}
