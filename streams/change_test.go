package streams_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// lateStore holds each insert back after it is written, as a slow
// committer would: the message is in the store, not yet delivered.
type lateStore struct {
	store.Store
	inserted chan struct{}
	release  chan struct{}
}

func (l *lateStore) InsertMessages(ctx context.Context, msgs []*models.Message) (int, error) {
	n, err := l.Store.InsertMessages(ctx, msgs)
	l.inserted <- struct{}{}
	<-l.release
	return n, err
}

// TestChangeWaitsForDelivery: a reaction to a message read from the store
// before the committer delivered it is announced after the message.
func TestChangeWaitsForDelivery(t *testing.T) {
	st := openStore(t)
	late := &lateStore{Store: st, inserted: make(chan struct{}, 1), release: make(chan struct{})}
	var (
		mu  sync.Mutex
		log []string
	)
	note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	svc := streams.NewService(late, everyone{}, streams.Config{
		OnStored:  func(m *models.Message) { note("message_new") },
		OnChanged: func(c *streams.Change) { note(string(c.Kind)) },
	})
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	id := channel(t, st, "late")
	ctx := context.Background()
	if err := svc.Submit(ctx, user(1), id, "hi", "", func(*models.Message, error) {}); err != nil {
		t.Fatal(err)
	}
	<-late.inserted
	msgs, err := st.History(ctx, store.HistoryQuery{StreamID: id})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("history = %v, %v", msgs, err)
	}
	reacted := make(chan error, 1)
	go func() {
		_, err := svc.React(ctx, user(2), id, msgs[0].ID, "👍", true)
		reacted <- err
	}()
	time.Sleep(50 * time.Millisecond) // long past the reaction's store work, were it not waiting
	close(late.release)
	if err := <-reacted; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(log) != 2 || log[0] != "message_new" || log[1] != "message_react_add" {
		t.Fatalf("announced %v, want [message_new message_react_add]", log)
	}
}
