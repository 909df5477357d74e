package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// Commands that manage circles, streams, roles, invites and members, and
// moderate them. The rules live in package circles; these handlers
// validate the frame, call the service, answer, and announce.
//
// Every change to what members may see or do ends with circleChanged:
// each connection following the circle, on every node, gets the circle
// as its user now sees it (circle_update) and drops the streams they may
// no longer view.
func init() {
	handle(map[string]handler{
		"circle_edit":        (*conn).cmdCircleEdit,
		"circle_transfer":    (*conn).cmdCircleTransfer,
		"circle_delete":      (*conn).cmdCircleDelete,
		"stream_create":      (*conn).cmdStreamCreate,
		"stream_edit":        (*conn).cmdStreamEdit,
		"stream_delete":      (*conn).cmdStreamDelete,
		"stream_permissions": (*conn).cmdStreamPermissions,
		"role_create":        (*conn).cmdRoleCreate,
		"role_edit":          (*conn).cmdRoleEdit,
		"role_move":          (*conn).cmdRoleMove,
		"role_delete":        (*conn).cmdRoleDelete,
		"role_assign":        (*conn).cmdRoleAssign,
		"role_remove":        (*conn).cmdRoleAssign,
		"invite_create":      (*conn).cmdInviteCreate,
		"invite_list":        (*conn).cmdInviteList,
		"invite_revoke":      (*conn).cmdInviteRevoke,
		"member_list":        (*conn).cmdMemberList,
		"member_kick":        (*conn).cmdMemberRemove,
		"member_ban":         (*conn).cmdMemberRemove,
		"member_unban":       (*conn).cmdMemberUnban,
		"ban_list":           (*conn).cmdBanList,
		"member_timeout":     (*conn).cmdMemberTimeout,
		"member_nick":        (*conn).cmdMemberNick,
		"audit_log":          (*conn).cmdAuditLog,
	})
}

// Error codes of the community commands.
const (
	CodeRoleNotFound      = "role_not_found"
	CodeHierarchy         = "hierarchy"
	CodeCannotGrant       = "cannot_grant"
	CodeOwnerProtected    = "owner_protected"
	CodeInvalidColor      = "invalid_color"
	CodeInvalidPerms      = "invalid_permissions"
	CodeSelfAssignable    = "self_assignable_permissions"
	CodeDefaultRole       = "default_role"
	CodeInvalidPosition   = "invalid_position"
	CodeInvalidText       = "invalid_text"
	CodeNotOwner          = "not_owner"
	CodeInviteNotFound    = "invite_not_found"
	CodeInvalidTimeout    = "invalid_timeout"
	CodeInvalidTarget     = "invalid_target"
	CodeNotBanned         = "not_banned"
	CodeBanned            = "banned"
	CodeLimitReached      = "limit_reached"
	CodeInvalidKind       = "invalid_kind"
	CodeNotText           = "not_text"
	CodeNotSelfAssignable = "not_self_assignable"
)

func init() {
	mapErrors([]errorCode{
		{circles.ErrRoleNotFound, CodeRoleNotFound},
		{circles.ErrHierarchy, CodeHierarchy},
		{circles.ErrGrant, CodeCannotGrant},
		{circles.ErrOwner, CodeOwnerProtected},
		{circles.ErrInvalidColor, CodeInvalidColor},
		{circles.ErrInvalidPerms, CodeInvalidPerms},
		{circles.ErrSelfAssignable, CodeSelfAssignable},
		{circles.ErrDefaultRole, CodeDefaultRole},
		{circles.ErrInvalidPosition, CodeInvalidPosition},
		{circles.ErrInvalidText, CodeInvalidText},
		{circles.ErrNotOwner, CodeNotOwner},
		{circles.ErrInviteNotFound, CodeInviteNotFound},
		{circles.ErrInvalidTimeout, CodeInvalidTimeout},
		{circles.ErrSelf, CodeInvalidTarget},
		{circles.ErrAdministrator, CodeInvalidTarget},
		{circles.ErrNotBanned, CodeNotBanned},
		{circles.ErrBanned, CodeBanned},
		{circles.ErrLimit, CodeLimitReached},
		{circles.ErrInvalidKind, CodeInvalidKind},
		{circles.ErrStreamNotFound, CodeNotFound},
		{circles.ErrInvalidInviteLimits, CodeBadRequest},
		{circles.ErrInvalidAuditFilter, CodeBadRequest},
		{circles.ErrNotSelfAssigning, CodeNotSelfAssignable},
		{streams.ErrNotText, CodeNotText},
	})
}

