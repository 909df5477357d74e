package client

import (
	"context"

	"github.com/oshichat/oshi/models"
)

// RoleSpec is what CreateRole and EditRole set; nil fields are left out
// (unchanged by an edit, zero in a new role).
type RoleSpec struct {
	Name           string
	Color          *int
	Hoist          *bool
	SelfAssignable *bool
	Permissions    *models.Permission
}

func (s RoleSpec) frame(cmd, circleID string) map[string]any {
	f := map[string]any{"cmd": cmd, "circle": circleID}
	if s.Name != "" {
		f["name"] = s.Name
	}
	if s.Color != nil {
		f["color"] = *s.Color
	}
	if s.Hoist != nil {
		f["hoist"] = *s.Hoist
	}
	if s.SelfAssignable != nil {
		f["self_assignable"] = *s.SelfAssignable
	}
	if s.Permissions != nil {
		f["permissions"] = uint64(*s.Permissions)
	}
	return f
}

type roleReply struct {
	Role *models.Role `json:"role"`
}

func (c *Client) role(ctx context.Context, frame map[string]any) (*models.Role, error) {
	r, err := call[roleReply](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Role, nil
}

// CreateRole adds a role to a circle, just above the default role. It
// needs the ManageRoles permission, and grants only what the caller holds.
func (c *Client) CreateRole(ctx context.Context, circleID string, spec RoleSpec) (*models.Role, error) {
	return c.role(ctx, spec.frame("role_create", circleID))
}

// EditRole changes a role below the caller's highest one.
func (c *Client) EditRole(ctx context.Context, circleID, roleID string, spec RoleSpec) (*models.Role, error) {
	f := spec.frame("role_edit", circleID)
	f["role"] = roleID
	return c.role(ctx, f)
}

// MoveRole puts a role at a position of the hierarchy (1 is just above
// the default role).
func (c *Client) MoveRole(ctx context.Context, circleID, roleID string, position int) (*models.Role, error) {
	return c.role(ctx, map[string]any{"cmd": "role_move", "circle": circleID, "role": roleID, "position": position})
}

// DeleteRole removes a role; its members lose it.
func (c *Client) DeleteRole(ctx context.Context, circleID, roleID string) error {
	_, err := c.role(ctx, map[string]any{"cmd": "role_delete", "circle": circleID, "role": roleID})
	return err
}

// AssignRole gives a member a role (add) or takes it away. An empty
// userID means the caller, which works for self-assignable roles without
// ManageRoles.
func (c *Client) AssignRole(ctx context.Context, circleID, roleID, userID string, add bool) (*models.MemberView, error) {
	cmd := "role_assign"
	if !add {
		cmd = "role_remove"
	}
	f := map[string]any{"cmd": cmd, "circle": circleID, "role": roleID}
	if userID != "" {
		f["user"] = userID
	}
	r, err := call[struct {
		Member *models.MemberView `json:"member"`
	}](ctx, c, f)
	if err != nil {
		return nil, err
	}
	return r.Member, nil
}

// SetStreamPermissions sets what a role may do in a stream: deny is taken
// away, then allow added; both zero removes the overwrite.
func (c *Client) SetStreamPermissions(ctx context.Context, streamID, roleID string, allow, deny models.Permission) (*models.Stream, error) {
	r, err := call[streamReply](ctx, c, map[string]any{"cmd": "stream_permissions", "stream": streamID, "role": roleID, "allow": uint64(allow), "deny": uint64(deny)})
	if err != nil {
		return nil, err
	}
	return r.Stream, nil
}
