package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig of emoji uploads
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"

	_ "golang.org/x/image/webp"

	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/streams"
)

// Custom emoji: POST /api/circles/{circle}/emoji uploads one (multipart,
// as POST /api/attachments), GET /api/emoji/{id} serves its image,
// emoji_list, emoji_rename and emoji_delete manage them, and every change
// sends emoji_update with the circle's whole list to its followers. A
// circle's list rides in its member view (ready, circle_join,
// circle_update: Circle.Emojis). docs/protocol.md is the contract:
// section 2 (the two endpoints) and section 3.12.

// Error codes of custom emoji.
const (
	// CodeNameTaken refuses an emoji name the circle has already (in any
	// case).
	CodeNameTaken = "name_taken"
	// CodeUnknownEmoji: emoji_rename or emoji_delete named an emoji the
	// circle does not have, or a reaction named a custom emoji that is not
	// one of the message's circle.
	CodeUnknownEmoji = "unknown_emoji"
	// HTTP API only.
	CodeInvalidImage      = "invalid_image"
	CodeInvalidDimensions = "invalid_dimensions"
)

// MaxEmojiSide is the largest width and height of an emoji image, in
// pixels.
const MaxEmojiSide = 256

// emojiTypes are the media types an emoji image may have, as
// http.DetectContentType reads them, with image.DecodeConfig's name of
// the format.
var emojiTypes = map[string]string{
	"image/png":  "png",
	"image/jpeg": "jpeg",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// emojiTopic tells the other nodes that a circle's emoji changed; the
// payload is the circle id. They forget the circle's rules, which hold
// the list (the emoji_update event itself travels on the circle's topic).
const emojiTopic = "emoji"

func init() {
	handle(map[string]handler{
		"emoji_list":   (*conn).cmdEmojiList,
		"emoji_rename": (*conn).cmdEmojiRename,
		"emoji_delete": (*conn).cmdEmojiDelete,
	})
	mapErrors([]errorCode{
		{circles.ErrInvalidEmojiName, CodeInvalidName},
		{circles.ErrEmojiNameTaken, CodeNameTaken},
		{circles.ErrUnknownEmoji, CodeUnknownEmoji},
		{streams.ErrUnknownEmoji, CodeUnknownEmoji},
		{streams.ErrInvalidCustomEmoji, CodeInvalidEmoji},
	})
}

// emojiFrame is emoji_update, and with a ref the reply to emoji_list,
// emoji_rename and emoji_delete: a circle's whole list, oldest first.
type emojiFrame struct {
	header
	Circle string         `json:"circle"`
	Emojis []models.Emoji `json:"emojis"`
}

// emojiChanged tells the circle's followers, on every node, its new
// list, and the other nodes to forget the list they hold.
func (g *Gateway) emojiChanged(circleID string, list []models.Emoji) {
	if list == nil {
		list = []models.Emoji{}
	}
	if g.svc.Peers != nil {
		g.svc.Peers.PublishEvent(emojiTopic, []byte(circleID))
	}
	g.publish(circleTopic(circleID), encode(emojiFrame{header{Cmd: "emoji_update"}, circleID, list}))
}

func (c *conn) cmdEmojiList(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	list, err := c.g.svc.Circles.Emojis(ctx, c.user.ID, req.Circle)
	if err != nil {
		return err
	}
	if list == nil {
		list = []models.Emoji{}
	}
	c.reply(emojiFrame{hdr(req), req.Circle, list})
	return nil
}

// emojiTarget checks the fields naming one emoji of a circle.
func emojiTarget(req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	return required("emoji", req.Emoji)
}

func (c *conn) cmdEmojiRename(ctx context.Context, req *request) error {
	if err := emojiTarget(req); err != nil {
		return err
	}
	list, err := c.g.svc.Circles.RenameEmoji(ctx, c.user.Ref(), req.Circle, req.Emoji, req.Name)
	if err != nil {
		return err
	}
	c.reply(emojiFrame{hdr(req), req.Circle, list})
	c.g.emojiChanged(req.Circle, list)
	return nil
}

func (c *conn) cmdEmojiDelete(ctx context.Context, req *request) error {
	if err := emojiTarget(req); err != nil {
		return err
	}
	list, gone, err := c.g.svc.Circles.DeleteEmoji(ctx, c.user.Ref(), req.Circle, req.Emoji)
	if err != nil {
		return err
	}
	// The list no longer names it, so GET /api/emoji/{id} answers 404
	// even when its image could not be deleted.
	if err := c.g.svc.Store.DeleteEmojiImages(context.WithoutCancel(ctx), []string{gone.ID}); err != nil {
		c.g.log.Warn("delete emoji image", "emoji", gone.ID, "err", err)
	}
	c.reply(emojiFrame{hdr(req), req.Circle, list})
	c.g.emojiChanged(req.Circle, list)
	return nil
}

// emojiHTTPStatus is the HTTP status of an error code an emoji upload
// may be refused with.
func emojiHTTPStatus(code string) int {
	switch code {
	case CodeNotFound:
		return http.StatusNotFound
	case CodeForbidden:
		return http.StatusForbidden
	case CodeInvalidName:
		return http.StatusUnprocessableEntity
	case CodeNameTaken, CodeLimitReached:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// writeEmojiError answers an upload refused by the circles service, or
// the store's failure.
func (g *Gateway) writeEmojiError(w http.ResponseWriter, err error) {
	code, msg := classify(err)
	status := emojiHTTPStatus(code)
	if status == http.StatusInternalServerError {
		g.httpFailure(w, "upload emoji", err)
		return
	}
	writeError(w, status, code, msg)
}

// uploadEmoji answers POST /api/circles/{circle}/emoji: a
// multipart/form-data body with a part "name" and a part "file", the
// image; 201 with the models.Emoji. The permission is checked before the
// body is read; the type is sniffed from the bytes, the dimensions read
// with image.DecodeConfig.
func (g *Gateway) uploadEmoji(w http.ResponseWriter, r *http.Request) {
	user := g.authenticate(w, r, "upload emoji")
	if user == nil || !g.allowUpload(w, user) { // uploads.go
		return
	}
	ctx := r.Context()
	circleID := r.PathValue("circle")
	if err := g.svc.Circles.RequireEmojiManager(ctx, circleID, user.ID); err != nil {
		g.writeEmojiError(w, err)
		return
	}
	max := g.cfg.EmojiMaxBytes
	tooLarge := func() {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "an emoji image may be at most "+formatBytes(max))
	}
	malformed := func() {
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody,
			"body must be multipart/form-data with a part named name and a part named file")
	}
	if r.ContentLength > max+multipartOverhead {
		tooLarge()
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, max+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		malformed()
		return
	}
	name, data, err := readEmojiForm(mr, max)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		tooLarge()
		return
	case err != nil:
		malformed()
		return
	case len(data) == 0:
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "the file is empty")
		return
	case !models.ValidEmojiName(name):
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidName, circles.ErrInvalidEmojiName.Error())
		return
	}
	e := &models.Emoji{CircleID: circleID, Name: name}
	if status, code, msg := checkEmojiImage(data, e); code != "" {
		writeError(w, status, code, msg)
		return
	}
	list, err := g.svc.Circles.CreateEmoji(ctx, user.Ref(), e, data)
	if err != nil {
		g.writeEmojiError(w, err)
		return
	}
	g.emojiChanged(circleID, list)
	writeJSON(w, http.StatusCreated, e)
}

