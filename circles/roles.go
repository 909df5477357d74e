package circles

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Errors of role and moderation commands.
var (
	ErrRoleNotFound     = errors.New("role not found")
	ErrHierarchy        = errors.New("that is at or above your highest role")
	ErrGrant            = errors.New("cannot grant a permission you do not hold")
	ErrOwner            = errors.New("nobody can act on the circle's owner")
	ErrInvalidColor     = errors.New("color must be 0-16777215 (0xRRGGBB)")
	ErrInvalidPerms     = errors.New("permissions hold an unknown bit")
	ErrSelfAssignable   = errors.New("a self-assignable role cannot hold permissions that manage the circle or its members")
	ErrDefaultRole      = errors.New("the default role cannot be deleted, moved, renamed, assigned or removed")
	ErrInvalidPosition  = errors.New("position is out of range")
	ErrNotSelfAssigning = errors.New("only self-assignable roles may be taken or dropped by members themselves")
)

// managing are the permissions a self-assignable role may not hold: any
// member could take them.
const managing = models.Administrator | models.ManageCircle | models.ManageRoles | models.ManageStreams |
	models.ManageMembers | models.BanMembers | models.ViewAuditLog | models.ManageMessages | models.MentionEveryone

// RoleSpec is a role's settable fields; nil fields are left as they are
// (or take their zero value in a new role).
type RoleSpec struct {
	Name           *string
	Color          *int
	Hoist          *bool
	SelfAssignable *bool
	Permissions    *models.Permission
}

// apply checks spec and sets it on r. actor is what the acting member
// may do: they cannot grant more.
func (spec RoleSpec) apply(r *models.Role, actor models.Permission) error {
	if spec.Name != nil {
		name, ok := models.ValidName(*spec.Name)
		if !ok {
			return ErrInvalidName
		}
		r.Name = name
	}
	if spec.Color != nil {
		if *spec.Color < 0 || *spec.Color > 0xFFFFFF {
			return ErrInvalidColor
		}
		r.Color = *spec.Color
	}
	if spec.Hoist != nil {
		r.Hoist = *spec.Hoist
	}
	if spec.SelfAssignable != nil {
		r.SelfAssignable = *spec.SelfAssignable
	}
	if spec.Permissions != nil {
		p := *spec.Permissions
		if p&^models.AllPermissions != 0 {
			return ErrInvalidPerms
		}
		// Only what changes must be held: a moderator may edit a role
		// that already has a permission they lack, without touching it.
		if changed := p ^ r.Permissions; changed&^actor != 0 {
			return fmt.Errorf("%w: %s", ErrGrant, changed&^actor)
		}
		r.Permissions = p
	}
	if r.SelfAssignable && r.Permissions&managing != 0 {
		return ErrSelfAssignable
	}
	return nil
}

// RoleChange is what a role command changed, for the caller to announce
// and audit.
type RoleChange struct {
	Role *models.Role
	// Moved are the roles whose position changed besides Role.
	Moved []*models.Role
	// Members whose roles changed (a deleted role is taken from them).
	Members []*models.Member
}

// roleTarget finds a role the actor may manage: it exists in the circle
// and sits below the actor's highest role.
func (r *rules) roleTarget(actorID, roleID string) (*models.Role, error) {
	role := r.roles[roleID]
	if role == nil {
		return nil, ErrRoleNotFound
	}
	if role.Position >= r.rank(actorID) && role.ID != r.circle.ID {
		return nil, ErrHierarchy
	}
	return role, nil
}

// managedRole starts a change to a role: it locks the circle (the caller
// unlocks) and checks that the actor holds ManageRoles and that the role
// sits below their highest; the default role is refused unless
// defaultOK.
func (s *Service) managedRole(ctx context.Context, actor models.UserRef, circleID, roleID string, defaultOK bool) (*rules, *models.Role, func(), error) {
	unlock := s.lock(circleID)
	r, err := s.require(ctx, circleID, actor.ID, "", models.ManageRoles)
	var role *models.Role
	switch {
	case err != nil:
	case roleID == circleID && !defaultOK:
		err = ErrDefaultRole
	default:
		role, err = r.roleTarget(actor.ID, roleID)
	}
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return r, role, unlock, nil
}

