package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// Webhooks let outside programs post into a circle's channel without an
// account: a member with manage_streams creates one over the WebSocket
// (webhook_create) and gets a secret path, /api/webhooks/{id}/{token};
// a POST there with {content, username, avatar_url} posts a message,
// marked as the webhook's, through streams.SubmitAs. Only the token's
// SHA-256 hash is stored, and every post reads the webhook from the
// store, so a rotated or deleted token stops working at once on every
// node. docs/protocol.md describes the frames (section 3.4, Webhooks)
// and the post (section 2, POST /api/webhooks/{id}/{token}).
func init() {
	handle(map[string]handler{
		"webhook_create": (*conn).cmdWebhookCreate,
		"webhook_list":   (*conn).cmdWebhookList,
		"webhook_rotate": (*conn).cmdWebhookRotate,
		"webhook_delete": (*conn).cmdWebhookDelete,
	})
	mapErrors([]errorCode{
		{errWebhookNotFound, CodeWebhookNotFound},
	})
}

// Error codes of the webhook commands and of POST /api/webhooks.
const (
	// CodeWebhookNotFound: webhook_rotate or webhook_delete named no
	// webhook.
	CodeWebhookNotFound = "webhook_not_found"
	// CodeInvalidWebhook (HTTP 401): no webhook has this id and token;
	// an unknown id and a wrong token get the same answer.
	CodeInvalidWebhook = "invalid_webhook"
	// CodeInvalidAvatarURL (HTTP 400): avatar_url is not an http(s) URL
	// of at most MaxWebhookAvatarURL bytes.
	CodeInvalidAvatarURL = "invalid_avatar_url"
	// CodeBodyTooLarge (HTTP 413): the body is over MaxWebhookBody.
	CodeBodyTooLarge = "body_too_large"
	// CodeRateLimited (HTTP 429): the webhook posted too often; wait
	// Retry-After seconds.
	CodeRateLimited = "rate_limited"
)

// Webhook limits.
const (
	// MaxWebhooksPerCircle bounds a circle's webhooks.
	MaxWebhooksPerCircle = 50
	// MaxWebhookName is the longest webhook name and post username, in
	// characters.
	MaxWebhookName = 32
	// MaxWebhookBody is the largest POST body, in bytes.
	MaxWebhookBody = 16 << 10
	// MaxWebhookAvatarURL is the longest avatar_url, in bytes.
	MaxWebhookAvatarURL = 2000

	// Each webhook may post at most WebhookBurst times in any
	// WebhookBurstWindow and WebhookPerMinute times in any minute,
	// counted per node. Requests with a right token count, whatever
	// their body; refused ones do not.
	WebhookBurst       = 5
	WebhookBurstWindow = 2 * time.Second
	WebhookPerMinute   = 30
)

var (
	errWebhookNotFound = errors.New("webhook not found")
	// errWebhookAuth is every failure to match an id and a token.
	errWebhookAuth = errors.New("unknown webhook or wrong token")
)

// webhookTokenBytes is the token's length before base64url.
const webhookTokenBytes = 32

// webhookTokenLen is the token's length in base64url without padding.
var webhookTokenLen = base64.RawURLEncoding.EncodedLen(webhookTokenBytes)

// dummyTokenHash is compared against when the id is unknown, so an
// unknown id costs what a wrong token does.
var dummyTokenHash = auth.HashToken("no webhook has this token")

// webhookMu serializes the read-change-write of webhook_rotate and
// webhook_delete on this node, so a rotation cannot store again a
// webhook deleted meanwhile.
var webhookMu sync.Mutex