// rulesTopic tells the other nodes that a circle's rules changed; the
// payload is the circle id.
const rulesTopic = "rules"

// circleChanged announces a change to a circle's rules or streams: this
// node and the others forget what they knew and refresh their
// connections that follow the circle.
func (g *Gateway) circleChanged(circleID string) {
	g.svc.Circles.Forget(circleID)
	if g.svc.Peers != nil {
		g.svc.Peers.PublishEvent(rulesTopic, []byte(circleID))
	}
	g.refreshCircle(circleID)
}

// refreshCircle sends each local connection that follows the circle the
// circle as its user now sees it, and drops the streams it may no longer
// view, telling it with an unsubscribed event.
func (g *Gateway) refreshCircle(circleID string) {
	g.mu.Lock()
	var conns []*conn
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	// A user's connections share one view, computed and encoded once.
	type seen struct {
		visible map[string]bool
		frame   []byte
	}
	views := make(map[string]*seen)
	for _, c := range conns {
		if !c.authed.Load() || !c.follows(circleID) {
			continue
		}
		v, ok := views[c.user.ID]
		if !ok {
			view, err := g.svc.Circles.View(ctx, circleID, c.user.ID)
			switch {
			case errors.Is(err, circles.ErrForbidden) || errors.Is(err, circles.ErrNotFound):
				// Removed: the user topic's leave op handles it.
			case err != nil:
				g.log.Warn("refresh circle", "circle", circleID, "err", err)
			default:
				v = &seen{visible: make(map[string]bool, len(view.Streams))}
				for i := range view.Streams {
					v.visible[view.Streams[i].ID] = true
					g.svc.Streams.Current(&view.Streams[i])
				}
				v.frame = encode(circleReply{header{Cmd: "circle_update"}, view})
			}
			views[c.user.ID] = v
		}
		if v == nil {
			continue
		}
		for _, id := range c.streamsOf(circleID) {
			// Archived threads are not in the view: threadVisible asks.
			if !v.visible[id] && !g.threadVisible(ctx, circleID, c.user.ID, id) && c.dropStream(id) {
				reason := "forbidden"
				if !g.svc.Circles.HasStream(ctx, circleID, id) {
					reason = "deleted"
				}
				c.push(encode(unsubscribedEvent{Cmd: "unsubscribed", Stream: id, Reason: reason}))
			}
		}
		c.push(v.frame)
	}
	// Those in voice who lost the right to be there, or to speak, leave
	// or are muted.
	g.recheckVoice(circleID)
}

type unsubscribedEvent struct {
	Cmd    string `json:"cmd"`
	Stream string `json:"stream"`
	Reason string `json:"reason"`
}

// follows reports whether the connection follows a circle's news.
func (c *conn) follows(circleID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.circles[circleID] != nil
}

// streamsOf lists the followed streams of a circle.
func (c *conn) streamsOf(circleID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id, s := range c.streams {
		if s.circleID == circleID {
			ids = append(ids, id)
		}
	}
	return ids
}

func (c *conn) cmdCircleEdit(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	e := circles.CircleEdit{Description: req.Description, Icon: req.Icon}
	if req.Name != "" {
		e.Name = &req.Name
	}
	if req.Visibility != "" {
		v := models.Visibility(req.Visibility)
		e.Visibility = &v
	}
	if e == (circles.CircleEdit{}) {
		return errCode(CodeBadRequest, "nothing to change: give name, description, icon or visibility")
	}
	view, err := c.g.svc.Circles.Edit(ctx, c.user.Ref(), req.Circle, e)
	if err != nil {
		return err
	}
	c.reply(circleReply{hdr(req), view})
	c.g.circleChanged(req.Circle)
	return nil
}

