package circles

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oshichat/oshi/models"
)

// DefaultRoleName is the name of the role every member holds; its id is
// the circle's id.
const DefaultRoleName = "everyone"

// rules is what the permission answers of one circle need: the circle,
// its roles, its members' role assignments and timeouts, its streams'
// overwrites, and its custom emoji. It is loaded whole on first use and
// dropped whole (Forget) on any change, on this node or another, so the
// next answer reads it again: changes are rare next to the checks made
// on every post. A loaded rules is never modified.
type rules struct {
	circle  *models.Circle
	roles   map[string]*models.Role
	order   []*models.Role            // by position, the default role first
	members map[string]*models.Member // by user id
	streams map[string]*models.Stream // by id
	emojis  []models.Emoji            // custom emoji, oldest first (emoji.go)
	// threads are the circle's threads, archived ones too, by id; they
	// are not in streams (threads.go).
	threads map[string]*models.Stream
}

type rulesEntry struct {
	ready  chan struct{}
	r      *rules
	err    error
	loaded time.Time // when the load began
}

// rulesTTL bounds how long loaded rules are trusted. Every change
// forgets them at once, here and (over NATS) on the other nodes; the
// bound only limits the harm of a change notice another node missed.
const rulesTTL = time.Minute

type rulesCache struct {
	mu sync.RWMutex // read-held on every check (each post), written on loads
	m  map[string]*rulesEntry
}

// rules returns the loaded rules of a circle; ErrNotFound when it does
// not exist. A Forget during the load drops the entry, so a load that
// raced with a change serves only those who asked before the change.
func (s *Service) rules(ctx context.Context, circleID string) (*rules, error) {
	if circleID == "" || len(circleID) > 64 {
		return nil, ErrNotFound
	}
	now := time.Now()
	s.cache.mu.RLock()
	e, ok := s.cache.m[circleID]
	s.cache.mu.RUnlock()
	if ok && now.Sub(e.loaded) <= rulesTTL {
		select {
		case <-e.ready:
			return e.r, e.err
		default: // loading: wait below
		}
	}
	s.cache.mu.Lock()
	e, ok = s.cache.m[circleID]
	if ok && now.Sub(e.loaded) > rulesTTL {
		ok = false
	}
	if !ok {
		e = &rulesEntry{ready: make(chan struct{}), loaded: now}
		s.cache.m[circleID] = e
	}
	s.cache.mu.Unlock()
	if !ok {
		e.r, e.err = s.loadRules(ctx, circleID)
		if e.err != nil {
			s.cache.mu.Lock()
			if s.cache.m[circleID] == e {
				delete(s.cache.m, circleID)
			}
			s.cache.mu.Unlock()
		}
		close(e.ready)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return e.r, e.err
}

// Forget drops what the Service knows of a circle's rules (roles,
// members' roles and timeouts, streams), so the next check reads them
// from the store. Every change calls it; other nodes call it when told
// of a change.
func (s *Service) Forget(circleID string) {
	s.cache.mu.Lock()
	delete(s.cache.m, circleID)
	s.cache.mu.Unlock()
}

// patchMember updates the cached rules of a circle for a member who
// joined (m) or left (m nil) through this node, instead of forgetting
// them: joins are the most frequent change, and reloading a circle's
// rules reads its roles, members and streams, which the embedded store
// answers by reading those whole collections. Rules still loading are
// forgotten instead, as they may or may not hold the change. Other nodes
// forget their copy (membersTopic).
func (s *Service) patchMember(circleID, userID string, m *models.Member) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	e, ok := s.cache.m[circleID]
	if !ok {
		return
	}
	select {
	case <-e.ready:
	default:
		delete(s.cache.m, circleID)
		return
	}
	if e.err != nil {
		delete(s.cache.m, circleID)
		return
	}
	r := *e.r // a loaded rules is never modified: change a copy
	r.members = maps.Clone(e.r.members)
	if m != nil {
		r.members[userID] = m
	} else {
		delete(r.members, userID)
	}
	s.cache.m[circleID] = &rulesEntry{ready: e.ready, r: &r, loaded: e.loaded}
}

