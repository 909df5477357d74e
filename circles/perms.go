package circles

import (
	"context"
	"fmt"

	"github.com/oshichat/oshi/models"
)

// Permissions returns what userID may do in circleID, and in streamID
// when it is not empty (the stream's overwrites applied). It returns
// ErrNotFound when the circle does not exist and ErrForbidden when userID
// is not a member.
func (s *Service) Permissions(ctx context.Context, circleID, userID, streamID string) (models.Permission, error) {
	c, err := s.RequireMember(ctx, circleID, userID)
	if err != nil {
		return 0, err
	}
	if c.OwnerID == userID {
		return models.AllPermissions, nil
	}
	return models.DefaultPermissions, nil
}

// Require returns the circle when userID is a member holding every
// permission of need (in streamID when it is not empty), else
// ErrForbidden naming what is missing.
func (s *Service) Require(ctx context.Context, circleID, userID, streamID string, need models.Permission) (*models.Circle, error) {
	c, err := s.RequireMember(ctx, circleID, userID)
	if err != nil {
		return nil, err
	}
	p, err := s.Permissions(ctx, circleID, userID, streamID)
	if err != nil {
		return nil, err
	}
	if !p.Has(need) {
		return nil, fmt.Errorf("missing permission %s: %w", need&^p, ErrForbidden)
	}
	return c, nil
}
