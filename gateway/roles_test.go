package gateway_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// community is a circle with an owner, a moderator holding the "mod"
// role and a plain member, all connected.
type community struct {
	s                 *oshitest.Server
	circle            *models.Circle
	general           string
	owner, mod, plain *client.Client
	ownerL, modL      *client.Login
	plainL            *client.Login
	modRole           *models.Role
}

func newCommunity(t *testing.T, ctx context.Context, modPerms models.Permission) *community {
	t.Helper()
	s := oshitest.NewServer(t, server.Config{})
	k := &community{s: s}
	k.ownerL, k.owner = s.User("owner")
	k.modL, k.mod = s.User("mod")
	k.plainL, k.plain = s.User("plain")
	var err error
	if k.circle, err = k.owner.CreateCircle(ctx, "Town", models.Public); err != nil {
		t.Fatal(err)
	}
	k.general = k.circle.Streams[0].ID
	for _, c := range []*client.Client{k.mod, k.plain} {
		if _, err := c.JoinCircle(ctx, k.circle.ID); err != nil {
			t.Fatal(err)
		}
	}
	if k.modRole, err = k.owner.CreateRole(ctx, k.circle.ID, client.RoleSpec{Name: "mod", Permissions: &modPerms}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.AssignRole(ctx, k.circle.ID, k.modRole.ID, k.modL.User.ID, true); err != nil {
		t.Fatal(err)
	}
	return k
}

// viewOf reads the circle as a fresh connection of l sees it in ready.
func (k *community) viewOf(t *testing.T, l *client.Login) *models.Circle {
	t.Helper()
	c := k.s.Dial(l)
	defer c.Close()
	for _, circle := range c.Ready().Circles {
		if circle.ID == k.circle.ID {
			return circle
		}
	}
	return nil
}

func streamIDs(c *models.Circle) []string {
	var ids []string
	for _, st := range c.Streams {
		ids = append(ids, st.ID)
	}
	return ids
}

// nextCircleUpdate waits for a circle_update whose circle satisfies ok.
func nextCircleUpdate(t *testing.T, c *client.Client, ok func(*models.Circle) bool) *models.Circle {
	t.Helper()
	for {
		ev := nextEvent(t, c, "circle_update")
		var upd struct {
			Circle *models.Circle `json:"circle"`
		}
		if err := json.Unmarshal(ev.Raw, &upd); err != nil {
			t.Fatalf("circle_update %s: %v", ev.Raw, err)
		}
		if ok(upd.Circle) {
			return upd.Circle
		}
	}
}

// nextMemberUpdate waits for a member_update about userID.
func nextMemberUpdate(t *testing.T, c *client.Client, userID string) models.MemberView {
	t.Helper()
	for {
		ev := nextEvent(t, c, "member_update")
		var upd struct {
			Member models.MemberView `json:"member"`
		}
		if err := json.Unmarshal(ev.Raw, &upd); err != nil {
			t.Fatalf("member_update %s: %v", ev.Raw, err)
		}
		if upd.Member.User.ID == userID {
			return upd.Member
		}
	}
}

func perm(p models.Permission) *models.Permission { return &p }

func TestRolesRefusals(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageRoles|models.ManageMessages)
	circle := k.circle.ID
	// A role below the moderator's, which they may manage.
	low, err := k.owner.CreateRole(ctx, circle, client.RoleSpec{Name: "low", Permissions: perm(models.SendMessages)})
	if err != nil {
		t.Fatal(err)
	}
	before := k.viewOf(t, k.ownerL)

	tests := []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"plain creates a role", k.plain, map[string]any{"cmd": "role_create", "circle": circle, "name": "x"}, "forbidden"},
		{"plain edits a role", k.plain, map[string]any{"cmd": "role_edit", "circle": circle, "role": low.ID, "name": "x"}, "forbidden"},
		{"plain assigns a role", k.plain, map[string]any{"cmd": "role_assign", "circle": circle, "role": low.ID, "user": k.modL.User.ID}, "forbidden"},
		{"plain takes a role that is not self-assignable", k.plain, map[string]any{"cmd": "role_assign", "circle": circle, "role": low.ID}, "not_self_assignable"},
		{"plain sets an overwrite", k.plain, map[string]any{"cmd": "stream_permissions", "stream": k.general, "role": circle, "deny": models.ViewStreams}, "forbidden"},
		{"mod grants what they lack", k.mod, map[string]any{"cmd": "role_create", "circle": circle, "name": "x", "permissions": models.BanMembers}, "cannot_grant"},
		{"mod raises a role past their own", k.mod, map[string]any{"cmd": "role_edit", "circle": circle, "role": low.ID, "permissions": models.Administrator}, "cannot_grant"},
		{"mod overwrites with what they lack", k.mod, map[string]any{"cmd": "stream_permissions", "stream": k.general, "role": circle, "allow": models.BanMembers}, "cannot_grant"},
		{"mod edits their own role", k.mod, map[string]any{"cmd": "role_edit", "circle": circle, "role": k.modRole.ID, "name": "boss"}, "hierarchy"},
		{"mod deletes their own role", k.mod, map[string]any{"cmd": "role_delete", "circle": circle, "role": k.modRole.ID}, "hierarchy"},
		{"mod gives their own role", k.mod, map[string]any{"cmd": "role_assign", "circle": circle, "role": k.modRole.ID, "user": k.plainL.User.ID}, "hierarchy"},
		{"mod moves a role up to theirs", k.mod, map[string]any{"cmd": "role_move", "circle": circle, "role": low.ID, "position": 2}, "hierarchy"},
		{"mod gives the owner a role", k.mod, map[string]any{"cmd": "role_assign", "circle": circle, "role": low.ID, "user": k.ownerL.User.ID}, "owner_protected"},
		{"mod takes the owner's role", k.mod, map[string]any{"cmd": "role_remove", "circle": circle, "role": low.ID, "user": k.ownerL.User.ID}, "owner_protected"},
		{"default role deleted", k.owner, map[string]any{"cmd": "role_delete", "circle": circle, "role": circle}, "default_role"},
		{"default role renamed", k.owner, map[string]any{"cmd": "role_edit", "circle": circle, "role": circle, "name": "all"}, "default_role"},
		{"default role assigned", k.owner, map[string]any{"cmd": "role_assign", "circle": circle, "role": circle, "user": k.plainL.User.ID}, "default_role"},
		{"unknown role", k.owner, map[string]any{"cmd": "role_edit", "circle": circle, "role": "nope", "name": "x"}, "role_not_found"},
		{"unknown bit", k.owner, map[string]any{"cmd": "role_create", "circle": circle, "name": "x", "permissions": uint64(1) << 40}, "invalid_permissions"},
		{"bad colour", k.owner, map[string]any{"cmd": "role_create", "circle": circle, "name": "x", "color": 1 << 24}, "invalid_color"},
		{"bad name", k.owner, map[string]any{"cmd": "role_create", "circle": circle, "name": "a\u0000b"}, "invalid_name"},
		{"no name", k.owner, map[string]any{"cmd": "role_create", "circle": circle}, "invalid_name"},
		{"self-assignable moderator", k.owner, map[string]any{"cmd": "role_create", "circle": circle, "name": "x", "self_assignable": true, "permissions": models.ManageMessages}, "self_assignable_permissions"},
		{"position out of range", k.owner, map[string]any{"cmd": "role_move", "circle": circle, "role": low.ID, "position": 9}, "invalid_position"},
		{"role_move without position", k.owner, map[string]any{"cmd": "role_move", "circle": circle, "role": low.ID}, "bad_request"},
		{"role_assign to a stranger", k.owner, map[string]any{"cmd": "role_assign", "circle": circle, "role": low.ID, "user": "nobody"}, "not_member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.c.Request(ctx, tt.frame)
			if got := client.Code(err); got != tt.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tt.code)
			}
		})
	}
	// Nothing changed, and the connections still work.
	after := k.viewOf(t, k.ownerL)
	b, _ := json.Marshal(before.Roles)
	a, _ := json.Marshal(after.Roles)
	if string(a) != string(b) {
		t.Fatalf("roles changed by refused commands:\nbefore %s\nafter  %s", b, a)
	}
	for _, c := range []*client.Client{k.owner, k.mod, k.plain} {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRolesManagedBelowOwnRank(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageRoles|models.ManageMessages|models.SendMessages)
	circle := k.circle.ID

	// The moderator creates a role (below theirs), edits it, gives it,
	// moves it and deletes it; every member hears of each change.
	helper, err := k.mod.CreateRole(ctx, circle, client.RoleSpec{Name: "helper", Permissions: perm(models.ManageMessages), Color: func() *int { v := 0x3366ff; return &v }()})
	if err != nil {
		t.Fatal(err)
	}
	if helper.Position != 1 {
		t.Fatalf("new role at position %d, want 1 (just above the default role)", helper.Position)
	}
	// Earlier updates (from the set-up) may come first.
	upd := nextCircleUpdate(t, k.plain, func(c *models.Circle) bool { return len(c.Roles) == 3 })
	if upd.Roles[0].ID != circle || upd.Roles[1].ID != helper.ID || upd.Roles[2].ID != k.modRole.ID {
		t.Fatalf("circle_update roles = %+v; want default, helper, mod", upd.Roles)
	}

	// The plain member cannot delete the owner's message, then can.
	msg, err := k.owner.Send(ctx, k.general, "rules: be nice", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.plain.Request(ctx, map[string]any{"cmd": "message_delete", "stream": k.general, "id": msg.ID})
	wantCode(t, err, "forbidden")
	if _, err := k.mod.AssignRole(ctx, circle, helper.ID, k.plainL.User.ID, true); err != nil {
		t.Fatal(err)
	}
	mu := nextMemberUpdate(t, k.owner, k.plainL.User.ID)
	if !slices.Contains(mu.Roles, helper.ID) || mu.Color != 0x3366ff {
		t.Fatalf("member_update = %+v", mu)
	}
	second, err := k.owner.Send(ctx, k.general, "second", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.plain.Request(ctx, map[string]any{"cmd": "message_delete", "stream": k.general, "id": second.ID}); err != nil {
		t.Fatalf("helper deleting a message: %v", err)
	}

	// Deleting the role takes the permission back at once.
	if err := k.mod.DeleteRole(ctx, circle, helper.ID); err != nil {
		t.Fatal(err)
	}
	_, err = k.plain.Request(ctx, map[string]any{"cmd": "message_delete", "stream": k.general, "id": msg.ID})
	wantCode(t, err, "forbidden")
	view := k.viewOf(t, k.plainL)
	if len(view.Roles) != 2 || len(view.Me.Roles) != 0 || view.Me.Permissions.Has(models.ManageMessages) {
		t.Fatalf("after delete: roles %+v, me %+v", view.Roles, view.Me)
	}
	if view.Roles[1].ID != k.modRole.ID || view.Roles[1].Position != 1 {
		t.Fatalf("roles above the deleted one did not move down: %+v", view.Roles)
	}
}

func TestRoleMove(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageRoles)
	circle := k.circle.ID
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		r, err := k.owner.CreateRole(ctx, circle, client.RoleSpec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	// Each new role goes to position 1: c, b, a, mod from the bottom.
	if _, err := k.owner.MoveRole(ctx, circle, ids[2], 3); err != nil {
		t.Fatal(err)
	}
	view := k.viewOf(t, k.ownerL)
	var got []string
	for _, r := range view.Roles {
		got = append(got, r.Name)
		if r.Position != len(got)-1 {
			t.Fatalf("role %s at position %d, want %d", r.Name, r.Position, len(got)-1)
		}
	}
	if want := []string{"everyone", "b", "a", "c", "mod"}; !slices.Equal(got, want) {
		t.Fatalf("roles bottom-up = %v, want %v", got, want)
	}
	// The moderator may move a role among those below theirs only.
	if _, err := k.mod.MoveRole(ctx, circle, ids[1], 1); err != nil {
		t.Fatal(err)
	}
	_, err := k.mod.MoveRole(ctx, circle, ids[1], 4)
	wantCode(t, err, "hierarchy")
}

// TestPrivateStream: a stream denied to the default role and allowed to a
// role is invisible to the others, in ready and circle_update, and
// refuses them everything; a live subscription ends at once when the
// overwrite takes the stream away.
func TestPrivateStream(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.SendMessages)
	circle := k.circle.ID
	staff, err := k.owner.CreateStream(ctx, circle, "staff")
	if err != nil {
		t.Fatal(err)
	}
	// The plain member follows it while it is still open to all.
	if _, err := k.plain.Subscribe(ctx, staff.ID, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, staff.ID, circle, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, staff.ID, k.modRole.ID, models.ViewStreams, 0); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, k.plain, "unsubscribed")
	if ev.Stream != staff.ID {
		t.Fatalf("unsubscribed %s, want %s", ev.Raw, staff.ID)
	}

	if v := k.viewOf(t, k.plainL); slices.Contains(streamIDs(v), staff.ID) {
		t.Fatalf("plain member's ready lists the private stream: %v", streamIDs(v))
	}
	if v := k.viewOf(t, k.modL); !slices.Contains(streamIDs(v), staff.ID) {
		t.Fatalf("staff's ready lacks the private stream: %v", streamIDs(v))
	}
	for _, frame := range []map[string]any{
		{"cmd": "subscribe", "stream": staff.ID},
		{"cmd": "subscribe", "stream": staff.ID, "since": 0},
		{"cmd": "history", "stream": staff.ID},
		{"cmd": "message_new", "stream": staff.ID, "content": "let me in"},
		{"cmd": "pins_list", "stream": staff.ID},
		{"cmd": "stream_ack", "stream": staff.ID, "seq": 0},
	} {
		raw, err := k.plain.Request(ctx, frame)
		if client.Code(err) != "forbidden" {
			t.Fatalf("%v: reply %s, err %v; want forbidden", frame, raw, err)
		}
	}
	if _, err := k.mod.Subscribe(ctx, staff.ID, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := k.mod.Send(ctx, staff.ID, "staff only", ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, k.mod, "message_new"); ev.Message.Content != "staff only" {
		t.Fatalf("staff got %s", ev.Raw)
	}
	noEvent(t, k.plain, 200*time.Millisecond, "message_new")

	// Lifting the overwrites shows it to everyone again.
	if _, err := k.owner.SetStreamPermissions(ctx, staff.ID, circle, 0, 0); err != nil {
		t.Fatal(err)
	}
	if v := k.viewOf(t, k.plainL); !slices.Contains(streamIDs(v), staff.ID) {
		t.Fatalf("the stream stayed hidden after its overwrite was removed: %v", streamIDs(v))
	}
}

// TestReadOnlyChannel: the default role may read an announcements
// channel but not post or react in it; a role allowed to post may.
func TestReadOnlyChannel(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.SendMessages)
	circle := k.circle.ID
	news, err := k.owner.CreateStream(ctx, circle, "news")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, news.ID, circle, 0, models.SendMessages|models.AddReactions); err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, news.ID, k.modRole.ID, models.SendMessages, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.plain.Subscribe(ctx, news.ID, -1); err != nil {
		t.Fatal(err)
	}
	m, err := k.mod.Send(ctx, news.ID, "release 1.0 is out", "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, k.plain, "message_new"); ev.Message.ID != m.ID {
		t.Fatalf("plain got %s", ev.Raw)
	}
	_, err = k.plain.Send(ctx, news.ID, "me too", "")
	wantCode(t, err, "forbidden")
	if !strings.Contains(err.Error(), "missing permission send_messages") {
		t.Fatalf("refusal %q does not name the missing permission", err)
	}
	_, err = k.plain.Request(ctx, map[string]any{"cmd": "message_react_add", "stream": news.ID, "id": m.ID, "emoji": "🎉"})
	wantCode(t, err, "forbidden")
	hist, err := k.plain.History(ctx, news.ID, client.HistoryQuery{})
	if err != nil || len(hist) != 1 {
		t.Fatalf("plain's history = %v, %v; want the one announcement", hist, err)
	}
	// ready tells each member what they may do there.
	for _, tc := range []struct {
		l    *client.Login
		send bool
	}{{k.plainL, false}, {k.modL, true}} {
		for _, st := range k.viewOf(t, tc.l).Streams {
			if st.ID == news.ID && (st.Permissions == nil || st.Permissions.Has(models.SendMessages) != tc.send) {
				t.Fatalf("%s's permissions in news = %v, want send %v", tc.l.User.Username, st.Permissions, tc.send)
			}
		}
	}
}

