package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
)

// whResponse is an HTTP answer to a webhook post.
type whResponse struct {
	status int
	header http.Header
	body   []byte
}

// whPost sends body to the server's path as it is.
func whPost(t *testing.T, ctx context.Context, s *oshitest.Server, path string, body []byte) whResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return whResponse{resp.StatusCode, resp.Header, data}
}

// whJSON encodes a post body.
func whJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// code returns the error code of an HTTP error body.
func (r whResponse) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// whCount counts the stored documents of a collection matching filter.
func whCount(t *testing.T, s *oshitest.Server, collection string, filter bson.D) int64 {
	t.Helper()
	n, err := s.Srv.Store().Database().Collection(collection).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func whMessages(t *testing.T, s *oshitest.Server, streamID string) int64 {
	t.Helper()
	return whCount(t, s, "messages", bson.D{{Key: "stream_id", Value: streamID}})
}

func mustWebhook(t *testing.T, ctx context.Context, c *client.Client, streamID, name string) *client.WebhookSecret {
	t.Helper()
	w, err := c.CreateWebhook(ctx, streamID, name)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookCommandRefusals tries each webhook command without
// manage_streams, as a stranger and with bad arguments: each is refused
// with its code and nothing changes.
func TestWebhookCommandRefusals(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	_, stranger := k.s.User("stranger")
	hook := mustWebhook(t, ctx, k.mod, k.general, "CI")
	voice, err := k.owner.CreateStreamWith(ctx, k.circle.ID, "lounge", client.StreamOptions{Kind: models.Voice})
	if err != nil {
		t.Fatal(err)
	}
	dm, err := k.owner.OpenDM(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	audit := whCount(t, k.s, "audit_log", bson.D{{Key: "circle_id", Value: k.circle.ID}})

	cases := []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"create without manage_streams", k.plain, map[string]any{"cmd": "webhook_create", "stream": k.general, "name": "mine"}, "forbidden"},
		{"list without manage_streams", k.plain, map[string]any{"cmd": "webhook_list", "circle": k.circle.ID}, "forbidden"},
		{"rotate without manage_streams", k.plain, map[string]any{"cmd": "webhook_rotate", "id": hook.Webhook.ID}, "forbidden"},
		{"delete without manage_streams", k.plain, map[string]any{"cmd": "webhook_delete", "id": hook.Webhook.ID}, "forbidden"},
		{"create as a stranger", stranger, map[string]any{"cmd": "webhook_create", "stream": k.general, "name": "mine"}, "forbidden"},
		{"list as a stranger", stranger, map[string]any{"cmd": "webhook_list", "circle": k.circle.ID}, "forbidden"},
		{"rotate as a stranger", stranger, map[string]any{"cmd": "webhook_rotate", "id": hook.Webhook.ID}, "forbidden"},
		{"delete as a stranger", stranger, map[string]any{"cmd": "webhook_delete", "id": hook.Webhook.ID}, "forbidden"},
		{"create without stream", k.mod, map[string]any{"cmd": "webhook_create", "name": "mine"}, "bad_request"},
		{"create without name", k.mod, map[string]any{"cmd": "webhook_create", "stream": k.general}, "invalid_name"},
		{"create with a blank name", k.mod, map[string]any{"cmd": "webhook_create", "stream": k.general, "name": "   "}, "invalid_name"},
		{"create with a long name", k.mod, map[string]any{"cmd": "webhook_create", "stream": k.general, "name": strings.Repeat("n", 33)}, "invalid_name"},
		{"create with a control character", k.mod, map[string]any{"cmd": "webhook_create", "stream": k.general, "name": "a\nb"}, "invalid_name"},
		{"create in an unknown stream", k.mod, map[string]any{"cmd": "webhook_create", "stream": uuid.NewString(), "name": "mine"}, "not_found"},
		{"create in a DM", k.owner, map[string]any{"cmd": "webhook_create", "stream": dm.ID, "name": "mine"}, "not_found"},
		{"create in a voice stream", k.mod, map[string]any{"cmd": "webhook_create", "stream": voice.ID, "name": "mine"}, "not_text"},
		{"list without circle", k.mod, map[string]any{"cmd": "webhook_list"}, "bad_request"},
		{"list of an unknown circle", k.mod, map[string]any{"cmd": "webhook_list", "circle": uuid.NewString()}, "not_found"},
		{"rotate without id", k.mod, map[string]any{"cmd": "webhook_rotate"}, "bad_request"},
		{"rotate an unknown webhook", k.mod, map[string]any{"cmd": "webhook_rotate", "id": uuid.NewString()}, "webhook_not_found"},
		{"delete an unknown webhook", k.mod, map[string]any{"cmd": "webhook_delete", "id": uuid.NewString()}, "webhook_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Request(ctx, tc.frame)
			wantCode(t, err, tc.code)
		})
	}
	if n := whCount(t, k.s, "webhooks", bson.D{}); n != 1 {
		t.Errorf("%d webhooks stored, want 1", n)
	}
	if n := whCount(t, k.s, "audit_log", bson.D{{Key: "circle_id", Value: k.circle.ID}}); n != audit {
		t.Errorf("audit entries %d -> %d after refusals", audit, n)
	}
	// The token still works: nothing was rotated.
	if r := whPost(t, ctx, k.s, hook.Path, whJSON(t, map[string]string{"content": "still here"})); r.status != http.StatusOK {
		t.Fatalf("post after refusals: %d %s", r.status, r.body)
	}
}