// CreateRole adds a role to a circle just above the default role; the
// actor needs ManageRoles and may grant only what they hold.
func (s *Service) CreateRole(ctx context.Context, actor models.UserRef, circleID string, spec RoleSpec) (*RoleChange, error) {
	if spec.Name == nil {
		return nil, ErrInvalidName
	}
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.require(ctx, circleID, actor.ID, "", models.ManageRoles)
	if err != nil {
		return nil, err
	}
	if len(r.order) >= s.cfg.MaxRoles {
		return nil, fmt.Errorf("a circle may have at most %d roles: %w", s.cfg.MaxRoles, ErrLimit)
	}
	role := &models.Role{ID: newID(), CircleID: circleID, Position: 1, CreatedAt: s.now()}
	if err := spec.apply(role, r.perms(actor.ID, "", s.now())); err != nil {
		return nil, err
	}
	ch := &RoleChange{Role: role}
	// The others move up one to make room at position 1.
	for _, o := range r.order[1:] {
		moved := *o
		moved.Position++
		ch.Moved = append(ch.Moved, &moved)
	}
	if err := s.storeRoles(ctx, circleID, append(ch.Moved, role)); err != nil {
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditRoleCreate, Actor: actor, TargetID: role.ID, Details: map[string]any{"name": role.Name, "permissions": uint64(role.Permissions)}})
	return ch, nil
}

// storeRoles writes roles and forgets the circle's rules.
func (s *Service) storeRoles(ctx context.Context, circleID string, roles []*models.Role) error {
	defer s.Forget(circleID)
	for _, role := range roles {
		if err := s.store.PutRole(ctx, role); err != nil {
			return fmt.Errorf("store role: %w", err)
		}
	}
	return nil
}

// EditRole changes a role below the actor's highest one (or the default
// role); the actor needs ManageRoles. The default role keeps its name.
func (s *Service) EditRole(ctx context.Context, actor models.UserRef, circleID, roleID string, spec RoleSpec) (*RoleChange, error) {
	fixed := spec.Name != nil || spec.SelfAssignable != nil // not for the default role
	r, old, unlock, err := s.managedRole(ctx, actor, circleID, roleID, !fixed)
	if err != nil {
		return nil, err
	}
	defer unlock()
	role := *old
	if err := spec.apply(&role, r.perms(actor.ID, "", s.now())); err != nil {
		return nil, err
	}
	if err := s.storeRoles(ctx, circleID, []*models.Role{&role}); err != nil {
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditRoleEdit, Actor: actor, TargetID: role.ID, Details: map[string]any{"name": role.Name, "permissions": uint64(role.Permissions)}})
	return &RoleChange{Role: &role}, nil
}

// MoveRole puts a role at position (1 is just above the default role);
// the roles between its old and new place shift by one. Both places must
// be below the actor's highest role.
func (s *Service) MoveRole(ctx context.Context, actor models.UserRef, circleID, roleID string, position int) (*RoleChange, error) {
	r, role, unlock, err := s.managedRole(ctx, actor, circleID, roleID, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if position < 1 || position >= len(r.order) {
		return nil, ErrInvalidPosition
	}
	if position >= r.rank(actor.ID) {
		return nil, ErrHierarchy
	}
	order := slices.Clone(r.order[1:])
	order = slices.DeleteFunc(order, func(o *models.Role) bool { return o.ID == roleID })
	order = slices.Insert(order, position-1, role)
	ch := &RoleChange{}
	var changed []*models.Role
	for i, o := range order {
		if o.Position == i+1 {
			continue
		}
		moved := *o
		moved.Position = i + 1
		changed = append(changed, &moved)
		if o.ID == roleID {
			ch.Role = &moved
		} else {
			ch.Moved = append(ch.Moved, &moved)
		}
	}
	if ch.Role == nil {
		return &RoleChange{Role: role}, nil // already there
	}
	if err := s.storeRoles(ctx, circleID, changed); err != nil {
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditRoleMove, Actor: actor, TargetID: roleID, Details: map[string]any{"position": position}})
	return ch, nil
}

// DeleteRole removes a role below the actor's highest one; its members
// lose it and the roles above it move down one.
func (s *Service) DeleteRole(ctx context.Context, actor models.UserRef, circleID, roleID string) (*RoleChange, error) {
	r, role, unlock, err := s.managedRole(ctx, actor, circleID, roleID, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer s.Forget(circleID)
	ch := &RoleChange{Role: role}
	for _, m := range r.members {
		if !slices.Contains(m.Roles, roleID) {
			continue
		}
		changed := *m
		changed.Roles = slices.DeleteFunc(slices.Clone(m.Roles), func(id string) bool { return id == roleID })
		if err := s.store.PutMember(ctx, &changed); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("delete role: %w", err)
		}
		ch.Members = append(ch.Members, &changed)
	}
	if err := s.store.DeleteRole(ctx, roleID); err != nil {
		return nil, err
	}
	for _, o := range r.order {
		if o.Position > role.Position {
			moved := *o
			moved.Position--
			ch.Moved = append(ch.Moved, &moved)
		}
	}
	if err := s.storeRoles(ctx, circleID, ch.Moved); err != nil {
		return nil, err
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditRoleDelete, Actor: actor, TargetID: roleID, Details: map[string]any{"name": role.Name}})
	return ch, nil
}

