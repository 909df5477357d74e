package gateway_test

import (
	"bytes"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// countingBody is a request body that records whether it was read.
type countingBody struct {
	r     *bytes.Reader
	reads atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	return b.r.Read(p)
}

// uploadUnread posts an upload with Expect: 100-continue, so the client
// sends the body only once the server reads it, and reports the answer
// and whether the body was sent.
func uploadUnread(t *testing.T, url, token, ctype string, body []byte) (attReply, bool) {
	t.Helper()
	cb := &countingBody{r: bytes.NewReader(body)}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, url, cb)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Expect", "100-continue")
	hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return attReply{resp.StatusCode, resp.Header, buf.Bytes()}, cb.reads.Load() > 0
}

// countFiles counts the attachment files uploaded by userID.
func countFiles(t *testing.T, s *oshitest.Server, userID string) int64 {
	t.Helper()
	n, err := s.Srv.Store().Database().Collection(store.AttachmentsBucket+".files").
		CountDocuments(ctxT(t), bson.D{{Key: "metadata.uploader", Value: userID}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttachmentUploadRateLimit: attachments and custom emoji count
// against one per-user limit; an upload past it is answered 429
// rate_limited with Retry-After before its body is sent, and stores
// nothing; another user is not affected. The handshake announces the
// limit.
func TestAttachmentUploadRateLimit(t *testing.T) {
	ctx := ctxT(t)
	// An hour's window: nothing leaves it during the test.
	s := oshitest.NewServer(t, server.Config{RateUploadBurst: 3, RateUploadWindow: time.Hour, RateUploadsPerMinute: 100})
	aliceL, alice := s.User("alice")
	bobL, _ := s.User("bob")
	lim := alice.Handshake().Limits
	for k, v := range map[string]int64{"upload_burst": 3, "upload_window_ms": 3600000, "uploads_per_minute": 100, "attachment_grace_ms": 86400000} {
		if lim[k] != v {
			t.Errorf("handshake limits.%s = %d, want %d", k, lim[k], v)
		}
	}
	circle, err := alice.CreateCircle(ctx, "Studio", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	emojiURL := s.URL + "/api/circles/" + circle.ID + "/emoji"

	// Three uploads, of both kinds, are the burst.
	upload(t, s, aliceL, "one.png", pngBytes(100))
	uploadEmoji(t, s, aliceL, circle.ID, "first", pngImage(t, 16, 16))
	upload(t, s, aliceL, "two.png", pngBytes(100))

	name := "second"
	emojiType, emojiBodyBytes := emojiBody(t, &name, "second.png", pngImage(t, 16, 16))
	attType, attBody := multipartBody(t, "file", "three.png", "image/png", pngBytes(100))
	for _, c := range []struct {
		what, url, ctype string
		body             []byte
	}{
		{"attachment", s.URL + "/api/attachments", attType, attBody},
		{"emoji", emojiURL, emojiType, emojiBodyBytes},
	} {
		t.Run(c.what, func(t *testing.T) {
			r, sent := uploadUnread(t, c.url, aliceL.Token, c.ctype, c.body)
			if r.status != http.StatusTooManyRequests || r.code() != "rate_limited" {
				t.Fatalf("upload past the burst = %d %s, want 429 rate_limited", r.status, r.body)
			}
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 3600 {
				t.Errorf("Retry-After = %q, want 1..3600 seconds", r.header.Get("Retry-After"))
			}
			if sent {
				t.Error("the refused upload's body was read")
			}
			t.Logf("%s past the burst: %d, Retry-After: %s, %s", c.what, r.status, r.header.Get("Retry-After"), r.body)
		})
	}
	if n := countFiles(t, s, aliceL.User.ID); n != 2 {
		t.Errorf("alice has %d stored files, want the 2 accepted", n)
	}
	list, err := alice.EmojiList(ctx, circle.ID)
	if err != nil || emojiNames(list) != "first" {
		t.Errorf("emoji = %q, %v; want only first", emojiNames(list), err)
	}
	// The limit is per user.
	upload(t, s, bobL, "bob.png", pngBytes(100))

	// The window and the grace period default as the environment
	// documents them (oshitest lifts the counts left at zero).
	d := oshitest.NewServer(t, server.Config{RateUploadBurst: 5, RateUploadsPerMinute: 20})
	carolL, c := d.User("carol")
	ws, _, err := websocket.Dial(ctx, d.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, hs, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("handshake: %s", hs)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	lim = c.Handshake().Limits
	for k, v := range map[string]int64{"upload_burst": 5, "upload_window_ms": 10000, "uploads_per_minute": 20, "attachment_grace_ms": 86400000} {
		if lim[k] != v {
			t.Errorf("default handshake limits.%s = %d, want %d", k, lim[k], v)
		}
	}
	for i := range 5 {
		upload(t, d, carolL, "c"+strconv.Itoa(i)+".txt", []byte("text"))
	}
	r, sent := uploadUnread(t, d.URL+"/api/attachments", carolL.Token, attType, attBody)
	if r.status != http.StatusTooManyRequests || r.code() != "rate_limited" || sent {
		t.Fatalf("sixth upload in a row = %d %s (body sent: %v), want 429 rate_limited", r.status, r.body, sent)
	}
	t.Logf("the sixth upload in a row: %d, Retry-After: %s, %s", r.status, r.header.Get("Retry-After"), r.body)
}

// TestAttachmentSweep: the sweep deletes the files no stored message
// uses that are older than its cutoff, with their chunks, including one
// claimed by a message that was never stored; it keeps a file attached
// to a message, a fresh one, and one carried by a stored message whose
// recording failed (which it records). A swept file answers 404.
func TestAttachmentSweep(t *testing.T) {
	x := newAttachSetup(t)
	ctx := x.ctx
	st := x.s.Srv.Store()
	// Over two chunks, so every chunk must go.
	old := upload(t, x.s, x.ownerL, "old.png", pngBytes(600<<10))
	attached := upload(t, x.s, x.ownerL, "attached.png", pngBytes(300<<10))
	m, err := x.owner.SendWithAttachments(ctx, x.general, "with a file", "n-att", []string{attached.ID})
	if err != nil {
		t.Fatal(err)
	}
	waitStored(t, x.s, attached.ID, "recorded", func(a *models.StoredAttachment) bool { return a.MessageID == m.ID })
	// Claimed by a message_new without a nonce that was never stored.
	reserved := upload(t, x.s, x.ownerL, "reserved.png", pngBytes(100))
	if _, _, err := st.ClaimAttachment(ctx, reserved.ID, x.ownerL.User.ID, x.general, "once:lost"); err != nil {
		t.Fatal(err)
	}
	// Carried by a stored message whose use of it was not recorded.
	unrecorded := upload(t, x.s, x.ownerL, "unrecorded.png", pngBytes(100))
	m2, err := x.owner.SendWithAttachments(ctx, x.general, "another", "", []string{unrecorded.ID})
	if err != nil {
		t.Fatal(err)
	}
	waitStored(t, x.s, unrecorded.ID, "recorded", func(a *models.StoredAttachment) bool { return a.MessageID == m2.ID })
	if _, err := st.Database().Collection(store.AttachmentsBucket+".files").UpdateOne(ctx,
		bson.D{{Key: "_id", Value: unrecorded.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.message_id", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	// Upload dates are kept to the millisecond: step over one on each
	// side of the cutoff.
	time.Sleep(5 * time.Millisecond)
	cutoff := time.Now().Truncate(time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	fresh := upload(t, x.s, x.ownerL, "fresh.png", pngBytes(100))

	res, err := st.SweepAttachments(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 2 || res.Recorded != 1 {
		t.Errorf("sweep = %+v, want 2 deleted (old, reserved) and 1 recorded", res)
	}
	for _, c := range []struct {
		name string
		id   string
		kept bool
	}{
		{"old", old.ID, false},
		{"reserved", reserved.ID, false},
		{"attached", attached.ID, true},
		{"unrecorded", unrecorded.ID, true},
		{"fresh", fresh.ID, true},
	} {
		files, chunks := gridFSCounts(t, x.s, c.id)
		if c.kept && (files != 1 || chunks == 0) || !c.kept && (files != 0 || chunks != 0) {
			t.Errorf("%s: %d files documents and %d chunks after the sweep; kept = %v", c.name, files, chunks, c.kept)
		}
	}
	if r := download(t, x.s, x.ownerL, old.ID, nil); r.status != http.StatusNotFound || r.code() != "not_found" {
		t.Errorf("GET of a swept file = %d %s, want 404 not_found", r.status, r.body)
	}
	if a, err := st.Attachment(ctx, unrecorded.ID); err != nil || a.MessageID != m2.ID {
		t.Errorf("the unrecorded file after the sweep = %+v, %v; want recorded as message %s", a, err, m2.ID)
	}
	for _, id := range []string{attached.ID, unrecorded.ID} {
		if r := download(t, x.s, x.plainL, id, nil); r.status != http.StatusOK {
			t.Errorf("GET of kept file %s by a reader = %d %s", id, r.status, r.body)
		}
	}
	if r := download(t, x.s, x.ownerL, fresh.ID, nil); r.status != http.StatusOK {
		t.Errorf("GET of the fresh file by its uploader = %d %s", r.status, r.body)
	}
	// Sweeping again finds nothing to do.
	if res, err := st.SweepAttachments(ctx, cutoff); err != nil || res != (store.SweepResult{}) {
		t.Errorf("second sweep = %+v, %v; want nothing done", res, err)
	}
	// The fresh file is still usable.
	if _, err := x.owner.SendWithAttachments(ctx, x.general, "fresh", "", []string{fresh.ID}); err != nil {
		t.Errorf("sending the fresh file after the sweep: %v", err)
	}
}

// TestAttachmentExpired: past its grace period, an upload no message
// uses can no longer be sent (the sweep may delete it any time), and the
// refusal leaves it unclaimed.
func TestAttachmentExpired(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{AttachmentGrace: time.Nanosecond})
	aL, a := s.User("alice")
	circle, err := a.CreateCircle(ctx, "Old", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	f := upload(t, s, aL, "late.png", pngBytes(100))
	_, err = a.SendWithAttachments(ctx, circle.Streams[0].ID, "late", "n-late", []string{f.ID})
	wantCode(t, err, "invalid_attachment")
	t.Logf("message_new naming an expired upload: %v", err)
	waitStored(t, s, f.ID, "released", func(st *models.StoredAttachment) bool { return st.Claim == "" && st.StreamID == "" })
}
