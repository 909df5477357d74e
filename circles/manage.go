package circles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Errors of circle and stream management.
var (
	ErrStreamNotFound     = errors.New("stream not found")
	ErrInvalidKind        = errors.New(`kind must be "channel", "voice" or "separator"`)
	ErrInvalidText        = errors.New("text is too long or holds control characters")
	ErrNotOwner           = errors.New("only the circle's owner may do that")
	ErrInviteNotFound     = errors.New("invite not found")
	ErrInvalidTimeout     = errors.New("seconds must be 0-2419200 (28 days); 0 lifts a timeout")
	ErrSelf               = errors.New("cannot do that to yourself")
	ErrNotBanned          = errors.New("that user is not banned")
	ErrInvalidAuditFilter = errors.New("unknown audit action")
	ErrAdministrator      = errors.New("an administrator cannot be timed out")
)

// Longest free texts, in characters.
const (
	MaxDescription = 1000
	MaxTopic       = 1000
	MaxIcon        = 2000
	MaxReason      = 512
	MaxNickname    = 32
	// MaxTimeout is the longest member_timeout.
	MaxTimeout = 28 * 24 * time.Hour
)

// validFree checks an optional text: at most n characters of valid UTF-8,
// newlines and tabs allowed, no other control characters.
func validFree(s string, n int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > n {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// Audit actions.
const (
	AuditCircleEdit     = "circle_edit"
	AuditCircleTransfer = "circle_transfer"
	AuditStreamCreate   = "stream_create"
	AuditStreamEdit     = "stream_edit"
	AuditStreamDelete   = "stream_delete"
	AuditStreamPerms    = "stream_permissions"
	AuditRoleCreate     = "role_create"
	AuditRoleEdit       = "role_edit"
	AuditRoleMove       = "role_move"
	AuditRoleDelete     = "role_delete"
	AuditRoleAssign     = "role_assign"
	AuditRoleRemove     = "role_remove"
	AuditInviteCreate   = "invite_create"
	AuditInviteRevoke   = "invite_revoke"
	AuditKick           = "member_kick"
	AuditBan            = "member_ban"
	AuditUnban          = "member_unban"
	AuditTimeout        = "member_timeout"
	AuditNickname       = "member_nick"
	AuditWebhookCreate  = "webhook_create"
	AuditWebhookRotate  = "webhook_rotate"
	AuditWebhookDelete  = "webhook_delete"
)

var auditActions = []string{
	AuditCircleEdit, AuditCircleTransfer, AuditStreamCreate, AuditStreamEdit, AuditStreamDelete, AuditStreamPerms,
	AuditRoleCreate, AuditRoleEdit, AuditRoleMove, AuditRoleDelete, AuditRoleAssign, AuditRoleRemove,
	AuditInviteCreate, AuditInviteRevoke, AuditKick, AuditBan, AuditUnban, AuditTimeout, AuditNickname,
	AuditWebhookCreate, AuditWebhookRotate, AuditWebhookDelete,
}

// MaskInvite is how the audit log names an invite: its first four
// characters, so readers of the log (view_audit_log) can tell invites
// apart without being able to use them (invite_list needs manage_circle).
func MaskInvite(code string) string {
	if len(code) <= 4 {
		return code
	}
	return code[:4] + "…"
}

// Audit records an action in a circle's audit log. A failure is returned
// for the caller to log: the action itself is done.
func (s *Service) Audit(ctx context.Context, e *models.AuditEntry) error {
	e.ID = newID()
	e.At = s.now()
	if err := s.store.AddAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter selects audit entries; empty fields do not filter.
type AuditFilter struct {
	ActorID, TargetID, Action string
	Since, Until              time.Time
	// Before is the id of the last entry of the previous page.
	Before string
	Limit  int
}

// MaxAuditPage bounds one audit_log read.
const MaxAuditPage = 100

// ReadAudit returns a circle's audit entries, newest first; the user
// needs ViewAuditLog.
func (s *Service) ReadAudit(ctx context.Context, userID, circleID string, f AuditFilter) ([]*models.AuditEntry, error) {
	if _, err := s.Require(ctx, circleID, userID, "", models.ViewAuditLog); err != nil {
		return nil, err
	}
	if f.Action != "" && !slices.Contains(auditActions, f.Action) {
		return nil, ErrInvalidAuditFilter
	}
	if f.Limit <= 0 || f.Limit > MaxAuditPage+1 {
		f.Limit = MaxAuditPage + 1 // a page and a look at the next
	}
	return s.store.Audit(ctx, store.AuditQuery{
		CircleID: circleID, ActorID: f.ActorID, TargetID: f.TargetID, Action: f.Action,
		Since: f.Since, Until: f.Until, Before: f.Before, Limit: f.Limit,
	})
}

// CircleEdit is a circle's settable fields; nil fields stay as they are.
type CircleEdit struct {
	Name, Description, Icon *string
	Visibility              *models.Visibility
}

// Edit changes a circle's name, description, icon or visibility; the
// user needs ManageCircle.
func (s *Service) Edit(ctx context.Context, actor models.UserRef, circleID string, e CircleEdit) (*models.Circle, error) {
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.require(ctx, circleID, actor.ID, "", models.ManageCircle)
	if err != nil {
		return nil, err
	}
	c := *r.circle
	details := map[string]any{}
	if e.Name != nil {
		name, ok := models.ValidName(*e.Name)
		if !ok {
			return nil, ErrInvalidName
		}
		c.Name, details["name"] = name, name
	}
	if e.Description != nil {
		if !validFree(*e.Description, MaxDescription) {
			return nil, ErrInvalidText
		}
		c.Description, details["description"] = *e.Description, *e.Description
	}
	if e.Icon != nil {
		if !validFree(*e.Icon, MaxIcon) || strings.ContainsAny(*e.Icon, "\n\t") {
			return nil, ErrInvalidText
		}
		c.Icon, details["icon"] = *e.Icon, *e.Icon
	}
	if e.Visibility != nil {
		if *e.Visibility != models.Public && *e.Visibility != models.Private {
			return nil, ErrInvalidVisibility
		}
		c.Visibility, details["visibility"] = *e.Visibility, string(*e.Visibility)
	}
	if err := s.putCircle(ctx, &c); err != nil {
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditCircleEdit, Actor: actor, Details: details})
	return s.View(ctx, circleID, actor.ID)
}

func (s *Service) putCircle(ctx context.Context, c *models.Circle) error {
	defer s.Forget(c.ID)
	stored := *c
	stored.Streams, stored.Roles, stored.Me, stored.Member = nil, nil, nil, nil
	if err := s.store.PutCircle(ctx, &stored); err != nil {
		return fmt.Errorf("store circle: %w", err)
	}
	return nil
}

// audit records an entry, logging nothing: the store's failure to keep
// the log must not undo an action already done. (The entry is lost.)
func (s *Service) audit(ctx context.Context, e *models.AuditEntry) {
	_ = s.Audit(ctx, e)
}

// Transfer makes another member the circle's owner; only the owner may.
func (s *Service) Transfer(ctx context.Context, actor models.UserRef, circleID, userID string) (*models.Circle, error) {
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if r.members[actor.ID] == nil {
		return nil, ErrForbidden
	}
	if r.circle.OwnerID != actor.ID {
		return nil, ErrNotOwner
	}
	target := r.members[userID]
	if target == nil {
		return nil, ErrNotMember
	}
	if userID == actor.ID {
		return nil, ErrSelf
	}
	c := *r.circle
	c.OwnerID = userID
	if err := s.putCircle(ctx, &c); err != nil {
		return nil, err
	}
	to := models.UserRef{ID: userID, Username: target.Username}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditCircleTransfer, Actor: actor, Target: &to})
	return s.View(ctx, circleID, actor.ID)
}