func (c *conn) cmdCircleTransfer(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if err := required("user", req.User); err != nil {
		return err
	}
	view, err := c.g.svc.Circles.Transfer(ctx, c.user.Ref(), req.Circle, req.User)
	if err != nil {
		return err
	}
	c.reply(circleReply{hdr(req), view})
	c.g.circleChanged(req.Circle)
	return nil
}

func (c *conn) cmdCircleDelete(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	members, streamIDs, err := c.g.svc.Circles.Delete(ctx, c.user.Ref(), req.Circle)
	if err != nil {
		return err
	}
	for _, id := range streamIDs {
		c.g.svc.Streams.Drop(id)
	}
	c.g.circleChanged(req.Circle) // other nodes forget it
	frame := encode(circleIDFrame{header{Cmd: "circle_delete"}, req.Circle})
	for _, id := range members {
		c.g.membership(req.Circle, id, false)
		c.g.publish(userTopic(id), userControl(opLeave, 0, req.Circle, frame))
		for _, fn := range onRemoved {
			fn(c.g, req.Circle, id)
		}
	}
	c.reply(circleIDFrame{hdr(req), req.Circle})
	return nil
}

func (c *conn) cmdStreamCreate(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	var topic string
	if req.Topic != nil {
		topic = *req.Topic
	}
	st, err := c.g.svc.Circles.CreateStream(ctx, c.user.Ref(), req.Circle, req.Name, models.StreamKind(req.Kind), topic)
	if err != nil {
		return err
	}
	c.reply(streamReply{hdr(req), st})
	// A new stream has no overwrites: when the default role may view
	// streams, every member sees it and the event is for all; otherwise
	// circle_update tells those who do.
	if p, err := c.g.svc.Circles.RolePermissions(ctx, st.CircleID, st.CircleID); err == nil && p.Has(models.ViewStreams) {
		c.g.publish(circleTopic(st.CircleID), encode(streamEvent{Cmd: "stream_create", Circle: st.CircleID, Stream: st}))
	}
	c.g.circleChanged(st.CircleID)
	return nil
}

func (c *conn) cmdStreamEdit(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	e := circles.StreamEdit{Topic: req.Topic, Position: req.Position}
	if req.Name != "" {
		e.Name = &req.Name
	}
	if e == (circles.StreamEdit{}) {
		return errCode(CodeBadRequest, "nothing to change: give name, topic or position")
	}
	changed, err := c.g.svc.Circles.EditStream(ctx, c.user.Ref(), req.Stream, e)
	if err != nil {
		return err
	}
	c.reply(streamReply{hdr(req), changed[0]})
	c.g.circleChanged(changed[0].CircleID)
	return nil
}

func (c *conn) cmdStreamDelete(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	st, err := c.g.svc.Circles.DeleteStream(ctx, c.user.Ref(), req.Stream)
	if err != nil {
		return err
	}
	c.g.svc.Streams.Drop(st.ID)
	c.g.svc.Streams.DropThreadsOf(st.ID) // threads.go: deleted with it
	c.reply(struct {
		header
		Circle string `json:"circle"`
		Stream string `json:"stream"`
	}{hdr(req), st.CircleID, st.ID})
	c.g.circleChanged(st.CircleID)
	return nil
}

func (c *conn) cmdStreamPermissions(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	if err := required("role", req.Role); err != nil {
		return err
	}
	var allow, deny models.Permission
	if req.Allow != nil {
		allow = models.Permission(*req.Allow)
	}
	if req.Deny != nil {
		deny = models.Permission(*req.Deny)
	}
	st, err := c.g.svc.Circles.SetOverwrite(ctx, c.user.Ref(), req.Stream, req.Role, allow, deny)
	if err != nil {
		return err
	}
	st.Pins = nil
	c.reply(streamReply{hdr(req), st})
	c.g.circleChanged(st.CircleID)
	return nil
}

type roleReply struct {
	header
	Circle string       `json:"circle"`
	Role   *models.Role `json:"role"`
}

