package circles

import (
	"errors"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
)

// TestPerms checks the permission arithmetic on hand-built rules: the
// default role, roles adding up, administrator and owner bypass, stream
// overwrites in order, timeouts, and streams one cannot see.
func TestPerms(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	earlier := now.Add(-time.Hour)
	const circle = "c"
	r := &rules{
		circle: &models.Circle{ID: circle, OwnerID: "owner"},
		roles: map[string]*models.Role{
			circle:  {ID: circle, Permissions: models.DefaultPermissions},
			"mod":   {ID: "mod", Position: 2, Permissions: models.ManageMessages | models.ManageMembers},
			"staff": {ID: "staff", Position: 1},
			"admin": {ID: "admin", Position: 3, Permissions: models.Administrator},
		},
		members: map[string]*models.Member{
			"owner":   {UserID: "owner"},
			"plain":   {UserID: "plain"},
			"mod":     {UserID: "mod", Roles: []string{"mod"}},
			"staff":   {UserID: "staff", Roles: []string{"staff"}},
			"admin":   {UserID: "admin", Roles: []string{"admin"}},
			"muted":   {UserID: "muted", TimeoutUntil: &later},
			"was":     {UserID: "was", TimeoutUntil: &earlier},
			"ghost":   {UserID: "ghost", Roles: []string{"deleted-role"}},
			"modstaf": {UserID: "modstaf", Roles: []string{"mod", "staff"}},
		},
		streams: map[string]*models.Stream{
			"general": {ID: "general"},
			// Only staff may see it.
			"staff-only": {ID: "staff-only", Overwrites: []models.Overwrite{
				{Role: circle, Deny: models.ViewStreams},
				{Role: "staff", Allow: models.ViewStreams},
			}},
			// Everyone reads, only mods post.
			"news": {ID: "news", Overwrites: []models.Overwrite{
				{Role: circle, Deny: models.SendMessages | models.AddReactions},
				{Role: "mod", Allow: models.SendMessages},
			}},
			// A role's deny loses to another role's allow.
			"mixed": {ID: "mixed", Overwrites: []models.Overwrite{
				{Role: "staff", Deny: models.SendMessages},
				{Role: "mod", Allow: models.SendMessages},
			}},
		},
	}
	tests := []struct {
		user, stream string
		want         models.Permission
	}{
		{"owner", "", models.AllPermissions},
		{"owner", "staff-only", models.AllPermissions},
		{"stranger", "", 0},
		{"plain", "", models.DefaultPermissions},
		{"plain", "general", models.DefaultPermissions},
		{"plain", "staff-only", 0},
		{"plain", "news", models.DefaultPermissions &^ (models.SendMessages | models.AddReactions)},
		{"plain", "no-such-stream", 0},
		{"owner", "no-such-stream", 0},
		{"mod", "", models.DefaultPermissions | models.ManageMessages | models.ManageMembers},
		{"mod", "news", models.DefaultPermissions&^models.AddReactions | models.ManageMessages | models.ManageMembers},
		{"staff", "staff-only", models.DefaultPermissions},
		{"staff", "mixed", models.DefaultPermissions &^ models.SendMessages},
		{"modstaf", "mixed", models.DefaultPermissions | models.ManageMessages | models.ManageMembers},
		{"admin", "staff-only", models.AllPermissions},
		{"muted", "", models.DefaultPermissions &^ models.TimeoutPermissions},
		{"muted", "general", models.DefaultPermissions &^ models.TimeoutPermissions},
		{"was", "", models.DefaultPermissions},
		{"ghost", "", models.DefaultPermissions},
	}
	for _, tt := range tests {
		if got := r.perms(tt.user, tt.stream, now); got != tt.want {
			t.Errorf("perms(%s, %q) = %s, want %s", tt.user, tt.stream, got, tt.want)
		}
	}

	ranks := map[string]int{"owner": int(^uint(0) >> 1), "plain": 0, "staff": 1, "mod": 2, "modstaf": 2, "admin": 3, "ghost": 0}
	for user, want := range ranks {
		if got := r.rank(user); got != want {
			t.Errorf("rank(%s) = %d, want %d", user, got, want)
		}
	}
	for _, tt := range []struct {
		actor, target string
		want          error
	}{
		{"mod", "plain", nil},
		{"mod", "staff", nil},
		{"mod", "modstaf", ErrHierarchy},
		{"mod", "admin", ErrHierarchy},
		{"admin", "owner", ErrOwner},
		{"owner", "admin", nil},
		{"plain", "plain", ErrHierarchy},
	} {
		if got := r.mayActOn(tt.actor, tt.target); got != tt.want {
			t.Errorf("mayActOn(%s, %s) = %v, want %v", tt.actor, tt.target, got, tt.want)
		}
	}
}

