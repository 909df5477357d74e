package client

import (
	"context"

	"github.com/oshichat/oshi/models"
)

// CreateThread starts a thread named name under the text channel
// streamID; with messageID, from that message of the channel (which
// then carries the thread, announced as a message_thread event). The
// thread is a stream: subscribe to it, read its history and post in it
// like any other. Members who may see the channel get thread_create.
func (c *Client) CreateThread(ctx context.Context, streamID, name, messageID string) (*models.Stream, error) {
	frame := map[string]any{"cmd": "thread_create", "stream": streamID, "name": name}
	if messageID != "" {
		frame["message"] = messageID
	}
	return threadCall(ctx, c, frame)
}

// ThreadEdit is what EditThread changes; nil fields stay as they are.
type ThreadEdit struct {
	Name             *string
	Archived, Locked *bool
}

// EditThread renames, archives or unarchives, locks or unlocks a thread
// and returns it as changed. Members who may see it get thread_update.
func (c *Client) EditThread(ctx context.Context, threadID string, e ThreadEdit) (*models.Stream, error) {
	frame := map[string]any{"cmd": "thread_edit", "thread": threadID}
	if e.Name != nil {
		frame["name"] = *e.Name
	}
	if e.Archived != nil {
		frame["archived"] = *e.Archived
	}
	if e.Locked != nil {
		frame["locked"] = *e.Locked
	}
	return threadCall(ctx, c, frame)
}

func threadCall(ctx context.Context, c *Client, frame map[string]any) (*models.Stream, error) {
	r, err := call[struct {
		Thread *models.Stream `json:"thread"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Thread, nil
}

// DeleteThread deletes a thread and its messages (its creator, or a
// member who may manage threads).
func (c *Client) DeleteThread(ctx context.Context, threadID string) error {
	_, err := call[struct{}](ctx, c, map[string]any{"cmd": "thread_delete", "thread": threadID})
	return err
}

// Threads lists a stream's threads, newest first: the archived ones
// when archived is set, else the active ones. cursor is the next of the
// previous page ("" for the first); limit 0 means the server's most
// (100). It returns the page and the next cursor, "" at the end.
func (c *Client) Threads(ctx context.Context, streamID string, archived bool, cursor string, limit int) ([]models.Stream, string, error) {
	frame := map[string]any{"cmd": "thread_list", "stream": streamID, "archived": archived}
	if cursor != "" {
		frame["cursor"] = cursor
	}
	if limit > 0 {
		frame["limit"] = limit
	}
	r, err := call[struct {
		Threads []models.Stream `json:"threads"`
		Next    string          `json:"next"`
	}](ctx, c, frame)
	if err != nil {
		return nil, "", err
	}
	return r.Threads, r.Next, nil
}