// Delete removes a circle with its streams, messages, members, roles,
// invites, bans and audit log; only the owner may. It returns the ids of
// the members and of the streams, for the caller to tell and clean up.
func (s *Service) Delete(ctx context.Context, actor models.UserRef, circleID string) (members, streams []string, err error) {
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, nil, err
	}
	if r.members[actor.ID] == nil {
		return nil, nil, ErrForbidden
	}
	if r.circle.OwnerID != actor.ID {
		return nil, nil, ErrNotOwner
	}
	defer s.Forget(circleID)
	if err := s.store.DeleteCircle(ctx, circleID); err != nil {
		return nil, nil, fmt.Errorf("delete circle: %w", err)
	}
	for id := range r.members {
		members = append(members, id)
		s.remember(circleID, id, false)
	}
	for id := range r.streams {
		streams = append(streams, id)
	}
	for id := range r.threads {
		streams = append(streams, id)
	}
	return members, streams, nil
}

// CreateStream adds a stream of the given kind (channel when empty) to a
// circle, after its other streams; the user needs ManageStreams.
func (s *Service) CreateStream(ctx context.Context, actor models.UserRef, circleID, name string, kind models.StreamKind, topic string) (*models.Stream, error) {
	name, ok := models.ValidName(name)
	if !ok {
		return nil, ErrInvalidName
	}
	switch kind {
	case "":
		kind = models.Channel
	case models.Channel, models.Voice, models.Separator:
	default:
		return nil, ErrInvalidKind
	}
	if !validFree(topic, MaxTopic) {
		return nil, ErrInvalidText
	}
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.require(ctx, circleID, actor.ID, "", models.ManageStreams)
	if err != nil {
		return nil, err
	}
	if len(r.streams) >= s.cfg.MaxStreams {
		return nil, fmt.Errorf("a circle may have at most %d streams: %w", s.cfg.MaxStreams, ErrLimit)
	}
	pos := 0
	for _, st := range r.streams {
		pos = max(pos, st.Position+1)
	}
	st := &models.Stream{ID: newID(), Kind: kind, CircleID: circleID, Name: name, Topic: topic, Position: pos, CreatedAt: s.now()}
	defer s.Forget(circleID)
	if err := s.store.CreateStream(ctx, st); err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditStreamCreate, Actor: actor, TargetID: st.ID, Details: map[string]any{"name": name, "kind": string(kind)}})
	return st, nil
}

