package client

import (
	"context"
	"encoding/json"

	"github.com/oshichat/oshi/models"
)

// SetStatus sets the user's presence status, one of "online", "idle",
// "dnd" and "invisible" (shown to others as offline), and its text (at
// most 128 characters; "" clears it). The server stores both, so they
// survive reconnects; the user's other connections get a status_update
// event, and co-members the change as they see it.
func (c *Client) SetStatus(ctx context.Context, status, text string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "status_set", "status": status, "text": text})
	return err
}

// Typing tells the stream's subscribers that the user is typing; they
// show it for the reply's expires_ms (8 s) unless it is sent again.
// Nothing is stored. Send it again while the user keeps typing, at most
// every few seconds: the server rate limits it.
func (c *Client) Typing(ctx context.Context, streamID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "typing", "stream": streamID})
	return err
}

// Presence decodes a user_connect, user_disconnect or status_update
// event: the user and the status co-members see ("offline" for
// user_disconnect), with its text.
func (e Event) Presence() models.Presence {
	var p models.Presence
	_ = json.Unmarshal(e.Raw, &p)
	return p
}

// Presences decodes the list of a presences event (after circle_join or
// dm_open: who of the circle, or the DM's peer, is online).
func (e Event) Presences() []models.Presence {
	var f struct {
		Presences []models.Presence `json:"presences"`
	}
	_ = json.Unmarshal(e.Raw, &f)
	return f.Presences
}