func roleSpec(req *request) circles.RoleSpec {
	spec := circles.RoleSpec{Color: req.Color, Hoist: req.Hoist, SelfAssignable: req.SelfAssignable}
	if req.Name != "" {
		spec.Name = &req.Name
	}
	if req.Permissions != nil {
		p := models.Permission(*req.Permissions)
		spec.Permissions = &p
	}
	return spec
}

// roleCommand serves a command that changes a role: it answers with the
// role and announces the circle's change.
func (c *conn) roleCommand(req *request, needRole bool, change func() (*circles.RoleChange, error)) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if needRole {
		if err := required("role", req.Role); err != nil {
			return err
		}
	}
	ch, err := change()
	if err != nil {
		return err
	}
	c.reply(roleReply{hdr(req), req.Circle, ch.Role})
	c.g.circleChanged(req.Circle)
	return nil
}

func (c *conn) cmdRoleCreate(ctx context.Context, req *request) error {
	return c.roleCommand(req, false, func() (*circles.RoleChange, error) {
		return c.g.svc.Circles.CreateRole(ctx, c.user.Ref(), req.Circle, roleSpec(req))
	})
}

func (c *conn) cmdRoleEdit(ctx context.Context, req *request) error {
	return c.roleCommand(req, true, func() (*circles.RoleChange, error) {
		return c.g.svc.Circles.EditRole(ctx, c.user.Ref(), req.Circle, req.Role, roleSpec(req))
	})
}

func (c *conn) cmdRoleMove(ctx context.Context, req *request) error {
	if req.Position == nil {
		return errCode(CodeBadRequest, "position is required")
	}
	return c.roleCommand(req, true, func() (*circles.RoleChange, error) {
		return c.g.svc.Circles.MoveRole(ctx, c.user.Ref(), req.Circle, req.Role, *req.Position)
	})
}

func (c *conn) cmdRoleDelete(ctx context.Context, req *request) error {
	return c.roleCommand(req, true, func() (*circles.RoleChange, error) {
		return c.g.svc.Circles.DeleteRole(ctx, c.user.Ref(), req.Circle, req.Role)
	})
}

type memberReply struct {
	header
	Circle string             `json:"circle"`
	Member *models.MemberView `json:"member"`
}

// cmdRoleAssign serves role_assign and role_remove; user defaults to the
// asker (self-assignable roles).
func (c *conn) cmdRoleAssign(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if err := required("role", req.Role); err != nil {
		return err
	}
	user := req.User
	if user == "" {
		user = c.user.ID
	}
	changed, err := c.g.svc.Circles.AssignRole(ctx, c.user.Ref(), req.Circle, req.Role, user, req.Cmd == "role_assign")
	if err != nil {
		return err
	}
	view, err := c.g.svc.Circles.Member(ctx, c.user.ID, req.Circle, user)
	if err != nil {
		return err
	}
	c.reply(memberReply{hdr(req), req.Circle, view})
	if changed != nil {
		c.g.publish(circleTopic(req.Circle), encode(memberReply{header{Cmd: "member_update"}, req.Circle, view}))
		c.g.circleChanged(req.Circle)
	}
	return nil
}

func (c *conn) cmdInviteCreate(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	var age time.Duration
	if req.MaxAge != nil {
		age = time.Duration(*req.MaxAge) * time.Second
		if *req.MaxAge < 0 || *req.MaxAge > int64(circles.MaxInviteAge/time.Second) {
			return circles.ErrInvalidInviteLimits
		}
	}
	var uses int
	if req.MaxUses != nil {
		uses = *req.MaxUses
	}
	inv, err := c.g.svc.Circles.CreateInvite(ctx, c.user.Ref(), req.Circle, age, uses)
	if err != nil {
		return err
	}
	c.reply(struct {
		header
		Code   string         `json:"code"`
		Circle string         `json:"circle"`
		Invite *models.Invite `json:"invite"`
	}{hdr(req), inv.Code, inv.CircleID, inv})
	return nil
}

func (c *conn) cmdInviteList(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	invs, err := c.g.svc.Circles.Invites(ctx, c.user.ID, req.Circle)
	if err != nil {
		return err
	}
	c.reply(struct {
		header
		Circle  string           `json:"circle"`
		Invites []*models.Invite `json:"invites"`
	}{hdr(req), req.Circle, invs})
	return nil
}

