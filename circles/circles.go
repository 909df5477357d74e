// Package circles manages communities: creating and listing circles,
// joining and leaving them, invites, and the membership checks every other
// part of Oshi asks before it serves a circle's streams.
//
// Membership answers come from in-memory sets, a circle's members and a
// user's circles, each loaded from the store on first use and kept current
// by this Service's own Join and Leave (and Observe, for other nodes), so
// neither the publish path nor a reconnect scans the members collection.
package circles

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Errors returned by Service.
var (
	ErrNotFound          = errors.New("circle not found")
	ErrForbidden         = errors.New("not allowed")
	ErrInvalidName       = errors.New("name must be 1-100 characters without control characters")
	ErrInvalidVisibility = errors.New(`visibility must be "public" or "private"`)
	ErrInvalidInvite     = errors.New("invite code is unknown")
	ErrAlreadyMember     = errors.New("already a member")
	ErrNotMember         = errors.New("not a member")
	ErrOwnerCannotLeave  = errors.New("the owner cannot leave their circle")
)

// DefaultStream is the name of the channel every new circle starts with.
const DefaultStream = "general"

// MaxListed bounds circle_list.
const MaxListed = 100

// Config holds the limits a Service enforces. Zero values mean the
// documented defaults.
type Config struct {
	// MaxMembers bounds the members of one circle; 0 means 10000.
	MaxMembers int
	// MaxCircles bounds the circles one user belongs to; 0 means 100.
	MaxCircles int
	// MaxStreams bounds the streams of one circle; 0 means 200.
	MaxStreams int
	// MaxRoles bounds the roles of one circle, the default role
	// included; 0 means 100.
	MaxRoles int
}

func (c *Config) defaults() {
	if c.MaxMembers == 0 {
		c.MaxMembers = 10000
	}
	if c.MaxCircles == 0 {
		c.MaxCircles = 100
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = 200
	}
	if c.MaxRoles == 0 {
		c.MaxRoles = 100
	}
}

// Service implements circle rules on a Store. It is safe for concurrent use.
type Service struct {
	cfg   Config
	store store.Store
	now   func() time.Time

	members *sets // circle id → its members' ids
	joined  *sets // user id → the ids of the circles they belong to
}

