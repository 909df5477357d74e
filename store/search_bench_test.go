package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// BenchmarkSearchMessages measures one messages_search page (26 results
// asked for, as streams.Search does for a page of 25) over 10 000 stored
// messages in 10 streams on the embedded FerretDB, where the search is a
// scan of the whole collection. History's newest page, also a scan there,
// is the yardstick.
func BenchmarkSearchMessages(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenMongo(ctx, store.MongoConfig{URI: oshitest.MongoURI(b), Database: fmt.Sprintf("bench_search_%d", time.Now().UnixNano())})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(ctx)
	const total, streams = 10000, 10
	ids := make([]string, streams)
	for i := range ids {
		ids[i] = fmt.Sprint("s", i)
	}
	batch := make([]*models.Message, 0, 500)
	for i := range total {
		stream := ids[i%streams]
		content := "a typical chat message of about sixty characters, give or take"
		if i%100 == 0 {
			content = fmt.Sprintf("Deploy %d finished, the build is green", i) // 1% match
		}
		id := uuid.Must(uuid.NewV7()).String()
		batch = append(batch, &models.Message{ID: id, StreamID: stream, Seq: int64(i/streams + 1), AuthorID: "u",
			Author: models.UserRef{ID: "u", Username: "alice"}, Content: content, Nonce: id, CreatedAt: time.Now()})
		if len(batch) == cap(batch) {
			if _, err := st.InsertMessages(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, bc := range []struct {
		name string
		run  func() (int, error)
	}{
		{"search/one_stream", func() (int, error) {
			msgs, err := st.SearchMessages(ctx, store.SearchQuery{StreamIDs: ids[:1], Words: []string{"deploy", "GREEN"}, Limit: 26})
			return len(msgs), err
		}},
		{"search/ten_streams", func() (int, error) {
			msgs, err := st.SearchMessages(ctx, store.SearchQuery{StreamIDs: ids, Words: []string{"deploy", "GREEN"}, Limit: 26})
			return len(msgs), err
		}},
		{"search/no_match", func() (int, error) {
			msgs, err := st.SearchMessages(ctx, store.SearchQuery{StreamIDs: ids, Words: []string{"nowhere"}, Limit: 26})
			return len(msgs), err
		}},
		{"history/newest_50", func() (int, error) {
			msgs, err := st.History(ctx, store.HistoryQuery{StreamID: ids[0], Limit: 50, Newest: true})
			return len(msgs), err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
