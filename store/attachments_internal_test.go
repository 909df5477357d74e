package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store/embedded"
)

// TestAttachmentsAreGridFS: a file Oshi writes itself reads back whole
// and by ranges through its reader, and through the driver's GridFS
// download, so GridFS tools see the same bytes.
func TestAttachmentsAreGridFS(t *testing.T) {
	ctx := context.Background()
	st, err := OpenMongo(ctx, MongoConfig{URI: testURI(t), Database: "files"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	for _, size := range []int{0, 1, chunkSize, chunkSize + 1, 3*chunkSize - 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			_, _ = rand.Read(data)
			a := &models.StoredAttachment{Attachment: models.Attachment{ID: fmt.Sprint("f", size), Filename: "x.bin", ContentType: "application/octet-stream"},
				UploaderID: "u", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
			if err := st.PutAttachment(ctx, a, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if a.Size != int64(size) {
				t.Fatalf("size %d, want %d", a.Size, size)
			}
			r, err := st.OpenAttachment(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes (%v), want %d equal", len(got), err, size)
			}
			if size > 10 {
				if _, err := r.Seek(int64(size-10), io.SeekStart); err != nil {
					t.Fatal(err)
				}
				tail, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(tail, data[size-10:]) {
					t.Fatalf("tail = %d bytes (%v)", len(tail), err)
				}
			}
			var viaDriver bytes.Buffer
			if _, err := st.bucket().DownloadToStream(ctx, a.ID, &viaDriver); err != nil {
				t.Fatalf("GridFS download: %v", err)
			}
			if !bytes.Equal(viaDriver.Bytes(), data) {
				t.Fatalf("GridFS download = %d bytes, want %d equal", viaDriver.Len(), size)
			}
		})
	}
	// A reader error (the caller's size limit) comes back as it is and
	// leaves no chunk behind.
	limit := fmt.Errorf("too large")
	a := &models.StoredAttachment{Attachment: models.Attachment{ID: "broken"}, CreatedAt: time.Now()}
	if err := st.PutAttachment(ctx, a, io.MultiReader(bytes.NewReader(make([]byte, 2*chunkSize)), &failing{limit})); err != limit {
		t.Fatalf("PutAttachment = %v, want the reader's error", err)
	}
	if n, err := st.attachmentChunks().CountDocuments(ctx, map[string]any{"files_id": "broken"}); err != nil || n != 0 {
		t.Fatalf("%d chunks left (%v)", n, err)
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// BenchmarkAttachmentRead reads a 600 KiB file while 72 others (18 MiB)
// are stored beside it, on the embedded store with its _id index.
func BenchmarkAttachmentRead(b *testing.B) {
	ctx := context.Background()
	srv, err := embedded.Start(embedded.Config{Dir: b.TempDir(), Sync: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	st, err := OpenMongo(ctx, MongoConfig{URI: srv.URI(), Database: "files"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(ctx)
	if err := srv.IndexIDs(ctx, "files"); err != nil {
		b.Fatal(err)
	}
	put := func(id string, size int) {
		a := &models.StoredAttachment{Attachment: models.Attachment{ID: id}, CreatedAt: time.Now()}
		if err := st.PutAttachment(ctx, a, bytes.NewReader(make([]byte, size))); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 72 {
		put(fmt.Sprint("other", i), 256<<10)
	}
	put("target", 600<<10)
	for b.Loop() {
		r, err := st.OpenAttachment(ctx, "target")
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != 600<<10 {
			b.Fatal(n, err)
		}
	}
}
