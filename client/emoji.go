package client

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/oshichat/oshi/models"
)

// UploadEmoji adds a custom emoji named name to a circle on the server
// at baseURL (http://host:port), as the user of token (who needs the
// manage_emoji permission there), reading the image from r; filename is
// only a hint. The server detects the type from the bytes (PNG, JPEG,
// GIF or WebP, else 415 unsupported_type), checks the size (413
// too_large), the dimensions (422 invalid_dimensions past 256×256), the
// name (422 invalid_name; 409 name_taken) and the circle's count (409
// limit_reached). The circle's followers get emoji_update.
func UploadEmoji(ctx context.Context, baseURL, token, circleID, name, filename string, r io.Reader) (*models.Emoji, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("name", name)
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", filename); err == nil {
				_, err = io.Copy(part, r)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/circles/"+url.PathEscape(circleID)+"/emoji", pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	e, err := doJSON[models.Emoji](req)
	pr.Close()
	return e, err
}

// EmojiURL is where a custom emoji's image is served (GET with the
// bearer token; its bytes never change, so it may be cached for good).
func EmojiURL(baseURL, emojiID string) string {
	return baseURL + "/api/emoji/" + url.PathEscape(emojiID)
}

type emojiReply struct {
	Circle string         `json:"circle"`
	Emojis []models.Emoji `json:"emojis"`
}

// EmojiList returns a circle's custom emoji, oldest first; any member
// may ask.
func (c *Client) EmojiList(ctx context.Context, circleID string) ([]models.Emoji, error) {
	r, err := call[emojiReply](ctx, c, map[string]any{"cmd": "emoji_list", "circle": circleID})
	if err != nil {
		return nil, err
	}
	return r.Emojis, nil
}

// EmojiRename gives a custom emoji another name (manage_emoji) and
// returns the circle's list after the change. Reactions made with the
// emoji stay with it: they name its id.
func (c *Client) EmojiRename(ctx context.Context, circleID, emojiID, name string) ([]models.Emoji, error) {
	r, err := call[emojiReply](ctx, c, map[string]any{"cmd": "emoji_rename", "circle": circleID, "emoji": emojiID, "name": name})
	if err != nil {
		return nil, err
	}
	return r.Emojis, nil
}

// EmojiDelete removes a custom emoji and its image (manage_emoji) and
// returns the circle's list after the change. Reactions made with it
// stay on their messages.
func (c *Client) EmojiDelete(ctx context.Context, circleID, emojiID string) ([]models.Emoji, error) {
	r, err := call[emojiReply](ctx, c, map[string]any{"cmd": "emoji_delete", "circle": circleID, "emoji": emojiID})
	if err != nil {
		return nil, err
	}
	return r.Emojis, nil
}