func TestSelfAssignableRole(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.ManageRoles)
	circle := k.circle.ID
	yes := true
	gamer, err := k.owner.CreateRole(ctx, circle, client.RoleSpec{Name: "gamer", SelfAssignable: &yes, Permissions: perm(models.SendMessages)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.plain.AssignRole(ctx, circle, gamer.ID, "", true)
	if err != nil || !slices.Contains(v.Roles, gamer.ID) {
		t.Fatalf("self-assign = %+v, %v", v, err)
	}
	if mu := nextMemberUpdate(t, k.owner, k.plainL.User.ID); !slices.Contains(mu.Roles, gamer.ID) {
		t.Fatalf("member_update %+v", mu)
	}
	// A self-assignable role is not a licence to hand it to others.
	_, err = k.plain.AssignRole(ctx, circle, gamer.ID, k.modL.User.ID, true)
	wantCode(t, err, "forbidden")
	if v, err = k.plain.AssignRole(ctx, circle, gamer.ID, "", false); err != nil || slices.Contains(v.Roles, gamer.ID) {
		t.Fatalf("self-remove = %+v, %v", v, err)
	}
	// Nor can it be turned into a moderator role later.
	_, err = k.owner.EditRole(ctx, circle, gamer.ID, client.RoleSpec{Permissions: perm(models.BanMembers)})
	wantCode(t, err, "self_assignable_permissions")
}

// TestAdministratorBypassesOverwrites: administrator holds every
// permission, in every stream, but still cannot act on the owner.
func TestAdministratorBypassesOverwrites(t *testing.T) {
	ctx := ctxT(t)
	k := newCommunity(t, ctx, models.Administrator)
	circle := k.circle.ID
	vault, err := k.owner.CreateStream(ctx, circle, "vault")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.owner.SetStreamPermissions(ctx, vault.ID, circle, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	if _, err := k.mod.Subscribe(ctx, vault.ID, 0); err != nil {
		t.Fatalf("administrator subscribing to a hidden stream: %v", err)
	}
	_, err = k.plain.Subscribe(ctx, vault.ID, 0)
	wantCode(t, err, "forbidden")
	// An administrator may create roles with any permission…
	if _, err := k.mod.CreateRole(ctx, circle, client.RoleSpec{Name: "bans", Permissions: perm(models.BanMembers)}); err != nil {
		t.Fatal(err)
	}
	// …but not touch the owner.
	_, err = k.mod.Request(ctx, map[string]any{"cmd": "member_kick", "circle": circle, "user": k.ownerL.User.ID})
	wantCode(t, err, "owner_protected")
	// A timeout would not bind an administrator, so it is refused.
	_, err = k.owner.Request(ctx, map[string]any{"cmd": "member_timeout", "circle": circle, "user": k.modL.User.ID, "seconds": 60})
	wantCode(t, err, "invalid_target")
}
