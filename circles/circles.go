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
	"slices"
	"sync"
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
	ErrBanned            = errors.New("banned from this circle")
	ErrLimit             = errors.New("limit reached")
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
	// MaxEmoji bounds the custom emoji of one circle; 0 means 50.
	MaxEmoji int
	// MaxActiveThreads bounds the threads of one stream that are not
	// archived; 0 means 1000. Threads do not count against MaxStreams.
	MaxActiveThreads int
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
	if c.MaxEmoji == 0 {
		c.MaxEmoji = 50
	}
	if c.MaxActiveThreads == 0 {
		c.MaxActiveThreads = 1000
	}
}

// Service implements circle rules on a Store. It is safe for concurrent use.
type Service struct {
	cfg   Config
	store store.Store
	now   func() time.Time

	members *sets // circle id → its members' ids
	joined  *sets // user id → the ids of the circles they belong to
	cache   rulesCache
	locks   [circleLocks]sync.Mutex // see lock
}

// circleLocks is how many locks serialize the changes to circles (lock).
const circleLocks = 64

// lock serializes the changes to one circle's rules on this node: each
// reads the rules, decides and writes, and two at once would lose one.
func (s *Service) lock(circleID string) func() {
	var h uint32 = 2166136261
	for i := 0; i < len(circleID); i++ {
		h = (h ^ uint32(circleID[i])) * 16777619
	}
	mu := &s.locks[h%circleLocks]
	mu.Lock()
	return mu.Unlock
}

// NewService returns a Service.
func NewService(st store.Store, cfg Config) *Service {
	cfg.defaults()
	s := &Service{cfg: cfg, store: st, now: models.Now, cache: rulesCache{m: make(map[string]*rulesEntry)}}
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

// Create makes a circle owned by owner, with a "general" channel and the
// default role.
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
	if err := s.checkCircleCount(ctx, owner.ID); err != nil {
		return nil, err
	}
	now := s.now()
	c := &models.Circle{ID: newID(), Name: name, Visibility: vis, OwnerID: owner.ID, CreatedAt: now}
	general := &models.Stream{ID: newID(), Kind: models.Channel, CircleID: c.ID, Name: DefaultStream, CreatedAt: now}
	m := &models.Member{ID: newID(), CircleID: c.ID, UserID: owner.ID, Username: owner.Username, Roles: []string{}, JoinedAt: now}
	if err := s.store.PutRole(ctx, defaultRole(c)); err != nil {
		return nil, fmt.Errorf("create circle: %w", err)
	}
	if err := s.store.CreateCircle(ctx, c, []*models.Stream{general}, m); err != nil {
		return nil, fmt.Errorf("create circle: %w", err)
	}
	s.remember(c.ID, owner.ID, true)
	return s.View(ctx, c.ID, owner.ID)
}

// checkCircleCount refuses a user who belongs to MaxCircles circles.
func (s *Service) checkCircleCount(ctx context.Context, userID string) error {
	ids, err := s.joined.list(ctx, userID)
	if err != nil {
		return err
	}
	if len(ids) >= s.cfg.MaxCircles {
		return fmt.Errorf("a user may belong to at most %d circles: %w", s.cfg.MaxCircles, ErrLimit)
	}
	return nil
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

// ForUser returns the circles a user belongs to as they see them (View),
// oldest first.
func (s *Service) ForUser(ctx context.Context, userID string) ([]*models.Circle, error) {
	ids, err := s.joined.list(ctx, userID)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids) // ids grow with time
	cs := make([]*models.Circle, 0, len(ids))
	for _, id := range ids {
		c, err := s.View(ctx, id, userID)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
			continue // deleted, or left, a moment ago
		}
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
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
	return s.join(ctx, user, c, nil)
}

// JoinInvite adds user to the circle an invite code belongs to. An
// expired or used-up invite is ErrInvalidInvite.
func (s *Service) JoinInvite(ctx context.Context, user *models.User, code string) (*models.Circle, error) {
	if code == "" || len(code) > 64 {
		return nil, ErrInvalidInvite
	}
	inv, err := s.store.Invite(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidInvite
	}
	if err != nil {
		return nil, err
	}
	if !inv.Usable(s.now()) {
		return nil, ErrInvalidInvite
	}
	c, err := s.Get(ctx, inv.CircleID)
	if err != nil {
		return nil, err
	}
	return s.join(ctx, user, c, inv)
}

