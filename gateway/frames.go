package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// request is every field any command may carry. One flat struct keeps
// decoding to a single pass; each handler reads the fields its command
// defines (docs/protocol.md).
type request struct {
	Cmd string          `json:"cmd"`
	Ref json.RawMessage `json:"ref,omitempty"`

	Token    string `json:"token,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Batch    bool   `json:"batch,omitempty"`

	Name       string `json:"name,omitempty"`
	Visibility string `json:"visibility,omitempty"`
	Circle     string `json:"circle,omitempty"`
	Invite     string `json:"invite,omitempty"`
	Stream     string `json:"stream,omitempty"`
	User       string `json:"user,omitempty"`
	Content    string `json:"content,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	Since      *int64 `json:"since,omitempty"`
	Before     int64  `json:"before,omitempty"`
	After      *int64 `json:"after,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	ID         string `json:"id,omitempty"`
	Emoji      string `json:"emoji,omitempty"`
	Seq        *int64 `json:"seq,omitempty"`
	ReplyTo    string `json:"reply_to,omitempty"`
	Around     string `json:"around,omitempty"`
	At         *int64 `json:"at,omitempty"`
	Query      string `json:"query,omitempty"`
	Sort       string `json:"sort,omitempty"` // messages_search

	// Attachments of message_new: ids of uploaded files.
	Attachments []string `json:"attachments,omitempty"`

	// Polls.
	Question string   `json:"question,omitempty"`
	Options  []string `json:"options,omitempty"`
	Multi    bool     `json:"multi,omitempty"`
	Expires  *int64   `json:"expires,omitempty"`
	Choices  []int    `json:"choices,omitempty"`

	// Circle and stream management, roles, moderation.
	Description    *string `json:"description,omitempty"`
	Icon           *string `json:"icon,omitempty"`
	Topic          *string `json:"topic,omitempty"`
	Kind           string  `json:"kind,omitempty"`
	Position       *int    `json:"position,omitempty"`
	Role           string  `json:"role,omitempty"`
	Color          *int    `json:"color,omitempty"`
	Hoist          *bool   `json:"hoist,omitempty"`
	SelfAssignable *bool   `json:"self_assignable,omitempty"`
	Permissions    *uint64 `json:"permissions,omitempty"`
	Allow          *uint64 `json:"allow,omitempty"`
	Deny           *uint64 `json:"deny,omitempty"`
	MaxAge         *int64  `json:"max_age,omitempty"`
	MaxUses        *int    `json:"max_uses,omitempty"`
	Code           string  `json:"code,omitempty"`
	Reason         string  `json:"reason,omitempty"`
	Seconds        *int64  `json:"seconds,omitempty"`
	Nickname       *string `json:"nickname,omitempty"`
	Cursor         string  `json:"cursor,omitempty"`
	Actor          string  `json:"actor,omitempty"`
	Target         string  `json:"target,omitempty"`
	Action         string  `json:"action,omitempty"`
	Until          *int64  `json:"until,omitempty"`

	// Bots and slash commands (bots.go). Commands and Args are decoded
	// by their handlers (the option values are typed per command).
	Bot         string          `json:"bot,omitempty"`
	Command     string          `json:"command,omitempty"`
	Commands    json.RawMessage `json:"commands,omitempty"`
	Roles       []string        `json:"roles,omitempty"`
	Args        json.RawMessage `json:"args,omitempty"`
	Interaction string          `json:"interaction,omitempty"`
	Ephemeral   bool            `json:"ephemeral,omitempty"`

	// Presence, typing and voice.
	Status string          `json:"status,omitempty"`
	Text   *string         `json:"text,omitempty"`
	PeerID string          `json:"peer_id,omitempty"`
	Muted  *bool           `json:"muted,omitempty"`
	To     string          `json:"to,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`

	// Threads (threads.go): thread_create's starter message, and
	// thread_edit's and thread_list's fields.
	Thread   string `json:"thread,omitempty"`
	Message  string `json:"message,omitempty"`
	Archived *bool  `json:"archived,omitempty"`
	Locked   *bool  `json:"locked,omitempty"`
}

// header starts every frame the server sends.
type header struct {
	Cmd string          `json:"cmd"`
	Ref json.RawMessage `json:"ref,omitempty"`
}

// errorFrame answers a request that failed.
type errorFrame struct {
	header
	Src  string `json:"src"`
	Code string `json:"code"`
	Val  string `json:"val"`
	// Stream names the subscription a ref-less subscribe error ended.
	Stream string `json:"stream,omitempty"`
	// RetryAfter is the wait in seconds of a too_many_attempts auth_error.
	RetryAfter int64 `json:"retry_after,omitempty"`
}

