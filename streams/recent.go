package streams

import (
	"context"
	"fmt"
	"slices"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// recentIDs is how many of a stream's newest message ids a node keeps.
const recentIDs = 1024

// recent holds the ids of a stream's newest delivered messages by seq:
// ids[i] has seq first+i, and the last one is the stream's lastSeq. A
// page of history inside it is read by _id, which every store answers
// from an index, instead of by (stream, seq), which the embedded store
// answers by reading every message it holds.
type recent struct {
	first int64
	ids   []string
}

// add records the id of the message with seq, the next one delivered. A
// seq that does not follow the last (the head jumped: see interest)
// starts over.
func (r *recent) add(seq int64, id string) {
	if len(r.ids) == 0 || seq != r.first+int64(len(r.ids)) {
		r.first, r.ids = seq, r.ids[:0]
	}
	if len(r.ids) == 2*recentIDs {
		// Drop the older half at once, so adding stays amortised O(1).
		r.ids = append(r.ids[:0], r.ids[recentIDs:]...)
		r.first += recentIDs
	}
	r.ids = append(r.ids, id)
}

// span returns the ids of seqs lo..hi, or false when they are not all
// held.
func (r *recent) span(lo, hi int64) ([]string, bool) {
	if len(r.ids) == 0 || lo < r.first || hi >= r.first+int64(len(r.ids)) || lo > hi {
		return nil, false
	}
	return slices.Clone(r.ids[lo-r.first : hi-r.first+1]), true
}

// fromRecent reads the messages of q from the recent ids when the page
// lies among them, and reports whether it could. In a cluster the ids
// are complete only while this node follows the stream (every message
// stored anywhere is then delivered here, in order).
func (s *Service) fromRecent(ctx context.Context, st *state, q store.HistoryQuery) ([]*models.Message, bool, error) {
	if s.cfg.Cluster != nil {
		st.followMu.Lock()
		following := st.followers > 0
		st.followMu.Unlock()
		if !following {
			return nil, false, nil
		}
	}
	st.mu.Lock()
	last := st.lastSeq
	var lo, hi int64
	switch {
	case q.Newest:
		hi = last
		if q.Before > 0 {
			hi = min(hi, q.Before-1)
		}
		lo = max(q.After+1, hi-int64(q.Limit)+1, 1)
	default:
		lo = q.After + 1
		hi = lo + int64(q.Limit) - 1
		if q.Before > 0 {
			hi = min(hi, q.Before-1)
		}
		hi = min(hi, last)
	}
	if hi < lo {
		// Past the newest message delivered here; the store may hold
		// later ones (a gap being filled, a head read stale after a
		// restart): ask it.
		st.mu.Unlock()
		return nil, false, nil
	}
	ids, ok := st.recent.span(lo, hi)
	st.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	msgs, err := s.store.MessagesByID(ctx, ids)
	if err != nil {
		return nil, false, fmt.Errorf("read messages: %w", err)
	}
	if len(msgs) != len(ids) {
		return nil, false, nil // not all there (deleted with their stream?): ask the slow way
	}
	slices.SortFunc(msgs, func(a, b *models.Message) int { return int(a.Seq - b.Seq) })
	return msgs, true, nil
}

// readRange reads the messages q selects: from the recent ids when it
// can, else from the store by (stream, seq).
func (s *Service) readRange(ctx context.Context, st *state, q store.HistoryQuery) ([]*models.Message, error) {
	if q.Since.IsZero() {
		msgs, ok, err := s.fromRecent(ctx, st, q)
		if err != nil || ok {
			return msgs, err
		}
	}
	return s.store.History(ctx, q)
}
