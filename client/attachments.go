package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/oshichat/oshi/models"
)

// Upload stores a file on the server at baseURL (http://host:port) as
// the user of token, reading r to its end, and returns it as a message
// will carry it. The server detects the content type from the bytes and
// keeps a cleaned-up filename; a file over the server's limit fails with
// HTTP 413 too_large, one of a type it does not accept with 415
// unsupported_type. The file belongs to the uploader until a message
// (SendWithAttachments) uses it.
func Upload(ctx context.Context, baseURL, token, filename string, r io.Reader) (*models.Attachment, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filename)
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/attachments", pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	a, err := doJSON[models.Attachment](req)
	pr.Close()
	return a, err
}

// Download opens an attachment's bytes as the user of token; the caller
// closes the body. An attachment the user may not read, or that does
// not exist (any more), fails with HTTP 404 not_found.
func Download(ctx context.Context, baseURL, token, id string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/attachments/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oshi: GET %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		e := &Error{Status: resp.StatusCode}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) == nil {
			e.Code, e.Message = body.Error.Code, body.Error.Message
		}
		return nil, e
	}
	return resp.Body, nil
}

// SendWithAttachments posts a message carrying uploaded files (at most
// 10, by id; content may then be empty); see Send. Files that do not
// exist, were uploaded by someone else or another message uses are
// refused with invalid_attachment.
func (c *Client) SendWithAttachments(ctx context.Context, streamID, content, nonce string, attachmentIDs []string) (*models.Message, error) {
	return c.post(ctx, streamID, content, nonce, map[string]any{"attachments": attachmentIDs})
}