// streamTarget finds one of the circle's streams for a manager.
func (s *Service) streamTarget(ctx context.Context, actor models.UserRef, streamID string, need models.Permission) (*rules, *models.Stream, func(), error) {
	st, err := s.store.Stream(ctx, streamID)
	if errors.Is(err, store.ErrNotFound) || err == nil && st.CircleID == "" {
		return nil, nil, nil, ErrStreamNotFound
	}
	if err != nil {
		return nil, nil, nil, err
	}
	unlock := s.lock(st.CircleID)
	r, err := s.require(ctx, st.CircleID, actor.ID, "", need)
	if err == nil && r.streams[streamID] == nil {
		err = ErrStreamNotFound
	}
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return r, r.streams[streamID], unlock, nil
}

// StreamEdit is a stream's settable fields; nil fields stay as they are.
type StreamEdit struct {
	Name, Topic *string
	// Position moves the stream to that index of the circle's list
	// (0 first); the others shift.
	Position *int
}

// EditStream renames, describes or moves a stream; the user needs
// ManageStreams. It returns every stream whose fields changed (a move
// shifts others), the edited one first.
func (s *Service) EditStream(ctx context.Context, actor models.UserRef, streamID string, e StreamEdit) ([]*models.Stream, error) {
	r, cur, unlock, err := s.streamTarget(ctx, actor, streamID, models.ManageStreams)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st := *cur
	details := map[string]any{}
	if e.Name != nil {
		name, ok := models.ValidName(*e.Name)
		if !ok {
			return nil, ErrInvalidName
		}
		st.Name, details["name"] = name, name
	}
	if e.Topic != nil {
		if !validFree(*e.Topic, MaxTopic) {
			return nil, ErrInvalidText
		}
		st.Topic, details["topic"] = *e.Topic, *e.Topic
	}
	changed := []*models.Stream{&st}
	if e.Position != nil {
		list := make([]models.Stream, 0, len(r.streams))
		for _, o := range r.streams {
			list = append(list, *o)
		}
		sortStreams(list)
		if *e.Position < 0 || *e.Position >= len(list) {
			return nil, ErrInvalidPosition
		}
		details["position"] = *e.Position
		list = slices.DeleteFunc(list, func(o models.Stream) bool { return o.ID == streamID })
		list = slices.Insert(list, *e.Position, st)
		for i := range list {
			if list[i].ID == streamID {
				st.Position = i
				continue
			}
			if list[i].Position != i {
				o := list[i]
				o.Position = i
				changed = append(changed, &o)
			}
		}
	}
	defer s.Forget(cur.CircleID)
	for _, c := range changed {
		if err := s.store.UpdateStreamInfo(ctx, c); err != nil {
			return nil, fmt.Errorf("edit stream: %w", err)
		}
	}
	s.audit(ctx, &models.AuditEntry{CircleID: cur.CircleID, Action: AuditStreamEdit, Actor: actor, TargetID: streamID, Details: details})
	return changed, nil
}