// newWebhookToken returns a fresh token and its hash.
func newWebhookToken() (token, hash string, err error) {
	raw := make([]byte, webhookTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("webhook token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	return token, auth.HashToken(token), nil
}

// webhookPath is the secret path a webhook posts to.
func webhookPath(id, token string) string { return "/api/webhooks/" + id + "/" + token }

// validWebhookName trims a webhook name or post username and checks it:
// 1–32 printable characters (letters, marks, numbers, punctuation,
// symbols and the ASCII space; no control, format or other space
// characters).
func validWebhookName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxWebhookName {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return s, true
}

// validAvatarURL reports whether s is an absolute http or https URL with
// a host, no user information, no spaces or control characters, of at
// most MaxWebhookAvatarURL bytes. The server never fetches it.
func validAvatarURL(s string) bool {
	if len(s) > MaxWebhookAvatarURL || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

// webhookReply answers webhook_create and webhook_rotate; the token and
// path are sent only there.
type webhookReply struct {
	header
	Webhook *models.Webhook `json:"webhook"`
	Token   string          `json:"token"`
	Path    string          `json:"path"`
}

// webhook reads a webhook for a command: errWebhookNotFound when there
// is none.
func (c *conn) webhook(ctx context.Context, id string) (*models.Webhook, error) {
	if err := required("id", id); err != nil {
		return nil, err
	}
	if len(id) > 64 {
		return nil, errWebhookNotFound
	}
	w, err := c.g.svc.Store.Webhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errWebhookNotFound
	}
	return w, err
}

func (c *conn) auditWebhook(ctx context.Context, action string, w *models.Webhook) {
	e := &models.AuditEntry{CircleID: w.CircleID, Action: action, Actor: c.user.Ref(), TargetID: w.ID,
		Details: map[string]any{"name": w.Name, "stream": w.StreamID}}
	if err := c.g.svc.Circles.Audit(ctx, e); err != nil {
		c.g.log.Warn("audit webhook", "action", action, "webhook", w.ID, "err", err)
	}
}

func (c *conn) cmdWebhookCreate(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	name, ok := validWebhookName(req.Name)
	if !ok {
		return errCode(CodeInvalidName, fmt.Sprintf("name must be 1-%d printable characters", MaxWebhookName))
	}
	notFound := errCode(CodeNotFound, "stream not found")
	if len(req.Stream) > 64 {
		return notFound
	}
	st, err := c.g.svc.Store.Stream(ctx, req.Stream)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	if st.CircleID == "" {
		return notFound // a DM: webhooks post into circles' channels only
	}
	if _, err := c.g.svc.Circles.Require(ctx, st.CircleID, c.user.ID, st.ID, models.ManageStreams); err != nil {
		return err
	}
	if st.Kind != models.Channel {
		return streams.ErrNotText
	}
	existing, err := c.g.svc.Store.WebhooksOf(ctx, st.CircleID)
	if err != nil {
		return err
	}
	if len(existing) >= MaxWebhooksPerCircle {
		return fmt.Errorf("a circle may have at most %d webhooks: %w", MaxWebhooksPerCircle, circles.ErrLimit)
	}
	token, hash, err := newWebhookToken()
	if err != nil {
		return err
	}
	w := &models.Webhook{
		ID: uuid.Must(uuid.NewV7()).String(), CircleID: st.CircleID, StreamID: st.ID, Name: name,
		TokenHash: hash, CreatedBy: c.user.Ref(), CreatedAt: models.Now(),
	}
	if err := c.g.svc.Store.PutWebhook(ctx, w); err != nil {
		return err
	}
	c.auditWebhook(ctx, circles.AuditWebhookCreate, w)
	c.reply(webhookReply{hdr(req), w, token, webhookPath(w.ID, token)})
	return nil
}

func (c *conn) cmdWebhookList(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if _, err := c.g.svc.Circles.Require(ctx, req.Circle, c.user.ID, "", models.ManageStreams); err != nil {
		return err
	}
	ws, err := c.g.svc.Store.WebhooksOf(ctx, req.Circle)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []*models.Webhook{}
	}
	c.reply(struct {
		header
		Circle   string            `json:"circle"`
		Webhooks []*models.Webhook `json:"webhooks"`
	}{hdr(req), req.Circle, ws})
	return nil
}

func (c *conn) cmdWebhookRotate(ctx context.Context, req *request) error {
	webhookMu.Lock()
	defer webhookMu.Unlock()
	w, err := c.webhook(ctx, req.ID)
	if err != nil {
		return err
	}
	if _, err := c.g.svc.Circles.Require(ctx, w.CircleID, c.user.ID, w.StreamID, models.ManageStreams); err != nil {
		return err
	}
	token, hash, err := newWebhookToken()
	if err != nil {
		return err
	}
	w.TokenHash = hash
	if err := c.g.svc.Store.PutWebhook(ctx, w); err != nil {
		return err
	}
	c.auditWebhook(ctx, circles.AuditWebhookRotate, w)
	c.reply(webhookReply{hdr(req), w, token, webhookPath(w.ID, token)})
	return nil
}

func (c *conn) cmdWebhookDelete(ctx context.Context, req *request) error {
	webhookMu.Lock()
	defer webhookMu.Unlock()
	w, err := c.webhook(ctx, req.ID)
	if err != nil {
		return err
	}
	if _, err := c.g.svc.Circles.Require(ctx, w.CircleID, c.user.ID, w.StreamID, models.ManageStreams); err != nil {
		return err
	}
	err = c.g.svc.Store.DeleteWebhook(ctx, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errWebhookNotFound
	}
	if err != nil {
		return err
	}
	c.auditWebhook(ctx, circles.AuditWebhookDelete, w)
	c.reply(struct {
		header
		ID     string `json:"id"`
		Circle string `json:"circle"`
		Stream string `json:"stream"`
	}{hdr(req), w.ID, w.CircleID, w.StreamID})
	return nil
}

// webhookPoster serves POST /api/webhooks/{id}/{token}.
type webhookPoster struct {
	g     *Gateway
	limit *limiter // by webhook id
}

func newWebhookPoster(g *Gateway) *webhookPoster {
	return &webhookPoster{g: g, limit: newLimiter(rateLimit{
		burst: WebhookBurst, burstWindow: WebhookBurstWindow, perMinute: WebhookPerMinute,
	}, time.Now)}
}

// webhookPost is the body of a post.
type webhookPost struct {
	Content   string `json:"content"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url"`
	// Nonce makes a retried post return the message already stored, as
	// message_new's does (unique per webhook and stream).
	Nonce string `json:"nonce"`
}

type posted struct {
	msg *models.Message
	err error
}

func (p *webhookPoster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := p.g
	if g.quiesced.Load() {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the server is restarting; retry shortly")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	hook, err := p.authenticate(ctx, r.PathValue("id"), r.PathValue("token"))
	if errors.Is(err, errWebhookAuth) {
		writeError(w, http.StatusUnauthorized, CodeInvalidWebhook, err.Error())
		return
	}
	if err != nil {
		g.httpFailure(w, "webhook post", err)
		return
	}
	if wait, ok, _ := p.limit.allow(hook.ID); !ok {
		writeTooMany(w, wait, CodeRateLimited,
			fmt.Sprintf("a webhook may post %d times in %s and %d times a minute", WebhookBurst, WebhookBurstWindow, WebhookPerMinute))
		return
	}
	var post webhookPost
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the body may be at most %d bytes", MaxWebhookBody))
		return
	}
	if err == nil {
		err = json.Unmarshal(body, &post)
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeMalformedBody, "body must be a JSON object with string fields content, username, avatar_url and nonce")
		return
	}
	username := hook.Name
	if post.Username != "" {
		if username, err = checkWebhookUsername(post.Username); err != nil {
			writeError(w, http.StatusBadRequest, CodeInvalidUsername, err.Error())
			return
		}
	}
	if post.AvatarURL != "" && !validAvatarURL(post.AvatarURL) {
		writeError(w, http.StatusBadRequest, CodeInvalidAvatarURL,
			fmt.Sprintf("avatar_url must be an http or https URL of at most %d bytes", MaxWebhookAvatarURL))
		return
	}
	done := make(chan posted, 1)
	author := models.UserRef{ID: hook.ID, Username: username}
	draft := streams.Draft{Content: post.Content, Nonce: post.Nonce, Webhook: &models.WebhookRef{ID: hook.ID, AvatarURL: post.AvatarURL}}
	err = g.svc.Streams.SubmitAs(ctx, author, hook.StreamID, draft, func(m *models.Message, err error) {
		done <- posted{m, err}
	})
	if err != nil {
		p.fail(w, err)
		return
	}
	select {
	case res := <-done:
		if res.err != nil {
			p.fail(w, res.err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(encode(res.msg), '\n'))
	case <-ctx.Done():
		// Accepted but not yet stored: it may still be.
		writeError(w, http.StatusServiceUnavailable, CodeTimeout, "the message was accepted but not stored in time; it may still appear")
	}
}

func checkWebhookUsername(s string) (string, error) {
	name, ok := validWebhookName(s)
	if !ok {
		return "", fmt.Errorf("username must be 1-%d printable characters", MaxWebhookName)
	}
	return name, nil
}

// authenticate finds the webhook id names and checks token against its
// stored hash in constant time. Every mismatch (unknown id, malformed or
// wrong token) is errWebhookAuth.
func (p *webhookPoster) authenticate(ctx context.Context, id, token string) (*models.Webhook, error) {
	hash := []byte(auth.HashToken(token))
	if id == "" || len(id) > 64 || len(token) != webhookTokenLen {
		subtle.ConstantTimeCompare(hash, []byte(dummyTokenHash))
		return nil, errWebhookAuth
	}
	hook, err := p.g.svc.Store.Webhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		subtle.ConstantTimeCompare(hash, []byte(dummyTokenHash))
		return nil, errWebhookAuth
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(hash, []byte(hook.TokenHash)) != 1 {
		return nil, errWebhookAuth
	}
	return hook, nil
}

// fail answers a post the stream service refused.
func (p *webhookPoster) fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, streams.ErrEmptyContent), errors.Is(err, streams.ErrInvalidContent),
		errors.Is(err, streams.ErrTooLong), errors.Is(err, streams.ErrInvalidNonce):
		status = http.StatusBadRequest
	case errors.Is(err, streams.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "the webhook's stream no longer exists")
		return
	case errors.Is(err, streams.ErrNotText):
		status = http.StatusConflict
	case errors.Is(err, hooks.ErrRejected):
		status = http.StatusForbidden
	case errors.Is(err, streams.ErrClosed), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, streams.ErrContention), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	code, msg := classify(err)
	if status >= 500 {
		p.g.log.Warn("webhook post", "err", err)
	}
	writeError(w, status, code, msg)
}
