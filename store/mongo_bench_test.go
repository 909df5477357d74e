package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

// BenchmarkInsertMessages measures the store's batched insert on the
// embedded FerretDB: one op is one message, so ns/op is the cost per
// stored message at each batch size.
func BenchmarkInsertMessages(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 100, 128, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			st, err := store.OpenMongo(ctx, store.MongoConfig{URI: oshitest.MongoURI(b), Database: fmt.Sprintf("bench_insert_%d_%d", batch, time.Now().UnixNano())})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(ctx)
			seq := int64(0)
			msgs := make([]*models.Message, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				for j := range msgs {
					seq++
					id := fmt.Sprintf("m%d", seq)
					msgs[j] = &models.Message{ID: id, StreamID: "s", Seq: seq, AuthorID: "u", Author: models.UserRef{ID: "u", Username: "alice"},
						Content: "a typical chat message of about sixty characters, give or take", Nonce: id, CreatedAt: time.Now()}
				}
				if _, err := st.InsertMessages(ctx, msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