// DeleteStream removes a stream with its messages; the user needs
// ManageStreams. It returns the stream as it was.
func (s *Service) DeleteStream(ctx context.Context, actor models.UserRef, streamID string) (*models.Stream, error) {
	r, st, unlock, err := s.streamTarget(ctx, actor, streamID, models.ManageStreams)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer s.Forget(st.CircleID)
	if err := s.store.DeleteStream(ctx, streamID); err != nil {
		return nil, fmt.Errorf("delete stream: %w", err)
	}
	if err := s.deleteThreadsOf(ctx, r, streamID); err != nil { // threads.go
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: st.CircleID, Action: AuditStreamDelete, Actor: actor, TargetID: streamID, Details: map[string]any{"name": st.Name}})
	return st, nil
}

// Invites lists a circle's usable invites; the user needs ManageCircle.
// Expired and used-up invites are deleted as they are met.
func (s *Service) Invites(ctx context.Context, userID, circleID string) ([]*models.Invite, error) {
	if _, err := s.Require(ctx, circleID, userID, "", models.ManageCircle); err != nil {
		return nil, err
	}
	all, err := s.store.InvitesOf(ctx, circleID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]*models.Invite, 0, len(all))
	for _, inv := range all {
		if !inv.Usable(now) {
			_ = s.store.DeleteInvite(ctx, inv.Code) // garbage; next list tries again
			continue
		}
		out = append(out, inv)
	}
	return out, nil
}

// RevokeInvite deletes an invite; its creator or a member with
// ManageCircle may.
func (s *Service) RevokeInvite(ctx context.Context, actor models.UserRef, circleID, code string) error {
	if code == "" || len(code) > 64 {
		return ErrInviteNotFound
	}
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return err
	}
	if r.members[actor.ID] == nil {
		return ErrForbidden
	}
	inv, err := s.store.Invite(ctx, code)
	if errors.Is(err, store.ErrNotFound) || err == nil && inv.CircleID != circleID {
		return ErrInviteNotFound
	}
	if err != nil {
		return err
	}
	if inv.CreatorID != actor.ID && !r.perms(actor.ID, "", s.now()).Has(models.ManageCircle) {
		return &MissingError{Missing: models.ManageCircle}
	}
	if err := s.store.DeleteInvite(ctx, code); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke invite: %w", err)
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditInviteRevoke, Actor: actor, TargetID: MaskInvite(code)})
	return nil
}

// MaxMemberPage bounds one member_list page.
const MaxMemberPage = 200

// MemberPage lists a circle's members ordered by username
// (case-insensitively), those after the cursor (the last username of
// the previous page), at most limit; any member may. next is the cursor
// of the following page, empty at the end.
func (s *Service) MemberPage(ctx context.Context, userID, circleID, cursor string, limit int) (page []models.MemberView, next string, err error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, "", err
	}
	if r.members[userID] == nil {
		return nil, "", ErrForbidden
	}
	if limit <= 0 || limit > MaxMemberPage {
		limit = MaxMemberPage
	}
	keys := make([]string, 0, len(r.members))
	byKey := make(map[string]*models.Member, len(r.members))
	for _, m := range r.members {
		k := strings.ToLower(m.Username)
		keys = append(keys, k)
		byKey[k] = m
	}
	slices.Sort(keys)
	cursor = strings.ToLower(cursor)
	i, _ := slices.BinarySearch(keys, cursor)
	if i < len(keys) && keys[i] == cursor {
		i++
	}
	now := s.now()
	for ; i < len(keys) && len(page) < limit; i++ {
		page = append(page, r.memberView(byKey[keys[i]], now))
	}
	if i < len(keys) {
		next = page[len(page)-1].User.Username
	}
	return page, next, nil
}