func (s *Service) loadRules(ctx context.Context, circleID string) (*rules, error) {
	c, err := s.Get(ctx, circleID)
	if err != nil {
		return nil, err
	}
	roles, err := s.store.Roles(ctx, circleID)
	if err != nil {
		return nil, fmt.Errorf("load roles: %w", err)
	}
	members, err := s.store.Members(ctx, circleID)
	if err != nil {
		return nil, fmt.Errorf("load members: %w", err)
	}
	streams, err := s.store.StreamsOfCircles(ctx, []string{circleID})
	if err != nil {
		return nil, fmt.Errorf("load streams: %w", err)
	}
	emojis, err := s.loadEmojis(ctx, circleID)
	if err != nil {
		return nil, err
	}
	r := &rules{
		circle:  c,
		roles:   make(map[string]*models.Role, len(roles)+1),
		members: make(map[string]*models.Member, len(members)),
		streams: make(map[string]*models.Stream, len(streams)),
		threads: make(map[string]*models.Stream),
		emojis:  emojis,
	}
	for _, role := range roles {
		r.roles[role.ID] = role
	}
	if r.roles[circleID] == nil {
		// Circles made before roles existed have no stored default role.
		r.roles[circleID] = defaultRole(c)
	}
	for _, role := range r.roles {
		r.order = append(r.order, role)
	}
	slices.SortFunc(r.order, func(a, b *models.Role) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), strings.Compare(a.ID, b.ID))
	})
	for _, m := range members {
		r.members[m.UserID] = m
	}
	for _, st := range streams {
		if st.Kind == models.Thread {
			r.threads[st.ID] = st
			continue
		}
		r.streams[st.ID] = st
	}
	return r, nil
}

func defaultRole(c *models.Circle) *models.Role {
	return &models.Role{ID: c.ID, CircleID: c.ID, Name: DefaultRoleName, Permissions: models.DefaultPermissions, CreatedAt: c.CreatedAt}
}

// perms computes what userID may do in the circle, and in streamID when
// it is not empty. Non-members may do nothing.
func (r *rules) perms(userID, streamID string, now time.Time) models.Permission {
	m := r.members[userID]
	gov := r.governing(streamID) // a thread's parent, or the stream itself
	if m == nil || streamID != "" && gov == nil {
		return 0 // not a member; a deleted stream, or another circle's
	}
	if r.circle.OwnerID == userID {
		return models.AllPermissions
	}
	p := r.roles[r.circle.ID].Permissions
	for _, id := range m.Roles {
		if role := r.roles[id]; role != nil {
			p |= role.Permissions
		}
	}
	if p.Has(models.Administrator) {
		return models.AllPermissions
	}
	if streamID != "" {
		p = r.overwrite(p, gov, m)
	}
	if m.TimeoutUntil != nil && now.Before(*m.TimeoutUntil) {
		p &^= models.TimeoutPermissions
	}
	if streamID != "" && !p.Has(models.ViewStreams) {
		return 0 // nothing can be done in a stream one cannot see
	}
	return p
}