// Error codes sent in error and auth_error frames; docs/protocol.md lists
// them with their meaning.
const (
	CodeBadRequest         = "bad_request"
	CodeUnknownCommand     = "unknown_command"
	CodeAuthRequired       = "auth_required"
	CodeInvalidToken       = "invalid_token"
	CodeInvalidCredentials = "invalid_credentials"
	CodeAlreadyAuthed      = "already_authenticated"
	CodeNotFound           = "not_found"
	CodeForbidden          = "forbidden"
	CodeInvalidContent     = "invalid_content"
	CodeMessageTooLong     = "message_too_long"
	CodeInvalidNonce       = "invalid_nonce"
	CodeInvalidEmoji       = "invalid_emoji"
	CodeInvalidReply       = "invalid_reply"
	CodeTooManyPins        = "too_many_pins"
	CodeInvalidName        = "invalid_name"
	CodeInvalidVisibility  = "invalid_visibility"
	CodeInvalidInvite      = "invalid_invite"
	CodeAlreadyMember      = "already_member"
	CodeNotMember          = "not_member"
	CodeOwnerCannotLeave   = "owner_cannot_leave"
	CodeUserNotFound       = "user_not_found"
	CodeInvalidUser        = "invalid_user"
	CodeAlreadySubscribed  = "already_subscribed"
	CodeNotSubscribed      = "not_subscribed"
	CodeTooManySubs        = "too_many_subscriptions"
	CodeTooManyAttempts    = "too_many_attempts"
	CodeTooManyConns       = "too_many_connections"
	CodeStoreUnavailable   = "store_unavailable"
	CodeContention         = "contention"
	CodeRejected           = "rejected"
	CodeTimeout            = "timeout"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"

	// HTTP API only.
	CodeMalformedBody   = "malformed_body"
	CodeInvalidUsername = "invalid_username"
	CodeWeakPassword    = "weak_password"
	CodeUsernameTaken   = "username_taken"
)

// codedError carries a protocol error code with its message.
type codedError struct {
	code string
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func errCode(code, msg string) error { return &codedError{code: code, msg: msg} }

// errorCode maps a service's error onto a protocol code.
type errorCode struct {
	err  error
	code string
}

// errorCodes maps the services' errors onto protocol codes; each
// feature's file adds its own with mapErrors.
var errorCodes = []errorCode{
	{circles.ErrNotFound, CodeNotFound},
	{streams.ErrNotFound, CodeNotFound},
	{streams.ErrMessageNotFound, CodeNotFound},
	{circles.ErrForbidden, CodeForbidden},
	{streams.ErrForbidden, CodeForbidden},
	{streams.ErrEmptyContent, CodeInvalidContent},
	{streams.ErrInvalidContent, CodeInvalidContent},
	{streams.ErrTooLong, CodeMessageTooLong},
	{streams.ErrInvalidNonce, CodeInvalidNonce},
	{streams.ErrInvalidEmoji, CodeInvalidEmoji},
	{streams.ErrInvalidReply, CodeInvalidReply},
	{streams.ErrTooManyPins, CodeTooManyPins},
	{streams.ErrBadRange, CodeBadRequest},
	{streams.ErrBadSeq, CodeBadRequest},
	{circles.ErrInvalidName, CodeInvalidName},
	{streams.ErrInvalidName, CodeInvalidName},
	{circles.ErrInvalidVisibility, CodeInvalidVisibility},
	{circles.ErrInvalidInvite, CodeInvalidInvite},
	{circles.ErrAlreadyMember, CodeAlreadyMember},
	{circles.ErrNotMember, CodeNotMember},
	{circles.ErrOwnerCannotLeave, CodeOwnerCannotLeave},
	{streams.ErrUserNotFound, CodeUserNotFound},
	{streams.ErrSelfDM, CodeInvalidUser},
	{streams.ErrClosed, CodeUnavailable},
	{streams.ErrContention, CodeContention},
	{hooks.ErrRejected, CodeRejected},
	{auth.ErrInvalidToken, CodeInvalidToken},
	{auth.ErrInvalidCredentials, CodeInvalidCredentials},
	{auth.ErrTooManyAttempts, CodeTooManyAttempts},
	{store.ErrUnavailable, CodeStoreUnavailable},
	{context.DeadlineExceeded, CodeTimeout},
}

// mapErrors adds error codes to errorCodes; features call it from init.
func mapErrors(codes []errorCode) { errorCodes = append(errorCodes, codes...) }

// classify returns the protocol code and client-facing message for err.
// Errors without a known code are internal and their text is not sent.
func classify(err error) (code, msg string) {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code, ce.msg
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			switch m.code {
			case CodeStoreUnavailable:
				return m.code, "the database is unavailable; nothing was changed"
			case CodeTimeout:
				return m.code, "the request took too long and was abandoned; retry"
			case CodeRejected:
				return m.code, err.Error() // the hook's own words
			case CodeForbidden:
				// Which permission is missing, when a check says.
				var me *circles.MissingError
				if errors.As(err, &me) {
					return m.code, me.Error()
				}
			case CodeLimitReached, CodeCannotGrant:
				// Only package circles wraps these, with which limit
				// or which permission.
				return m.code, err.Error()
			}
			return m.code, m.err.Error()
		}
	}
	return CodeInternal, "internal error"
}

