package gateway_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// mgCircle is the public circle "Gophers" the moderation and management
// tests run in: alice owns it, the others join as a test asks.
type mgCircle struct {
	t       *testing.T
	ctx     context.Context
	s       *oshitest.Server
	circle  *models.Circle
	general string
	aliceL  *client.Login
	alice   *client.Client
}

func newMgCircle(t *testing.T, cfg server.Config) *mgCircle {
	t.Helper()
	x := &mgCircle{t: t, ctx: ctxT(t), s: oshitest.NewServer(t, cfg)}
	x.aliceL, x.alice = x.s.User("alice")
	var err error
	if x.circle, err = x.alice.CreateCircle(x.ctx, "Gophers", models.Public); err != nil {
		t.Fatal(err)
	}
	x.general = x.circle.Streams[0].ID
	return x
}

// join registers a user, connects and joins the circle.
func (x *mgCircle) join(name string) (*client.Login, *client.Client) {
	x.t.Helper()
	l, c := x.s.User(name)
	if _, err := c.JoinCircle(x.ctx, x.circle.ID); err != nil {
		x.t.Fatalf("%s joins: %v", name, err)
	}
	return l, c
}

// role makes a role with the given permissions, as alice, and returns its
// id. A new role sits just above the default role, below the earlier ones.
func (x *mgCircle) role(name string, p models.Permission, extra ...any) string {
	x.t.Helper()
	frame := map[string]any{"cmd": "role_create", "circle": x.circle.ID, "name": name, "permissions": uint64(p)}
	for i := 0; i+1 < len(extra); i += 2 {
		frame[extra[i].(string)] = extra[i+1]
	}
	raw, err := x.alice.Request(x.ctx, frame)
	if err != nil {
		x.t.Fatalf("role_create %s: %v", name, err)
	}
	var r struct {
		Role models.Role `json:"role"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Role.ID == "" {
		x.t.Fatalf("role_create reply %s: %v", raw, err)
	}
	return r.Role.ID
}

// grant gives a member a role, as alice.
func (x *mgCircle) grant(roleID string, l *client.Login) {
	x.t.Helper()
	if _, err := x.alice.Request(x.ctx, map[string]any{"cmd": "role_assign", "circle": x.circle.ID, "role": roleID, "user": l.User.ID}); err != nil {
		x.t.Fatalf("role_assign to %s: %v", l.User.Username, err)
	}
}

// subscribe subscribes connections to a stream, failing the test on error.
func (x *mgCircle) subscribe(stream string, cs ...*client.Client) {
	x.t.Helper()
	for _, c := range cs {
		if _, err := c.Subscribe(x.ctx, stream, -1); err != nil {
			x.t.Fatalf("subscribe %s: %v", stream, err)
		}
	}
}

// mgSettle waits until every frame that what actor did before caused
// has reached each of cs, and drops their queued events. A connection
// serves its commands in order, so actor's ping returns once its earlier
// commands (and what they sent to others) are done; each c's ping then
// returns after every frame queued to c before it. Nothing is timed.
func mgSettle(t *testing.T, ctx context.Context, actor *client.Client, cs ...*client.Client) []client.Event {
	t.Helper()
	if err := actor.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var got []client.Event
	for _, c := range cs {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		for more := true; more; {
			select {
			case ev := <-c.Events():
				got = append(got, ev)
			default:
				more = false
			}
		}
	}
	return got
}

// mgNone fails the test if, once actor's earlier commands are done, an
// event of one of the given kinds has reached c (see mgSettle).
func mgNone(t *testing.T, ctx context.Context, actor, c *client.Client, cmds ...string) {
	t.Helper()
	for _, ev := range mgSettle(t, ctx, actor, c) {
		if slices.Contains(cmds, ev.Cmd) {
			t.Fatalf("unexpected %s event: %s", ev.Cmd, ev.Raw)
		}
	}
}

// mgNextBefore returns the next event of kind want from c, failing the
// test if one of the kinds in not comes first.
func mgNextBefore(t *testing.T, c *client.Client, want string, not ...string) client.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection closed while waiting for %s: %v", want, c.Err())
			}
			if ev.Cmd == want {
				return ev
			}
			if slices.Contains(not, ev.Cmd) {
				t.Fatalf("%s before %s: %s", ev.Cmd, want, ev.Raw)
			}
		case <-deadline:
			t.Fatalf("no %s event", want)
		}
	}
}

// mgCount counts a collection's documents matching filter, straight from
// the store.
func mgCount(t *testing.T, s *oshitest.Server, collection string, filter bson.D) int64 {
	t.Helper()
	n, err := s.Srv.Store().Database().Collection(collection).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mgUsernames(ms []models.MemberView) []string {
	var names []string
	for _, m := range ms {
		names = append(names, m.User.Username)
	}
	return names
}

func mgActions(es []*models.AuditEntry) []string {
	var as []string
	for _, e := range es {
		as = append(as, e.Action)
	}
	return as
}

// TestModerationRefusals tries every moderation command without the
// permission, on the owner, on someone at or above the actor's highest
// role, on the actor themselves and with bad arguments: each is refused
// with its code and nothing changes.
func TestModerationRefusals(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	senior := x.role("senior", models.ManageMembers|models.BanMembers)
	mod := x.role("mod", models.ManageMembers|models.BanMembers)
	kicker := x.role("kicker", models.ManageMembers)
	banner := x.role("banner", models.BanMembers)
	seniorL, _ := x.join("senior")
	modL, modC := x.join("mod")
	peerL, _ := x.join("peer")
	kickerL, kickerC := x.join("kicker")
	bannerL, bannerC := x.join("banner")
	plainL, plainC := x.join("plain")
	plain2L, plain2C := x.join("plain2")
	outsiderL, outsiderC := x.s.User("outsider")
	x.grant(senior, seniorL)
	x.grant(mod, modL)
	x.grant(mod, peerL)
	x.grant(kicker, kickerL)
	x.grant(banner, bannerL)
	mgSettle(t, ctx, x.alice, plain2C)

	circle := x.circle.ID
	alice, plain, plain2, peer, seniorID, self := x.aliceL.User.ID, plainL.User.ID, plain2L.User.ID, peerL.User.ID, seniorL.User.ID, modL.User.ID
	cases := []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"kick without manage_members", plainC, map[string]any{"cmd": "member_kick", "circle": circle, "user": plain2}, "forbidden"},
		{"ban without ban_members", plainC, map[string]any{"cmd": "member_ban", "circle": circle, "user": plain2}, "forbidden"},
		{"timeout without manage_members", plainC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": plain2, "seconds": 60}, "forbidden"},
		{"unban without ban_members", plainC, map[string]any{"cmd": "member_unban", "circle": circle, "user": plain2}, "forbidden"},
		{"ban_list without ban_members", plainC, map[string]any{"cmd": "ban_list", "circle": circle}, "forbidden"},
		{"nick of another without manage_members", plainC, map[string]any{"cmd": "member_nick", "circle": circle, "user": plain2, "nickname": "x"}, "forbidden"},
		{"kick with only ban_members", bannerC, map[string]any{"cmd": "member_kick", "circle": circle, "user": plain}, "forbidden"},
		{"timeout with only ban_members", bannerC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": plain, "seconds": 60}, "forbidden"},
		{"ban with only manage_members", kickerC, map[string]any{"cmd": "member_ban", "circle": circle, "user": plain}, "forbidden"},
		{"unban with only manage_members", kickerC, map[string]any{"cmd": "member_unban", "circle": circle, "user": plain}, "forbidden"},
		{"kick by a stranger", outsiderC, map[string]any{"cmd": "member_kick", "circle": circle, "user": plain}, "forbidden"},
		{"ban by a stranger", outsiderC, map[string]any{"cmd": "member_ban", "circle": circle, "user": plain}, "forbidden"},
		{"kick the owner", modC, map[string]any{"cmd": "member_kick", "circle": circle, "user": alice}, "owner_protected"},
		{"ban the owner", modC, map[string]any{"cmd": "member_ban", "circle": circle, "user": alice, "reason": "coup"}, "owner_protected"},
		{"time out the owner", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": alice, "seconds": 60}, "owner_protected"},
		{"nick of the owner", modC, map[string]any{"cmd": "member_nick", "circle": circle, "user": alice, "nickname": "x"}, "owner_protected"},
		{"kick an equal", modC, map[string]any{"cmd": "member_kick", "circle": circle, "user": peer}, "hierarchy"},
		{"ban an equal", modC, map[string]any{"cmd": "member_ban", "circle": circle, "user": peer}, "hierarchy"},
		{"ban a superior", modC, map[string]any{"cmd": "member_ban", "circle": circle, "user": seniorID}, "hierarchy"},
		{"kick a superior", kickerC, map[string]any{"cmd": "member_kick", "circle": circle, "user": self}, "hierarchy"},
		{"time out a superior", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": seniorID, "seconds": 60}, "hierarchy"},
		{"nick of an equal", modC, map[string]any{"cmd": "member_nick", "circle": circle, "user": peer, "nickname": "x"}, "hierarchy"},
		{"kick oneself", modC, map[string]any{"cmd": "member_kick", "circle": circle, "user": self}, "invalid_target"},
		{"ban oneself", modC, map[string]any{"cmd": "member_ban", "circle": circle, "user": self}, "invalid_target"},
		{"time out oneself", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": self, "seconds": 60}, "invalid_target"},
		{"owner kicks themselves", x.alice, map[string]any{"cmd": "member_kick", "circle": circle, "user": alice}, "invalid_target"},
		{"owner bans themselves", x.alice, map[string]any{"cmd": "member_ban", "circle": circle, "user": alice}, "invalid_target"},
		{"kick a non-member", modC, map[string]any{"cmd": "member_kick", "circle": circle, "user": outsiderL.User.ID}, "not_member"},
		{"time out a non-member", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": outsiderL.User.ID, "seconds": 60}, "not_member"},
		{"ban an unknown user", modC, map[string]any{"cmd": "member_ban", "circle": circle, "user": "no-such-user"}, "user_not_found"},
		{"unban someone not banned", modC, map[string]any{"cmd": "member_unban", "circle": circle, "user": plain}, "not_banned"},
		{"kick with a control character in the reason", modC, map[string]any{"cmd": "member_kick", "circle": circle, "user": plain, "reason": "bye\x07"}, "invalid_text"},
		{"ban with a too long reason", modC, map[string]any{"cmd": "member_ban", "circle": circle, "user": plain, "reason": strings.Repeat("r", 513)}, "invalid_text"},
		{"timeout with a control character in the reason", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": plain, "seconds": 60, "reason": "\x1b[31m"}, "invalid_text"},
		{"kick without user", modC, map[string]any{"cmd": "member_kick", "circle": circle}, "bad_request"},
		{"ban without circle", modC, map[string]any{"cmd": "member_ban", "user": plain}, "bad_request"},
		{"timeout without seconds", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": plain}, "bad_request"},
		{"negative timeout", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": plain, "seconds": -1}, "invalid_timeout"},
		{"timeout past 28 days", modC, map[string]any{"cmd": "member_timeout", "circle": circle, "user": plain, "seconds": 28*24*3600 + 1}, "invalid_timeout"},
		{"nick without nickname", modC, map[string]any{"cmd": "member_nick", "circle": circle, "user": plain}, "bad_request"},
		{"kick in an unknown circle", modC, map[string]any{"cmd": "member_kick", "circle": "no-such-circle", "user": plain}, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.as.Request(ctx, tc.frame)
			if got := client.Code(err); got != tc.want {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.want)
			}
		})
	}

	// Nothing changed: all eight are members, untimed and unnamed, nobody
	// is banned, nobody was told of anything, nothing was audited.
	members, _, err := x.alice.Members(ctx, circle, "", 0)
	if err != nil || len(members) != 8 {
		t.Fatalf("members = %v, %v; want 8", mgUsernames(members), err)
	}
	for _, m := range members {
		if m.TimeoutUntil != nil || m.Nickname != "" {
			t.Fatalf("member changed: %+v", m)
		}
	}
	if bans, err := x.alice.Bans(ctx, circle); err != nil || len(bans) != 0 {
		t.Fatalf("bans = %v, %v", bans, err)
	}
	mgNone(t, ctx, modC, plain2C, "member_remove", "member_update", "circle_removed")
	for _, action := range []string{"member_kick", "member_ban", "member_unban", "member_timeout", "member_nick"} {
		if es, _, err := x.alice.AuditLog(ctx, circle, client.AuditFilter{Action: action}); err != nil || len(es) != 0 {
			t.Fatalf("audit %s = %v, %v; want none", action, mgActions(es), err)
		}
	}
}

// TestModerationRemovesAtOnce kicks and bans, as the owner and as a
// moderator: every connection of the removed member is told and drops
// the circle's streams before the moderator has the answer, the members
// are told, and the removed member can do nothing in the circle.
func TestModerationRemovesAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cmd   string
		byMod bool
	}{
		{"kick by the owner", "member_kick", false},
		{"kick by a moderator", "member_kick", true},
		{"ban by the owner", "member_ban", false},
		{"ban by a moderator", "member_ban", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newMgCircle(t, server.Config{})
			ctx := x.ctx
			mod := x.role("mod", models.ManageMembers|models.BanMembers)
			modL, modC := x.join("mod")
			x.grant(mod, modL)
			victimL, v1 := x.join("victim")
			v2 := x.s.Dial(victimL)
			_, watcher := x.join("watcher")
			x.subscribe(x.general, x.alice, modC, v1, v2, watcher)
			mgSettle(t, ctx, x.alice, v1, v2, watcher, modC)

			actor, actorL := x.alice, x.aliceL
			if tc.byMod {
				actor, actorL = modC, modL
			}
			ban := tc.cmd == "member_ban"
			raw, err := actor.Request(ctx, map[string]any{"cmd": tc.cmd, "circle": x.circle.ID, "user": victimL.User.ID, "reason": "spam"})
			if err != nil {
				t.Fatal(err)
			}
			var reply struct {
				Circle string          `json:"circle"`
				User   *models.UserRef `json:"user"`
				Reason string          `json:"reason"`
				Ban    bool            `json:"ban"`
			}
			if err := json.Unmarshal(raw, &reply); err != nil || reply.Circle != x.circle.ID || reply.User == nil ||
				reply.User.ID != victimL.User.ID || reply.User.Username != "victim" || reply.Reason != "spam" || reply.Ban != ban {
				t.Fatalf("reply = %s", raw)
			}
			// Posted right after the moderator's answer: it must not reach
			// the removed member.
			if _, err := watcher.Send(ctx, x.general, "after the removal", ""); err != nil {
				t.Fatal(err)
			}
			for _, v := range []*client.Client{v1, v2} {
				ev := mgNextBefore(t, v, "circle_removed", "message_new")
				if ev.Circle != x.circle.ID || ev.By == nil || ev.By.ID != actorL.User.ID || ev.Reason != "spam" || ev.Ban != ban {
					t.Fatalf("circle_removed = %s", ev.Raw)
				}
			}
			for _, c := range []*client.Client{x.alice, modC, watcher} {
				ev := nextEvent(t, c, "member_remove")
				if ev.Circle != x.circle.ID || ev.User == nil || ev.User.ID != victimL.User.ID || ev.By == nil ||
					ev.By.ID != actorL.User.ID || ev.Reason != "spam" || ev.Ban != ban {
					t.Fatalf("member_remove = %s", ev.Raw)
				}
				if ev := nextEvent(t, c, "message_new"); ev.Message.Content != "after the removal" {
					t.Fatalf("message_new = %s", ev.Raw)
				}
			}
			if _, err := x.alice.Send(ctx, x.general, "later", ""); err != nil {
				t.Fatal(err)
			}
			for _, v := range []*client.Client{v1, v2} {
				mgNone(t, ctx, x.alice, v, "message_new", "member_remove")
			}

			// Nothing in the circle is theirs any more, on either
			// connection.
			for _, v := range []*client.Client{v1, v2} {
				_, err := v.Subscribe(ctx, x.general, -1)
				wantCode(t, err, "forbidden")
				_, err = v.Send(ctx, x.general, "let me back", "")
				wantCode(t, err, "forbidden")
				_, err = v.History(ctx, x.general, client.HistoryQuery{})
				wantCode(t, err, "forbidden")
				_, _, err = v.Members(ctx, x.circle.ID, "", 0)
				wantCode(t, err, "forbidden")
			}
			if cs, err := v1.ListCircles(ctx); err != nil || len(cs) != 1 || cs[0].Member == nil || *cs[0].Member {
				t.Fatalf("victim's circle_list = %v, %v", cs, err)
			}
			if r := x.s.Dial(victimL).Ready(); len(r.Circles) != 0 {
				t.Fatalf("a new connection's ready still has %d circles", len(r.Circles))
			}
			members, _, err := x.alice.Members(ctx, x.circle.ID, "", 0)
			if err != nil || strings.Join(mgUsernames(members), ",") != "alice,mod,watcher" {
				t.Fatalf("members = %v, %v", mgUsernames(members), err)
			}
			if n := mgCount(t, x.s, store.MembersCollection, bson.D{{Key: "circle_id", Value: x.circle.ID}, {Key: "user_id", Value: victimL.User.ID}}); n != 0 {
				t.Fatalf("%d membership documents left", n)
			}

			// A kicked member may come back, and their other connection
			// follows the circle again; a banned one may not.
			_, err = v1.JoinCircle(ctx, x.circle.ID)
			if ban {
				wantCode(t, err, "banned")
				return
			}
			if err != nil {
				t.Fatalf("rejoin after a kick: %v", err)
			}
			if ev := nextEvent(t, v2, "circle_join"); ev.Circle != x.circle.ID {
				t.Fatalf("circle_join = %s", ev.Raw)
			}
			x.subscribe(x.general, v2)
			if _, err := x.alice.Send(ctx, x.general, "welcome back", ""); err != nil {
				t.Fatal(err)
			}
			if ev := nextEvent(t, v2, "message_new"); ev.Message.Content != "welcome back" {
				t.Fatalf("message_new = %s", ev.Raw)
			}
		})
	}
}

// TestBanKeepsOut: a banned user cannot come back as public nor by
// invite, a user who never joined can be banned, ban_list lists them, and
// after member_unban they can join again.
func TestBanKeepsOut(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	bobL, bob := x.join("bob")
	carolL, carol := x.s.User("carol")
	_, dave := x.join("dave")
	code, err := x.alice.CreateInvite(ctx, x.circle.ID)
	if err != nil {
		t.Fatal(err)
	}

	if err := x.alice.Ban(ctx, x.circle.ID, bobL.User.ID, "spam"); err != nil {
		t.Fatal(err)
	}
	// carol never joined; she is banned all the same.
	if err := x.alice.Ban(ctx, x.circle.ID, carolL.User.ID, ""); err != nil {
		t.Fatal(err)
	}
	// The members heard of bob's removal, not of carol's ban.
	var removed []string
	for _, ev := range mgSettle(t, ctx, x.alice, dave) {
		if ev.Cmd == "member_remove" {
			removed = append(removed, ev.User.Username)
		}
	}
	if !slices.Equal(removed, []string{"bob"}) {
		t.Fatalf("member_remove events for %v, want bob only", removed)
	}
	for _, c := range []*client.Client{bob, carol} {
		_, err := c.JoinCircle(ctx, x.circle.ID)
		wantCode(t, err, "banned")
		_, err = c.JoinInvite(ctx, code)
		wantCode(t, err, "banned")
	}
	bans, err := x.alice.Bans(ctx, x.circle.ID)
	if err != nil || len(bans) != 2 {
		t.Fatalf("bans = %v, %v", bans, err)
	}
	if b := bans[0]; b.CircleID != x.circle.ID || b.User.ID != bobL.User.ID || b.User.Username != "bob" || b.Reason != "spam" ||
		b.By.ID != x.aliceL.User.ID || b.CreatedAt.IsZero() {
		t.Fatalf("bob's ban = %+v", b)
	}
	if b := bans[1]; b.User.ID != carolL.User.ID || b.Reason != "" {
		t.Fatalf("carol's ban = %+v", b)
	}
	// The invite was not spent by the refused joins.
	if invs, err := x.alice.ListInvites(ctx, x.circle.ID); err != nil || len(invs) != 1 || invs[0].Uses != 0 {
		t.Fatalf("invites = %v, %v", invs, err)
	}

	// Refusals of unban first; then it works, once.
	wantCode(t, dave.Unban(ctx, x.circle.ID, bobL.User.ID), "forbidden")
	wantCode(t, dave.Unban(ctx, x.circle.ID, "no-such-user"), "forbidden")
	if err := x.alice.Unban(ctx, x.circle.ID, bobL.User.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, x.alice.Unban(ctx, x.circle.ID, bobL.User.ID), "not_banned")
	if _, err := bob.JoinCircle(ctx, x.circle.ID); err != nil {
		t.Fatalf("bob joins after unban: %v", err)
	}
	if err := x.alice.Unban(ctx, x.circle.ID, carolL.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.JoinInvite(ctx, code); err != nil {
		t.Fatalf("carol joins by invite after unban: %v", err)
	}
	if bans, err := x.alice.Bans(ctx, x.circle.ID); err != nil || len(bans) != 0 {
		t.Fatalf("bans after unban = %v, %v", bans, err)
	}
	if n := mgCount(t, x.s, store.BansCollection, bson.D{{Key: "circle_id", Value: x.circle.ID}}); n != 0 {
		t.Fatalf("%d ban documents left", n)
	}
}

// TestMemberTimeout: a timed-out member can read but not send, react or
// edit until the timeout is lifted; the members see member_update.
func TestMemberTimeout(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	mod := x.role("mod", models.ManageMembers)
	modL, modC := x.join("mod")
	x.grant(mod, modL)
	bobL, bob := x.join("bob")
	_, carol := x.join("carol")
	x.subscribe(x.general, bob, carol)
	earlier, err := bob.Send(ctx, x.general, "before the timeout", "")
	if err != nil {
		t.Fatal(err)
	}
	mgSettle(t, ctx, bob, bob, carol)

	before := time.Now()
	m, err := x.alice.Timeout(ctx, x.circle.ID, bobL.User.ID, 10*time.Minute, "cool down")
	if err != nil {
		t.Fatal(err)
	}
	if m.User.ID != bobL.User.ID || m.TimeoutUntil == nil || m.TimeoutUntil.Before(before.Add(10*time.Minute-time.Second)) ||
		m.Permissions.Has(models.SendMessages) || m.Permissions.Has(models.AddReactions) || !m.Permissions.Has(models.ReadHistory) {
		t.Fatalf("timeout reply = %+v", m)
	}
	for _, c := range []*client.Client{carol, bob} {
		ev := nextEvent(t, c, "member_update")
		if ev.Circle != x.circle.ID || ev.Member == nil || ev.Member.User.ID != bobL.User.ID || ev.Member.TimeoutUntil == nil {
			t.Fatalf("member_update = %s", ev.Raw)
		}
	}
	// bob's own view of the circle says he may not send.
	ev := nextEvent(t, bob, "circle_update")
	if ev.CircleInfo == nil || ev.CircleInfo.Me == nil || ev.CircleInfo.Me.TimeoutUntil == nil ||
		len(ev.CircleInfo.Streams) != 1 || ev.CircleInfo.Streams[0].Permissions.Has(models.SendMessages) {
		t.Fatalf("bob's circle_update = %s", ev.Raw)
	}

	_, err = bob.Send(ctx, x.general, "let me talk", "")
	wantCode(t, err, "forbidden")
	_, err = bob.React(ctx, x.general, earlier.ID, "👍")
	wantCode(t, err, "forbidden")
	_, err = bob.Edit(ctx, x.general, earlier.ID, "edited")
	wantCode(t, err, "forbidden")
	// He still reads, live and stored.
	if _, err := carol.Send(ctx, x.general, "you can still read this", ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, bob, "message_new"); ev.Message.Content != "you can still read this" {
		t.Fatalf("message_new = %s", ev.Raw)
	}
	hist, err := bob.History(ctx, x.general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[0].Content != "before the timeout" || hist[0].EditedAt != nil || len(hist[0].ReactionCounts) != 0 {
		t.Fatalf("history = %v, %v", hist, err)
	}
	entries, _, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{Action: "member_timeout"})
	if err != nil || len(entries) != 1 || entries[0].Target == nil || entries[0].Target.ID != bobL.User.ID ||
		entries[0].Reason != "cool down" || entries[0].Actor.ID != x.aliceL.User.ID {
		t.Fatalf("audit = %v, %v", entries, err)
	}

	// The moderator lifts it with 0 seconds.
	mgSettle(t, ctx, x.alice, carol)
	m, err = modC.Timeout(ctx, x.circle.ID, bobL.User.ID, 0, "")
	if err != nil || m.TimeoutUntil != nil || !m.Permissions.Has(models.SendMessages) {
		t.Fatalf("lift = %+v, %v", m, err)
	}
	if ev := nextEvent(t, carol, "member_update"); ev.Member == nil || ev.Member.User.ID != bobL.User.ID || ev.Member.TimeoutUntil != nil {
		t.Fatalf("member_update after lift = %s", ev.Raw)
	}
	if _, err := bob.Send(ctx, x.general, "thanks", ""); err != nil {
		t.Fatalf("send after the timeout is lifted: %v", err)
	}
	if _, err := bob.React(ctx, x.general, earlier.ID, "👍"); err != nil {
		t.Fatalf("react after the timeout is lifted: %v", err)
	}
}

// TestMemberTimeoutSurvivesRejoin: leaving and joining again, or being
// kicked and coming back, does not end a timeout; lifting it does.
func TestMemberTimeoutSurvivesRejoin(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	bobL, bob := x.join("bob")
	id := x.circle.ID
	if _, err := x.alice.Timeout(ctx, id, bobL.User.ID, 10*time.Minute, "cool down"); err != nil {
		t.Fatal(err)
	}
	rejoin := func(how string, out func() error) {
		t.Helper()
		if err := out(); err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		c, err := bob.JoinCircle(ctx, id)
		if err != nil {
			t.Fatalf("join after %s: %v", how, err)
		}
		if c.Me == nil || c.Me.TimeoutUntil == nil || c.Streams[0].Permissions.Has(models.SendMessages) {
			t.Fatalf("after %s bob is no longer timed out: %+v", how, c.Me)
		}
		_, err = bob.Send(ctx, x.general, "free again?", "")
		wantCode(t, err, "forbidden")
	}
	rejoin("leaving", func() error { return bob.LeaveCircle(ctx, id) })
	rejoin("a kick", func() error { return x.alice.Kick(ctx, id, bobL.User.ID, "") })

	if _, err := x.alice.Timeout(ctx, id, bobL.User.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := bob.LeaveCircle(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, err := bob.JoinCircle(ctx, id); err != nil || c.Me.TimeoutUntil != nil {
		t.Fatalf("join after the lift = %+v, %v", c, err)
	}
	if _, err := bob.Send(ctx, x.general, "free again", ""); err != nil {
		t.Fatalf("send after the lift: %v", err)
	}
}

// TestMemberNick: a member sets their own nickname, a moderator another's;
// member_list shows it and the members get member_update.
func TestMemberNick(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	bobL, bob := x.join("bob")
	_, carol := x.join("carol")
	mgSettle(t, ctx, x.alice, carol)

	for _, tc := range []struct {
		nick, want string
	}{
		{strings.Repeat("n", 33), "invalid_text"},
		{"two\nlines", "invalid_text"},
		{"tab\there", "invalid_text"},
		{"bell\x07", "invalid_text"},
	} {
		_, err := bob.SetNickname(ctx, x.circle.ID, "", tc.nick)
		wantCode(t, err, tc.want)
	}
	_, err := bob.SetNickname(ctx, x.circle.ID, x.aliceL.User.ID, "boss")
	wantCode(t, err, "forbidden")
	_, err = carol.SetNickname(ctx, x.circle.ID, bobL.User.ID, "victim")
	wantCode(t, err, "forbidden")

	m, err := bob.SetNickname(ctx, x.circle.ID, "", "  Bobby  ")
	if err != nil || m.User.ID != bobL.User.ID || m.Nickname != "Bobby" {
		t.Fatalf("own nick = %+v, %v", m, err)
	}
	if ev := nextEvent(t, carol, "member_update"); ev.Member == nil || ev.Member.User.ID != bobL.User.ID || ev.Member.Nickname != "Bobby" {
		t.Fatalf("member_update = %s", ev.Raw)
	}
	m, err = x.alice.SetNickname(ctx, x.circle.ID, bobL.User.ID, "Robert")
	if err != nil || m.Nickname != "Robert" {
		t.Fatalf("owner sets bob's nick = %+v, %v", m, err)
	}
	if ev := nextEvent(t, carol, "member_update"); ev.Member.Nickname != "Robert" {
		t.Fatalf("member_update = %s", ev.Raw)
	}
	members, _, err := carol.Members(ctx, x.circle.ID, "", 0)
	if err != nil || len(members) != 3 || members[1].User.ID != bobL.User.ID || members[1].Nickname != "Robert" {
		t.Fatalf("members = %+v, %v", members, err)
	}
	if m, err := bob.SetNickname(ctx, x.circle.ID, bobL.User.ID, ""); err != nil || m.Nickname != "" {
		t.Fatalf("clear nick = %+v, %v", m, err)
	}
	entries, _, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{Action: "member_nick"})
	if err != nil || len(entries) != 3 || entries[1].Actor.ID != x.aliceL.User.ID || entries[1].Target.ID != bobL.User.ID {
		t.Fatalf("audit = %v, %v", entries, err)
	}
}

// TestAuditLog records kicks, bans, unbans, timeouts and role changes
// with who did what to whom and why, and reads them back filtered and
// paged, only with view_audit_log.
func TestAuditLog(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	mod := x.role("mod", models.ManageMembers|models.BanMembers)
	modL, modC := x.join("mod")
	x.grant(mod, modL)
	bobL, bob := x.join("bob")
	carolL, _ := x.join("carol")
	daveL, _ := x.join("dave")
	alice := x.aliceL.User.ID

	if err := modC.Kick(ctx, x.circle.ID, bobL.User.ID, "spam"); err != nil {
		t.Fatal(err)
	}
	if err := x.alice.Ban(ctx, x.circle.ID, carolL.User.ID, "abuse"); err != nil {
		t.Fatal(err)
	}
	if err := x.alice.Unban(ctx, x.circle.ID, carolL.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := modC.Timeout(ctx, x.circle.ID, daveL.User.ID, time.Minute, "calm"); err != nil {
		t.Fatal(err)
	}

	// Refusals first.
	if _, err := bob.JoinCircle(ctx, x.circle.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{bob, modC} {
		_, _, err := c.AuditLog(ctx, x.circle.ID, client.AuditFilter{})
		wantCode(t, err, "forbidden")
	}
	_, _, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{Action: "member_dance"})
	wantCode(t, err, "bad_request")
	_, err = x.alice.Request(ctx, map[string]any{"cmd": "audit_log", "circle": x.circle.ID, "limit": -1})
	wantCode(t, err, "bad_request")
	_, _, err = x.alice.AuditLog(ctx, "no-such-circle", client.AuditFilter{})
	wantCode(t, err, "not_found")

	all, next, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{})
	if err != nil || next != "" {
		t.Fatalf("audit_log: next %q, %v", next, err)
	}
	want := []string{"member_timeout", "member_unban", "member_ban", "member_kick", "role_assign", "role_create"}
	if got := mgActions(all); !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	check := func(e *models.AuditEntry, actor, target, reason string) {
		t.Helper()
		if e.ID == "" || e.CircleID != x.circle.ID || e.Actor.ID != actor || e.At.IsZero() || e.Reason != reason ||
			target != "" && (e.Target == nil || e.Target.ID != target || e.Target.Username == "") {
			t.Fatalf("%s entry = %+v", e.Action, e)
		}
	}
	check(all[0], modL.User.ID, daveL.User.ID, "calm")
	check(all[1], alice, carolL.User.ID, "")
	check(all[2], alice, carolL.User.ID, "abuse")
	check(all[3], modL.User.ID, bobL.User.ID, "spam")
	check(all[4], alice, modL.User.ID, "")
	check(all[5], alice, "", "")
	if all[4].TargetID != mod || all[5].TargetID != mod || all[5].Details["name"] != "mod" {
		t.Fatalf("role entries = %+v, %+v", all[4], all[5])
	}
	if secs, _ := all[0].Details["seconds"].(float64); secs != 60 {
		t.Fatalf("timeout details = %v", all[0].Details)
	}

	ids := func(es []*models.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	pick := func(keep func(*models.AuditEntry) bool) []string {
		var out []string
		for _, e := range all {
			if keep(e) {
				out = append(out, e.ID)
			}
		}
		return out
	}
	pivot := all[2].At // the ban
	filters := []struct {
		name string
		f    client.AuditFilter
		want []string
	}{
		{"actor", client.AuditFilter{Actor: modL.User.ID}, []string{all[0].ID, all[3].ID}},
		{"target user", client.AuditFilter{Target: carolL.User.ID}, []string{all[1].ID, all[2].ID}},
		{"target role", client.AuditFilter{Target: mod}, []string{all[4].ID, all[5].ID}},
		{"action", client.AuditFilter{Action: "member_ban"}, []string{all[2].ID}},
		{"actor and action", client.AuditFilter{Actor: alice, Action: "member_kick"}, nil},
		{"since", client.AuditFilter{Since: pivot}, pick(func(e *models.AuditEntry) bool { return !e.At.Before(pivot) })},
		{"until", client.AuditFilter{Until: pivot}, pick(func(e *models.AuditEntry) bool { return e.At.Before(pivot) })},
		{"since and until", client.AuditFilter{Since: all[5].At, Until: all[0].At.Add(time.Millisecond)}, ids(all)},
		{"nobody", client.AuditFilter{Actor: "nobody"}, nil},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			es, _, err := x.alice.AuditLog(ctx, x.circle.ID, tc.f)
			if err != nil || !slices.Equal(ids(es), tc.want) {
				t.Fatalf("entries = %v (%v), %v; want %v", ids(es), mgActions(es), err, tc.want)
			}
		})
	}
	if len(pick(func(e *models.AuditEntry) bool { return e.At.Before(pivot) })) == 0 {
		// Not a failure of the server, but the since/until cases would
		// prove less: the setup made everything in one millisecond.
		t.Log("every entry has the same time")
	}

	// Pages of two, newest first, follow one another.
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatal("paging does not end")
		}
		es, next, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{Limit: 2, Cursor: cursor})
		if err != nil || len(es) > 2 {
			t.Fatalf("page %d = %v, %v", pages, ids(es), err)
		}
		paged = append(paged, ids(es)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(paged, ids(all)) {
		t.Fatalf("paged = %v, want %v", paged, ids(all))
	}

	// With a role holding view_audit_log, bob may read it too.
	auditor := x.role("auditor", models.ViewAuditLog)
	x.grant(auditor, bobL)
	es, _, err := bob.AuditLog(ctx, x.circle.ID, client.AuditFilter{Limit: 2})
	if err != nil || len(es) != 2 || es[0].Action != "role_assign" || es[1].Action != "role_create" || es[1].TargetID != auditor {
		t.Fatalf("bob's audit_log = %v, %v", mgActions(es), err)
	}
}
