package circles

import (
	"context"
	"fmt"
	"slices"

	"github.com/oshichat/oshi/models"
)

// Audit actions of bots.
const (
	AuditBotAdd             = "bot_add"
	AuditCommandPermissions = "command_permissions"
)

func init() {
	auditActions = append(auditActions, AuditBotAdd, AuditCommandPermissions)
}

// AddBot makes a bot account a member of a circle, as a join would,
// without an invite and whatever the circle's visibility: the caller has
// checked that the member adding it may (gateway's circle_bot_add). A
// banned bot stays out (ErrBanned); the member and circle limits hold.
// It returns the circle as the bot sees it, and records actor's act in
// the audit log.
func (s *Service) AddBot(ctx context.Context, actor models.UserRef, bot *models.User, circleID string) (*models.Circle, error) {
	if !bot.Bot {
		return nil, fmt.Errorf("add %s as a bot: %w", bot.ID, ErrForbidden)
	}
	c, err := s.Get(ctx, circleID)
	if err != nil {
		return nil, err
	}
	view, err := s.join(ctx, bot, c, nil)
	if err != nil {
		return nil, err
	}
	target := bot.Ref()
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditBotAdd, Actor: actor, Target: &target})
	return view, nil
}

// AuditCommandRoles records in the circle's audit log that actor
// restricted a bot's command to roles (none: every member).
func (s *Service) AuditCommandRoles(ctx context.Context, actor models.UserRef, circleID string, bot models.UserRef, command string, roles []string) {
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditCommandPermissions, Actor: actor, Target: &bot,
		Details: map[string]any{"command": command, "roles": roles}})
}

// HoldsAnyRole reports whether userID, a member of circleID, holds one
// of the roles roleIDs (the default role, whose id is the circle's, is
// held by every member). The owner and members with Administrator pass
// any such restriction. A non-member holds nothing.
func (s *Service) HoldsAnyRole(ctx context.Context, circleID, userID string, roleIDs []string) (bool, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return false, err
	}
	m := r.members[userID]
	if m == nil {
		return false, nil
	}
	if r.perms(userID, "", s.now()).Has(models.Administrator) {
		return true, nil
	}
	for _, id := range roleIDs {
		if id == circleID || slices.Contains(m.Roles, id) {
			return true, nil
		}
	}
	return false, nil
}

// Role returns a role of a circle by id (the default role's id is the
// circle's); ErrRoleNotFound when the circle has none such.
func (s *Service) Role(ctx context.Context, circleID, roleID string) (*models.Role, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	role := r.roles[roleID]
	if role == nil {
		return nil, ErrRoleNotFound
	}
	return role, nil
}

// Stream returns a stream (or thread) of a circle by id from the loaded
// rules; ErrStreamNotFound when the circle has none such.
func (s *Service) Stream(ctx context.Context, circleID, streamID string) (*models.Stream, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if st := r.streams[streamID]; st != nil {
		return st, nil
	}
	if st := r.threads[streamID]; st != nil {
		return st, nil
	}
	return nil, ErrStreamNotFound
}
