package gateway_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// pngImage encodes a w×h PNG.
func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gifImage encodes a 16×16 GIF of frames frames.
func gifImage(t *testing.T, frames int) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := range frames {
		img := image.NewPaletted(image.Rect(0, 0, 16, 16), color.Palette{color.Black, color.White})
		img.SetColorIndex(i%16, i%16, 1)
		g.Image, g.Delay = append(g.Image, img), append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegImage(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 24, 24)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// webpImage is a 1×1 lossless WebP.
func webpImage(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString("524946461a000000574542505650384c0d0000002f0000001007101111888efe0700")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// emojiBody is a multipart body with the given parts (a nil value
// leaves the part out).
func emojiBody(t *testing.T, name *string, filename string, data []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if name != nil {
		if err := mw.WriteField("name", *name); err != nil {
			t.Fatal(err)
		}
	}
	if data != nil {
		part, err := mw.CreatePart(map[string][]string{
			"Content-Disposition": {`form-data; name="file"; filename="` + filename + `"`},
			"Content-Type":        {"image/png"}, // claimed, never trusted
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := part.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func uploadEmoji(t *testing.T, s *oshitest.Server, l *client.Login, circleID, name string, data []byte) *models.Emoji {
	t.Helper()
	e, err := client.UploadEmoji(ctxT(t), s.URL, l.Token, circleID, name, name+".img", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("upload emoji %s: %v", name, err)
	}
	return e
}

// emojiGrant gives member a role with manage_emoji in the circle.
func emojiGrant(t *testing.T, owner *client.Client, circleID, userID string) {
	t.Helper()
	perms := models.ManageEmoji
	role, err := owner.CreateRole(ctxT(t), circleID, client.RoleSpec{Name: "artists", Permissions: &perms})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.AssignRole(ctxT(t), circleID, role.ID, userID, true); err != nil {
		t.Fatal(err)
	}
}

func emojiNames(list []models.Emoji) string {
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.Name
	}
	return strings.Join(names, ",")
}

// TestEmojiUploadRefusals: every refusal of POST /api/circles/{circle}/emoji
// answers its documented status and code and stores nothing.
func TestEmojiUploadRefusals(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{MaxEmojiPerCircle: 2})
	ownerL, owner := s.User("owner")
	memberL, member := s.User("member")
	strangerL, _ := s.User("stranger")
	circle, err := owner.CreateCircle(ctxT(t), "Art", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	code, err := owner.CreateInvite(ctxT(t), circle.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.JoinInvite(ctxT(t), code); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	good := pngImage(t, 32, 32)
	corrupt := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 200)...)
	tooBig := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 256<<10)...)
	url := s.URL + "/api/circles/" + circle.ID + "/emoji"
	cases := []struct {
		name     string
		token    string
		url      string
		partName *string
		data     []byte
		status   int
		code     string
	}{
		{"no token", "", url, str("blob"), good, 401, "invalid_token"},
		{"member without manage_emoji", memberL.Token, url, str("blob"), good, 403, "forbidden"},
		{"stranger", strangerL.Token, url, str("blob"), good, 403, "forbidden"},
		{"unknown circle", ownerL.Token, s.URL + "/api/circles/nope/emoji", str("blob"), good, 404, "not_found"},
		{"name too short", ownerL.Token, url, str("b"), good, 422, "invalid_name"},
		{"name too long", ownerL.Token, url, str(strings.Repeat("b", 33)), good, 422, "invalid_name"},
		{"name with a dash", ownerL.Token, url, str("party-parrot"), good, 422, "invalid_name"},
		{"name with a colon", ownerL.Token, url, str("a:b"), good, 422, "invalid_name"},
		{"no name part", ownerL.Token, url, nil, good, 422, "malformed_body"},
		{"no file part", ownerL.Token, url, str("blob"), nil, 422, "malformed_body"},
		{"empty file", ownerL.Token, url, str("blob"), []byte{}, 422, "malformed_body"},
		{"text file named .png", ownerL.Token, url, str("blob"), []byte("just some text, not an image at all"), 415, "unsupported_type"},
		{"pdf", ownerL.Token, url, str("blob"), []byte("%PDF-1.4 not an emoji"), 415, "unsupported_type"},
		{"corrupt png", ownerL.Token, url, str("blob"), corrupt, 422, "invalid_image"},
		{"one byte over 256 KiB", ownerL.Token, url, str("blob"), tooBig, 413, "too_large"},
		{"257 pixels wide", ownerL.Token, url, str("blob"), pngImage(t, 257, 16), 422, "invalid_dimensions"},
		{"300×300", ownerL.Token, url, str("blob"), pngImage(t, 300, 300), 422, "invalid_dimensions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctype, body := emojiBody(t, tc.partName, "blob.png", tc.data)
			if tc.data == nil && tc.partName != nil {
				ctype, body = emojiBody(t, tc.partName, "", nil)
			}
			r := doHTTP(t, http.MethodPost, tc.url, tc.token, ctype, body, nil)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %s; want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	if list, err := owner.EmojiList(ctxT(t), circle.ID); err != nil || len(list) != 0 {
		t.Fatalf("after the refusals the list is %v, %v; want empty", list, err)
	}
	if n, err := s.Srv.Store().Database().Collection(store.EmojiBucket+".chunks").CountDocuments(ctxT(t), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d chunks stored (%v); want none", n, err)
	}

	// Names are unique without regard to case; the circle holds two.
	uploadEmoji(t, s, ownerL, circle.ID, "Blob", good)
	ctype, body := emojiBody(t, str("bLOB"), "x.png", good)
	if r := doHTTP(t, http.MethodPost, url, ownerL.Token, ctype, body, nil); r.status != 409 || r.code() != "name_taken" {
		t.Fatalf("duplicate name: %d %s; want 409 name_taken", r.status, r.body)
	}
	uploadEmoji(t, s, ownerL, circle.ID, "second", good)
	ctype, body = emojiBody(t, str("third"), "x.png", good)
	if r := doHTTP(t, http.MethodPost, url, ownerL.Token, ctype, body, nil); r.status != 409 || r.code() != "limit_reached" {
		t.Fatalf("over the limit: %d %s; want 409 limit_reached", r.status, r.body)
	} else {
		t.Logf("limit_reached: %s", r.body)
	}
	if n, err := s.Srv.Store().Database().Collection(store.EmojiBucket+".files").CountDocuments(ctxT(t), bson.D{}); err != nil || n != 2 {
		t.Fatalf("%d images stored (%v); want 2", n, err)
	}
	if h := owner.Handshake(); h.Limits["max_emoji_per_circle"] != 2 || h.Limits["max_emoji_bytes"] != 256<<10 || h.Limits["max_emoji_side"] != 256 {
		t.Fatalf("handshake limits = %+v", h.Limits)
	}
}

// TestEmojiCommandRefusals: emoji_list, emoji_rename and emoji_delete
// refuse strangers, members without manage_emoji, bad names, taken
// names and unknown emoji; the connection stays usable.
func TestEmojiCommandRefusals(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	ownerL, owner := s.User("owner")
	_, member := s.User("member")
	_, stranger := s.User("stranger")
	circle, err := owner.CreateCircle(ctxT(t), "Art", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.JoinCircle(ctxT(t), circle.ID); err != nil {
		t.Fatal(err)
	}
	a := uploadEmoji(t, s, ownerL, circle.ID, "alpha", pngImage(t, 8, 8))
	b := uploadEmoji(t, s, ownerL, circle.ID, "beta", pngImage(t, 8, 8))
	cases := []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"stranger lists", stranger, map[string]any{"cmd": "emoji_list", "circle": circle.ID}, "forbidden"},
		{"list without circle", member, map[string]any{"cmd": "emoji_list"}, "bad_request"},
		{"list of no circle", member, map[string]any{"cmd": "emoji_list", "circle": "nope"}, "not_found"},
		{"member renames", member, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "emoji": a.ID, "name": "mine"}, "forbidden"},
		{"member deletes", member, map[string]any{"cmd": "emoji_delete", "circle": circle.ID, "emoji": a.ID}, "forbidden"},
		{"stranger renames", stranger, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "emoji": a.ID, "name": "mine"}, "forbidden"},
		{"rename without emoji", owner, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "name": "x1"}, "bad_request"},
		{"rename to a bad name", owner, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "emoji": a.ID, "name": "no spaces"}, "invalid_name"},
		{"rename to a taken name", owner, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "emoji": a.ID, "name": "BETA"}, "name_taken"},
		{"rename an unknown emoji", owner, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "emoji": "nope", "name": "gamma"}, "unknown_emoji"},
		{"delete an unknown emoji", owner, map[string]any{"cmd": "emoji_delete", "circle": circle.ID, "emoji": "nope"}, "unknown_emoji"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.c.Request(ctxT(t), tc.frame)
			if got := client.Code(err); got != tc.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.code)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
	list, err := member.EmojiList(ctxT(t), circle.ID)
	if err != nil || emojiNames(list) != "alpha,beta" || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("list after the refusals = %v, %v", list, err)
	}
}