func (c *conn) cmdInviteRevoke(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if err := required("code", req.Code); err != nil {
		return err
	}
	if err := c.g.svc.Circles.RevokeInvite(ctx, c.user.Ref(), req.Circle, req.Code); err != nil {
		return err
	}
	c.reply(struct {
		header
		Circle string `json:"circle"`
		Code   string `json:"code"`
	}{hdr(req), req.Circle, req.Code})
	return nil
}

func (c *conn) cmdMemberList(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if req.Limit < 0 {
		return errCode(CodeBadRequest, "limit must not be negative")
	}
	page, next, err := c.g.svc.Circles.MemberPage(ctx, c.user.ID, req.Circle, req.Cursor, req.Limit)
	if err != nil {
		return err
	}
	if page == nil {
		page = []models.MemberView{}
	}
	for i := range page {
		page[i].Status = publicStatus(c.g, page[i].User.ID)
	}
	c.reply(struct {
		header
		Circle  string              `json:"circle"`
		Members []models.MemberView `json:"members"`
		Next    string              `json:"next,omitempty"`
	}{hdr(req), req.Circle, page, next})
	return nil
}

type removedFrame struct {
	header
	Circle string          `json:"circle"`
	User   *models.UserRef `json:"user,omitempty"`
	By     *models.UserRef `json:"by,omitempty"`
	Reason string          `json:"reason,omitempty"`
	Ban    bool            `json:"ban,omitempty"`
}

// cmdMemberRemove serves member_kick and member_ban.
func (c *conn) cmdMemberRemove(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if err := required("user", req.User); err != nil {
		return err
	}
	ban := req.Cmd == "member_ban"
	var (
		mod *circles.Moderation
		err error
	)
	if ban {
		target, uerr := c.g.svc.Store.UserByID(ctx, req.User)
		if errors.Is(uerr, store.ErrNotFound) {
			return errCode(CodeUserNotFound, "user not found")
		}
		if uerr != nil {
			return uerr
		}
		mod, err = c.g.svc.Circles.Ban(ctx, c.user.Ref(), req.Circle, target, req.Reason)
	} else {
		mod, err = c.g.svc.Circles.Kick(ctx, c.user.Ref(), req.Circle, req.User, req.Reason)
	}
	if err != nil {
		return err
	}
	// The removal goes out before the answer: once the moderator hears
	// it is done, nothing more reaches the removed member here.
	if mod.Removed {
		by := c.user.Ref()
		c.g.removed(req.Circle, mod.Target, &by, req.Reason, ban)
	}
	c.reply(removedFrame{header: hdr(req), Circle: req.Circle, User: &mod.Target, Reason: req.Reason, Ban: ban})
	return nil
}

// removed tells everyone that a member was kicked or banned: every
// connection of theirs, on every node, leaves the circle at once (its
// streams too) and gets circle_removed; the members get member_remove.
func (g *Gateway) removed(circleID string, user models.UserRef, by *models.UserRef, reason string, ban bool) {
	g.membership(circleID, user.ID, false)
	// Before circleChanged: its refresh would otherwise find the member
	// in voice without the right to be there and end the session as
	// forbidden rather than removed.
	for _, fn := range onRemoved {
		fn(g, circleID, user.ID)
	}
	g.circleChanged(circleID)
	g.publish(userTopic(user.ID), userControl(opLeave, 0, circleID,
		encode(removedFrame{header: header{Cmd: "circle_removed"}, Circle: circleID, By: by, Reason: reason, Ban: ban})))
	g.publish(circleTopic(circleID), encode(removedFrame{header: header{Cmd: "member_remove"}, Circle: circleID, User: &user, By: by, Reason: reason, Ban: ban}))
}

// onRemoved are what features do when a member leaves a circle or is
// removed from it (voice leaves its streams), registered from init.
var onRemoved []func(g *Gateway, circleID, userID string)

func (c *conn) cmdMemberUnban(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if err := required("user", req.User); err != nil {
		return err
	}
	b, err := c.g.svc.Circles.Unban(ctx, c.user.Ref(), req.Circle, req.User)
	if err != nil {
		return err
	}
	c.reply(removedFrame{header: hdr(req), Circle: req.Circle, User: &b.User})
	return nil
}

