package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// Attachments: POST /api/attachments stores a file in GridFS for its
// uploader; message_new names uploaded files in attachments; GET
// /api/attachments/{id} serves one to whoever may read the stream its
// message was posted in (or to its uploader while it is attached to
// nothing). docs/protocol.md is the contract: section 2 (POST
// /api/attachments, GET /api/attachments/{id}) and section 3.6
// (message_new, Attachments).

// DefaultAttachmentTypes are the media types uploads may have unless
// Config.AttachmentTypes says otherwise.
var DefaultAttachmentTypes = []string{
	"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "application/pdf",
}

// Error codes of attachments.
const (
	// CodeInvalidAttachment refuses a message_new whose attachments name
	// a file that does not exist, was uploaded by someone else or is used
	// by another message, name one twice, or are more than
	// models.MaxAttachments.
	CodeInvalidAttachment = "invalid_attachment"
	// HTTP API only.
	CodeTooLarge        = "too_large"
	CodeUnsupportedType = "unsupported_type"
)

// maxFilenameBytes bounds a stored filename.
const maxFilenameBytes = 255

// multipartOverhead is what an upload's body may hold besides the file:
// boundaries and part headers.
const multipartOverhead = 64 << 10

var (
	errTooLarge          = errors.New("file too large")
	errInvalidAttachment = errCode(CodeInvalidAttachment,
		"attachments must be at most 10 distinct ids of files you uploaded that no other message uses")
)

// authenticate reads the bearer token of an HTTP request; it answers 401
// (or the store's failure) itself and returns nil when it cannot.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request, op string) *models.User {
	token, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, "missing Authorization: Bearer token")
		return nil
	}
	user, _, err := g.svc.Auth.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, err.Error())
		return nil
	case err != nil:
		g.httpFailure(w, op, err)
		return nil
	}
	return user
}

// limitedReader fails with errTooLarge past max bytes.
type limitedReader struct {
	r   io.Reader
	n   int64 // bytes read so far
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, errTooLarge
	}
	return n, err
}

// uploadAttachment answers POST /api/attachments: a multipart/form-data
// body whose part "file" is stored, 201 with the models.Attachment.
func (g *Gateway) uploadAttachment(w http.ResponseWriter, r *http.Request) {
	user := g.authenticate(w, r, "upload attachment")
	if user == nil || !g.allowUpload(w, user) { // uploads.go
		return
	}
	max := g.cfg.AttachmentMaxBytes
	tooLarge := func() {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge,
			"the file is larger than "+formatBytes(max))
	}
	if r.ContentLength > max+multipartOverhead {
		tooLarge()
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, max+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "body must be multipart/form-data with a part named file")
		return
	}
	var part io.Reader
	var filename string
	for {
		p, err := mr.NextPart()
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			tooLarge()
			return
		case err != nil:
			writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "body must be multipart/form-data with a part named file")
			return
		}
		if p.FormName() == "file" {
			part, filename = p, p.FileName()
			break
		}
	}
	src := &limitedReader{r: part, max: max}
	head := make([]byte, 512)
	n, err := io.ReadFull(src, head)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		tooLarge()
		return
	case err != nil && err != io.EOF && err != io.ErrUnexpectedEOF:
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "the file part could not be read")
		return
	case n == 0:
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "the file is empty")
		return
	}
	head = head[:n]
	ctype := http.DetectContentType(head)
	if !g.attachmentTypeAllowed(ctype) {
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedType,
			"files of type "+mediaType(ctype)+" are not accepted; accepted: "+strings.Join(g.cfg.AttachmentTypes, ", "))
		return
	}
	a := &models.StoredAttachment{
		Attachment: models.Attachment{
			ID: uuid.Must(uuid.NewV7()).String(), Filename: SanitizeFilename(filename), ContentType: ctype,
		},
		UploaderID: user.ID,
		CreatedAt:  time.Now().UTC().Truncate(time.Millisecond),
	}
	err = g.svc.Store.PutAttachment(r.Context(), a, io.MultiReader(bytes.NewReader(head), src))
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		tooLarge()
		return
	case err != nil && !errors.Is(err, store.ErrUnavailable):
		// The client's body broke off.
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "the file part could not be read")
		return
	case err != nil:
		g.httpFailure(w, "upload attachment", err)
		return
	}
	a.Size = src.n
	writeJSON(w, http.StatusCreated, a.Attachment)
}

// attachmentTypeAllowed reports whether a detected content type's media
// type is among the configured ones.
func (g *Gateway) attachmentTypeAllowed(ctype string) bool {
	mt := mediaType(ctype)
	return slices.ContainsFunc(g.cfg.AttachmentTypes, func(t string) bool {
		return strings.EqualFold(strings.TrimSpace(t), mt)
	})
}