// Moderation is what a kick, ban or timeout did.
type Moderation struct {
	Circle *models.Circle
	Target models.UserRef
	// Removed says the target was a member and is not any more.
	Removed bool
	// Member is the target's membership after a timeout or nickname
	// change.
	Member *models.MemberView
}

// moderate checks a moderation of userID by actor: the actor needs
// need, and the target, when a member, must rank below them and not be
// the owner.
func (s *Service) moderate(ctx context.Context, actor models.UserRef, circleID, userID string, need models.Permission) (*rules, error) {
	r, err := s.require(ctx, circleID, actor.ID, "", need)
	if err != nil {
		return nil, err
	}
	if userID == actor.ID {
		return nil, ErrSelf
	}
	if err := r.mayActOn(actor.ID, userID); err != nil {
		return nil, err
	}
	return r, nil
}

// Kick removes a member; the actor needs ManageMembers.
func (s *Service) Kick(ctx context.Context, actor models.UserRef, circleID, userID, reason string) (*Moderation, error) {
	if !validFree(reason, MaxReason) {
		return nil, ErrInvalidText
	}
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.moderate(ctx, actor, circleID, userID, models.ManageMembers)
	if err != nil {
		return nil, err
	}
	m := r.members[userID]
	if m == nil {
		return nil, ErrNotMember
	}
	if err := s.remove(ctx, circleID, userID); err != nil {
		return nil, err
	}
	target := models.UserRef{ID: userID, Username: m.Username}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditKick, Actor: actor, Target: &target, Reason: reason})
	return &Moderation{Circle: r.circle, Target: target, Removed: true}, nil
}

func (s *Service) remove(ctx context.Context, circleID, userID string) error {
	defer s.Forget(circleID)
	if err := s.store.RemoveMember(ctx, circleID, userID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotMember
		}
		return fmt.Errorf("remove member: %w", err)
	}
	s.remember(circleID, userID, false)
	return nil
}

// Ban keeps a user out of the circle, removing them when they are a
// member; the actor needs BanMembers. A user who is not a member may be
// banned too.
func (s *Service) Ban(ctx context.Context, actor models.UserRef, circleID string, target *models.User, reason string) (*Moderation, error) {
	if !validFree(reason, MaxReason) {
		return nil, ErrInvalidText
	}
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.moderate(ctx, actor, circleID, target.ID, models.BanMembers)
	if err != nil {
		return nil, err
	}
	b := &models.Ban{ID: models.BanID(circleID, target.ID), CircleID: circleID, User: target.Ref(), Reason: reason, By: actor, CreatedAt: s.now()}
	if err := s.store.PutBan(ctx, b); err != nil {
		return nil, fmt.Errorf("ban: %w", err)
	}
	mod := &Moderation{Circle: r.circle, Target: target.Ref()}
	if r.members[target.ID] != nil {
		if err := s.remove(ctx, circleID, target.ID); err != nil && !errors.Is(err, ErrNotMember) {
			return nil, err
		}
		mod.Removed = true
	}
	ref := target.Ref()
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditBan, Actor: actor, Target: &ref, Reason: reason})
	return mod, nil
}

// Unban lifts a ban; the actor needs BanMembers.
func (s *Service) Unban(ctx context.Context, actor models.UserRef, circleID, userID string) (*models.Ban, error) {
	if _, err := s.Require(ctx, circleID, actor.ID, "", models.BanMembers); err != nil {
		return nil, err
	}
	b, err := s.store.Ban(ctx, circleID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotBanned
	}
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteBan(ctx, circleID, userID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("unban: %w", err)
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditUnban, Actor: actor, Target: &b.User})
	return b, nil
}

// Bans lists a circle's bans; the user needs BanMembers.
func (s *Service) Bans(ctx context.Context, userID, circleID string) ([]*models.Ban, error) {
	if _, err := s.Require(ctx, circleID, userID, "", models.BanMembers); err != nil {
		return nil, err
	}
	return s.store.Bans(ctx, circleID)
}

