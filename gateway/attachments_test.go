package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/gateway"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// pngBytes returns n bytes that start with the PNG signature, so the
// server detects image/png.
func pngBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	copy(b, "\x89PNG\r\n\x1a\n")
	return b
}

// multipartBody builds a multipart/form-data body with one part.
func multipartBody(t *testing.T, field, filename, ctype string, data []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename)}
	if ctype != "" {
		h["Content-Type"] = []string{ctype}
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

type attReply struct {
	status int
	header http.Header
	body   []byte
}

func (r attReply) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends one HTTP request; token "" sends no Authorization header.
func doHTTP(t *testing.T, method, url, token, ctype string, body []byte, header map[string]string) attReply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return attReply{resp.StatusCode, resp.Header, data}
}

func upload(t *testing.T, s *oshitest.Server, l *client.Login, name string, data []byte) *models.Attachment {
	t.Helper()
	a, err := client.Upload(ctxT(t), s.URL, l.Token, name, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return a
}

func download(t *testing.T, s *oshitest.Server, l *client.Login, id string, header map[string]string) attReply {
	t.Helper()
	return doHTTP(t, http.MethodGet, s.URL+"/api/attachments/"+id, l.Token, "", nil, header)
}

// gridFSCounts counts the files document and the chunks of one file.
func gridFSCounts(t *testing.T, s *oshitest.Server, id string) (files, chunks int64) {
	t.Helper()
	ctx := ctxT(t)
	db := s.Srv.Store().Database()
	files, err := db.Collection(store.AttachmentsBucket+".files").CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	chunks, err = db.Collection(store.AttachmentsBucket+".chunks").CountDocuments(ctx, bson.D{{Key: "files_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	return files, chunks
}

// The limits of POST /api/attachments: authentication, size, type and
// shape, each refused before anything is stored.
func TestAttachmentUploadRefusals(t *testing.T) {
	const max = 64 << 10
	s := oshitest.NewServer(t, server.Config{AttachmentMaxBytes: max})
	l := s.Register("alice")
	url := s.URL + "/api/attachments"
	pngType, png := multipartBody(t, "file", "a.png", "image/png", pngBytes(1000))
	bigType, big := multipartBody(t, "file", "big.png", "image/png", pngBytes(max+1))
	hugeType, huge := multipartBody(t, "file", "huge.png", "image/png", pngBytes(max+128<<10))
	htmlType, html := multipartBody(t, "file", "x.png", "image/png", []byte("<html><script>alert(1)</script></html>"))
	zipType, zip := multipartBody(t, "file", "a.zip", "", append([]byte("PK\x03\x04"), make([]byte, 100)...))
	otherType, other := multipartBody(t, "upload", "a.png", "image/png", pngBytes(100))
	emptyType, empty := multipartBody(t, "file", "e.txt", "text/plain", nil)
	cases := []struct {
		name   string
		token  string
		ctype  string
		body   []byte
		status int
		code   string
	}{
		{"no token", "", pngType, png, 401, "invalid_token"},
		{"unknown token", "nope", pngType, png, 401, "invalid_token"},
		{"one byte over the limit", l.Token, bigType, big, 413, "too_large"},
		{"far over the limit", l.Token, hugeType, huge, 413, "too_large"},
		{"html sent as image/png", l.Token, htmlType, html, 415, "unsupported_type"},
		{"zip", l.Token, zipType, zip, 415, "unsupported_type"},
		{"not multipart", l.Token, "application/json", []byte(`{"file":"x"}`), 422, "malformed_body"},
		{"no file part", l.Token, otherType, other, 422, "malformed_body"},
		{"empty file", l.Token, emptyType, empty, 422, "malformed_body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := doHTTP(t, http.MethodPost, url, c.token, c.ctype, c.body, nil)
			if r.status != c.status || r.code() != c.code {
				t.Fatalf("status %d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
		})
	}
	n, err := s.Srv.Store().Database().Collection(store.AttachmentsBucket+".chunks").CountDocuments(ctxT(t), bson.D{})
	if err != nil || n != 0 {
		t.Fatalf("chunks stored after refusals: %d, %v", n, err)
	}
	// The limit itself is accepted.
	a := upload(t, s, l, "max.png", pngBytes(max))
	if a.Size != max || a.ContentType != "image/png" {
		t.Fatalf("upload at the limit: %+v", a)
	}
}

// attachSetup is a circle with an owner, a member (plain, subscribed to
// general), a stream hidden from the default role and a stranger.
type attachSetup struct {
	*community
	staff            string
	stranger         *client.Client
	strangerL        *client.Login
	ctx              context.Context
	general, circleI string
}

func newAttachSetup(t *testing.T) *attachSetup {
	t.Helper()
	ctx := ctxT(t)
	k := newCommunity(t, ctx, 0)
	x := &attachSetup{community: k, ctx: ctx, general: k.general, circleI: k.circle.ID}
	staff, err := k.owner.CreateStream(ctx, k.circle.ID, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, staff.ID, k.circle.ID, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	x.staff = staff.ID
	x.strangerL, x.stranger = k.s.User("stranger")
	if _, err := k.plain.Subscribe(ctx, k.general, 0); err != nil {
		t.Fatal(err)
	}
	return x
}

// What message_new refuses, and that a refused message leaves its files
// free for the next one.
func TestAttachmentAttachRefusals(t *testing.T) {
	x := newAttachSetup(t)
	ctx := x.ctx
	mine := upload(t, x.s, x.ownerL, "mine.png", pngBytes(100))
	theirs := upload(t, x.s, x.plainL, "theirs.png", pngBytes(100))
	used := upload(t, x.s, x.ownerL, "used.png", pngBytes(100))
	if _, err := x.owner.SendWithAttachments(ctx, x.general, "first", "", []string{used.ID}); err != nil {
		t.Fatal(err)
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = upload(t, x.s, x.ownerL, fmt.Sprint(i, ".txt"), []byte("text")).ID
	}
	cases := []struct {
		name   string
		stream string
		ids    []string
		code   string
	}{
		{"someone else's upload", x.general, []string{theirs.ID}, "invalid_attachment"},
		{"mine with someone else's", x.general, []string{mine.ID, theirs.ID}, "invalid_attachment"},
		{"unknown id", x.general, []string{"01a21659-bf7d-72f6-88ed-51f14a7c04a2"}, "invalid_attachment"},
		{"the same id twice", x.general, []string{mine.ID, mine.ID}, "invalid_attachment"},
		{"used by another message", x.general, []string{mine.ID, used.ID}, "invalid_attachment"},
		{"eleven files", x.general, eleven, "invalid_attachment"},
		{"an empty id", x.general, []string{""}, "invalid_attachment"},
		{"a stream I may not post to", x.staff, []string{mine.ID}, "forbidden"},
		{"no stream", "nope", []string{mine.ID}, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.stream == x.staff {
				mine := upload(t, x.s, x.plainL, "p.png", pngBytes(10))
				c.ids = []string{mine.ID}
				_, err := x.plain.SendWithAttachments(ctx, c.stream, "", "", c.ids)
				wantCode(t, err, c.code)
				// Released: usable in a stream plain may post to.
				if _, err := x.plain.SendWithAttachments(ctx, x.general, "", "", c.ids); err != nil {
					t.Fatalf("after a refused message, the file is still claimed: %v", err)
				}
				nextEvent(t, x.plain, "message_new")
				return
			}
			_, err := x.owner.SendWithAttachments(ctx, c.stream, "x", "", c.ids)
			wantCode(t, err, c.code)
		})
	}
	// Every refusal above left mine free.
	m, err := x.owner.SendWithAttachments(ctx, x.general, "", "", []string{mine.ID})
	if err != nil {
		t.Fatalf("mine after the refusals: %v", err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].ID != mine.ID {
		t.Fatalf("message attachments = %+v", m.Attachments)
	}
	// Ten are allowed.
	if _, err := x.owner.SendWithAttachments(ctx, x.general, "ten", "", eleven[:10]); err != nil {
		t.Fatalf("ten files: %v", err)
	}
	// No content and no files is still empty.
	_, err = x.owner.SendWithAttachments(ctx, x.general, "", "", nil)
	wantCode(t, err, "invalid_content")
}

// Who may download: the stream's readers, the uploader of a file no
// message uses yet, nobody else (404 alike for missing and forbidden).
func TestAttachmentDownloadRefusals(t *testing.T) {
	x := newAttachSetup(t)
	ctx := x.ctx
	inGeneral := upload(t, x.s, x.ownerL, "g.png", pngBytes(100))
	inStaff := upload(t, x.s, x.ownerL, "s.png", pngBytes(100))
	loose := upload(t, x.s, x.ownerL, "loose.png", pngBytes(100))
	if _, err := x.owner.SendWithAttachments(ctx, x.general, "", "", []string{inGeneral.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.owner.SendWithAttachments(ctx, x.staff, "", "", []string{inStaff.ID}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		login  *client.Login
		id     string
		status int
	}{
		{"no token", &client.Login{}, inGeneral.ID, 401},
		{"a stranger, posted in general", x.strangerL, inGeneral.ID, 404},
		{"a member, posted in a hidden stream", x.plainL, inStaff.ID, 404},
		{"a member, not yet attached", x.plainL, loose.ID, 404},
		{"a stranger, not yet attached", x.strangerL, loose.ID, 404},
		{"unknown id", x.plainL, "01a21659-bf7d-72f6-88ed-51f14a7c04a2", 404},
		{"a member, posted in general", x.plainL, inGeneral.ID, 200},
		{"the uploader, not yet attached", x.ownerL, loose.ID, 200},
		{"the owner, posted in the hidden stream", x.ownerL, inStaff.ID, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := download(t, x.s, c.login, c.id, nil)
			if r.status != c.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, c.status)
			}
			if c.status == 404 && r.code() != "not_found" {
				t.Fatalf("body %s", r.body)
			}
		})
	}
}

// Upload, attach, a second subscriber sees the message with its files,
// the bytes come back whole and in ranges, headers included.
func TestAttachmentRoundTrip(t *testing.T) {
	x := newAttachSetup(t)
	ctx := x.ctx
	// Over two GridFS chunks (255 KiB each), so ranges cross chunks.
	img := pngBytes(600 << 10)
	text := []byte("meeting notes\nline two\n")
	a := upload(t, x.s, x.ownerL, `C:\Users\me\holiday "photo".png`, img)
	b := upload(t, x.s, x.ownerL, "../../no\ttes.txt", text)
	if a.Filename != "holiday photo.png" || a.ContentType != "image/png" || a.Size != int64(len(img)) {
		t.Fatalf("image upload = %+v", a)
	}
	if b.Filename != "notes.txt" || b.ContentType != "text/plain; charset=utf-8" || b.Size != int64(len(text)) {
		t.Fatalf("text upload = %+v", b)
	}
	m, err := x.owner.SendWithAttachments(ctx, x.general, "", "n-1", []string{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := []models.Attachment{*a, *b}
	ev := nextEvent(t, x.plain, "message_new")
	var got struct {
		Message models.Message `json:"message"`
	}
	if err := json.Unmarshal(ev.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Message.ID != m.ID || got.Message.Content != "" || fmt.Sprint(got.Message.Attachments) != fmt.Sprint(want) {
		t.Fatalf("event = %s, want attachments %+v", ev.Raw, want)
	}
	hist, err := x.plain.History(ctx, x.general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || fmt.Sprint(hist[0].Attachments) != fmt.Sprint(want) {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	// A retry with the same nonce is the same message, not a reuse.
	again, err := x.owner.SendWithAttachments(ctx, x.general, "", "n-1", []string{a.ID, b.ID})
	if err != nil || again.ID != m.ID {
		t.Fatalf("retry = %+v, %v; want message %s", again, err, m.ID)
	}
	// A retry naming one more file gets the message stored first; the
	// extra file is released (after the answer: wait) and stays usable.
	extra := upload(t, x.s, x.ownerL, "extra.txt", []byte("extra"))
	again, err = x.owner.SendWithAttachments(ctx, x.general, "", "n-1", []string{a.ID, b.ID, extra.ID})
	if err != nil || again.ID != m.ID || len(again.Attachments) != 2 {
		t.Fatalf("retry with one more file = %+v, %v; want message %s", again, err, m.ID)
	}
	waitStored(t, x.s, extra.ID, "released", func(a *models.StoredAttachment) bool { return a.Claim == "" && a.StreamID == "" })
	if _, err := x.owner.SendWithAttachments(ctx, x.general, "the extra one", "", []string{extra.ID}); err != nil {
		t.Fatalf("the released extra file: %v", err)
	}
	nextEvent(t, x.plain, "message_new")
	// The files are recorded as the message's (after the answer: wait).
	stored := waitStored(t, x.s, a.ID, "recorded as the message's", func(a *models.StoredAttachment) bool { return a.MessageID == m.ID })
	if stored.StreamID != x.general || stored.UploaderID != x.ownerL.User.ID {
		t.Fatalf("stored = %+v", stored)
	}

	cases := []struct {
		name        string
		id          string
		rng         string
		status      int
		body        []byte
		ctype       string
		disposition string
		contentRng  string
	}{
		{"image whole", a.ID, "", 200, img, "image/png", `inline; filename="holiday photo.png"`, ""},
		{"text whole", b.ID, "", 200, text, "text/plain; charset=utf-8", `attachment; filename=notes.txt`, ""},
		{"range in the first chunk", a.ID, "bytes=100-199", 206, img[100:200], "image/png", "", fmt.Sprintf("bytes 100-199/%d", len(img))},
		{"range across chunks", a.ID, "bytes=261000-262000", 206, img[261000:262001], "image/png", "", fmt.Sprintf("bytes 261000-262000/%d", len(img))},
		{"suffix range", a.ID, "bytes=-10", 206, img[len(img)-10:], "image/png", "", fmt.Sprintf("bytes %d-%d/%d", len(img)-10, len(img)-1, len(img))},
		{"open range in the last chunk", a.ID, "bytes=600000-", 206, img[600000:], "image/png", "", fmt.Sprintf("bytes 600000-%d/%d", len(img)-1, len(img))},
		{"unsatisfiable range", a.ID, fmt.Sprintf("bytes=%d-", len(img)), 416, nil, "", "", fmt.Sprintf("bytes */%d", len(img))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h map[string]string
			if c.rng != "" {
				h = map[string]string{"Range": c.rng}
			}
			r := download(t, x.s, x.plainL, c.id, h)
			if r.status != c.status {
				t.Fatalf("status %d, want %d", r.status, c.status)
			}
			if c.status == 416 {
				if r.header.Get("Content-Range") != c.contentRng {
					t.Fatalf("Content-Range %q", r.header.Get("Content-Range"))
				}
				return
			}
			if !bytes.Equal(r.body, c.body) {
				t.Fatalf("body: %d bytes, want %d", len(r.body), len(c.body))
			}
			if got := r.header.Get("Content-Length"); got != fmt.Sprint(len(c.body)) {
				t.Errorf("Content-Length %q, want %d", got, len(c.body))
			}
			if got := r.header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if c.disposition != "" && r.header.Get("Content-Disposition") != c.disposition {
				t.Errorf("Content-Disposition %q, want %q", r.header.Get("Content-Disposition"), c.disposition)
			}
			if got := r.header.Get("Content-Range"); got != c.contentRng {
				t.Errorf("Content-Range %q, want %q", got, c.contentRng)
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("ETag") != `"`+c.id+`"` {
				t.Errorf("headers %v", r.header)
			}
		})
	}
	// Two ranges, the second before the first: a multipart answer, read
	// by seeking back.
	r := download(t, x.s, x.plainL, a.ID, map[string]string{"Range": "bytes=300000-300009,5-14"})
	mt, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if r.status != 206 || mt != "multipart/byteranges" {
		t.Fatalf("two ranges: %d %s", r.status, r.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	for _, want := range [][]byte{img[300000:300010], img[5:15]} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, want) {
			t.Fatalf("range part %s: % x, want % x", part.Header.Get("Content-Range"), got, want)
		}
	}
	if r := doHTTP(t, http.MethodHead, x.s.URL+"/api/attachments/"+a.ID, x.plainL.Token, "", nil, nil); r.status != 200 ||
		len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(img)) {
		t.Fatalf("HEAD: %d, %d bytes, Content-Length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}
	// The ETag answers a conditional request.
	if r := download(t, x.s, x.plainL, a.ID, map[string]string{"If-None-Match": `"` + a.ID + `"`}); r.status != 304 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	// The client's Download reads the same bytes.
	rc, err := client.Download(ctx, x.s.URL, x.plainL.Token, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(data, text) {
		t.Fatalf("client.Download = %q, %v", data, err)
	}
	if _, err := client.Download(ctx, x.s.URL, x.strangerL.Token, b.ID); client.Code(err) != "not_found" {
		t.Fatalf("client.Download by a stranger: %v", err)
	}
}

// waitStored waits until the stored description of file id satisfies
// ok (the store records claims after the message is answered) and
// returns it.
func waitStored(t *testing.T, s *oshitest.Server, id, what string, ok func(*models.StoredAttachment) bool) *models.StoredAttachment {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := s.Srv.Store().Attachment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("attachment %s never %s: %+v", id, what, a)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Deleting a message deletes its files; deleting a stream deletes the
// files of its messages.
func TestAttachmentDeletion(t *testing.T) {
	x := newAttachSetup(t)
	ctx := x.ctx
	a := upload(t, x.s, x.plainL, "a.png", pngBytes(300<<10))
	b := upload(t, x.s, x.plainL, "b.txt", []byte("keep me"))
	m, err := x.plain.SendWithAttachments(ctx, x.general, "two files", "", []string{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if f, c := gridFSCounts(t, x.s, a.ID); f != 1 || c != 2 {
		t.Fatalf("before delete: %d files, %d chunks", f, c)
	}
	// A moderator's delete removes them as the author's does.
	tomb, err := x.owner.Delete(ctx, x.general, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tomb.Attachments) != 0 {
		t.Fatalf("tombstone lists files: %+v", tomb.Attachments)
	}
	for _, id := range []string{a.ID, b.ID} {
		if r := download(t, x.s, x.plainL, id, nil); r.status != 404 {
			t.Fatalf("download after delete: %d", r.status)
		}
		if f, c := gridFSCounts(t, x.s, id); f != 0 || c != 0 {
			t.Fatalf("after delete: %d files, %d chunks of %s", f, c, id)
		}
	}
	hist, err := x.plain.History(ctx, x.general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || !hist[0].Deleted || len(hist[0].Attachments) != 0 {
		t.Fatalf("history after delete = %+v, %v", hist, err)
	}

	tmp, err := x.owner.CreateStream(ctx, x.circleI, "tmp")
	if err != nil {
		t.Fatal(err)
	}
	c := upload(t, x.s, x.ownerL, "c.png", pngBytes(1000))
	loose := upload(t, x.s, x.ownerL, "loose.png", pngBytes(1000))
	if _, err := x.owner.SendWithAttachments(ctx, tmp.ID, "", "", []string{c.ID}); err != nil {
		t.Fatal(err)
	}
	if err := x.owner.DeleteStream(ctx, tmp.ID); err != nil {
		t.Fatal(err)
	}
	if f, ch := gridFSCounts(t, x.s, c.ID); f != 0 || ch != 0 {
		t.Fatalf("after stream delete: %d files, %d chunks", f, ch)
	}
	// An upload no message used is not the stream's.
	if f, _ := gridFSCounts(t, x.s, loose.ID); f != 1 {
		t.Fatal("a loose upload was deleted with the stream")
	}
}

func TestAttachmentSanitizeFilename(t *testing.T) {
	long := strings.Repeat("é", 200) + ".png" // 404 bytes
	cases := []struct{ in, want string }{
		{"photo.png", "photo.png"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\a.txt`, "a.txt"},
		{"bell\a\x00\x1f.txt", "bell.txt"},
		{"\xff\xfebad.txt", "bad.txt"},
		{"  spaced.txt  ", "spaced.txt"},
		{`say "hi".txt`, "say hi.txt"},
		{"", "file"},
		{"..", "file"},
		{"/", "file"},
		{long, strings.Repeat("é", 125) + ".png"},
	}
	for _, c := range cases {
		got := gateway.SanitizeFilename(c.in)
		if got != c.want || len(got) > 255 {
			t.Errorf("SanitizeFilename(%q) = %q (%d bytes), want %q", c.in, got, len(got), c.want)
		}
	}
}
