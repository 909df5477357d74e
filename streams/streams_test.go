package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

// everyone is a Circles where every user belongs to every circle.
type everyone struct{}

func (everyone) Require(context.Context, string, string, string, models.Permission) (*models.Circle, error) {
	return &models.Circle{}, nil
}
func (everyone) Permissions(context.Context, string, string, string) (models.Permission, error) {
	return models.DefaultPermissions, nil
}
func (everyone) RoleNames(context.Context, string) (map[string]string, error) { return nil, nil }
func (everyone) HasEmoji(context.Context, string, string) (bool, error)       { return false, nil }

// gatedStore wraps a real store to observe and steer inserts.
type gatedStore struct {
	store.Store
	mu      sync.Mutex
	batches []int
	gate    chan struct{} // when set, the next insert waits for it
	fail    atomic.Int32  // inserts to fail with ErrUnavailable
}

func (g *gatedStore) InsertMessages(ctx context.Context, msgs []*models.Message) (int, error) {
	g.mu.Lock()
	gate := g.gate
	g.gate = nil
	g.batches = append(g.batches, len(msgs))
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if g.fail.Load() > 0 {
		g.fail.Add(-1)
		return 0, fmt.Errorf("insert: %w", store.ErrUnavailable)
	}
	return g.Store.InsertMessages(ctx, msgs)
}

var dbSeq atomic.Int64

