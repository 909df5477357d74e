package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

func open(t *testing.T) *store.Mongo {
	t.Helper()
	st, err := store.OpenMongo(context.Background(), store.MongoConfig{URI: oshitest.MongoURI(t), Database: oshitest.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// TestSetLastSeqManyStreams: one call for more streams than one command
// may carry (the embedded store deadlocked on 100 updates in one command).
func TestSetLastSeqManyStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := open(t)
	seqs := map[string]int64{}
	for i := 0; i < 150; i++ {
		id := fmt.Sprint("s", i)
		if err := st.CreateStream(ctx, &models.Stream{ID: id, Kind: models.Channel, CircleID: "c"}); err != nil {
			t.Fatal(err)
		}
		seqs[id] = int64(i + 1)
	}
	if err := st.SetLastSeq(ctx, seqs); err != nil {
		t.Fatal(err)
	}
	// $max: a lower value never lowers it.
	if err := st.SetLastSeq(ctx, map[string]int64{"s10": 1}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s0", "s10", "s149"} {
		s, err := st.Stream(ctx, id)
		if err != nil || s.LastSeq != seqs[id] {
			t.Fatalf("%s last_seq = %v, %v; want %d", id, s, err, seqs[id])
		}
	}
}

func TestInsertMessagesReportsPrefix(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	msg := func(id string, seq int64) *models.Message {
		return &models.Message{ID: id, StreamID: "s", Seq: seq, AuthorID: "u", Nonce: id}
	}
	if n, err := st.InsertMessages(ctx, []*models.Message{msg("a", 1), msg("b", 2)}); n != 2 || err != nil {
		t.Fatalf("insert = %d, %v", n, err)
	}
	n, err := st.InsertMessages(ctx, []*models.Message{msg("c", 3), msg("d", 2), msg("e", 4)})
	if n != 1 || !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("insert with a taken seq = %d, %v; want 1 and ErrDuplicate", n, err)
	}
	if max, err := st.MaxSeq(ctx, "s"); err != nil || max != 3 {
		t.Fatalf("max seq = %d, %v; want 3 (the batch stopped at the conflict)", max, err)
	}
	got, err := st.History(ctx, store.HistoryQuery{StreamID: "s", Before: 4, Limit: 2, Newest: true})
	if err != nil || len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 3 {
		t.Fatalf("newest 2 before 4 = %v, %v", got, err)
	}
}
