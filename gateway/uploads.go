package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/oshichat/oshi/models"
)

// Uploads (issue #7): POST /api/attachments and POST
// /api/circles/{circle}/emoji count against one per-user limit (the
// upload bucket of ratelimit.go), checked once the request is
// authenticated and before its body is read; and an uploaded file that
// no stored message uses is deleted once its grace period
// (Config.AttachmentGrace) is over, by a sweep every node runs hourly.
// docs/protocol.md is the contract: section 2 (POST /api/attachments,
// POST /api/circles/{circle}/emoji) and section 6 (limits).

const (
	// sweepInterval is how often a node sweeps unattached uploads.
	sweepInterval = time.Hour
	// sweepFirst is how soon after start the first sweep runs, plus up to
	// as much again at random, so nodes started together do not sweep in
	// step (sweeping at once is harmless, only wasted).
	sweepFirst = time.Minute
	// sweepMargin is added to the grace period before the sweep deletes a
	// file: message_new refuses files past their grace, and a message that
	// claimed a file just before is stored and its files recorded within
	// commandTimeout and attachmentWriteTimeout, far less than this.
	sweepMargin = 10 * time.Minute
	// sweepTimeout bounds one sweep.
	sweepTimeout = 10 * time.Minute
)

// allowUpload counts an upload of user against the upload limit. When
// the limit refuses it, it answers 429 rate_limited with Retry-After and
// reports false: the body must not be read.
func (g *Gateway) allowUpload(w http.ResponseWriter, user *models.User) bool {
	wait, ok, _ := g.rate.buckets[uploadBucket].allow(user.ID)
	if ok {
		return true
	}
	g.rate.refused.Add(1)
	writeTooMany(w, wait, CodeRateLimited,
		fmt.Sprintf("you may upload %d files in %s and %d a minute", g.cfg.RateUploadBurst, shortDuration(g.cfg.RateUploadWindow), g.cfg.RateUploadsPerMinute))
	return false
}

// uploadExpired reports whether a, an uploaded file, may no longer be
// named by a message: no stored message uses it and its grace period is
// over (the sweep will delete it).
func (g *Gateway) uploadExpired(a *models.StoredAttachment) bool {
	return a.MessageID == "" && a.CreatedAt.Before(time.Now().Add(-g.cfg.AttachmentGrace))
}

// errUploadExpired refuses a message_new naming an expired upload.
func (g *Gateway) errUploadExpired(id string) error {
	return errCode(CodeInvalidAttachment, fmt.Sprintf(
		"attachment %s was uploaded more than %s ago without being sent and has expired", id, shortDuration(g.cfg.AttachmentGrace)))
}

// shortDuration formats d without its zero minutes and seconds: 24h,
// not 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// startSweep starts the goroutine that sweeps unattached uploads; it
// ends when the Gateway closes, and Close waits for it.
func (g *Gateway) startSweep() {
	g.sweepDone = make(chan struct{})
	go g.sweepLoop()
}

// sweepLoop sweeps once shortly after start, then every sweepInterval,
// until the Gateway stops; a sweep under way is cancelled then.
func (g *Gateway) sweepLoop() {
	defer close(g.sweepDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-g.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTimer(sweepFirst + rand.N(sweepFirst))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.sweepUploads(ctx)
		t.Reset(sweepInterval)
	}
}

// sweepUploads deletes the uploads past their grace period and the
// margin that no stored message uses, and logs what it did.
func (g *Gateway) sweepUploads(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	cutoff := time.Now().Add(-g.cfg.AttachmentGrace - sweepMargin)
	res, err := g.svc.Store.SweepAttachments(ctx, cutoff)
	g.swept.Add(uint64(res.Deleted))
	if err != nil {
		g.log.Warn("sweep unattached uploads", "deleted", res.Deleted, "recorded", res.Recorded, "err", err)
		return
	}
	g.log.Info("swept unattached uploads", "deleted", res.Deleted, "recorded", res.Recorded, "uploaded_before", cutoff.UTC())
}
