package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oshichat/oshi/models"
)

// Link embeds. When EmbedsConfig.Fetch is set, each message this node
// stores is looked at for http(s) links (models.Links) after it has been
// delivered; a message with some is queued, off the committer's path,
// for a small pool of workers that fetch the links' embeds (through a
// per-node cache), store them on the message and announce the change
// (EmbedsUpdated) the way an edit is announced: after the message's own
// OnStored, in order with the stream's other changes. A message deleted
// or whose links were edited meanwhile is left alone; an edit that
// changes the links clears the embeds and queues the message again.

// EmbedsConfig turns link embeds on and bounds them.
type EmbedsConfig struct {
	// Fetch returns the embed of one link (the server uses package
	// unfurl); nil turns embeds off. An error or a nil embed means the
	// link gets none. It must honour ctx, which ends at Close.
	Fetch func(ctx context.Context, link string) (*models.Embed, error)
	// Links is how many links of one message are unfurled; 0 means 3.
	Links int
	// Workers is how many messages are unfurled at once; 0 means 4.
	Workers int
	// Queue is how many messages may wait for a worker; 0 means 256. A
	// message that finds the queue full gets no embeds (EmbedStats
	// counts it as dropped).
	Queue int
	// CacheTTL is how long a link's embed, or its lack of one, is
	// remembered; 0 means 10 minutes. CacheSize bounds the links
	// remembered; 0 means 1024.
	CacheTTL  time.Duration
	CacheSize int
}

// EmbedStats counts the work of link embeds on this node since start.
type EmbedStats struct {
	// Queued messages were handed to the workers; Dropped ones found the
	// queue full; Done ones were finished by a worker, with or without
	// embeds; Applied ones got their embeds stored and announced.
	Queued, Dropped, Done, Applied int64
	// Fetches were made, Failed of them gave no embed; CacheHits were
	// answered from the cache.
	Fetches, Failed, CacheHits int64
}

// embedJob is one message to unfurl: its links as they were when it was
// queued.
type embedJob struct {
	streamID, msgID string
	links           []string
}

type cachedEmbed struct {
	embed *models.Embed // nil: the link has none
	at    time.Time
}

// embedder runs the workers. Its goroutines are owned by the Service and
// end at Close (closeEmbeds).
type embedder struct {
	cfg    EmbedsConfig
	queue  chan embedJob
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	cache map[string]cachedEmbed

	queued, dropped, done, applied atomic.Int64
	fetches, failed, hits          atomic.Int64
}

// defaultEmbedLinks is EmbedsConfig.Links's default, also used to
// compare links when embeds are off.
const defaultEmbedLinks = 3

// startEmbeds starts the workers when cfg.Fetch is set; nil otherwise.
func (s *Service) startEmbeds(cfg EmbedsConfig) *embedder {
	if cfg.Fetch == nil {
		return nil
	}
	if cfg.Links <= 0 {
		cfg.Links = defaultEmbedLinks
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Minute
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1024
	}
	e := &embedder{cfg: cfg, queue: make(chan embedJob, cfg.Queue), cache: make(map[string]cachedEmbed)}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				select {
				case j := <-e.queue:
					if e.ctx.Err() != nil {
						return // closing: the queue is abandoned
					}
					s.unfurl(e, j)
					e.done.Add(1)
				case <-e.ctx.Done():
					return
				}
			}
		}()
	}
	return e
}

// closeEmbeds stops the workers, cancelling the fetches under way, and
// waits for them or ctx.
func (s *Service) closeEmbeds(ctx context.Context) error {
	e := s.embedder
	if e == nil {
		return nil
	}
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close embeds: %w", ctx.Err())
	}
}

// EmbedStats returns the counts of link embeds on this node; all zero
// when embeds are off.
func (s *Service) EmbedStats() EmbedStats {
	e := s.embedder
	if e == nil {
		return EmbedStats{}
	}
	return EmbedStats{
		Queued: e.queued.Load(), Dropped: e.dropped.Load(), Done: e.done.Load(), Applied: e.applied.Load(),
		Fetches: e.fetches.Load(), Failed: e.failed.Load(), CacheHits: e.hits.Load(),
	}
}

