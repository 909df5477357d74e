package streams_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

// nextChange waits for the next change of kind on changes.
func nextChange(t *testing.T, changes <-chan *streams.Change, kind streams.ChangeKind) *streams.Change {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Kind == kind {
				return c
			}
		case <-timeout:
			t.Fatalf("no %s change", kind)
		}
	}
}

// TestEmbedsFetchAndCache: the first Links links of a message are
// fetched in order, a link that fails gets no embed, and a link seen
// before is answered from the cache.
func TestEmbedsFetchAndCache(t *testing.T) {
	st := openStore(t)
	var fetches atomic.Int64
	changes := make(chan *streams.Change, 16)
	svc := streams.NewService(st, everyone{}, streams.Config{
		OnChanged: func(c *streams.Change) { changes <- c },
		Embeds: streams.EmbedsConfig{
			Links: 3,
			Fetch: func(_ context.Context, link string) (*models.Embed, error) {
				fetches.Add(1)
				if strings.Contains(link, "fail") {
					return nil, errors.New("no page")
				}
				return &models.Embed{Type: models.EmbedLink, Title: "T " + link[strings.LastIndex(link, "/")+1:]}, nil
			},
		},
	})
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	id := channel(t, st, "links")
	ctx := context.Background()

	m, err := svc.Post(ctx, user(1), id, "https://x.example/1 https://fail.example/2 https://x.example/3 https://x.example/4", "")
	if err != nil {
		t.Fatal(err)
	}
	c := nextChange(t, changes, streams.EmbedsUpdated)
	got := c.Message.Embeds
	if c.Message.ID != m.ID || len(got) != 2 || got[0].URL != "https://x.example/1" || got[0].Title != "T 1" || got[1].URL != "https://x.example/3" {
		t.Fatalf("embeds %+v", got)
	}
	if n := fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (the fourth link is past Links)", n)
	}
	if _, err := svc.Post(ctx, user(1), id, "again https://x.example/3", ""); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, changes, streams.EmbedsUpdated); len(c.Message.Embeds) != 1 || c.Message.Embeds[0].Title != "T 3" {
		t.Fatalf("second message's embeds %+v", c.Message.Embeds)
	}
	stats := svc.EmbedStats()
	if fetches.Load() != 3 || stats.CacheHits != 1 || stats.Fetches != 3 || stats.Failed != 1 || stats.Applied != 2 {
		t.Fatalf("fetches %d, stats %+v", fetches.Load(), stats)
	}
}

// TestEmbedsQueueBounded: with every worker busy and the queue full, a
// message is dropped and counted, never waited for; Close stops the
// workers, cancelling a fetch under way.
func TestEmbedsQueueBounded(t *testing.T) {
	st := openStore(t)
	started := make(chan string, 4)
	svc := streams.NewService(st, everyone{}, streams.Config{
		Embeds: streams.EmbedsConfig{
			Workers: 1,
			Queue:   1,
			Fetch: func(ctx context.Context, link string) (*models.Embed, error) {
				started <- link
				<-ctx.Done() // a page that never answers
				return nil, ctx.Err()
			},
		},
	})
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	id := channel(t, st, "busy")
	ctx := context.Background()
	if _, err := svc.Post(ctx, user(1), id, "https://a.example/", ""); err != nil {
		t.Fatal(err)
	}
	if link := <-started; link != "https://a.example/" {
		t.Fatalf("fetching %s", link)
	}
	for _, content := range []string{"https://b.example/", "https://c.example/", "no link at all"} {
		if _, err := svc.Post(ctx, user(1), id, content, ""); err != nil {
			t.Fatal(err)
		}
	}
	if s := svc.EmbedStats(); s.Queued != 2 || s.Dropped != 1 || s.Done != 0 {
		t.Fatalf("stats %+v, want 2 queued (one fetching, one waiting) and 1 dropped", s)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := svc.Close(cctx); err != nil {
		t.Fatalf("Close with a fetch under way: %v", err)
	}
	select {
	case link := <-started:
		t.Fatalf("%s was fetched after Close", link)
	default:
	}
}