// mediaType is a content type without its parameters.
func mediaType(ctype string) string {
	mt, _, _ := strings.Cut(ctype, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// SanitizeFilename returns the name an uploaded file is kept under: the
// base name of what the client sent (either slash a separator), without
// control characters or invalid UTF-8, at most 255 bytes (cut on a
// character boundary, the extension kept when it is short); "file" when
// nothing is left.
func SanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimSpace(name)
	if len(name) > maxFilenameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := name[:len(name)-len(ext)]
		cut := maxFilenameBytes - len(ext)
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		name = stem[:cut] + ext
	}
	if name == "" || name == "." || name == "/" || name == ".." {
		return "file"
	}
	return name
}

// downloadAttachment answers GET /api/attachments/{id}: the file, with
// ranges, to a user who may read the stream it was posted in, or to its
// uploader while no message uses it; 404 to everyone else.
func (g *Gateway) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	const op = "download attachment"
	user, id, notFound := g.fileRequest(w, r, op, "attachment")
	if user == nil {
		return
	}
	ctx := r.Context()
	a, err := g.svc.Store.Attachment(ctx, id)
	if g.fileLookupFailed(w, op, err, notFound) {
		return
	}
	if ok, err := g.mayRead(ctx, user.ID, a); err != nil {
		g.httpFailure(w, op, err)
		return
	} else if !ok {
		notFound()
		return
	}
	rd, err := g.svc.Store.OpenAttachment(ctx, id)
	if g.fileLookupFailed(w, op, err, notFound) {
		return
	}
	defer rd.Close()
	disposition := "attachment"
	if strings.HasPrefix(a.ContentType, "image/") {
		disposition = "inline"
	}
	if cd := mime.FormatMediaType(disposition, map[string]string{"filename": a.Filename}); cd != "" {
		w.Header().Set("Content-Disposition", cd)
	} else {
		w.Header().Set("Content-Disposition", disposition)
	}
	serveFile(w, r, a.ContentType, a.ID, "private, max-age=86400", a.CreatedAt, rd)
}

// fileRequest begins a download of a stored file by its {id}: it
// authenticates the request and answers 401 itself, or 404 for an id
// too long to exist, returning a nil user when it did. notFound answers
// 404 not_found for what ("attachment").
func (g *Gateway) fileRequest(w http.ResponseWriter, r *http.Request, op, what string) (user *models.User, id string, notFound func()) {
	notFound = func() { writeError(w, http.StatusNotFound, CodeNotFound, what+" not found") }
	if user = g.authenticate(w, r, op); user == nil {
		return nil, "", notFound
	}
	if id = r.PathValue("id"); len(id) > 64 {
		notFound()
		return nil, "", notFound
	}
	return user, id, notFound
}

// fileLookupFailed answers a failed look-up of a stored file, 404 for
// store.ErrNotFound, and reports whether err was one.
func (g *Gateway) fileLookupFailed(w http.ResponseWriter, op string, err error, notFound func()) bool {
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound()
	case err != nil:
		g.httpFailure(w, op, err)
	}
	return err != nil
}

// serveFile answers a download with rd's bytes and the headers every
// stored file gets: its type, nosniff and a sandbox policy, so a browser
// never runs a file as a page, cacheControl, and its id as ETag (a file
// never changes under its id), so If-None-Match gets 304. Ranges and
// HEAD are http.ServeContent's.
func serveFile(w http.ResponseWriter, r *http.Request, ctype, id, cacheControl string, modtime time.Time, rd io.ReadSeeker) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", `"`+id+`"`)
	http.ServeContent(w, r, "", modtime, rd)
}

// mayRead reports whether userID may download a: anyone who may read
// the history of the stream a message claimed it for, or its uploader
// while no message did.
func (g *Gateway) mayRead(ctx context.Context, userID string, a *models.StoredAttachment) (bool, error) {
	if a.StreamID == "" {
		return a.UploaderID == userID, nil
	}
	_, err := g.svc.Streams.Allowed(ctx, userID, a.StreamID, models.ReadHistory)
	if err == nil {
		return true, nil
	}
	if code, _ := classify(err); code == CodeForbidden || code == CodeNotFound {
		return false, nil
	}
	return false, err
}