// Timeout takes TimeoutPermissions from a member for d (0 lifts it); the
// actor needs ManageMembers.
func (s *Service) Timeout(ctx context.Context, actor models.UserRef, circleID, userID string, d time.Duration, reason string) (*Moderation, error) {
	if d < 0 || d > MaxTimeout {
		return nil, ErrInvalidTimeout
	}
	if !validFree(reason, MaxReason) {
		return nil, ErrInvalidText
	}
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.moderate(ctx, actor, circleID, userID, models.ManageMembers)
	if err != nil {
		return nil, err
	}
	cur := r.members[userID]
	if cur == nil {
		return nil, ErrNotMember
	}
	if r.perms(userID, "", s.now()).Has(models.Administrator) {
		return nil, ErrAdministrator
	}
	m := *cur
	m.TimeoutUntil = nil
	var until time.Time
	if d > 0 {
		until = s.now().Add(d)
		m.TimeoutUntil = &until
	}
	if err := s.store.SetTimeout(ctx, circleID, userID, until); err != nil {
		return nil, fmt.Errorf("timeout: %w", err)
	}
	if err := s.putMember(ctx, &m); err != nil {
		return nil, err
	}
	target := models.UserRef{ID: userID, Username: m.Username}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditTimeout, Actor: actor, Target: &target, Reason: reason,
		Details: map[string]any{"seconds": int64(d / time.Second)}})
	view, err := s.memberViewOf(ctx, circleID, userID)
	if err != nil {
		return nil, err
	}
	return &Moderation{Circle: r.circle, Target: target, Member: view}, nil
}

// runningTimeout returns when a timeout of userID in the circle ends,
// or nil when none is running. The membership goes when the member
// leaves or is kicked; the timeouts collection remembers the timeout, so
// leaving and joining again does not shed it.
func (s *Service) runningTimeout(ctx context.Context, circleID, userID string) (*time.Time, error) {
	until, err := s.store.Timeout(ctx, circleID, userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.now().Before(until) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find timeout: %w", err)
	}
	return &until, nil
}

func (s *Service) putMember(ctx context.Context, m *models.Member) error {
	defer s.Forget(m.CircleID)
	if err := s.store.PutMember(ctx, m); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotMember
		}
		return fmt.Errorf("store member: %w", err)
	}
	return nil
}

func (s *Service) memberViewOf(ctx context.Context, circleID, userID string) (*models.MemberView, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	m := r.members[userID]
	if m == nil {
		return nil, ErrNotMember
	}
	v := r.memberView(m, s.now())
	return &v, nil
}

// Member returns one member as member lists show them; any member may
// ask.
func (s *Service) Member(ctx context.Context, userID, circleID, memberID string) (*models.MemberView, error) {
	if ok, err := s.IsMember(ctx, circleID, userID); err != nil || !ok {
		if err == nil {
			err = ErrForbidden
		}
		return nil, err
	}
	return s.memberViewOf(ctx, circleID, memberID)
}

// SetNickname sets a member's nickname in the circle (empty clears it):
// their own, or another's below the actor with ManageMembers.
func (s *Service) SetNickname(ctx context.Context, actor models.UserRef, circleID, userID, nickname string) (*models.MemberView, error) {
	nickname = strings.TrimSpace(nickname)
	if !validFree(nickname, MaxNickname) || strings.ContainsAny(nickname, "\n\t") {
		return nil, ErrInvalidText
	}
	unlock := s.lock(circleID)
	defer unlock()
	var r *rules
	var err error
	if userID == actor.ID {
		r, err = s.rules(ctx, circleID)
		if err == nil && r.members[actor.ID] == nil {
			err = ErrForbidden
		}
	} else {
		r, err = s.moderate(ctx, actor, circleID, userID, models.ManageMembers)
	}
	if err != nil {
		return nil, err
	}
	cur := r.members[userID]
	if cur == nil {
		return nil, ErrNotMember
	}
	m := *cur
	m.Nickname = nickname
	if err := s.putMember(ctx, &m); err != nil {
		return nil, err
	}
	target := models.UserRef{ID: userID, Username: m.Username}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditNickname, Actor: actor, Target: &target, Details: map[string]any{"nickname": nickname}})
	return s.memberViewOf(ctx, circleID, userID)
}
