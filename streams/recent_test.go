package streams

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/store/embedded"
)

func TestRecentSpan(t *testing.T) {
	var r recent
	for seq := int64(5); seq <= 9; seq++ {
		r.add(seq, fmt.Sprint("m", seq))
	}
	tests := []struct {
		lo, hi int64
		want   []string
	}{
		{5, 9, []string{"m5", "m6", "m7", "m8", "m9"}},
		{7, 7, []string{"m7"}},
		{4, 6, nil},  // before the first held
		{8, 10, nil}, // past the last
		{7, 6, nil},
	}
	for _, tt := range tests {
		got, ok := r.span(tt.lo, tt.hi)
		if ok != (tt.want != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("span(%d, %d) = %v, %v; want %v", tt.lo, tt.hi, got, ok, tt.want)
		}
	}
	// A jump starts over.
	r.add(20, "m20")
	if _, ok := r.span(9, 9); ok {
		t.Error("seq 9 still held after a jump to 20")
	}
	if got, ok := r.span(20, 20); !ok || got[0] != "m20" {
		t.Errorf("span(20, 20) = %v, %v", got, ok)
	}
	// It keeps at most 2×recentIDs and at least recentIDs.
	for seq := int64(21); seq < 21+3*recentIDs; seq++ {
		r.add(seq, fmt.Sprint("m", seq))
	}
	last := int64(20 + 3*recentIDs)
	if got, ok := r.span(last-recentIDs+1, last); !ok || got[len(got)-1] != fmt.Sprint("m", last) {
		t.Errorf("the newest %d are not all held: %v", recentIDs, ok)
	}
	if len(r.ids) > 2*recentIDs {
		t.Errorf("holds %d ids", len(r.ids))
	}
}

// countingStore counts the reads by (stream, seq) and by ids.
type countingStore struct {
	store.Store
	history, byID atomic.Int64 // the committer's gap filling reads too
}

func (c *countingStore) History(ctx context.Context, q store.HistoryQuery) ([]*models.Message, error) {
	c.history.Add(1)
	return c.Store.History(ctx, q)
}

func (c *countingStore) MessagesByID(ctx context.Context, ids []string) ([]*models.Message, error) {
	c.byID.Add(1)
	return c.Store.MessagesByID(ctx, ids)
}

type member struct{}

func (member) Require(context.Context, string, string, string, models.Permission) (*models.Circle, error) {
	return &models.Circle{}, nil
}
func (member) Permissions(context.Context, string, string, string) (models.Permission, error) {
	return models.DefaultPermissions, nil
}
func (member) RoleNames(context.Context, string) (map[string]string, error) { return nil, nil }
func (member) HasEmoji(context.Context, string, string) (bool, error)       { return false, nil }

// TestHistoryFromRecent: pages among the newest messages are read by id
// and equal what the store returns by (stream, seq), edits and deletes
// included; pages past them are read by seq.
func TestHistoryFromRecent(t *testing.T) {
	ctx := context.Background()
	srv, err := embedded.Start(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mongo, err := store.OpenMongo(ctx, store.MongoConfig{URI: srv.URI(), Database: "recent"})
	if err != nil {
		t.Fatal(err)
	}
	defer mongo.Close(ctx)
	cs := &countingStore{Store: mongo}
	svc := NewService(cs, member{}, Config{})
	defer svc.Close(ctx)
	stream := &models.Stream{ID: "s1", Kind: models.Channel, CircleID: "c", Name: "general", CreatedAt: models.Now()}
	if err := mongo.CreateStream(ctx, stream); err != nil {
		t.Fatal(err)
	}
	user := &models.User{ID: "u", Username: "alice"}
	var posted []*models.Message
	for i := range 30 {
		m, err := svc.Post(ctx, user, "s1", fmt.Sprint("m", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		posted = append(posted, m)
	}
	if _, err := svc.Edit(ctx, user, "s1", posted[9].ID, "edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, user, "s1", posted[10].ID); err != nil {
		t.Fatal(err)
	}
	after := func(n int64) *int64 { return &n }
	for _, q := range []struct {
		name   string
		after  *int64
		before int64
		limit  int
	}{
		{"newest", nil, 0, 10},
		{"before", nil, 15, 10},
		{"after", after(5), 0, 10},
		{"after to the end", after(25), 0, 10},
		{"all", after(0), 0, 100},
	} {
		t.Run(q.name, func(t *testing.T) {
			cs.history.Store(0)
			cs.byID.Store(0)
			got, err := svc.History(ctx, "u", "s1", q.after, q.before, q.limit)
			if err != nil {
				t.Fatal(err)
			}
			if h, b := cs.history.Load(), cs.byID.Load(); h != 0 || b != 1 {
				t.Fatalf("reads by seq %d, by id %d; want 0 and 1", h, b)
			}
			var from int64
			if q.after != nil {
				from = *q.after
			}
			want, err := mongo.History(ctx, store.HistoryQuery{StreamID: "s1", After: from, Before: q.before, Limit: q.limit, Newest: q.after == nil})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.ID != w.ID || g.Seq != w.Seq || g.Content != w.Content || g.Deleted != w.Deleted {
					t.Fatalf("message %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	// A node that has not seen the start reads it by seq.
	svc.Drop("s1")
	if _, err := svc.Post(ctx, user, "s1", "after a reload", ""); err != nil {
		t.Fatal(err)
	}
	cs.history.Store(0)
	got, err := svc.History(ctx, "u", "s1", after(0), 0, 5)
	// At least this read went by seq; filling the reload's gap may add one.
	if err != nil || len(got) != 5 || got[0].Seq != 1 || cs.history.Load() < 1 {
		t.Fatalf("history from the start after a reload: %d messages, %v, reads by seq %d", len(got), err, cs.history.Load())
	}
}

// BenchmarkHistoryNewest reads the newest 50 messages of one of 10
// streams holding 10 000 messages between them on the embedded store:
// by id from the recent ids, and by (stream, seq) as before.
func BenchmarkHistoryNewest(b *testing.B) {
	ctx := context.Background()
	srv, err := embedded.Start(embedded.Config{Dir: b.TempDir(), Sync: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	mongo, err := store.OpenMongo(ctx, store.MongoConfig{URI: srv.URI(), Database: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer mongo.Close(ctx)
	if err := srv.IndexIDs(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	svc := NewService(mongo, member{}, Config{})
	defer svc.Close(ctx)
	user := &models.User{ID: "u", Username: "alice"}
	for i := range 10 {
		if err := mongo.CreateStream(ctx, &models.Stream{ID: fmt.Sprint("s", i), Kind: models.Channel, CircleID: "c", Name: "x", CreatedAt: models.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan error, 10000)
	for i := range 10000 {
		if err := svc.Submit(ctx, user, fmt.Sprint("s", i%10), "a typical chat message of about sixty characters, give or take", "", func(_ *models.Message, err error) { done <- err }); err != nil {
			b.Fatal(err)
		}
	}
	for range 10000 {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.Run("recent_ids", func(b *testing.B) {
		for b.Loop() {
			if msgs, err := svc.History(ctx, "u", "s0", nil, 0, 50); err != nil || len(msgs) != 50 {
				b.Fatal(len(msgs), err)
			}
		}
	})
	b.Run("by_seq", func(b *testing.B) {
		for b.Loop() {
			if msgs, err := mongo.History(ctx, store.HistoryQuery{StreamID: "s0", Limit: 50, Newest: true}); err != nil || len(msgs) != 50 {
				b.Fatal(len(msgs), err)
			}
		}
	})
}
