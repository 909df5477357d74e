package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/oshichat/oshi/models"
)

// Webhooks let programs without an account post into a channel through
// a secret URL (docs/protocol.md: section 3.4, Webhooks, and section 2,
// POST /api/webhooks/{id}/{token}). Creating, listing, rotating and
// deleting them needs ManageStreams.

// WebhookSecret is a webhook with its token, as webhook_create and
// webhook_rotate answer; the token is never shown again. Path is the
// secret path to post to, /api/webhooks/{id}/{token}.
type WebhookSecret struct {
	Webhook *models.Webhook `json:"webhook"`
	Token   string          `json:"token"`
	Path    string          `json:"path"`
}

// CreateWebhook creates a webhook named name (1-32 printable characters,
// also the default username of its posts) for a circle's channel.
func (c *Client) CreateWebhook(ctx context.Context, streamID, name string) (*WebhookSecret, error) {
	return call[WebhookSecret](ctx, c, map[string]any{"cmd": "webhook_create", "stream": streamID, "name": name})
}

// Webhooks lists a circle's webhooks, oldest first, without their tokens.
func (c *Client) Webhooks(ctx context.Context, circleID string) ([]*models.Webhook, error) {
	r, err := call[struct {
		Webhooks []*models.Webhook `json:"webhooks"`
	}](ctx, c, map[string]any{"cmd": "webhook_list", "circle": circleID})
	if err != nil {
		return nil, err
	}
	return r.Webhooks, nil
}

// RotateWebhook gives a webhook a new token; the old one stops working at
// once.
func (c *Client) RotateWebhook(ctx context.Context, id string) (*WebhookSecret, error) {
	return call[WebhookSecret](ctx, c, map[string]any{"cmd": "webhook_rotate", "id": id})
}

// DeleteWebhook deletes a webhook; its token stops working at once. The
// messages it posted stay.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "webhook_delete", "id": id})
	return err
}

// WebhookPost is what PostWebhook sends. Username (1-32 printable
// characters) defaults to the webhook's name; AvatarURL is optional.
type WebhookPost struct {
	Content   string `json:"content"`
	Username  string `json:"username,omitempty"`
	AvatarURL string `json:"avatar_url,omitempty"`
	// Nonce, when set, makes the post idempotent: posting again with the
	// same nonce returns the message already stored instead of a second
	// one, so a post can be retried after a timeout.
	Nonce string `json:"nonce,omitempty"`
}

// PostWebhook posts through a webhook over HTTP, with no connection or
// account: baseURL is the server's (http://host:port), path the secret
// path of WebhookSecret. It returns the stored message. A refusal is an
// *Error with Status and Code (401 invalid_webhook, 429 rate_limited, …).
func PostWebhook(ctx context.Context, baseURL, path string, p WebhookPost) (*models.Message, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON[models.Message](req)
}