// validRef reports whether a ref is absent, a JSON string or a number.
func validRef(ref json.RawMessage) bool {
	ref = bytes.TrimSpace(ref)
	if len(ref) == 0 {
		return true
	}
	switch c := ref[0]; {
	case c == '"':
		return true
	case c == '-' || c >= '0' && c <= '9':
		return true
	}
	return false
}

// encode marshals a frame. Frames are built from the package's own types,
// so failure is a programming error. HTML is not escaped: content is data
// to clients, and escaping would make a frame of "<" six times larger.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("gateway: encode frame: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// Events are encoded once per publish and the same bytes go to every
// subscriber.

type messageEvent struct {
	Cmd     string          `json:"cmd"`
	Stream  string          `json:"stream"`
	Message *models.Message `json:"message"`
}

// MessageEvent returns the message_new event for a stored message.
func MessageEvent(m *models.Message) []byte {
	return encode(messageEvent{Cmd: "message_new", Stream: m.StreamID, Message: m})
}

// ChangeEvent returns the event that announces a change to a stored
// message: message_edit and message_embeds carry the message
// (reactions without "me", which is per viewer), message_delete the
// tombstone's id and seq, and
// message_react_add / message_react_remove the emoji, who changed it and
// its new count, message_pin the message's id and seq and who pinned
// it, message_unpin its id and seq, poll_update the message's id and its
// poll with the counts (never who voted).
func ChangeEvent(c *streams.Change) []byte {
	m := c.Message
	switch c.Kind {
	case streams.Pinned:
		by := c.User
		return encode(pinEvent{Cmd: string(c.Kind), Stream: m.StreamID, ID: m.ID, Seq: m.Seq, By: &by})
	case streams.Unpinned:
		return encode(pinEvent{Cmd: string(c.Kind), Stream: m.StreamID, ID: m.ID, Seq: m.Seq})
	case streams.Edited, streams.EmbedsUpdated: // message_embeds: link embeds
		return encode(messageEvent{Cmd: string(c.Kind), Stream: m.StreamID, Message: m.View("")})
	case streams.Deleted:
		return encode(deleteEvent{Cmd: string(c.Kind), Stream: m.StreamID, ID: m.ID, Seq: m.Seq})
	case streams.PollUpdated:
		return encode(pollEvent{Cmd: string(c.Kind), Stream: m.StreamID, ID: m.ID, Poll: m.Poll})
	case streams.ThreadSet:
		return encode(messageThreadEvent{Cmd: string(c.Kind), Stream: m.StreamID, ID: m.ID, Thread: m.Thread}) // threads.go
	default:
		return encode(reactEvent{Cmd: string(c.Kind), Stream: m.StreamID, ID: m.ID, Emoji: c.Emoji, User: c.User, Count: c.Count})
	}
}

type deleteEvent struct {
	Cmd    string `json:"cmd"`
	Stream string `json:"stream"`
	ID     string `json:"id"`
	Seq    int64  `json:"seq"`
}

type pinEvent struct {
	Cmd    string          `json:"cmd"`
	Stream string          `json:"stream"`
	ID     string          `json:"id"`
	Seq    int64           `json:"seq"`
	By     *models.UserRef `json:"by,omitempty"`
}

type reactEvent struct {
	Cmd    string         `json:"cmd"`
	Stream string         `json:"stream"`
	ID     string         `json:"id"`
	Emoji  string         `json:"emoji"`
	User   models.UserRef `json:"user"`
	Count  int            `json:"count"`
}

// ackFrame is the stream_ack reply, and without ref the event the
// user's other connections get.
type ackFrame struct {
	header
	Stream string `json:"stream"`
	Seq    int64  `json:"seq"`
}

type memberEvent struct {
	Cmd    string         `json:"cmd"`
	Circle string         `json:"circle"`
	User   models.UserRef `json:"user"`
}

type streamEvent struct {
	Cmd    string         `json:"cmd"`
	Circle string         `json:"circle"`
	Stream *models.Stream `json:"stream"`
}

// Broker topics. A stream's messages, a circle's membership news and a
// login's revocation each have their own topic; a user has two: one that
// keeps the user's connections in step, and one whose every publish
// closes all of them (a password change).
func streamTopic(id string) string { return "stream:" + id }
func circleTopic(id string) string { return "circle:" + id }
func sessionTopic(h string) string { return "session:" + h }
func userTopic(id string) string   { return "user:" + id }
func revokeTopic(id string) string { return "revoke:" + id }