// TestRoleSpec checks what a role edit may set: nobody grants what they
// lack, but may leave such a permission in place; self-assignable roles
// hold no managing permission.
func TestRoleSpec(t *testing.T) {
	p := func(v models.Permission) *models.Permission { return &v }
	yes := true
	name := func(s string) *string { return &s }
	mod := models.DefaultPermissions | models.ManageRoles
	tests := []struct {
		name  string
		role  models.Role
		spec  RoleSpec
		actor models.Permission
		want  error
	}{
		{"grant held", models.Role{}, RoleSpec{Permissions: p(models.SendMessages)}, mod, nil},
		{"grant lacking", models.Role{}, RoleSpec{Permissions: p(models.BanMembers)}, mod, ErrGrant},
		{"keep lacking", models.Role{Permissions: models.BanMembers}, RoleSpec{Permissions: p(models.BanMembers | models.SendMessages)}, mod, nil},
		{"remove lacking", models.Role{Permissions: models.BanMembers}, RoleSpec{Permissions: p(0)}, mod, ErrGrant},
		{"unknown bit", models.Role{}, RoleSpec{Permissions: p(1 << 40)}, models.AllPermissions, ErrInvalidPerms},
		{"self-assignable manager", models.Role{}, RoleSpec{SelfAssignable: &yes, Permissions: p(models.ManageRoles)}, mod, ErrSelfAssignable},
		{"self-assignable plain", models.Role{}, RoleSpec{SelfAssignable: &yes, Permissions: p(models.SendMessages)}, mod, nil},
		{"bad name", models.Role{}, RoleSpec{Name: name("a\nb")}, mod, ErrInvalidName},
		{"bad color", models.Role{}, RoleSpec{Color: func() *int { v := 1 << 24; return &v }()}, mod, ErrInvalidColor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.role
			err := tt.spec.apply(&r, tt.actor)
			if tt.want == nil && err != nil || tt.want != nil && !errorIs(err, tt.want) {
				t.Fatalf("apply = %v, want %v", err, tt.want)
			}
		})
	}
}

func errorIs(err, target error) bool { return errors.Is(err, target) }

// TestPatchMember checks that a join or leave through this node changes
// a copy of the cached rules (readers of the old copy see it unchanged),
// and that rules still loading are forgotten rather than patched.
func TestPatchMember(t *testing.T) {
	const circle = "c"
	loaded := func() *rulesEntry {
		ready := make(chan struct{})
		close(ready)
		return &rulesEntry{ready: ready, loaded: time.Now(), r: &rules{
			circle:  &models.Circle{ID: circle, OwnerID: "owner"},
			roles:   map[string]*models.Role{circle: {ID: circle, Permissions: models.DefaultPermissions}},
			members: map[string]*models.Member{"owner": {UserID: "owner"}, "old": {UserID: "old"}},
			streams: map[string]*models.Stream{"general": {ID: "general"}},
		}}
	}
	s := &Service{cache: rulesCache{m: map[string]*rulesEntry{}}}
	now := time.Now()

	before := loaded()
	s.cache.m[circle] = before
	s.patchMember(circle, "new", &models.Member{UserID: "new"})
	s.patchMember(circle, "old", nil)
	after := s.cache.m[circle].r
	for _, tc := range []struct {
		name string
		r    *rules
		user string
		want models.Permission
	}{
		{"joined member, patched rules", after, "new", models.DefaultPermissions},
		{"left member, patched rules", after, "old", 0},
		{"joined member, old rules", before.r, "new", 0},
		{"left member, old rules", before.r, "old", models.DefaultPermissions},
	} {
		if got := tc.r.perms(tc.user, "general", now); got != tc.want {
			t.Errorf("%s: perms = %v, want %v", tc.name, got, tc.want)
		}
	}

	loading := &rulesEntry{ready: make(chan struct{}), loaded: now}
	s.cache.m[circle] = loading
	s.patchMember(circle, "new", &models.Member{UserID: "new"})
	if _, ok := s.cache.m[circle]; ok {
		t.Error("rules still loading were patched; want them forgotten")
	}
	s.patchMember("elsewhere", "new", &models.Member{UserID: "new"}) // nothing cached: nothing to do
	if len(s.cache.m) != 0 {
		t.Errorf("cache holds %d entries, want none", len(s.cache.m))
	}
}
