package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store/embedded"
)

// TestMessagesByID checks both ways of finding messages by id — one at a
// time (FerretDB) and one $in query (MongoDB) — against the embedded
// store, which answers both: missing ids are left out, nothing else is.
func TestMessagesByID(t *testing.T) {
	ctx := context.Background()
	uri := testURI(t)
	st, err := OpenMongo(ctx, MongoConfig{URI: uri, Database: fmt.Sprintf("lookup_%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	if !st.ferret {
		t.Fatal("the embedded store was not recognised as FerretDB")
	}
	var msgs []*models.Message
	for i := range 20 {
		id := fmt.Sprint("m", i)
		msgs = append(msgs, &models.Message{ID: id, StreamID: "s", Seq: int64(i + 1), AuthorID: "u", Content: "x", Nonce: id, CreatedAt: models.Now()})
	}
	if _, err := st.InsertMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	want := []string{"m1", "m3", "m19"}
	ask := []string{"m19", "nope", "m1", "m3"}
	for _, ferret := range []bool{true, false} {
		st.ferret = ferret
		got, err := st.MessagesByID(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"m1", "m19", "m3"}) {
			t.Fatalf("ferret=%v: found %v, want %v", ferret, ids, want)
		}
	}
	if got, err := st.MessagesByID(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %v, %v", got, err)
	}
}

// testURI starts an embedded store of the test's own (an internal test
// of store cannot use internal/oshitest, which imports store).
func testURI(t *testing.T) string {
	t.Helper()
	srv, err := embedded.Start(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URI()
}