// TestWebhookPostRefusals posts with wrong, rotated-away and deleted
// tokens and with bad bodies: each is refused with its status and code
// and nothing is stored.
func TestWebhookPostRefusals(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	good := whJSON(t, map[string]string{"content": "hello"})

	rotated := mustWebhook(t, ctx, k.mod, k.general, "rotated")
	if _, err := k.mod.RotateWebhook(ctx, rotated.Webhook.ID); err != nil {
		t.Fatal(err)
	}
	deleted := mustWebhook(t, ctx, k.mod, k.general, "deleted")
	if err := k.mod.DeleteWebhook(ctx, deleted.Webhook.ID); err != nil {
		t.Fatal(err)
	}
	doomed, err := k.owner.CreateStream(ctx, k.circle.ID, "doomed")
	if err != nil {
		t.Fatal(err)
	}
	orphan := mustWebhook(t, ctx, k.mod, doomed.ID, "orphan")
	if err := k.owner.DeleteStream(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	// fresh gives each case with a right token its own webhook, so the
	// rate limit never interferes.
	fresh := func() string { return mustWebhook(t, ctx, k.mod, k.general, "fresh").Path }
	wrongToken := func() string {
		h := mustWebhook(t, ctx, k.mod, k.general, "wrong")
		return "/api/webhooks/" + h.Webhook.ID + "/" + strings.Repeat("A", len(h.Token))
	}
	unknownID := func() string { return "/api/webhooks/" + uuid.NewString() + "/" + strings.Repeat("A", 43) }
	post := func(fields map[string]any) []byte { return whJSON(t, fields) }

	const unauthorized = `{"error":{"code":"invalid_webhook","message":"unknown webhook or wrong token"}}` + "\n"
	cases := []struct {
		name   string
		path   func() string
		body   []byte
		status int
		code   string
	}{
		{"wrong token", wrongToken, good, 401, "invalid_webhook"},
		{"unknown id", unknownID, good, 401, "invalid_webhook"},
		{"short token", func() string { return "/api/webhooks/" + rotated.Webhook.ID + "/abc" }, good, 401, "invalid_webhook"},
		{"rotated-away token", func() string { return rotated.Path }, good, 401, "invalid_webhook"},
		{"deleted webhook", func() string { return deleted.Path }, good, 401, "invalid_webhook"},
		{"webhook of a deleted stream", func() string { return orphan.Path }, good, 401, "invalid_webhook"},
		{"body too big", fresh, post(map[string]any{"content": strings.Repeat("x", 16<<10)}), 413, "body_too_large"},
		{"not JSON", fresh, []byte("content=hello"), 422, "malformed_body"},
		{"content of the wrong type", fresh, []byte(`{"content":42}`), 422, "malformed_body"},
		{"empty content", fresh, post(map[string]any{"content": ""}), 400, "invalid_content"},
		{"no content", fresh, post(map[string]any{"username": "bot"}), 400, "invalid_content"},
		{"content too long", fresh, post(map[string]any{"content": strings.Repeat("x", 4001)}), 400, "message_too_long"},
		{"content with a control character", fresh, post(map[string]any{"content": "a\x00b"}), 400, "invalid_content"},
		{"username too long", fresh, post(map[string]any{"content": "hi", "username": strings.Repeat("u", 33)}), 400, "invalid_username"},
		{"username blank", fresh, post(map[string]any{"content": "hi", "username": "  "}), 400, "invalid_username"},
		{"username with a newline", fresh, post(map[string]any{"content": "hi", "username": "a\nb"}), 400, "invalid_username"},
		{"username with a zero-width space", fresh, post(map[string]any{"content": "hi", "username": "a\u200bb"}), 400, "invalid_username"},
		{"avatar_url not http", fresh, post(map[string]any{"content": "hi", "avatar_url": "javascript:alert(1)"}), 400, "invalid_avatar_url"},
		{"avatar_url ftp", fresh, post(map[string]any{"content": "hi", "avatar_url": "ftp://example.com/a.png"}), 400, "invalid_avatar_url"},
		{"avatar_url without host", fresh, post(map[string]any{"content": "hi", "avatar_url": "https:///a.png"}), 400, "invalid_avatar_url"},
		{"avatar_url relative", fresh, post(map[string]any{"content": "hi", "avatar_url": "/a.png"}), 400, "invalid_avatar_url"},
		{"avatar_url with a space", fresh, post(map[string]any{"content": "hi", "avatar_url": "https://example.com/a b.png"}), 400, "invalid_avatar_url"},
		{"avatar_url with credentials", fresh, post(map[string]any{"content": "hi", "avatar_url": "https://u:p@example.com/a.png"}), 400, "invalid_avatar_url"},
		{"avatar_url too long", fresh, post(map[string]any{"content": "hi", "avatar_url": "https://example.com/" + strings.Repeat("a", 1981)}), 400, "invalid_avatar_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := whMessages(t, k.s, k.general)
			r := whPost(t, ctx, k.s, tc.path(), tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.status == 401 && string(r.body) != unauthorized {
				t.Errorf("401 body %q, want %q: every mismatch must look the same", r.body, unauthorized)
			}
			if after := whMessages(t, k.s, k.general); after != before {
				t.Errorf("messages %d -> %d: a refused post was stored", before, after)
			}
		})
	}
	if n := whMessages(t, k.s, doomed.ID); n != 0 {
		t.Errorf("%d messages in the deleted stream", n)
	}
}

// TestWebhookRateLimit posts WebhookBurst+1 times at once through one
// webhook: exactly one is refused with 429 and Retry-After, and only the
// accepted posts are stored. Another webhook is not limited by it.
func TestWebhookRateLimit(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	hook := mustWebhook(t, ctx, k.mod, k.general, "busy")
	const n = 6 // gateway.WebhookBurst + 1
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]whResponse, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, k.s.URL+hook.Path, strings.NewReader(`{"content":"tick"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			results[i] = whResponse{resp.StatusCode, resp.Header, body}
		}()
	}
	close(start)
	wg.Wait()
	var ok, limited int
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if r.code() != "rate_limited" || r.header.Get("Retry-After") == "" || r.header.Get("Retry-After") == "0" {
				t.Errorf("429 with code %q, Retry-After %q", r.code(), r.header.Get("Retry-After"))
			}
		default:
			t.Errorf("unexpected %d %s", r.status, r.body)
		}
	}
	if ok != n-1 || limited != 1 {
		t.Fatalf("%d accepted and %d limited, want %d and 1", ok, limited, n-1)
	}
	if got := whMessages(t, k.s, k.general); got != int64(ok) {
		t.Errorf("%d messages stored, want %d", got, ok)
	}
	other := mustWebhook(t, ctx, k.mod, k.general, "calm")
	if _, err := client.PostWebhook(ctx, k.s.URL, other.Path, client.WebhookPost{Content: "unaffected"}); err != nil {
		t.Errorf("another webhook: %v", err)
	}
}

// TestWebhookPost posts through a webhook: the answer is the stored
// message, a subscriber gets it as message_new with the webhook mark,
// and it is in history.
func TestWebhookPost(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	if _, err := k.plain.Subscribe(ctx, k.general, 0); err != nil {
		t.Fatal(err)
	}
	hook := mustWebhook(t, ctx, k.mod, k.general, "Deploys")
	cases := []struct {
		name     string
		post     client.WebhookPost
		username string
	}{
		{"default username", client.WebhookPost{Content: "build 12 passed <ok> & done"}, "Deploys"},
		{"own username and avatar", client.WebhookPost{Content: "hi @plain", Username: "  Release Bot 🚀 ", AvatarURL: "https://example.com/bot.png?s=64"}, "Release Bot 🚀"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := client.PostWebhook(ctx, k.s.URL, hook.Path, tc.post)
			if err != nil {
				t.Fatal(err)
			}
			want := models.UserRef{ID: hook.Webhook.ID, Username: tc.username}
			if m.Author != want || m.Content != tc.post.Content || m.StreamID != k.general || m.Seq == 0 {
				t.Errorf("reply message %+v", m)
			}
			if m.Webhook == nil || m.Webhook.ID != hook.Webhook.ID || m.Webhook.AvatarURL != tc.post.AvatarURL {
				t.Errorf("reply webhook mark %+v", m.Webhook)
			}
			ev := nextEvent(t, k.plain, "message_new")
			if ev.Message == nil || ev.Message.ID != m.ID || ev.Message.Seq != m.Seq || ev.Message.Author != want {
				t.Fatalf("message_new %s", ev.Raw)
			}
			var raw struct {
				Message struct {
					Webhook map[string]any `json:"webhook"`
				} `json:"message"`
			}
			if err := json.Unmarshal(ev.Raw, &raw); err != nil {
				t.Fatal(err)
			}
			wantMark := map[string]any{"id": hook.Webhook.ID}
			if tc.post.AvatarURL != "" {
				wantMark["avatar_url"] = tc.post.AvatarURL
			}
			if !jsonEqual(raw.Message.Webhook, wantMark) {
				t.Errorf("event webhook mark %v, want %v", raw.Message.Webhook, wantMark)
			}
			hist, err := k.plain.History(ctx, k.general, client.HistoryQuery{After: client.Seq(m.Seq - 1), Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 || hist[0].ID != m.ID || hist[0].Webhook == nil || hist[0].Webhook.ID != hook.Webhook.ID {
				t.Errorf("history %+v", hist)
			}
		})
	}
}

// TestWebhookPostNonce retries a post with the same nonce: the same
// message comes back and only one is stored; another nonce posts again.
func TestWebhookPostNonce(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	hook := mustWebhook(t, ctx, k.mod, k.general, "Deploys")
	before := whMessages(t, k.s, k.general)
	post := client.WebhookPost{Content: "deploy 7 done", Nonce: "deploy-7"}
	first, err := client.PostWebhook(ctx, k.s.URL, hook.Path, post)
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.PostWebhook(ctx, k.s.URL, hook.Path, post)
	if err != nil || again.ID != first.ID || again.Seq != first.Seq {
		t.Fatalf("retry = %+v, %v; want message %s again", again, err, first.ID)
	}
	post.Nonce = "deploy-8"
	other, err := client.PostWebhook(ctx, k.s.URL, hook.Path, post)
	if err != nil || other.ID == first.ID {
		t.Fatalf("another nonce = %+v, %v; want a new message", other, err)
	}
	if n := whMessages(t, k.s, k.general) - before; n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
	post.Nonce = strings.Repeat("n", 65)
	if _, err := client.PostWebhook(ctx, k.s.URL, hook.Path, post); errorCode(err) != "invalid_nonce" {
		t.Fatalf("a 65-byte nonce: %v, want invalid_nonce", err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestWebhookManage creates, lists, rotates and deletes webhooks: tokens
// are shown only on create and rotate and stored only hashed, the new
// token works and the old one does not, each change is in the audit log,
// and deleting a stream or the circle deletes their webhooks.
func TestWebhookManage(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	a := mustWebhook(t, ctx, k.mod, k.general, "Alpha")
	if a.Webhook.Name != "Alpha" || a.Webhook.CircleID != k.circle.ID || a.Webhook.StreamID != k.general ||
		a.Webhook.CreatedBy != k.modL.User || a.Webhook.CreatedAt.IsZero() {
		t.Errorf("created %+v", a.Webhook)
	}
	if len(a.Token) != 43 || a.Path != "/api/webhooks/"+a.Webhook.ID+"/"+a.Token {
		t.Errorf("token %q path %q", a.Token, a.Path)
	}
	side, err := k.owner.CreateStream(ctx, k.circle.ID, "side")
	if err != nil {
		t.Fatal(err)
	}
	b := mustWebhook(t, ctx, k.owner, side.ID, "Beta")

	// Stored hashed only.
	var doc bson.M
	if err := k.s.Srv.Store().Database().Collection("webhooks").FindOne(ctx, bson.D{{Key: "_id", Value: a.Webhook.ID}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(a.Token))
	if doc["token_hash"] != hex.EncodeToString(sum[:]) {
		t.Errorf("stored token_hash %v", doc["token_hash"])
	}
	for key, v := range doc {
		if s, ok := v.(string); ok && strings.Contains(s, a.Token) {
			t.Errorf("the token is stored in %s", key)
		}
	}

	// Listed without tokens.
	raw, err := k.mod.Request(ctx, map[string]any{"cmd": "webhook_list", "circle": k.circle.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{a.Token, b.Token, "token", hex.EncodeToString(sum[:])} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("webhook_list shows %q: %s", secret, raw)
		}
	}
	list, err := k.mod.Webhooks(ctx, k.circle.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.Webhook.ID || list[1].ID != b.Webhook.ID || list[0].Name != "Alpha" {
		t.Fatalf("list %+v", list)
	}

	// Rotate: the new token works, the old one does not.
	rot, err := k.mod.RotateWebhook(ctx, a.Webhook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Token == a.Token || rot.Webhook.ID != a.Webhook.ID || rot.Webhook.Name != "Alpha" {
		t.Fatalf("rotated %+v", rot)
	}
	if _, err := client.PostWebhook(ctx, k.s.URL, a.Path, client.WebhookPost{Content: "old"}); client.Code(err) != "invalid_webhook" {
		t.Errorf("old token after rotate: %v", err)
	}
	if _, err := client.PostWebhook(ctx, k.s.URL, rot.Path, client.WebhookPost{Content: "new"}); err != nil {
		t.Errorf("new token after rotate: %v", err)
	}
	if err := k.mod.DeleteWebhook(ctx, a.Webhook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PostWebhook(ctx, k.s.URL, rot.Path, client.WebhookPost{Content: "gone"}); client.Code(err) != "invalid_webhook" {
		t.Errorf("token after delete: %v", err)
	}

	// Audit log: every change, by its actor, naming the webhook.
	entries, _, err := k.owner.AuditLog(ctx, k.circle.ID, client.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "webhook_") {
			got = append(got, e.Action+" "+e.Actor.Username+" "+e.TargetID)
		}
	}
	want := []string{
		"webhook_delete mod " + a.Webhook.ID,
		"webhook_rotate mod " + a.Webhook.ID,
		"webhook_create owner " + b.Webhook.ID,
		"webhook_create mod " + a.Webhook.ID,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, action := range []string{"webhook_create", "webhook_rotate", "webhook_delete"} {
		es, _, err := k.owner.AuditLog(ctx, k.circle.ID, client.AuditFilter{Action: action})
		if err != nil || len(es) == 0 {
			t.Errorf("audit_log action=%s: %d entries, %v", action, len(es), err)
		}
	}

	// Deleting the stream deletes its webhooks; deleting the circle, all.
	c := mustWebhook(t, ctx, k.mod, k.general, "Gamma")
	if err := k.owner.DeleteStream(ctx, side.ID); err != nil {
		t.Fatal(err)
	}
	if n := whCount(t, k.s, "webhooks", bson.D{{Key: "stream_id", Value: side.ID}}); n != 0 {
		t.Errorf("%d webhooks of the deleted stream remain", n)
	}
	if n := whCount(t, k.s, "webhooks", bson.D{{Key: "_id", Value: c.Webhook.ID}}); n != 1 {
		t.Errorf("the other stream's webhook is gone")
	}
	if err := k.owner.DeleteCircle(ctx, k.circle.ID); err != nil {
		t.Fatal(err)
	}
	if n := whCount(t, k.s, "webhooks", bson.D{{Key: "circle_id", Value: k.circle.ID}}); n != 0 {
		t.Errorf("%d webhooks of the deleted circle remain", n)
	}
	if _, err := client.PostWebhook(ctx, k.s.URL, c.Path, client.WebhookPost{Content: "gone"}); client.Code(err) != "invalid_webhook" {
		t.Errorf("token after circle delete: %v", err)
	}
}

// TestWebhookLimits fills a circle with webhooks: one more is refused
// with limit_reached until one is deleted. A webhook posts into a
// channel where members may not send: its token is its permission.
func TestWebhookLimits(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageStreams)
	var first *client.WebhookSecret
	for i := range 50 {
		w := mustWebhook(t, ctx, k.mod, k.general, "hook")
		if i == 0 {
			first = w
		}
	}
	_, err := k.mod.CreateWebhook(ctx, k.general, "one more")
	wantCode(t, err, "limit_reached")
	if err := k.mod.DeleteWebhook(ctx, first.Webhook.ID); err != nil {
		t.Fatal(err)
	}
	quiet := mustWebhook(t, ctx, k.mod, k.general, "one more")

	if _, err := k.owner.Request(ctx, map[string]any{"cmd": "stream_permissions", "stream": k.general, "role": k.circle.ID, "deny": models.SendMessages}); err != nil {
		t.Fatal(err)
	}
	_, err = k.plain.Send(ctx, k.general, "may I?", "")
	wantCode(t, err, "forbidden")
	if _, err := client.PostWebhook(ctx, k.s.URL, quiet.Path, client.WebhookPost{Content: "announcement"}); err != nil {
		t.Fatalf("webhook post into a read-only channel: %v", err)
	}
}