// NewService returns a Service.
func NewService(st store.Store, cfg Config) *Service {
	cfg.defaults()
	s := &Service{cfg: cfg, store: st, now: models.Now}
	s.members = newSets(func(ctx context.Context, circleID string) ([]string, error) {
		ms, err := st.Members(ctx, circleID)
		if err != nil {
			return nil, fmt.Errorf("load members: %w", err)
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.UserID
		}
		return ids, nil
	})
	s.joined = newSets(func(ctx context.Context, userID string) ([]string, error) {
		ms, err := st.MembershipsOf(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("load memberships: %w", err)
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.CircleID
		}
		return ids, nil
	})
	return s
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Create makes a circle owned by owner, with a "general" channel.
func (s *Service) Create(ctx context.Context, owner *models.User, name string, vis models.Visibility) (*models.Circle, error) {
	name, ok := models.ValidName(name)
	if !ok {
		return nil, ErrInvalidName
	}
	if vis == "" {
		vis = models.Public
	}
	if vis != models.Public && vis != models.Private {
		return nil, ErrInvalidVisibility
	}
	now := s.now()
	c := &models.Circle{ID: newID(), Name: name, Visibility: vis, OwnerID: owner.ID, CreatedAt: now}
	general := &models.Stream{ID: newID(), Kind: models.Channel, CircleID: c.ID, Name: DefaultStream, CreatedAt: now}
	m := &models.Member{ID: newID(), CircleID: c.ID, UserID: owner.ID, Username: owner.Username, Roles: []string{"owner"}, JoinedAt: now}
	if err := s.store.CreateCircle(ctx, c, []*models.Stream{general}, m); err != nil {
		return nil, fmt.Errorf("create circle: %w", err)
	}
	s.remember(c.ID, owner.ID, true)
	c.Streams = []models.Stream{*general}
	return c, nil
}

// Get returns a circle by id.
func (s *Service) Get(ctx context.Context, id string) (*models.Circle, error) {
	c, err := s.store.Circle(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	return c, err
}

// ListPublic lists public circles, marking those userID belongs to.
func (s *Service) ListPublic(ctx context.Context, userID string) ([]*models.Circle, error) {
	cs, err := s.store.PublicCircles(ctx, MaxListed)
	if err != nil {
		return nil, err
	}
	// The user's circles, not one member list per circle.
	ids, err := s.joined.list(ctx, userID)
	if err != nil {
		return nil, err
	}
	mine := make(map[string]bool, len(ids))
	for _, id := range ids {
		mine[id] = true
	}
	for _, c := range cs {
		member := mine[c.ID]
		c.Member = &member
	}
	return cs, nil
}

// ForUser returns the circles a user belongs to, each with its streams.
func (s *Service) ForUser(ctx context.Context, userID string) ([]*models.Circle, error) {
	ids, err := s.joined.list(ctx, userID)
	if err != nil {
		return nil, err
	}
	cs, err := s.store.CirclesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	if err := s.withStreams(ctx, cs...); err != nil {
		return nil, err
	}
	return cs, nil
}

func (s *Service) withStreams(ctx context.Context, cs ...*models.Circle) error {
	ids := make([]string, len(cs))
	byID := make(map[string]*models.Circle, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
		byID[c.ID] = c
		c.Streams = []models.Stream{}
	}
	streams, err := s.store.StreamsOfCircles(ctx, ids)
	if err != nil {
		return err
	}
	for _, st := range streams {
		if c := byID[st.CircleID]; c != nil {
			c.Streams = append(c.Streams, *st)
		}
	}
	return nil
}

// Join adds user to a public circle.
func (s *Service) Join(ctx context.Context, user *models.User, circleID string) (*models.Circle, error) {
	c, err := s.Get(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if c.Visibility != models.Public {
		return nil, fmt.Errorf("join private circle without invite: %w", ErrForbidden)
	}
	return s.join(ctx, user, c)
}

// JoinInvite adds user to the circle an invite code belongs to.
func (s *Service) JoinInvite(ctx context.Context, user *models.User, code string) (*models.Circle, error) {
	inv, err := s.store.Invite(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidInvite
	}
	if err != nil {
		return nil, err
	}
	c, err := s.Get(ctx, inv.CircleID)
	if err != nil {
		return nil, err
	}
	return s.join(ctx, user, c)
}

func (s *Service) join(ctx context.Context, user *models.User, c *models.Circle) (*models.Circle, error) {
	m := &models.Member{ID: newID(), CircleID: c.ID, UserID: user.ID, Username: user.Username, Roles: []string{}, JoinedAt: s.now()}
	if err := s.store.AddMember(ctx, m); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, ErrAlreadyMember
		}
		return nil, fmt.Errorf("join circle: %w", err)
	}
	s.remember(c.ID, user.ID, true)
	if err := s.withStreams(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Leave removes userID from a circle. The owner cannot leave.
func (s *Service) Leave(ctx context.Context, userID, circleID string) (*models.Circle, error) {
	c, err := s.Get(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if c.OwnerID == userID {
		return nil, ErrOwnerCannotLeave
	}
	if err := s.store.RemoveMember(ctx, circleID, userID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotMember
		}
		return nil, fmt.Errorf("leave circle: %w", err)
	}
	s.remember(circleID, userID, false)
	return c, nil
}

// CreateInvite makes an invite code for a circle; any member may.
func (s *Service) CreateInvite(ctx context.Context, userID, circleID string) (*models.Invite, error) {
	if _, err := s.RequireMember(ctx, circleID, userID); err != nil {
		return nil, err
	}
	raw := make([]byte, 9)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("create invite: %w", err)
	}
	inv := &models.Invite{Code: base64.RawURLEncoding.EncodeToString(raw), CircleID: circleID, CreatorID: userID, CreatedAt: s.now()}
	if err := s.store.CreateInvite(ctx, inv); err != nil {
		return nil, fmt.Errorf("create invite: %w", err)
	}
	return inv, nil
}

// RequireMember returns the circle when userID belongs to it, ErrNotFound
// when it does not exist and ErrForbidden when userID is not a member.
func (s *Service) RequireMember(ctx context.Context, circleID, userID string) (*models.Circle, error) {
	c, err := s.Get(ctx, circleID)
	if err != nil {
		return nil, err
	}
	ok, err := s.IsMember(ctx, circleID, userID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrForbidden
	}
	return c, nil
}

// IsMember reports whether userID belongs to circleID, from memory once
// the circle's members are loaded.
func (s *Service) IsMember(ctx context.Context, circleID, userID string) (bool, error) {
	return s.members.has(ctx, circleID, userID)
}

// Limits returns the limits the Service enforces, defaults filled in.
func (s *Service) Limits() Config { return s.cfg }

// MemberIDs returns the ids of a circle's members, from memory once
// loaded.
func (s *Service) MemberIDs(ctx context.Context, circleID string) ([]string, error) {
	return s.members.list(ctx, circleID)
}

// CircleIDs returns the ids of the circles userID belongs to, from
// memory once loaded.
func (s *Service) CircleIDs(ctx context.Context, userID string) ([]string, error) {
	return s.joined.list(ctx, userID)
}

// Observe records a membership change another node made, so this node's
// answers stay true.
func (s *Service) Observe(circleID, userID string, member bool) {
	s.remember(circleID, userID, member)
}

// remember records a membership write in both directions.
func (s *Service) remember(circleID, userID string, member bool) {
	s.members.set(circleID, userID, member)
	s.joined.set(userID, circleID, member)
}