// AssignRole gives (add) or takes a role from userID. A member may take
// or drop a self-assignable role themselves; otherwise the actor needs
// ManageRoles, the role must be below their highest one, and so must the
// member, who cannot be the owner. It returns the member as changed, or
// nil when nothing changed.
func (s *Service) AssignRole(ctx context.Context, actor models.UserRef, circleID, roleID, userID string, add bool) (*models.Member, error) {
	unlock := s.lock(circleID)
	defer unlock()
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if r.members[actor.ID] == nil {
		return nil, ErrForbidden
	}
	if roleID == circleID {
		return nil, ErrDefaultRole
	}
	role := r.roles[roleID]
	if role == nil {
		return nil, ErrRoleNotFound
	}
	target := r.members[userID]
	if target == nil {
		return nil, ErrNotMember
	}
	self := userID == actor.ID && role.SelfAssignable
	if !self {
		if _, err := s.require(ctx, circleID, actor.ID, "", models.ManageRoles); err != nil {
			if userID == actor.ID {
				return nil, ErrNotSelfAssigning
			}
			return nil, err
		}
		if err := r.mayActOn(actor.ID, userID); err != nil && userID != actor.ID {
			return nil, err
		}
		if _, err := r.roleTarget(actor.ID, roleID); err != nil {
			return nil, err
		}
	}
	if slices.Contains(target.Roles, roleID) == add {
		return nil, nil
	}
	changed := *target
	if add {
		changed.Roles = append(slices.Clone(target.Roles), roleID)
	} else {
		changed.Roles = slices.DeleteFunc(slices.Clone(target.Roles), func(id string) bool { return id == roleID })
	}
	defer s.Forget(circleID)
	if err := s.store.PutMember(ctx, &changed); err != nil {
		return nil, fmt.Errorf("assign role: %w", err)
	}
	action := AuditRoleAssign
	if !add {
		action = AuditRoleRemove
	}
	to := models.UserRef{ID: userID, Username: target.Username}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: action, Actor: actor, Target: &to, TargetID: roleID})
	return &changed, nil
}

// mayActOn checks that actor may moderate target: target is not the
// owner and ranks below actor.
func (r *rules) mayActOn(actorID, targetID string) error {
	if targetID == r.circle.OwnerID {
		return ErrOwner
	}
	if r.rank(targetID) >= r.rank(actorID) {
		return ErrHierarchy
	}
	return nil
}

// SetOverwrite sets what a role may do in one of the circle's streams:
// deny is taken away, then allow added; both zero removes the overwrite.
// The actor needs ManageRoles, the role must be the default one or below
// their highest, and they may allow or deny only what they hold.
func (s *Service) SetOverwrite(ctx context.Context, actor models.UserRef, streamID, roleID string, allow, deny models.Permission) (*models.Stream, error) {
	st, err := s.store.Stream(ctx, streamID)
	if errors.Is(err, store.ErrNotFound) || err == nil && st.CircleID == "" {
		return nil, ErrStreamNotFound
	}
	if err != nil {
		return nil, err
	}
	unlock := s.lock(st.CircleID)
	defer unlock()
	r, err := s.require(ctx, st.CircleID, actor.ID, "", models.ManageRoles)
	if err != nil {
		return nil, err
	}
	if (allow|deny)&^models.AllPermissions != 0 {
		return nil, ErrInvalidPerms
	}
	if _, err := r.roleTarget(actor.ID, roleID); err != nil {
		return nil, err
	}
	if held := r.perms(actor.ID, "", s.now()); (allow|deny)&^held != 0 {
		return nil, fmt.Errorf("%w: %s", ErrGrant, (allow|deny)&^held)
	}
	cur := r.streams[streamID]
	if cur == nil {
		return nil, ErrStreamNotFound
	}
	changed := *cur
	changed.Overwrites = slices.DeleteFunc(slices.Clone(cur.Overwrites), func(o models.Overwrite) bool { return o.Role == roleID })
	if allow != 0 || deny != 0 {
		changed.Overwrites = append(changed.Overwrites, models.Overwrite{Role: roleID, Allow: allow, Deny: deny &^ allow})
	}
	defer s.Forget(st.CircleID)
	if err := s.store.UpdateStreamInfo(ctx, &changed); err != nil {
		return nil, fmt.Errorf("set overwrite: %w", err)
	}
	s.audit(ctx, &models.AuditEntry{CircleID: st.CircleID, Action: AuditStreamPerms, Actor: actor, TargetID: streamID,
		Details: map[string]any{"role": roleID, "allow": uint64(allow), "deny": uint64(deny)}})
	return &changed, nil
}
