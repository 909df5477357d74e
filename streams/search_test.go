package streams_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

func seqsOf(msgs []*models.Message) []int64 {
	var out []int64
	for _, m := range msgs {
		out = append(out, m.Seq)
	}
	return out
}

// TestHistoryAtClockDisagreement: messages stored by nodes whose clocks
// disagree are not in time order; a page read at a time still runs
// contiguously by seq from the first message created at or after it.
func TestHistoryAtClockDisagreement(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	id := channel(t, st, "clocks")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Seq 4 was stored by a node whose clock is behind.
	minutes := []int{1, 2, 5, 3, 6, 7}
	var msgs []*models.Message
	for i, m := range minutes {
		mid := fmt.Sprintf("m%d", i+1)
		msgs = append(msgs, &models.Message{ID: mid, StreamID: id, Seq: int64(i + 1), AuthorID: "u1", Nonce: mid, Content: mid,
			CreatedAt: t0.Add(time.Duration(m) * time.Minute)})
	}
	if _, err := st.InsertMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLastSeq(ctx, map[string]int64{id: int64(len(msgs))}); err != nil {
		t.Fatal(err)
	}
	svc := newService(t, st, &recorder{})
	for _, tc := range []struct {
		name                  string
		minute, limit         int
		want                  []int64
		wantBefore, wantAfter int64
	}{
		{"before everything", 0, 10, []int64{1, 2, 3, 4, 5, 6}, 0, 0},
		{"across the late seq: it is kept", 4, 10, []int64{3, 4, 5, 6}, 2, 0},
		{"across the late seq, short page", 4, 2, []int64{3, 4}, 2, 2},
		{"exactly at a message", 2, 2, []int64{2, 3}, 1, 3},
		{"after the last", 8, 10, []int64{}, 6, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := svc.HistoryAt(ctx, "u1", id, t0.Add(time.Duration(tc.minute)*time.Minute), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqsOf(p.Messages); !slices.Equal(got, tc.want) {
				t.Fatalf("seqs = %v, want %v", got, tc.want)
			}
			if p.Before != tc.wantBefore || p.After != tc.wantAfter {
				t.Fatalf("counts = %d before, %d after; want %d, %d", p.Before, p.After, tc.wantBefore, tc.wantAfter)
			}
		})
	}
	if _, err := svc.HistoryAt(ctx, "u1", id, t0, -1); err != streams.ErrBadRange {
		t.Fatalf("negative limit: %v, want ErrBadRange", err)
	}
}
