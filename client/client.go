// Package client is a Go client for Oshi's HTTP API and WebSocket
// protocol (docs/protocol.md).
//
// Register or LoginUser over HTTP to get a token, Dial to open an
// authenticated connection, then call the typed methods; unsolicited
// events (new messages, members joining) arrive on Events.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/oshichat/oshi/models"
)

// Error is an error frame from the server, or an HTTP API error.
type Error struct {
	Cmd     string // "error" or "auth_error"; empty for HTTP errors
	Src     string // the command that failed
	Code    string // machine-readable code, see docs/protocol.md
	Message string // human-readable text
	Status  int    // HTTP status, for HTTP API errors
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("oshi: HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("oshi: %s failed: %s: %s", e.Src, e.Code, e.Message)
}

// Code returns the protocol error code carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Login is a token issued by register or login.
type Login struct {
	User      models.UserRef `json:"user"`
	Token     string         `json:"token"`
	ExpiresAt time.Time      `json:"expires_at"`
}

// Register creates an account on the server at baseURL (http://host:port).
func Register(ctx context.Context, baseURL, username, password string) (*Login, error) {
	return postCredentials(ctx, baseURL+"/api/register", username, password)
}

// LoginUser logs in on the server at baseURL.
func LoginUser(ctx context.Context, baseURL, username, password string) (*Login, error) {
	return postCredentials(ctx, baseURL+"/api/login", username, password)
}

// Logout revokes token; connections opened with it are closed by the server.
func Logout(ctx context.Context, baseURL, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/logout", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	_, err = doJSON[struct{}](req)
	return err
}

func postCredentials(ctx context.Context, url, username, password string) (*Login, error) {
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON[Login](req)
}

func doJSON[T any](req *http.Request) (*T, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oshi: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var out T
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return nil, &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if resp.StatusCode == http.StatusNoContent {
		return &out, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("oshi: decode %s reply: %w", req.URL.Path, err)
	}
	return &out, nil
}

// Credentials authenticate a connection: a token, or a username and password.
type Credentials struct {
	Token    string
	Username string
	Password string
}

// Handshake is the server's first frame.
type Handshake struct {
	Server struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"server"`
	Limits      map[string]int64 `json:"limits"`
	HeartbeatMS int64            `json:"heartbeat_ms"`
}

// Ready is the server's answer to a successful auth.
type Ready struct {
	User    models.UserRef   `json:"user"`
	Circles []*models.Circle `json:"circles"`
	DMs     []*models.Stream `json:"dms"`
	// Presences are the user's own presence, then the online people
	// who share a circle or a DM with them.
	Presences []models.Presence `json:"presences"`
}

// Event is a frame the server sent without being asked: message_new,
// member_join, member_leave, stream_create, circle_update and the other
// events of docs/protocol.md, and error frames that carry no ref.
type Event struct {
	Cmd string
	// Stream is the stream id of message_new (and of unsubscribed).
	Stream string
	// NewStream is the channel announced by stream_create.
	NewStream *models.Stream
	// Circle is the circle id of circle and member events.
	Circle string
	// CircleInfo is the circle of circle_update, as the user now sees
	// it (Circle is its id).
	CircleInfo *models.Circle
	// Member is the member of member_update.
	Member *models.MemberView
	// Reason is given with circle_removed, member_remove and
	// unsubscribed; Ban says a circle_removed or member_remove was a ban.
	Reason  string
	Ban     bool
	Message *models.Message
	User    *models.UserRef
	// ID, Seq, Emoji and Count are set on message_delete (ID, Seq) and
	// message_react_add / message_react_remove (ID, Emoji, Count: how many
	// users have the emoji now; User made the change). Stream and Seq are
	// set on stream_ack: another connection of the user read that far.
	ID    string
	Seq   int64
	Emoji string
	Count int
	// By is who pinned the message, on message_pin (ID and Seq are set
	// on message_pin and message_unpin).
	By *models.UserRef
	// Code and Val are set on error frames.
	Code string
	Val  json.RawMessage
	// Raw is the whole frame.
	Raw json.RawMessage
}

func decodeEvent(data []byte) Event {
	var f struct {
		Cmd     string             `json:"cmd"`
		Stream  json.RawMessage    `json:"stream"`
		Circle  json.RawMessage    `json:"circle"`
		Member  *models.MemberView `json:"member"`
		Reason  string             `json:"reason"`
		Ban     bool               `json:"ban"`
		Message *models.Message    `json:"message"`
		User    *models.UserRef    `json:"user"`
		Code    string             `json:"code"`
		Val     json.RawMessage    `json:"val"`
		ID      string             `json:"id"`
		Seq     int64              `json:"seq"`
		Emoji   string             `json:"emoji"`
		Count   int                `json:"count"`
		By      *models.UserRef    `json:"by"`
	}
	_ = json.Unmarshal(data, &f)
	ev := Event{Cmd: f.Cmd, Message: f.Message, User: f.User, Code: f.Code, Val: f.Val, Raw: data,
		ID: f.ID, Seq: f.Seq, Emoji: f.Emoji, Count: f.Count, By: f.By, Member: f.Member, Reason: f.Reason, Ban: f.Ban}
	if len(f.Circle) > 0 && f.Circle[0] == '{' {
		if json.Unmarshal(f.Circle, &ev.CircleInfo) == nil {
			ev.Circle = ev.CircleInfo.ID
		}
	} else {
		_ = json.Unmarshal(f.Circle, &ev.Circle)
	}
	if len(f.Stream) > 0 && f.Stream[0] == '{' {
		_ = json.Unmarshal(f.Stream, &ev.NewStream)
	} else {
		_ = json.Unmarshal(f.Stream, &ev.Stream)
	}
	return ev
}