// errNoEmojiPart: an emoji upload lacks its name or file part.
var errNoEmojiPart = errors.New("no name or no file part")

// readEmojiForm reads the parts of an emoji upload, in any order: name
// (at most 256 bytes read) and file; others are skipped. It returns
// errTooLarge for a file over max, errNoEmojiPart when a part is
// missing, or the body's error (an *http.MaxBytesError past the body's
// bound).
func readEmojiForm(mr *multipart.Reader, max int64) (name string, data []byte, err error) {
	var haveName, haveFile bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err
		}
		switch p.FormName() {
		case "name":
			b, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil {
				return "", nil, err
			}
			name, haveName = string(b), true
		case "file":
			if data, err = io.ReadAll(io.LimitReader(p, max+1)); err != nil {
				return "", nil, err
			}
			if int64(len(data)) > max {
				return "", nil, errTooLarge
			}
			haveFile = true
		}
	}
	if !haveName || !haveFile {
		return "", nil, errNoEmojiPart
	}
	return name, data, nil
}

// checkEmojiImage checks an emoji image's bytes and sets e's content
// type and animated flag; it returns the refusal's status, code and
// message, or an empty code.
func checkEmojiImage(data []byte, e *models.Emoji) (status int, code, msg string) {
	ctype := mediaType(http.DetectContentType(data))
	format, ok := emojiTypes[ctype]
	if !ok {
		return http.StatusUnsupportedMediaType, CodeUnsupportedType,
			"an emoji image must be PNG, JPEG, GIF or WebP; this file is " + ctype
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || got != format {
		return http.StatusUnprocessableEntity, CodeInvalidImage, "the file is not a readable " + format + " image"
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxEmojiSide || cfg.Height > MaxEmojiSide {
		return http.StatusUnprocessableEntity, CodeInvalidDimensions,
			fmt.Sprintf("the image is %d×%d pixels; an emoji may be at most %d×%d", cfg.Width, cfg.Height, MaxEmojiSide, MaxEmojiSide)
	}
	e.ContentType = ctype
	switch format {
	case "gif":
		e.Animated = gifFrames(data) > 1
	case "webp":
		e.Animated = webpAnimated(data)
	}
	return 0, "", ""
}

// gifFrames counts the images of a GIF by walking its blocks, without
// decoding any (a small file may hold very many frames); it stops
// counting at 2, and at anything it does not understand.
func gifFrames(b []byte) int {
	const header = 13 // signature, version, logical screen descriptor
	if len(b) < header {
		return 0
	}
	i := header
	if flags := b[10]; flags&0x80 != 0 {
		i += 3 << (flags&7 + 1) // global color table
	}
	// skipSubBlocks returns the index after the sub-blocks at j, or -1.
	skipSubBlocks := func(j int) int {
		for j < len(b) {
			n := int(b[j])
			j++
			if n == 0 {
				return j
			}
			j += n
		}
		return -1
	}
	frames := 0
	for i < len(b) && frames < 2 {
		switch b[i] {
		case 0x21: // extension: label, sub-blocks
			if i = skipSubBlocks(i + 2); i < 0 {
				return frames
			}
		case 0x2C: // image descriptor, local color table, LZW size, sub-blocks
			if i+10 > len(b) {
				return frames
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << (flags&7 + 1)
			}
			if i = skipSubBlocks(i + 1); i < 0 {
				return frames + 1
			}
			frames++
		default: // 0x3B, the trailer, or something broken
			return frames
		}
	}
	return frames
}

// webpAnimated reports whether a WebP file says it is animated: an
// extended (VP8X) header with the animation flag.
func webpAnimated(b []byte) bool {
	return len(b) >= 21 && string(b[12:16]) == "VP8X" && b[20]&0x02 != 0
}

// downloadEmoji answers GET (and HEAD) /api/emoji/{id}: the image of a
// custom emoji to any authenticated user, with a long Cache-Control (an
// id's bytes never change), its id as ETag and 304 for If-None-Match;
// 404 for an id no circle lists.
func (g *Gateway) downloadEmoji(w http.ResponseWriter, r *http.Request) {
	const op = "download emoji"
	user, id, notFound := g.fileRequest(w, r, op, "emoji")
	if user == nil {
		return
	}
	ctx := r.Context()
	e, err := g.svc.Store.EmojiImage(ctx, id)
	if g.fileLookupFailed(w, op, err, notFound) {
		return
	}
	// An image its circle's list no longer names is gone (deleted, with
	// its circle or alone), whether or not its bytes were removed.
	listed, err := g.svc.Circles.HasEmoji(ctx, e.CircleID, id)
	switch {
	case errors.Is(err, circles.ErrNotFound):
		notFound()
		return
	case err != nil:
		g.httpFailure(w, op, err)
		return
	case !listed:
		notFound()
		return
	}
	rd := g.svc.Store.OpenEmojiImage(ctx, e)
	defer rd.Close()
	serveFile(w, r, e.ContentType, e.ID, "private, max-age=31536000, immutable", e.CreatedAt, rd)
}