// TestEmojiLifecycle: an upload is listed in ready and sent to the
// circle's followers; the image is served with its type, ETag and 304;
// reactions name the emoji by id, so a rename keeps them together; only
// the message's circle's emoji are accepted; delete and circle_delete
// remove the image.
func TestEmojiLifecycle(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	ownerL, owner := s.User("owner")
	memberL, member := s.User("member")
	circle, err := owner.CreateCircle(ctx, "Party", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := member.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	emojiGrant(t, owner, circle.ID, memberL.User.ID)
	drain(t, member)

	// A member with manage_emoji uploads; the others get emoji_update.
	blobBytes := pngImage(t, 64, 64)
	blob := uploadEmoji(t, s, memberL, circle.ID, "blob", blobBytes)
	if blob.ContentType != "image/png" || blob.Animated || blob.Size != int64(len(blobBytes)) || blob.Creator.ID != memberL.User.ID || blob.CircleID != circle.ID {
		t.Fatalf("uploaded = %+v", blob)
	}
	ev := oshitest.Next(t, owner, "emoji_update")
	t.Logf("emoji_update: %s", ev.Raw)
	var upd struct {
		Circle string         `json:"circle"`
		Emojis []models.Emoji `json:"emojis"`
	}
	if err := json.Unmarshal(ev.Raw, &upd); err != nil || upd.Circle != circle.ID || len(upd.Emojis) != 1 || upd.Emojis[0].ID != blob.ID {
		t.Fatalf("emoji_update = %s (%v)", ev.Raw, err)
	}
	// Each type is accepted and sniffed; a GIF of two frames is animated.
	for _, tc := range []struct {
		name, ctype string
		data        []byte
		animated    bool
	}{
		{"still_gif", "image/gif", gifImage(t, 1), false},
		{"dancing", "image/gif", gifImage(t, 3), true},
		{"photo", "image/jpeg", jpegImage(t), false},
		{"tiny_webp", "image/webp", webpImage(t), false},
	} {
		e := uploadEmoji(t, s, ownerL, circle.ID, tc.name, tc.data)
		if e.ContentType != tc.ctype || e.Animated != tc.animated {
			t.Errorf("%s: type %s animated %v; want %s %v", tc.name, e.ContentType, e.Animated, tc.ctype, tc.animated)
		}
	}
	// ready carries the list, oldest first; so do circle_update and emoji_list.
	var seen *models.Circle
	for _, c := range s.Dial(memberL).Ready().Circles {
		if c.ID == circle.ID {
			seen = c
		}
	}
	if seen == nil || emojiNames(seen.Emojis) != "blob,still_gif,dancing,photo,tiny_webp" {
		t.Fatalf("ready's circle = %+v", seen)
	}
	raw, err := member.Request(ctx, map[string]any{"cmd": "emoji_list", "circle": circle.ID, "ref": 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emoji_list reply: %s", raw)

	// The image: exact bytes, type, ETag, long cache, 304, HEAD.
	imgURL := client.EmojiURL(s.URL, blob.ID)
	r := doHTTP(t, http.MethodGet, imgURL, ownerL.Token, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, blobBytes) || r.header.Get("Content-Type") != "image/png" ||
		r.header.Get("ETag") != `"`+blob.ID+`"` || !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET = %d %v (%d bytes)", r.status, r.header, len(r.body))
	}
	t.Logf("GET headers: %v", r.header)
	if r := doHTTP(t, http.MethodGet, imgURL, ownerL.Token, "", nil, map[string]string{"If-None-Match": `"` + blob.ID + `"`}); r.status != 304 || len(r.body) != 0 {
		t.Fatalf("conditional GET = %d %q; want 304", r.status, r.body)
	}
	if r := doHTTP(t, http.MethodHead, imgURL, ownerL.Token, "", nil, nil); r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("HEAD = %d %v", r.status, r.header)
	}
	for _, tc := range []struct {
		name, url, token string
		status           int
		code             string
	}{
		{"no token", imgURL, "", 401, "invalid_token"},
		{"unknown id", client.EmojiURL(s.URL, "nope"), ownerL.Token, 404, "not_found"},
	} {
		if r := doHTTP(t, http.MethodGet, tc.url, tc.token, "", nil, nil); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %s; want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
	}

	// Reactions name the emoji by id.
	if _, err := owner.Subscribe(ctx, general, 0); err != nil {
		t.Fatal(err)
	}
	msg, err := owner.Send(ctx, general, "party time <:blob:"+blob.ID+">", "")
	if err != nil {
		t.Fatal(err)
	}
	key := models.CustomReaction(blob.ID)
	raw, err = member.Request(ctx, map[string]any{"cmd": "message_react_add", "stream": general, "id": msg.ID, "emoji": key, "ref": 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("react reply: %s", raw)
	ev = oshitest.Next(t, owner, "message_react_add")
	t.Logf("message_react_add: %s", ev.Raw)
	// A rename keeps the reaction together: same key, one count.
	drain(t, member)
	raw, err = owner.Request(ctx, map[string]any{"cmd": "emoji_rename", "circle": circle.ID, "emoji": blob.ID, "name": "blobby", "ref": 9})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emoji_rename reply: %s", raw)
	if ev := oshitest.Next(t, member, "emoji_update"); !strings.Contains(string(ev.Raw), `"name":"blobby"`) {
		t.Fatalf("emoji_update after rename = %s", ev.Raw)
	}
	m, err := owner.React(ctx, general, msg.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ReactionCounts) != 1 || m.ReactionCounts[0].Emoji != key || m.ReactionCounts[0].Count != 2 {
		t.Fatalf("reactions after rename = %+v; want one %s with 2", m.ReactionCounts, key)
	}
	// Only emoji of the message's circle: another circle's, an unknown
	// id, and any custom emoji in a DM are refused; a malformed one is
	// invalid.
	other, err := owner.CreateCircle(ctx, "Other", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	foreign := uploadEmoji(t, s, ownerL, other.ID, "foreign", pngImage(t, 8, 8))
	dm, err := owner.OpenDM(ctx, "member")
	if err != nil {
		t.Fatal(err)
	}
	dmMsg, err := owner.Send(ctx, dm.ID, "hi", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stream, id, emoji, code string
	}{
		{"another circle's emoji", general, msg.ID, models.CustomReaction(foreign.ID), "unknown_emoji"},
		{"an unknown id", general, msg.ID, models.CustomReaction("0000"), "unknown_emoji"},
		{"in a DM", dm.ID, dmMsg.ID, key, "unknown_emoji"},
		{"malformed", general, msg.ID, "custom:not an id", "invalid_emoji"},
		{"empty id", general, msg.ID, "custom:", "invalid_emoji"},
	} {
		raw, err := member.Request(ctx, map[string]any{"cmd": "message_react_add", "stream": tc.stream, "id": tc.id, "emoji": tc.emoji})
		if client.Code(err) != tc.code {
			t.Errorf("%s: %s, %v; want %s", tc.name, raw, err, tc.code)
		}
		t.Logf("%s: %v", tc.name, err)
	}

	// Delete: the followers get the list, the image is gone, the
	// reactions stay (and can still be taken back), the audit log has
	// all three actions.
	raw, err = owner.Request(ctx, map[string]any{"cmd": "emoji_delete", "circle": circle.ID, "emoji": blob.ID, "ref": 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emoji_delete reply: %s", raw)
	if ev := oshitest.Next(t, member, "emoji_update"); strings.Contains(string(ev.Raw), blob.ID) {
		t.Fatalf("emoji_update after delete still lists it: %s", ev.Raw)
	}
	if r := doHTTP(t, http.MethodGet, imgURL, ownerL.Token, "", nil, nil); r.status != 404 || r.code() != "not_found" {
		t.Fatalf("GET after delete = %d %s", r.status, r.body)
	}
	db := s.Srv.Store().Database()
	for _, coll := range []string{store.EmojiBucket + ".files", store.EmojiBucket + ".chunks"} {
		field := "_id"
		if strings.HasSuffix(coll, "chunks") {
			field = "files_id"
		}
		if n, err := db.Collection(coll).CountDocuments(ctx, bson.D{{Key: field, Value: blob.ID}}); err != nil || n != 0 {
			t.Fatalf("%s holds %d documents of the deleted emoji (%v)", coll, n, err)
		}
	}
	hist, err := owner.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || len(hist[0].ReactionCounts) != 1 || hist[0].ReactionCounts[0].Emoji != key || hist[0].ReactionCounts[0].Count != 2 {
		t.Fatalf("history after delete = %+v, %v", hist, err)
	}
	if raw, err := member.Request(ctx, map[string]any{"cmd": "message_react_add", "stream": general, "id": msg.ID, "emoji": models.CustomReaction(blob.ID)}); err != nil {
		t.Logf("re-adding a deleted emoji's own reaction: %v", err) // the member has it already: nothing changes
	} else if !strings.Contains(string(raw), key) {
		t.Fatalf("react = %s", raw)
	}
	if m, err := owner.Unreact(ctx, general, msg.ID, key); err != nil || len(m.ReactionCounts) != 1 || m.ReactionCounts[0].Count != 1 {
		t.Fatalf("unreact a deleted emoji = %+v, %v", m, err)
	}
	entries, _, err := owner.AuditLog(ctx, circle.ID, client.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "emoji_") {
			actions = append(actions, e.Action+":"+e.TargetID)
		}
	}
	if want := "emoji_delete:" + blob.ID; len(actions) != 7 || actions[0] != want || actions[1] != "emoji_rename:"+blob.ID {
		t.Fatalf("audit = %v; want 5 creates, a rename and a delete, newest first", actions)
	}
	if entries, _, err := owner.AuditLog(ctx, circle.ID, client.AuditFilter{Action: "emoji_rename"}); err != nil || len(entries) != 1 || entries[0].Details["old_name"] != "blob" {
		t.Fatalf("audit filtered by emoji_rename = %+v, %v", entries, err)
	}

	// Deleting a circle deletes its emoji and their images.
	if err := owner.DeleteCircle(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if r := doHTTP(t, http.MethodGet, client.EmojiURL(s.URL, foreign.ID), ownerL.Token, "", nil, nil); r.status != 404 {
		t.Fatalf("GET of a deleted circle's emoji = %d", r.status)
	}
	for _, coll := range []string{store.EmojiBucket + ".files", store.EmojiSetsCollection} {
		id := foreign.ID
		if coll == store.EmojiSetsCollection {
			id = other.ID
		}
		if n, err := db.Collection(coll).CountDocuments(ctx, bson.D{{Key: "_id", Value: id}}); err != nil || n != 0 {
			t.Fatalf("%s keeps the deleted circle's emoji: %d (%v)", coll, n, err)
		}
	}
	if n, err := db.Collection(store.EmojiBucket+".chunks").CountDocuments(ctx, bson.D{{Key: "files_id", Value: foreign.ID}}); err != nil || n != 0 {
		t.Fatalf("chunks of the deleted circle's emoji: %d (%v)", n, err)
	}
}

// TestEmojiUploadTwice: the same upload twice is created, then refused
// as a taken name; an animated GIF says so.
func TestEmojiUploadTwice(t *testing.T) {
	s := oshitest.NewServer(t, server.Config{})
	ownerL, owner := s.User("owner")
	circle, err := owner.CreateCircle(context.Background(), "Art", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	name := "party_parrot"
	ctype, body := emojiBody(t, &name, "parrot.gif", gifImage(t, 2))
	r := doHTTP(t, http.MethodPost, s.URL+"/api/circles/"+circle.ID+"/emoji", ownerL.Token, ctype, body, nil)
	if r.status != 201 || !strings.Contains(string(r.body), `"animated":true`) {
		t.Fatalf("upload = %d %s", r.status, r.body)
	}
	t.Logf("201: %s", r.body)
	r = doHTTP(t, http.MethodPost, s.URL+"/api/circles/"+circle.ID+"/emoji", ownerL.Token, ctype, body, nil)
	t.Logf("%d: %s", r.status, r.body)
	if r.status != 409 || r.code() != "name_taken" {
		t.Fatalf("second upload = %d", r.status)
	}
}

// TestEmojiFrames runs the protocol's example over raw WebSockets and
// logs every frame (go test -v): ready's circle with its emoji,
// emoji_list, emoji_rename with the emoji_update a member gets, a custom
// reaction and its refusals, emoji_delete.
func TestEmojiFrames(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	aliceL, alice := s.User("alice")
	bobL, bob := s.User("bob")
	circle, err := alice.CreateCircle(ctx, "Party", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bob.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	other, err := alice.CreateCircle(ctx, "Other", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	name := "blob"
	ctype, body := emojiBody(t, &name, "blob.png", pngImage(t, 4, 4))
	r := doHTTP(t, http.MethodPost, s.URL+"/api/circles/"+circle.ID+"/emoji", aliceL.Token, ctype, body, nil)
	t.Logf("POST /api/circles/%s/emoji → %d %s %s", circle.ID, r.status, r.header.Get("Content-Type"), r.body)
	var blob models.Emoji
	if err := json.Unmarshal(r.body, &blob); err != nil || r.status != 201 {
		t.Fatalf("upload = %d %s", r.status, r.body)
	}
	foreign := uploadEmoji(t, s, aliceL, other.ID, "elsewhere", pngImage(t, 4, 4))
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		token, name string
		data        []byte
		status      int
	}{
		{bobL.Token, "mine", pngImage(t, 4, 4), 403},
		{aliceL.Token, "BLOB", pngImage(t, 4, 4), 409},
		{aliceL.Token, "a b", pngImage(t, 4, 4), 422},
		{aliceL.Token, "notes", []byte("these are my notes, not an image"), 415},
		{aliceL.Token, "huge", pngImage(t, 300, 300), 422},
		{aliceL.Token, "heavy", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 300<<10)...), 413},
	} {
		ctype, body := emojiBody(t, str(tc.name), tc.name+".png", tc.data)
		r := doHTTP(t, http.MethodPost, s.URL+"/api/circles/"+circle.ID+"/emoji", tc.token, ctype, body, nil)
		t.Logf("POST (name %q, %d bytes) → %d %s", tc.name, len(tc.data), r.status, r.body)
		if r.status != tc.status {
			t.Fatalf("status %d; want %d", r.status, tc.status)
		}
	}
	url := client.EmojiURL(s.URL, blob.ID)
	r = doHTTP(t, http.MethodGet, url, bobL.Token, "", nil, nil)
	t.Logf("GET %s → %d %v (%d bytes)", url, r.status, r.header, len(r.body))
	r = doHTTP(t, http.MethodGet, url, bobL.Token, "", nil, map[string]string{"If-None-Match": `"` + blob.ID + `"`})
	t.Logf("GET If-None-Match → %d %v", r.status, r.header)
	if r.status != 304 {
		t.Fatalf("conditional GET = %d", r.status)
	}
	for _, c := range s.Dial(bobL).Ready().Circles {
		if c.ID == circle.ID {
			j, _ := json.Marshal(c)
			t.Logf("ready circle: %s", j)
		}
	}
	msg, err := alice.Send(ctx, general, "party <:blob:"+blob.ID+">", "")
	if err != nil {
		t.Fatal(err)
	}

	b := dialRaw(t, s, "bob", bobL)
	a := dialRaw(t, s, "alice", aliceL)
	a.send("cmd", "emoji_list", "circle", circle.ID)
	if f := a.until("emoji_list", false); !strings.Contains(string(f), `"name":"blob"`) {
		t.Fatalf("emoji_list = %s", f)
	}
	a.send("cmd", "emoji_rename", "circle", circle.ID, "emoji", blob.ID, "name", "blobcat")
	if f := a.until("emoji_rename", false); !strings.Contains(string(f), `"name":"blobcat"`) {
		t.Fatalf("emoji_rename = %s", f)
	}
	if f := b.until("emoji_update", false); !strings.Contains(string(f), `"name":"blobcat"`) {
		t.Fatalf("emoji_update = %s", f)
	}
	a.send("cmd", "emoji_rename", "circle", circle.ID, "emoji", blob.ID, "name", "no-dashes")
	a.until("error", false)
	b.send("cmd", "emoji_delete", "circle", circle.ID, "emoji", blob.ID)
	if f := b.until("error", false); !strings.Contains(string(f), "forbidden") {
		t.Fatalf("emoji_delete by bob = %s", f)
	}
	b.send("cmd", "message_react_add", "stream", general, "id", msg.ID, "emoji", models.CustomReaction(blob.ID))
	if f := b.until("message_react_add", false); !strings.Contains(string(f), `"emoji":"custom:`+blob.ID+`","count":1,"me":true`) {
		t.Fatalf("react = %s", f)
	}
	b.send("cmd", "message_react_add", "stream", general, "id", msg.ID, "emoji", models.CustomReaction(foreign.ID))
	if f := b.until("error", false); !strings.Contains(string(f), "unknown_emoji") {
		t.Fatalf("react with another circle's emoji = %s", f)
	}
	a.send("cmd", "emoji_delete", "circle", circle.ID, "emoji", blob.ID)
	if f := a.until("emoji_delete", false); !strings.Contains(string(f), `"emojis":[]`) {
		t.Fatalf("emoji_delete = %s", f)
	}
	if f := b.until("emoji_update", false); !strings.Contains(string(f), `"emojis":[]`) {
		t.Fatalf("emoji_update = %s", f)
	}
	a.send("cmd", "emoji_delete", "circle", circle.ID, "emoji", blob.ID)
	if f := a.until("error", false); !strings.Contains(string(f), "unknown_emoji") {
		t.Fatalf("second emoji_delete = %s", f)
	}
	r = doHTTP(t, http.MethodGet, url, bobL.Token, "", nil, nil)
	t.Logf("GET after delete → %d %s", r.status, r.body)
	if r.status != 404 {
		t.Fatalf("GET after delete = %d", r.status)
	}
	// The reaction stays, naming the deleted emoji's id.
	hist, err := bob.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || len(hist[0].ReactionCounts) != 1 || hist[0].ReactionCounts[0].Emoji != models.CustomReaction(blob.ID) {
		t.Fatalf("history = %+v, %v", hist, err)
	}
}