func (c *conn) cmdBanList(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	bans, err := c.g.svc.Circles.Bans(ctx, c.user.ID, req.Circle)
	if err != nil {
		return err
	}
	if bans == nil {
		bans = []*models.Ban{}
	}
	c.reply(struct {
		header
		Circle string        `json:"circle"`
		Bans   []*models.Ban `json:"bans"`
	}{hdr(req), req.Circle, bans})
	return nil
}

func (c *conn) cmdMemberTimeout(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if err := required("user", req.User); err != nil {
		return err
	}
	if req.Seconds == nil {
		return errCode(CodeBadRequest, "seconds is required (0 lifts a timeout)")
	}
	if *req.Seconds < 0 || *req.Seconds > int64(circles.MaxTimeout/time.Second) {
		return circles.ErrInvalidTimeout
	}
	mod, err := c.g.svc.Circles.Timeout(ctx, c.user.Ref(), req.Circle, req.User, time.Duration(*req.Seconds)*time.Second, req.Reason)
	if err != nil {
		return err
	}
	c.reply(memberReply{hdr(req), req.Circle, mod.Member})
	c.g.publish(circleTopic(req.Circle), encode(memberReply{header{Cmd: "member_update"}, req.Circle, mod.Member}))
	c.g.circleChanged(req.Circle)
	if until := mod.Member.TimeoutUntil; until != nil {
		c.g.atTimeoutEnd(req.Circle, req.User, *until)
	}
	return nil
}

// atTimeoutEnd tells everyone when a timeout set on this node ends:
// permissions already follow the clock, but clients' copies (me,
// streams' permissions, member lists) learn it from member_update and
// circle_update. The timer stops with the Gateway; a restart loses it
// (the next change to the circle refreshes the copies).
func (g *Gateway) atTimeoutEnd(circleID, userID string, until time.Time) {
	go func() {
		t := time.NewTimer(time.Until(until) + time.Second)
		defer t.Stop()
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		view, err := g.svc.Circles.Member(ctx, userID, circleID, userID)
		if err != nil || view.TimeoutUntil != nil {
			return // gone, or timed out again meanwhile
		}
		g.publish(circleTopic(circleID), encode(memberReply{header{Cmd: "member_update"}, circleID, view}))
		g.circleChanged(circleID)
	}()
}

func (c *conn) cmdMemberNick(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if req.Nickname == nil {
		return errCode(CodeBadRequest, `nickname is required ("" clears it)`)
	}
	user := req.User
	if user == "" {
		user = c.user.ID
	}
	view, err := c.g.svc.Circles.SetNickname(ctx, c.user.Ref(), req.Circle, user, *req.Nickname)
	if err != nil {
		return err
	}
	c.reply(memberReply{hdr(req), req.Circle, view})
	c.g.publish(circleTopic(req.Circle), encode(memberReply{header{Cmd: "member_update"}, req.Circle, view}))
	return nil
}

func (c *conn) cmdAuditLog(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if req.Limit < 0 {
		return errCode(CodeBadRequest, "limit must not be negative")
	}
	limit := req.Limit
	if limit == 0 || limit > circles.MaxAuditPage {
		limit = circles.MaxAuditPage
	}
	// One more than the page says whether another page follows.
	f := circles.AuditFilter{ActorID: req.Actor, TargetID: req.Target, Action: req.Action, Before: req.Cursor, Limit: limit + 1}
	if req.Since != nil {
		f.Since = time.UnixMilli(*req.Since).UTC()
	}
	if req.Until != nil {
		f.Until = time.UnixMilli(*req.Until).UTC()
	}
	entries, err := c.g.svc.Circles.ReadAudit(ctx, c.user.ID, req.Circle, f)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []*models.AuditEntry{}
	}
	var next string
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].ID
	}
	c.reply(struct {
		header
		Circle  string               `json:"circle"`
		Entries []*models.AuditEntry `json:"entries"`
		Next    string               `json:"next,omitempty"`
	}{hdr(req), req.Circle, entries, next})
	return nil
}