func (s *Service) join(ctx context.Context, user *models.User, c *models.Circle, inv *models.Invite) (*models.Circle, error) {
	unlock := s.lock(c.ID)
	defer unlock()
	if _, err := s.store.Ban(ctx, c.ID, user.ID); err == nil {
		return nil, ErrBanned
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("join circle: %w", err)
	}
	if ok, err := s.IsMember(ctx, c.ID, user.ID); err != nil {
		return nil, err
	} else if ok {
		return nil, ErrAlreadyMember
	}
	ids, err := s.members.list(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if len(ids) >= s.cfg.MaxMembers {
		return nil, fmt.Errorf("a circle may have at most %d members: %w", s.cfg.MaxMembers, ErrLimit)
	}
	if err := s.checkCircleCount(ctx, user.ID); err != nil {
		return nil, err
	}
	if inv != nil {
		// Counted before the join: a join that then fails spends a use
		// rather than letting a limited invite admit one too many.
		inv.Uses++
		if err := s.store.PutInvite(ctx, inv); errors.Is(err, store.ErrNotFound) {
			return nil, ErrInvalidInvite // revoked meanwhile
		} else if err != nil {
			return nil, fmt.Errorf("use invite: %w", err)
		}
	}
	m := &models.Member{ID: newID(), CircleID: c.ID, UserID: user.ID, Username: user.Username, Roles: []string{}, JoinedAt: s.now(), Bot: user.Bot}
	if m.TimeoutUntil, err = s.runningTimeout(ctx, c.ID, user.ID); err != nil {
		return nil, fmt.Errorf("join circle: %w", err)
	}
	if err := s.store.AddMember(ctx, m); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, ErrAlreadyMember
		}
		return nil, fmt.Errorf("join circle: %w", err)
	}
	s.remember(c.ID, user.ID, true)
	s.patchMember(c.ID, user.ID, m)
	return s.View(ctx, c.ID, user.ID)
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
	s.patchMember(circleID, userID, nil)
	return c, nil
}

// MaxInviteAge is the longest an invite may last; MaxInviteUses the
// most joins one may admit.
const (
	MaxInviteAge  = 30 * 24 * time.Hour
	MaxInviteUses = 10000
)

// ErrInvalidInviteLimits is returned for an invite's bad max_age or
// max_uses.
var ErrInvalidInviteLimits = errors.New("max_age must be 0-2592000 seconds and max_uses 0-10000 (0: no limit)")

// CreateInvite makes an invite code for a circle; the user needs
// CreateInvites. maxAge (0: never expires) and maxUses (0: unlimited)
// bound it.
func (s *Service) CreateInvite(ctx context.Context, user models.UserRef, circleID string, maxAge time.Duration, maxUses int) (*models.Invite, error) {
	if maxAge < 0 || maxAge > MaxInviteAge || maxUses < 0 || maxUses > MaxInviteUses {
		return nil, ErrInvalidInviteLimits
	}
	if _, err := s.Require(ctx, circleID, user.ID, "", models.CreateInvites); err != nil {
		return nil, err
	}
	raw := make([]byte, 9)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("create invite: %w", err)
	}
	now := s.now()
	inv := &models.Invite{Code: base64.RawURLEncoding.EncodeToString(raw), CircleID: circleID, CreatorID: user.ID, Creator: &user, CreatedAt: now, MaxUses: maxUses}
	if maxAge > 0 {
		exp := now.Add(maxAge)
		inv.ExpiresAt = &exp
	}
	if err := s.store.CreateInvite(ctx, inv); err != nil {
		return nil, fmt.Errorf("create invite: %w", err)
	}
	s.audit(ctx, &models.AuditEntry{CircleID: circleID, Action: AuditInviteCreate, Actor: user, TargetID: MaskInvite(inv.Code),
		Details: map[string]any{"max_uses": maxUses, "max_age": int64(maxAge / time.Second)}})
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