// noteLinks queues a stored or edited message that has links for the
// workers. It never blocks: when the queue is full the message is
// dropped and counted.
func (s *Service) noteLinks(m *models.Message) {
	e := s.embedder
	if e == nil || m.Deleted {
		return
	}
	links := models.Links(m.Content, e.cfg.Links)
	if len(links) == 0 {
		return
	}
	select {
	case e.queue <- embedJob{streamID: m.StreamID, msgID: m.ID, links: links}:
		e.queued.Add(1)
	default:
		e.dropped.Add(1)
		s.log.Debug("embed queue full: message gets no embeds", "stream", m.StreamID, "message", m.ID)
	}
}

// relink is called by Edit with a message before and after its edit:
// when the edit changed the links, the old embeds are cleared (in the
// message the edit announces too) and the message is queued again.
func (s *Service) relink(ctx context.Context, before, after *models.Message) *models.Message {
	n := defaultEmbedLinks
	if s.embedder != nil {
		n = s.embedder.cfg.Links
	}
	if slices.Equal(models.Links(before.Content, n), models.Links(after.Content, n)) {
		return after
	}
	if len(after.Embeds) > 0 {
		cleared, err := s.store.SetEmbeds(ctx, after.ID, nil)
		if err != nil {
			// The edit itself is stored; the new links' embeds, when
			// they come, replace these.
			s.log.Warn("clear embeds after edit", "message", after.ID, "err", err)
		} else {
			after = cleared
		}
	}
	s.noteLinks(after)
	return after
}

// unfurl fetches the embeds of one job's links and, when there are any,
// stores and announces them.
func (s *Service) unfurl(e *embedder, j embedJob) {
	embeds := make([]models.Embed, 0, len(j.links))
	for _, link := range j.links {
		em, ok := e.cached(link)
		if !ok {
			e.fetches.Add(1)
			var err error
			em, err = e.cfg.Fetch(e.ctx, link)
			if e.ctx.Err() != nil {
				return // closing
			}
			if err != nil || em == nil {
				e.failed.Add(1)
				s.log.Debug("no embed", "link", link, "err", err)
				em = nil
			}
			e.remember(link, em)
		}
		if em != nil {
			c := *em
			c.URL = link
			embeds = append(embeds, c)
		}
	}
	if len(embeds) == 0 {
		return // nothing to add: a new message has none, an edited one had them cleared
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	st, err := s.load(ctx, j.streamID)
	if err != nil {
		return // the stream is gone
	}
	_, err = s.changeIn(ctx, st, j.streamID, j.msgID, func(_ *state, m *models.Message) (*Change, error) {
		if !slices.Equal(models.Links(m.Content, e.cfg.Links), j.links) || slices.Equal(m.Embeds, embeds) {
			return nil, nil // edited since (the edit queued it again), or already so
		}
		updated, err := s.store.SetEmbeds(ctx, m.ID, embeds)
		if err != nil {
			return nil, fmt.Errorf("set embeds: %w", err)
		}
		e.applied.Add(1)
		return &Change{Kind: EmbedsUpdated, Message: updated}, nil
	})
	if err != nil && !errors.Is(err, ErrMessageNotFound) && e.ctx.Err() == nil {
		s.log.Warn("store embeds", "message", j.msgID, "err", err)
	}
}

// cached returns a link's remembered embed (nil when it has none) and
// whether it was remembered and fresh.
func (e *embedder) cached(link string) (*models.Embed, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cache[link]
	if !ok || time.Since(c.at) > e.cfg.CacheTTL {
		return nil, false
	}
	e.hits.Add(1)
	return c.embed, true
}

// remember caches a link's embed. When the cache is full, expired
// entries go first, then arbitrary ones.
func (e *embedder) remember(link string, em *models.Embed) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) >= e.cfg.CacheSize {
		for k, c := range e.cache {
			if time.Since(c.at) > e.cfg.CacheTTL {
				delete(e.cache, k)
			}
		}
		for k := range e.cache {
			if len(e.cache) < e.cfg.CacheSize {
				break
			}
			delete(e.cache, k)
		}
	}
	e.cache[link] = cachedEmbed{embed: em, at: time.Now()}
}
