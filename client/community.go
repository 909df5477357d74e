package client

import (
	"context"
	"time"

	"github.com/oshichat/oshi/models"
)

// Methods for running a circle: editing, transferring and deleting it,
// managing its streams and invites, listing its members, moderating them
// and reading the audit log. Each needs the permission docs/protocol.md
// names; without it the server answers forbidden.

// CircleEdit is what EditCircle changes; nil fields (and an empty
// Visibility) stay as they are. A pointer to "" clears a description or
// icon.
type CircleEdit struct {
	Name, Description, Icon *string
	Visibility              models.Visibility
}

// EditCircle changes a circle's name, description, icon or visibility
// and returns the circle as the user now sees it. It needs ManageCircle;
// every member gets a circle_update event.
func (c *Client) EditCircle(ctx context.Context, circleID string, e CircleEdit) (*models.Circle, error) {
	frame := map[string]any{"cmd": "circle_edit", "circle": circleID}
	if e.Name != nil {
		frame["name"] = *e.Name
	}
	if e.Description != nil {
		frame["description"] = *e.Description
	}
	if e.Icon != nil {
		frame["icon"] = *e.Icon
	}
	if e.Visibility != "" {
		frame["visibility"] = e.Visibility
	}
	r, err := call[circleReply](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Circle, nil
}

// TransferCircle makes another member (by user id) the circle's owner;
// only the owner may. It returns the circle as the former owner now sees
// it.
func (c *Client) TransferCircle(ctx context.Context, circleID, userID string) (*models.Circle, error) {
	r, err := call[circleReply](ctx, c, map[string]any{"cmd": "circle_transfer", "circle": circleID, "user": userID})
	if err != nil {
		return nil, err
	}
	return r.Circle, nil
}

// DeleteCircle deletes a circle with its streams, messages, roles,
// invites, bans and audit log; only the owner may. Every member's
// connections get circle_delete and lose the circle's subscriptions.
func (c *Client) DeleteCircle(ctx context.Context, circleID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "circle_delete", "circle": circleID})
	return err
}

// StreamOptions are the optional fields of CreateStreamWith.
type StreamOptions struct {
	// Kind is models.Channel (when empty), models.Voice or
	// models.Separator.
	Kind  models.StreamKind
	Topic string
}

// CreateStreamWith adds a stream of any kind to a circle, after its other
// streams. It needs ManageStreams.
func (c *Client) CreateStreamWith(ctx context.Context, circleID, name string, opts StreamOptions) (*models.Stream, error) {
	frame := map[string]any{"cmd": "stream_create", "circle": circleID, "name": name}
	if opts.Kind != "" {
		frame["kind"] = opts.Kind
	}
	if opts.Topic != "" {
		frame["topic"] = opts.Topic
	}
	r, err := call[streamReply](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Stream, nil
}

// StreamEdit is what EditStream changes; nil fields stay as they are.
// Position moves the stream to that index of the circle's list (0 is
// first); the others shift.
type StreamEdit struct {
	Name, Topic *string
	Position    *int
}

// EditStream renames, describes or moves a stream and returns it as
// changed. It needs ManageStreams; followers of the circle get
// circle_update.
func (c *Client) EditStream(ctx context.Context, streamID string, e StreamEdit) (*models.Stream, error) {
	frame := map[string]any{"cmd": "stream_edit", "stream": streamID}
	if e.Name != nil {
		frame["name"] = *e.Name
	}
	if e.Topic != nil {
		frame["topic"] = *e.Topic
	}
	if e.Position != nil {
		frame["position"] = *e.Position
	}
	r, err := call[streamReply](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Stream, nil
}

// DeleteStream deletes a stream with its messages. It needs
// ManageStreams; its subscribers get unsubscribed.
func (c *Client) DeleteStream(ctx context.Context, streamID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "stream_delete", "stream": streamID})
	return err
}

// CreateInviteWith returns a new invite to a circle that expires after
// maxAge (0: never; whole seconds are sent) and admits at most maxUses
// joins (0: no limit). It needs CreateInvites.
func (c *Client) CreateInviteWith(ctx context.Context, circleID string, maxAge time.Duration, maxUses int) (*models.Invite, error) {
	r, err := call[struct {
		Invite *models.Invite `json:"invite"`
	}](ctx, c, map[string]any{"cmd": "invite_create", "circle": circleID, "max_age": int64(maxAge / time.Second), "max_uses": maxUses})
	if err != nil {
		return nil, err
	}
	return r.Invite, nil
}

// ListInvites lists a circle's usable invites, oldest first. It needs
// ManageCircle.
func (c *Client) ListInvites(ctx context.Context, circleID string) ([]*models.Invite, error) {
	r, err := call[struct {
		Invites []*models.Invite `json:"invites"`
	}](ctx, c, map[string]any{"cmd": "invite_list", "circle": circleID})
	if err != nil {
		return nil, err
	}
	return r.Invites, nil
}

// RevokeInvite deletes an invite: the user's own, or any with
// ManageCircle.
func (c *Client) RevokeInvite(ctx context.Context, circleID, code string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "invite_revoke", "circle": circleID, "code": code})
	return err
}

