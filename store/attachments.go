package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// bucket returns the attachments as the driver's GridFS sees them (a
// test reads files through it, to check they are GridFS files): a
// bucket keeps buffers and state of its own and is not safe for
// concurrent use.
func (m *Mongo) bucket() *mongo.GridFSBucket {
	return m.db.GridFSBucket(options.GridFSBucket().SetName(AttachmentsBucket))
}

func (m *Mongo) attachmentFiles() *mongo.Collection { return m.gridFiles(AttachmentsBucket) }

// gridFiles and gridChunks are the collections of a GridFS bucket.
func (m *Mongo) gridFiles(bucket string) *mongo.Collection { return m.db.Collection(bucket + ".files") }

func (m *Mongo) gridChunks(bucket string) *mongo.Collection {
	return m.db.Collection(bucket + ".chunks")
}

// chunkSize is the size of a file's chunks, GridFS's default.
const chunkSize = 255 << 10

// attachmentChunk is a document of the chunks collection. GridFS readers
// find chunks by files_id and n; Oshi gives each the _id "<file>/<n>" so
// it reads them by _id, the one lookup the embedded store answers from an
// index (by files_id it would read every chunk of every file).
type attachmentChunk struct {
	ID     string `bson:"_id"`
	FileID string `bson:"files_id"`
	N      int64  `bson:"n"`
	Data   []byte `bson:"data"`
}

func chunkID(fileID string, n int64) string { return fileID + "/" + strconv.FormatInt(n, 10) }

func (m *Mongo) attachmentChunks() *mongo.Collection { return m.gridChunks(AttachmentsBucket) }

// gridFile is the files document GridFS tools expect; Metadata is the
// bucket's own (attachmentMeta, emojiMeta).
type gridFile struct {
	ID         string    `bson:"_id"`
	Length     int64     `bson:"length"`
	ChunkSize  int32     `bson:"chunkSize"`
	UploadDate time.Time `bson:"uploadDate"`
	Filename   string    `bson:"filename"`
	Metadata   any       `bson:"metadata"`
}

// PutAttachment implements Store. It writes a GridFS file itself (see
// attachmentChunk): the chunks, then the files document, so a file is
// never listed before its bytes are stored. An error of content's reader
// is returned as it is (the caller's size limit), and what was written
// is removed.
func (m *Mongo) PutAttachment(ctx context.Context, a *models.StoredAttachment, content io.Reader) error {
	f := gridFile{ID: a.ID, UploadDate: a.CreatedAt, Filename: a.Filename,
		Metadata: attachmentMeta{Uploader: a.UploaderID, ContentType: a.ContentType, CreatedAt: a.CreatedAt}}
	if err := m.putGridFile(ctx, AttachmentsBucket, &f, content, "store attachment"); err != nil {
		return err
	}
	a.Size = f.Length
	return nil
}

// putGridFile writes f, a file of a GridFS bucket, with content's bytes
// (see attachmentChunk): the chunks, then the files document, so a file
// is never listed before its bytes are stored; it sets f.Length and
// f.ChunkSize. An error of content's reader is returned as it is, and
// what was written is removed.
func (m *Mongo) putGridFile(ctx context.Context, bucket string, f *gridFile, content io.Reader, what string) error {
	chunks := m.gridChunks(bucket)
	buf := make([]byte, chunkSize)
	var size, n int64
	fail := func(err error) error {
		_ = deleteChunks(context.WithoutCancel(ctx), chunks, f.ID, n)
		return err
	}
	for {
		k, err := io.ReadFull(content, buf)
		if k > 0 {
			c := attachmentChunk{ID: chunkID(f.ID, n), FileID: f.ID, N: n, Data: buf[:k]}
			if _, ierr := chunks.InsertOne(ctx, c); ierr != nil {
				return fail(wrap(what, ierr))
			}
			n++
			size += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fail(err)
		}
	}
	f.Length, f.ChunkSize = size, chunkSize
	if _, err := m.gridFiles(bucket).InsertOne(ctx, f); err != nil {
		return fail(wrap(what, err))
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
	return m.deleteGridFiles(ctx, AttachmentsBucket, ids, "delete attachment")
}

// deleteGridFiles deletes files of a GridFS bucket and their chunks;
// missing ones are not an error. The chunks go by _id (deleteChunks), as
// GridFS's own Delete would filter them on files_id, which the embedded
// store answers by reading every chunk of every file.
func (m *Mongo) deleteGridFiles(ctx context.Context, bucket string, ids []string, what string) error {
	files := m.gridFiles(bucket)
	for _, id := range ids {
		f, err := findOne[gridFile](ctx, files, bson.D{{Key: "_id", Value: id}}, what)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := deleteChunks(ctx, m.gridChunks(bucket), id, chunkCount(f.Length)); err != nil {
			return wrap(what, err)
		}
		if _, err := files.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			return wrap(what, err)
		}
	}
	return nil
}

// chunkCount is how many chunks a file of length bytes has.
func chunkCount(length int64) int64 { return (length + chunkSize - 1) / chunkSize }

// deleteChunks deletes the first count chunks of a file, one by _id
// each (see attachmentChunk); missing ones are not an error.
func deleteChunks(ctx context.Context, chunks *mongo.Collection, fileID string, count int64) error {
	for n := range count {
		if _, err := chunks.DeleteOne(ctx, bson.D{{Key: "_id", Value: chunkID(fileID, n)}}); err != nil {
			return err
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
	return m.openGridFile(ctx, AttachmentsBucket, id, a.Size), nil
}

// openGridFile returns a reader of the file id of a GridFS bucket, of
// size bytes.
func (m *Mongo) openGridFile(ctx context.Context, bucket, id string, size int64) AttachmentReader {
	return &attachmentReader{ctx: ctx, chunks: m.gridChunks(bucket), id: id, size: size}
}

// attachmentReader reads a file from pos, a chunk at a time by the
// chunk's _id, so seeking anywhere costs one lookup.
type attachmentReader struct {
	ctx    context.Context
	chunks *mongo.Collection
	id     string
	size   int64
	pos    int64
	chunk  []byte // the data of chunk n, when loaded
	n      int64
}

func (r *attachmentReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	n := r.pos / chunkSize
	if r.chunk == nil || r.n != n {
		var c attachmentChunk
		err := r.chunks.FindOne(r.ctx, bson.D{{Key: "_id", Value: chunkID(r.id, n)}}).Decode(&c)
		if err != nil {
			return 0, wrap("read attachment", err)
		}
		r.chunk, r.n = c.Data, n
	}
	off := r.pos - n*chunkSize
	if off >= int64(len(r.chunk)) {
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p, r.chunk[off:])
	r.pos += int64(k)
	return k, nil
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

func (r *attachmentReader) Close() error {
	r.chunk = nil
	return nil
}