// overwrite applies a stream's overwrites: the default role's first,
// then those of the member's roles together, each denying before it
// allows, so a role's allow beats the default role's deny.
func (r *rules) overwrite(p models.Permission, st *models.Stream, m *models.Member) models.Permission {
	var allow, deny models.Permission
	for _, o := range st.Overwrites {
		switch {
		case o.Role == r.circle.ID:
			p = p&^o.Deny | o.Allow
		case slices.Contains(m.Roles, o.Role):
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	return p&^deny | allow
}

// rank is where userID stands in the circle's hierarchy: the position of
// their highest role (0 for the default role alone); the owner outranks
// everyone.
func (r *rules) rank(userID string) int {
	if r.circle.OwnerID == userID {
		return math.MaxInt
	}
	top := 0
	if m := r.members[userID]; m != nil {
		for _, id := range m.Roles {
			if role := r.roles[id]; role != nil && role.Position > top {
				top = role.Position
			}
		}
	}
	return top
}

// Permissions returns what userID may do in circleID, and in streamID
// when it is not empty (the stream's overwrites applied). It returns
// ErrNotFound when the circle does not exist and ErrForbidden when userID
// is not a member.
func (s *Service) Permissions(ctx context.Context, circleID, userID, streamID string) (models.Permission, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return 0, err
	}
	if r.members[userID] == nil {
		return 0, ErrForbidden
	}
	return r.perms(userID, streamID, s.now()), nil
}

// Require returns the circle when userID is a member holding every
// permission of need (in streamID when it is not empty), else
// ErrForbidden naming what is missing.
func (s *Service) Require(ctx context.Context, circleID, userID, streamID string, need models.Permission) (*models.Circle, error) {
	r, err := s.require(ctx, circleID, userID, streamID, need)
	if err != nil {
		return nil, err
	}
	return r.circle, nil
}

func (s *Service) require(ctx context.Context, circleID, userID, streamID string, need models.Permission) (*rules, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	if r.members[userID] == nil {
		return nil, ErrForbidden
	}
	if p := r.perms(userID, streamID, s.now()); !p.Has(need) {
		return nil, &MissingError{Missing: need &^ p}
	}
	return r, nil
}

// View returns the circle as userID sees it: the streams they can view
// (ordered by position), each with their permissions in it, the roles,
// the custom emoji and their own member view. It returns ErrForbidden
// when userID is not a member.
func (s *Service) View(ctx context.Context, circleID, userID string) (*models.Circle, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	m := r.members[userID]
	if m == nil {
		return nil, ErrForbidden
	}
	now := s.now()
	out := *r.circle
	out.Streams = []models.Stream{}
	for _, st := range r.streams {
		p := r.perms(userID, st.ID, now)
		if !p.Has(models.ViewStreams) {
			continue
		}
		v := *st
		v.Pins = nil
		v.Permissions = &p
		out.Streams = append(out.Streams, v)
	}
	out.Streams = r.viewThreads(userID, now, out.Streams)
	sortStreams(out.Streams)
	out.Roles = make([]models.Role, len(r.order))
	for i, role := range r.order {
		out.Roles[i] = *role
	}
	mv := r.memberView(m, now)
	out.Me = &mv
	out.Emojis = slices.Clone(r.emojis)
	return &out, nil
}

func sortStreams(sts []models.Stream) {
	slices.SortFunc(sts, func(a, b models.Stream) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), strings.Compare(a.ID, b.ID))
	})
}

// memberView describes m as member lists show it.
func (r *rules) memberView(m *models.Member, now time.Time) models.MemberView {
	v := models.MemberView{
		User:        models.UserRef{ID: m.UserID, Username: m.Username, Bot: m.Bot},
		Nickname:    m.Nickname,
		Roles:       []string{},
		Permissions: r.perms(m.UserID, "", now),
		JoinedAt:    m.JoinedAt,
	}
	top := -1
	for _, id := range m.Roles {
		role := r.roles[id]
		if role == nil {
			continue
		}
		v.Roles = append(v.Roles, id)
		if role.Color != 0 && role.Position > top {
			top, v.Color = role.Position, role.Color
		}
	}
	if m.TimeoutUntil != nil && now.Before(*m.TimeoutUntil) {
		v.TimeoutUntil = m.TimeoutUntil
	}
	return v
}

// RoleNames maps the lower-cased names of a circle's roles, the default
// role left out, to their ids; for @role mentions.
func (s *Service) RoleNames(ctx context.Context, circleID string) (map[string]string, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(r.roles))
	for _, role := range r.order[1:] {
		names[strings.ToLower(role.Name)] = role.ID
	}
	return names, nil
}

// HasStream reports whether streamID is one of the circle's streams; a
// failure to load the circle counts as no.
func (s *Service) HasStream(ctx context.Context, circleID, streamID string) bool {
	r, err := s.rules(ctx, circleID)
	return err == nil && (r.streams[streamID] != nil || r.threads[streamID] != nil)
}

// RolePermissions returns a role's permissions in a circle (the default
// role's id is the circle's).
func (s *Service) RolePermissions(ctx context.Context, circleID, roleID string) (models.Permission, error) {
	r, err := s.rules(ctx, circleID)
	if err != nil {
		return 0, err
	}
	role := r.roles[roleID]
	if role == nil {
		return 0, ErrRoleNotFound
	}
	return role.Permissions, nil
}

// MissingError refuses an action for want of permissions. It is
// ErrForbidden (errors.Is), and its text names what is missing, which the
// protocol sends to the client.
type MissingError struct{ Missing models.Permission }

func (e *MissingError) Error() string {
	return "missing permission " + e.Missing.String() + ": " + ErrForbidden.Error()
}

// Is makes a MissingError match ErrForbidden.
func (e *MissingError) Is(target error) bool { return target == ErrForbidden }