// Members lists a page of a circle's members ordered by username, those
// after cursor ("" for the first page), at most limit (0: the server's
// maximum). next is the cursor of the following page, "" after the last.
// Any member may ask.
func (c *Client) Members(ctx context.Context, circleID, cursor string, limit int) (members []models.MemberView, next string, err error) {
	frame := map[string]any{"cmd": "member_list", "circle": circleID}
	if cursor != "" {
		frame["cursor"] = cursor
	}
	if limit != 0 {
		frame["limit"] = limit
	}
	r, err := call[struct {
		Members []models.MemberView `json:"members"`
		Next    string              `json:"next"`
	}](ctx, c, frame)
	if err != nil {
		return nil, "", err
	}
	return r.Members, r.Next, nil
}

// Kick removes a member (by user id) from a circle, with an optional
// reason. It needs ManageMembers and a higher role than the member's.
// Every connection of the member gets circle_removed; the other members
// get member_remove.
func (c *Client) Kick(ctx context.Context, circleID, userID, reason string) error {
	return c.moderation(ctx, "member_kick", circleID, userID, reason)
}

// Ban keeps a user (by id) out of a circle, removing them when they are
// a member, with an optional reason. It needs BanMembers and a higher
// role than the member's.
func (c *Client) Ban(ctx context.Context, circleID, userID, reason string) error {
	return c.moderation(ctx, "member_ban", circleID, userID, reason)
}

// Unban lifts a user's ban. It needs BanMembers.
func (c *Client) Unban(ctx context.Context, circleID, userID string) error {
	return c.moderation(ctx, "member_unban", circleID, userID, "")
}

func (c *Client) moderation(ctx context.Context, cmd, circleID, userID, reason string) error {
	frame := map[string]any{"cmd": cmd, "circle": circleID, "user": userID}
	if reason != "" {
		frame["reason"] = reason
	}
	_, err := c.Request(ctx, frame)
	return err
}

// Bans lists a circle's bans, oldest first. It needs BanMembers.
func (c *Client) Bans(ctx context.Context, circleID string) ([]*models.Ban, error) {
	r, err := call[struct {
		Bans []*models.Ban `json:"bans"`
	}](ctx, c, map[string]any{"cmd": "ban_list", "circle": circleID})
	if err != nil {
		return nil, err
	}
	return r.Bans, nil
}

type memberViewReply struct {
	Member *models.MemberView `json:"member"`
}

// Timeout stops a member (by user id) from sending, reacting and
// speaking for d (whole seconds are sent; 0 lifts a timeout), with an
// optional reason, and returns the member as changed. It needs
// ManageMembers and a higher role than the member's; the members get
// member_update.
func (c *Client) Timeout(ctx context.Context, circleID, userID string, d time.Duration, reason string) (*models.MemberView, error) {
	frame := map[string]any{"cmd": "member_timeout", "circle": circleID, "user": userID, "seconds": int64(d / time.Second)}
	if reason != "" {
		frame["reason"] = reason
	}
	r, err := call[memberViewReply](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Member, nil
}

// SetNickname sets a member's nickname in a circle ("" clears it) and
// returns the member as changed: the user's own (userID "" or their own
// id), or another member's with ManageMembers and a higher role.
func (c *Client) SetNickname(ctx context.Context, circleID, userID, nickname string) (*models.MemberView, error) {
	frame := map[string]any{"cmd": "member_nick", "circle": circleID, "nickname": nickname}
	if userID != "" {
		frame["user"] = userID
	}
	r, err := call[memberViewReply](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Member, nil
}

// AuditFilter selects audit log entries; zero fields do not filter.
type AuditFilter struct {
	// Actor and Target are user ids; Target also matches the id of a
	// role, stream or invite an entry names.
	Actor, Target string
	// Action is one of the audit actions of docs/protocol.md
	// ("member_ban", "role_create"…).
	Action string
	// Since (inclusive) and Until (exclusive) bound the entries' time,
	// to the millisecond.
	Since, Until time.Time
	// Cursor is the next of the previous page.
	Cursor string
	// Limit bounds the page; 0 means the server's maximum.
	Limit int
}

// AuditLog reads a circle's audit log, newest first. next is the cursor
// of the following page, "" when there is none. It needs ViewAuditLog.
func (c *Client) AuditLog(ctx context.Context, circleID string, f AuditFilter) (entries []*models.AuditEntry, next string, err error) {
	frame := map[string]any{"cmd": "audit_log", "circle": circleID}
	for k, v := range map[string]string{"actor": f.Actor, "target": f.Target, "action": f.Action, "cursor": f.Cursor} {
		if v != "" {
			frame[k] = v
		}
	}
	if !f.Since.IsZero() {
		frame["since"] = f.Since.UnixMilli()
	}
	if !f.Until.IsZero() {
		frame["until"] = f.Until.UnixMilli()
	}
	if f.Limit != 0 {
		frame["limit"] = f.Limit
	}
	r, err := call[struct {
		Entries []*models.AuditEntry `json:"entries"`
		Next    string               `json:"next"`
	}](ctx, c, frame)
	if err != nil {
		return nil, "", err
	}
	return r.Entries, r.Next, nil
}