func openStore(t *testing.T) *store.Mongo {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenMongo(ctx, store.MongoConfig{URI: oshitest.MongoURI(t), Database: fmt.Sprintf("streams%d", dbSeq.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// recorder collects what OnStored publishes, per stream.
type recorder struct {
	mu   sync.Mutex
	seqs map[string][]int64
}

func (r *recorder) onStored(m *models.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seqs == nil {
		r.seqs = make(map[string][]int64)
	}
	r.seqs[m.StreamID] = append(r.seqs[m.StreamID], m.Seq)
}

func newService(t *testing.T, st store.Store, rec *recorder) *streams.Service {
	t.Helper()
	svc := streams.NewService(st, everyone{}, streams.Config{OnStored: rec.onStored, SeqFlushInterval: 50 * time.Millisecond})
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	return svc
}

func channel(t *testing.T, st store.Store, name string) string {
	t.Helper()
	s := &models.Stream{ID: name + "-" + fmt.Sprint(time.Now().UnixNano()), Kind: models.Channel, CircleID: "c", Name: name}
	if err := st.CreateStream(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func user(n int) *models.User {
	return &models.User{ID: fmt.Sprintf("u%d", n), Username: fmt.Sprintf("user%d", n)}
}

// TestSeqsGapFreeUnderConcurrency posts from many goroutines to several
// streams and checks every stream is numbered 1..N, published in order,
// and stored exactly so.
func TestSeqsGapFreeUnderConcurrency(t *testing.T) {
	st := openStore(t)
	rec := &recorder{}
	svc := newService(t, st, rec)
	ids := []string{channel(t, st, "a"), channel(t, st, "b"), channel(t, st, "c")}
	const writers, each = 6, 40
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := svc.Post(ctx, user(w), ids[(w+i)%len(ids)], fmt.Sprintf("w%d i%d", w, i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, id := range ids {
		got := rec.seqs[id]
		for i, seq := range got {
			if seq != int64(i+1) {
				t.Fatalf("stream %s published seqs %v: position %d has %d", id, got, i, seq)
			}
		}
		stored, err := st.History(ctx, store.HistoryQuery{StreamID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != len(got) {
			t.Fatalf("stream %s: %d stored, %d published", id, len(stored), len(got))
		}
		// last_seq is written every SeqFlushInterval.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			s, err := st.Stream(ctx, id)
			if err == nil && s.LastSeq == int64(len(got)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream %s last_seq = %d, %v; want %d", id, s.LastSeq, err, len(got))
			}
		}
		total += len(got)
	}
	if total != writers*each {
		t.Fatalf("published %d, want %d", total, writers*each)
	}
}

// TestGroupCommit holds the first insert back and checks that everything
// posted meanwhile goes into the next insert as one batch.
func TestGroupCommit(t *testing.T) {
	real := openStore(t)
	gs := &gatedStore{Store: real, gate: make(chan struct{})}
	gate := gs.gate
	rec := &recorder{}
	svc := newService(t, gs, rec)
	id := channel(t, real, "g")
	ctx := context.Background()

	var acked sync.WaitGroup
	post := func(text string) {
		acked.Add(1)
		if err := svc.Submit(ctx, user(1), id, text, "", func(m *models.Message, err error) {
			defer acked.Done()
			if err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	post("first")
	// Wait until the committer is inside the first insert.
	for deadline := time.Now().Add(5 * time.Second); ; {
		gs.mu.Lock()
		n := len(gs.batches)
		gs.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first insert never started")
		}
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		post(fmt.Sprint("queued ", i))
	}
	close(gate)
	acked.Wait()
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if len(gs.batches) != 2 || gs.batches[0] != 1 || gs.batches[1] != 20 {
		t.Fatalf("insert batches = %v, want [1 20]", gs.batches)
	}
	if got := rec.seqs[id]; len(got) != 21 || got[20] != 21 {
		t.Fatalf("published seqs = %v", got)
	}
}

// TestStoreFailureLeavesNoGap: a failed insert is reported to the sender,
// nothing is published, and the next message takes the next seq.
func TestStoreFailureLeavesNoGap(t *testing.T) {
	real := openStore(t)
	gs := &gatedStore{Store: real}
	rec := &recorder{}
	svc := newService(t, gs, rec)
	id := channel(t, real, "f")
	ctx := context.Background()

	if m, err := svc.Post(ctx, user(1), id, "one", ""); err != nil || m.Seq != 1 {
		t.Fatalf("post = %+v, %v", m, err)
	}
	gs.fail.Store(1)
	if _, err := svc.Post(ctx, user(1), id, "lost", ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("post during outage: err = %v, want ErrUnavailable", err)
	}
	m, err := svc.Post(ctx, user(1), id, "two", "")
	if err != nil || m.Seq != 2 {
		t.Fatalf("post after outage = %+v, %v; want seq 2", m, err)
	}
	if got := rec.seqs[id]; len(got) != 2 || got[1] != 2 {
		t.Fatalf("published = %v", got)
	}
}

// TestSeqConflictCatchesUp: when another writer has taken the next seq,
// the committer catches up instead of failing or leaving a gap.
func TestSeqConflictCatchesUp(t *testing.T) {
	st := openStore(t)
	rec := &recorder{}
	svc := newService(t, st, rec)
	id := channel(t, st, "x")
	ctx := context.Background()
	if _, err := svc.Post(ctx, user(1), id, "mine", ""); err != nil {
		t.Fatal(err)
	}
	// Another node wrote seq 2 behind this service's back.
	other := &models.Message{ID: "other-2", StreamID: id, Seq: 2, AuthorID: "u9", Content: "theirs", Nonce: "other-2"}
	if _, err := st.InsertMessages(ctx, []*models.Message{other}); err != nil {
		t.Fatal(err)
	}
	m, err := svc.Post(ctx, user(1), id, "mine again", "")
	if err != nil || m.Seq != 3 {
		t.Fatalf("post after conflict = %+v, %v; want seq 3", m, err)
	}
}

func TestNonceDuplicatesInOneBatch(t *testing.T) {
	real := openStore(t)
	gs := &gatedStore{Store: real, gate: make(chan struct{})}
	gate := gs.gate
	svc := newService(t, gs, &recorder{})
	id := channel(t, real, "n")
	ctx := context.Background()

	results := make(chan *models.Message, 3)
	submit := func(nonce string) {
		if err := svc.Submit(ctx, user(1), id, "hello", nonce, func(m *models.Message, err error) {
			if err != nil {
				t.Error(err)
			}
			results <- m
		}); err != nil {
			t.Fatal(err)
		}
	}
	submit("warmup")
	time.Sleep(50 * time.Millisecond) // let the committer enter the gated insert
	submit("same")
	submit("same")
	close(gate)
	var got []*models.Message
	for range 3 {
		got = append(got, <-results)
	}
	if got[1].ID != got[2].ID || got[1].Seq != 2 {
		t.Fatalf("same nonce gave %+v and %+v; want one stored message with seq 2", got[1], got[2])
	}
	next, err := svc.Post(ctx, user(1), id, "after", "")
	if err != nil || next.Seq != 3 {
		t.Fatalf("next = %+v, %v; want seq 3", next, err)
	}
}

func TestValidation(t *testing.T) {
	st := openStore(t)
	svc := streams.NewService(st, everyone{}, streams.Config{MaxMessageLength: 5})
	defer svc.Close(context.Background())
	id := channel(t, st, "v")
	cases := []struct {
		content, nonce string
		want           error
	}{
		{"", "", streams.ErrEmptyContent},
		{"toolong", "", streams.ErrTooLong},
		{"héllo", "", nil}, // five characters, six bytes
		{"a\x07", "", streams.ErrInvalidContent},
		{"\xff", "", streams.ErrInvalidContent},
		{"a\nb", "", nil},
		{"ok", string(make([]byte, 65)), streams.ErrInvalidNonce},
	}
	for _, tc := range cases {
		_, err := svc.Post(context.Background(), user(1), id, tc.content, tc.nonce)
		if !errors.Is(err, tc.want) {
			t.Errorf("Post(%q, nonce %d bytes) = %v, want %v", tc.content, len(tc.nonce), err, tc.want)
		}
	}
	if _, err := svc.Post(context.Background(), user(1), "missing", "hi", ""); !errors.Is(err, streams.ErrNotFound) {
		t.Errorf("unknown stream: %v", err)
	}
}