// claimAttachments reserves the files ids for the message user is
// posting to streamID (see store.Store.ClaimAttachment) and returns them
// as the message will carry them, with the claim and the ids claimed by
// this call (not by an earlier try with the same nonce). On any failure
// it releases what it claimed and returns invalid_attachment or the
// store's error.
//
// The claim is made before the message is submitted, so two messages
// posted at once cannot both get a file; a nonce makes the claim the
// message's own (a retry with the same nonce finds the files claimed for
// it), otherwise the claim is random.
func (g *Gateway) claimAttachments(ctx context.Context, userID, streamID, nonce string, ids []string) (files []models.Attachment, claim string, fresh []string, err error) {
	if len(ids) > models.MaxAttachments {
		return nil, "", nil, errInvalidAttachment
	}
	for i, id := range ids {
		if id == "" || len(id) > 64 || slices.Contains(ids[:i], id) {
			return nil, "", nil, errInvalidAttachment
		}
	}
	if nonce != "" {
		claim = "nonce:" + nonce
	} else {
		var b [16]byte
		_, _ = rand.Read(b[:])
		claim = "once:" + base64.RawURLEncoding.EncodeToString(b[:])
	}
	for _, id := range ids {
		a, isFresh, cerr := g.svc.Store.ClaimAttachment(ctx, id, userID, streamID, claim)
		if cerr != nil {
			g.releaseAttachments(fresh, claim)
			if errors.Is(cerr, store.ErrNotFound) {
				return nil, "", nil, errInvalidAttachment
			}
			return nil, "", nil, cerr
		}
		if isFresh {
			fresh = append(fresh, id)
		}
		if g.uploadExpired(a) { // uploads.go
			g.releaseAttachments(fresh, claim)
			return nil, "", nil, g.errUploadExpired(id)
		}
		files = append(files, a.Attachment)
	}
	return files, claim, fresh, nil
}

// attachmentWriteTimeout bounds the store writes that follow a message
// (recording or releasing its files' claims).
const attachmentWriteTimeout = 10 * time.Second

// releaseAttachments undoes a claim on the files ids; a failure is
// logged (the files stay claimed and unusable, never shared).
func (g *Gateway) releaseAttachments(ids []string, claim string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), attachmentWriteTimeout)
	defer cancel()
	if err := g.svc.Store.ReleaseAttachments(ctx, ids, claim); err != nil {
		g.log.Warn("release attachments", "ids", ids, "err", err)
	}
}

// settleAttachments runs after the committer answered a message_new
// with attachments (in a goroutine of its own: the committer's callback
// must not block). Stored: the files are recorded as used by the
// message. Not stored: the files this try claimed are released, but only
// when it is sure the message was not stored: a nonce was sent and no
// message carries it, or the stream was contended; otherwise they stay
// claimed, so a message that was stored after all never shares them.
func (g *Gateway) settleAttachments(m *models.Message, submitErr error, user *models.User, streamID, nonce, claim string, ids, fresh []string) {
	ctx, cancel := context.WithTimeout(context.Background(), attachmentWriteTimeout)
	defer cancel()
	if submitErr == nil {
		// A retry with a nonce gets the message stored first, which may
		// carry fewer of the files than this try named: those this try
		// claimed and the message does not carry are released.
		var carried, extra []string
		for _, id := range ids {
			if slices.ContainsFunc(m.Attachments, func(a models.Attachment) bool { return a.ID == id }) {
				carried = append(carried, id)
			} else if slices.Contains(fresh, id) {
				extra = append(extra, id)
			}
		}
		g.releaseAttachments(extra, claim)
		if err := g.svc.Store.AttachAttachments(ctx, carried, claim, m.ID); err != nil {
			// The files stay claimed for the stream: readable by its
			// readers, usable by no other message.
			g.log.Warn("record attachments", "message", m.ID, "err", err)
		}
		return
	}
	switch {
	case errors.Is(submitErr, streams.ErrContention):
		g.releaseAttachments(fresh, claim)
	case nonce != "":
		prior, err := g.svc.Store.MessageByNonce(ctx, streamID, user.ID, nonce)
		switch {
		case err == nil:
			g.settleAttachments(prior, nil, user, streamID, nonce, claim, ids, fresh)
		case errors.Is(err, store.ErrNotFound):
			g.releaseAttachments(fresh, claim)
		}
	}
}

// deleteMessageAttachments removes the files of a deleted message and
// its list of them. A failure is logged: the message is deleted either
// way, and a file left behind is only readable by the stream's readers.
func (g *Gateway) deleteMessageAttachments(m *models.Message) {
	if len(m.Attachments) == 0 {
		return
	}
	ids := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		ids[i] = a.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), attachmentWriteTimeout)
	defer cancel()
	if err := g.svc.Store.DeleteAttachments(ctx, ids); err != nil {
		g.log.Warn("delete attachments", "message", m.ID, "err", err)
		return
	}
	if err := g.svc.Store.ClearMessageAttachments(ctx, m.ID); err != nil {
		g.log.Warn("clear deleted message's attachments", "message", m.ID, "err", err)
	}
}
