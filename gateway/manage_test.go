package gateway_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store"
)

// mgStored reads a circle document straight from the store.
func mgStored(t *testing.T, x *mgCircle) models.Circle {
	t.Helper()
	var c models.Circle
	err := x.s.Srv.Store().Database().Collection(store.CirclesCollection).
		FindOne(context.Background(), bson.D{{Key: "_id", Value: x.circle.ID}}).Decode(&c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mgStreamNames(c *models.Circle) string {
	var names []string
	for _, st := range c.Streams {
		names = append(names, st.Name)
	}
	return strings.Join(names, ",")
}

func mgRequests(t *testing.T, ctx context.Context, cases []struct {
	name  string
	as    *client.Client
	frame map[string]any
	want  string
}) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.as.Request(ctx, tc.frame)
			if got := client.Code(err); got != tc.want {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.want)
			}
		})
	}
}

func TestCircleEdit(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	manager := x.role("manager", models.ManageCircle)
	_, bob := x.join("bob")
	carolL, carol := x.join("carol")
	x.grant(manager, carolL)
	_, stranger := x.s.User("stranger")
	mgSettle(t, ctx, x.alice, x.alice, bob, carol)

	id := x.circle.ID
	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"without manage_circle", bob, map[string]any{"cmd": "circle_edit", "circle": id, "name": "Mine"}, "forbidden"},
		{"by a stranger", stranger, map[string]any{"cmd": "circle_edit", "circle": id, "name": "Mine"}, "forbidden"},
		{"control character in description", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "description": "a\x00b"}, "invalid_text"},
		{"escape in description", carol, map[string]any{"cmd": "circle_edit", "circle": id, "description": "\x1b[2J"}, "invalid_text"},
		{"too long description", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "description": strings.Repeat("d", 1001)}, "invalid_text"},
		{"newline in icon", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "icon": "https://x/\ny"}, "invalid_text"},
		{"control character in name", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "name": "Go\x01phers"}, "invalid_name"},
		{"blank name", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "name": "   "}, "invalid_name"},
		{"bad visibility", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "visibility": "secret"}, "invalid_visibility"},
		{"a bad field spoils the good ones", x.alice, map[string]any{"cmd": "circle_edit", "circle": id, "name": "Mine", "description": "\x07"}, "invalid_text"},
		{"nothing to change", x.alice, map[string]any{"cmd": "circle_edit", "circle": id}, "bad_request"},
		{"no circle", x.alice, map[string]any{"cmd": "circle_edit", "name": "Mine"}, "bad_request"},
		{"unknown circle", x.alice, map[string]any{"cmd": "circle_edit", "circle": "no-such-circle", "name": "Mine"}, "not_found"},
	})
	if c := mgStored(t, x); c.Name != "Gophers" || c.Description != "" || c.Icon != "" || c.Visibility != models.Public {
		t.Fatalf("stored circle changed: %+v", c)
	}
	mgNone(t, ctx, x.alice, bob, "circle_update")

	desc, icon, name := "line one\nline two", "https://example.com/i.png", "Rustaceans"
	c, err := x.alice.EditCircle(ctx, id, client.CircleEdit{Name: &name, Description: &desc, Icon: &icon})
	if err != nil || c.ID != id || c.Name != name || c.Description != desc || c.Icon != icon || c.Visibility != models.Public || len(c.Streams) != 1 {
		t.Fatalf("edit = %+v, %v", c, err)
	}
	for _, m := range []*client.Client{x.alice, bob, carol} {
		ev := nextEvent(t, m, "circle_update")
		if got := ev.CircleInfo; got == nil || ev.Circle != id || got.Name != name || got.Description != desc || got.Icon != icon || got.Me == nil {
			t.Fatalf("circle_update = %s", ev.Raw)
		}
	}

	// carol manages the circle through her role: she makes it private.
	c, err = carol.EditCircle(ctx, id, client.CircleEdit{Visibility: models.Private})
	if err != nil || c.Visibility != models.Private || c.Name != name {
		t.Fatalf("carol's edit = %+v, %v", c, err)
	}
	if ev := nextEvent(t, bob, "circle_update"); ev.CircleInfo.Visibility != models.Private {
		t.Fatalf("circle_update = %s", ev.Raw)
	}
	if cs, err := stranger.ListCircles(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("a private circle is listed: %v, %v", cs, err)
	}
	_, err = stranger.JoinCircle(ctx, id)
	wantCode(t, err, "forbidden")

	empty := ""
	if c, err := x.alice.EditCircle(ctx, id, client.CircleEdit{Description: &empty}); err != nil || c.Description != "" || c.Icon != icon {
		t.Fatalf("clear description = %+v, %v", c, err)
	}
	if c := mgStored(t, x); c.Name != name || c.Description != "" || c.Icon != icon || c.Visibility != models.Private || c.OwnerID != x.aliceL.User.ID {
		t.Fatalf("stored circle = %+v", c)
	}
	es, _, err := x.alice.AuditLog(ctx, id, client.AuditFilter{Action: "circle_edit"})
	if err != nil || len(es) != 3 || es[1].Actor.ID != carolL.User.ID || es[1].Details["visibility"] != "private" || es[2].Details["name"] != name {
		t.Fatalf("audit = %+v, %v", es, err)
	}
}

func TestCircleTransfer(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	admin := x.role("admin", models.Administrator)
	bobL, bob := x.join("bob")
	daveL, dave := x.join("dave")
	x.grant(admin, daveL)
	strangerL, stranger := x.s.User("stranger")
	id, alice := x.circle.ID, x.aliceL.User.ID

	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"by a member", bob, map[string]any{"cmd": "circle_transfer", "circle": id, "user": daveL.User.ID}, "not_owner"},
		{"by an administrator", dave, map[string]any{"cmd": "circle_transfer", "circle": id, "user": daveL.User.ID}, "not_owner"},
		{"by a stranger", stranger, map[string]any{"cmd": "circle_transfer", "circle": id, "user": strangerL.User.ID}, "forbidden"},
		{"to a non-member", x.alice, map[string]any{"cmd": "circle_transfer", "circle": id, "user": strangerL.User.ID}, "not_member"},
		{"to an unknown user", x.alice, map[string]any{"cmd": "circle_transfer", "circle": id, "user": "no-such-user"}, "not_member"},
		{"to oneself", x.alice, map[string]any{"cmd": "circle_transfer", "circle": id, "user": alice}, "invalid_target"},
		{"without user", x.alice, map[string]any{"cmd": "circle_transfer", "circle": id}, "bad_request"},
		{"unknown circle", x.alice, map[string]any{"cmd": "circle_transfer", "circle": "no-such-circle", "user": bobL.User.ID}, "not_found"},
	})
	if c := mgStored(t, x); c.OwnerID != alice {
		t.Fatalf("owner = %s", c.OwnerID)
	}
	mgSettle(t, ctx, x.alice, bob, dave)

	c, err := x.alice.TransferCircle(ctx, id, bobL.User.ID)
	if err != nil || c.OwnerID != bobL.User.ID || c.Me == nil || c.Me.Permissions.Has(models.ManageCircle) {
		t.Fatalf("transfer = %+v, %v", c, err)
	}
	for _, m := range []*client.Client{bob, dave} {
		if ev := nextEvent(t, m, "circle_update"); ev.CircleInfo.OwnerID != bobL.User.ID {
			t.Fatalf("circle_update = %s", ev.Raw)
		}
	}
	if c := mgStored(t, x); c.OwnerID != bobL.User.ID {
		t.Fatalf("stored owner = %s", c.OwnerID)
	}
	es, _, err := bob.AuditLog(ctx, id, client.AuditFilter{Action: "circle_transfer"})
	if err != nil || len(es) != 1 || es[0].Actor.ID != alice || es[0].Target == nil || es[0].Target.ID != bobL.User.ID {
		t.Fatalf("audit = %+v, %v", es, err)
	}

	// The new owner is protected, the old one is not; the old one may not
	// do what only owners may.
	err = dave.Kick(ctx, id, bobL.User.ID, "")
	wantCode(t, err, "owner_protected")
	err = x.alice.Kick(ctx, id, bobL.User.ID, "")
	wantCode(t, err, "forbidden")
	wantCode(t, x.alice.DeleteCircle(ctx, id), "not_owner")
	_, err = x.alice.TransferCircle(ctx, id, alice)
	wantCode(t, err, "not_owner")
	wantCode(t, bob.LeaveCircle(ctx, id), "owner_cannot_leave")
	if err := bob.Kick(ctx, id, alice, "retired"); err != nil {
		t.Fatalf("the new owner kicks the old one: %v", err)
	}
	if ev := nextEvent(t, x.alice, "circle_removed"); ev.Circle != id || ev.Reason != "retired" {
		t.Fatalf("circle_removed = %s", ev.Raw)
	}
}

func TestCircleDelete(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	admin := x.role("admin", models.Administrator)
	bobL, b1 := x.join("bob")
	b2 := x.s.Dial(bobL)
	daveL, dave := x.join("dave")
	x.grant(admin, daveL)
	strangerL, stranger := x.s.User("stranger")
	id := x.circle.ID

	random, err := x.alice.CreateStream(ctx, id, "random")
	if err != nil {
		t.Fatal(err)
	}
	streamIDs := []string{x.general, random.ID}
	x.subscribe(x.general, b1, b2)
	x.subscribe(random.ID, b1, b2)
	for _, st := range streamIDs {
		if _, err := x.alice.Send(ctx, st, "hello", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b1.Ack(ctx, st, 1); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := x.alice.CreateInviteWith(ctx, id, time.Hour, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.alice.Ban(ctx, id, strangerL.User.ID, "spam"); err != nil {
		t.Fatal(err)
	}
	// Another circle of alice's, which must not be touched.
	other, err := x.alice.CreateCircle(ctx, "Other", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.alice.Send(ctx, other.Streams[0].ID, "still here", ""); err != nil {
		t.Fatal(err)
	}

	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"by a member", b1, map[string]any{"cmd": "circle_delete", "circle": id}, "not_owner"},
		{"by an administrator", dave, map[string]any{"cmd": "circle_delete", "circle": id}, "not_owner"},
		{"by a stranger", stranger, map[string]any{"cmd": "circle_delete", "circle": id}, "forbidden"},
		{"unknown circle", x.alice, map[string]any{"cmd": "circle_delete", "circle": "no-such-circle"}, "not_found"},
		{"no circle", x.alice, map[string]any{"cmd": "circle_delete"}, "bad_request"},
	})
	byCircle := bson.D{{Key: "circle_id", Value: id}}
	byStreams := bson.D{{Key: "stream_id", Value: bson.D{{Key: "$in", Value: streamIDs}}}}
	collections := []struct {
		name   string
		filter bson.D
		before int64
	}{
		{store.CirclesCollection, bson.D{{Key: "_id", Value: id}}, 1},
		{store.StreamsCollection, byCircle, 2},
		{store.MessagesCollection, byStreams, 2},
		{store.ReadStatesCollection, readOf(streamIDs), 1}, // one user acked both
		{store.MembersCollection, byCircle, 3},
		{store.RolesCollection, byCircle, 2},
		{store.InvitesCollection, byCircle, 1},
		{store.BansCollection, byCircle, 1},
		{store.AuditCollection, byCircle, 5},
	}
	for _, c := range collections {
		if n := mgCount(t, x.s, c.name, c.filter); n != c.before {
			t.Fatalf("before: %d documents in %s, want %d", n, c.name, c.before)
		}
	}
	mgSettle(t, ctx, x.alice, x.alice, b1, b2, dave)

	if err := x.alice.DeleteCircle(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{x.alice, b1, b2, dave} {
		if ev := nextEvent(t, c, "circle_delete"); ev.Circle != id {
			t.Fatalf("circle_delete = %s", ev.Raw)
		}
	}
	// bob's subscriptions ended on the server, on both connections.
	for _, b := range []*client.Client{b1, b2} {
		for _, st := range streamIDs {
			wantCode(t, b.Unsubscribe(ctx, st), "not_subscribed")
			_, err := b.Subscribe(ctx, st, 0)
			wantCode(t, err, "not_found")
			_, err = b.Send(ctx, st, "anyone?", "")
			wantCode(t, err, "not_found")
		}
		_, _, err := b.Members(ctx, id, "", 0)
		wantCode(t, err, "not_found")
	}
	for _, c := range collections {
		if n := mgCount(t, x.s, c.name, c.filter); n != 0 {
			t.Fatalf("after: %d documents left in %s", n, c.name)
		}
	}
	otherStream := bson.D{{Key: "stream_id", Value: other.Streams[0].ID}}
	if mgCount(t, x.s, store.CirclesCollection, bson.D{{Key: "_id", Value: other.ID}}) != 1 ||
		mgCount(t, x.s, store.MessagesCollection, otherStream) != 1 ||
		mgCount(t, x.s, store.MembersCollection, bson.D{{Key: "circle_id", Value: other.ID}}) != 1 {
		t.Fatal("the other circle was touched")
	}
	cs, err := b1.ListCircles(ctx)
	if err != nil || len(cs) != 1 || cs[0].ID != other.ID {
		t.Fatalf("circle_list = %v, %v", cs, err)
	}
	if r := x.s.Dial(bobL).Ready(); len(r.Circles) != 0 {
		t.Fatalf("bob's ready has %d circles", len(r.Circles))
	}
	if r := x.s.Dial(x.aliceL).Ready(); len(r.Circles) != 1 || r.Circles[0].ID != other.ID {
		t.Fatalf("alice's ready = %+v", r.Circles)
	}
	_, err = b1.JoinCircle(ctx, id)
	wantCode(t, err, "not_found")
	_, err = stranger.JoinInvite(ctx, inv.Code)
	wantCode(t, err, "invalid_invite")
}

func TestStreamCreateKinds(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	streamer := x.role("streamer", models.ManageStreams)
	_, bob := x.join("bob")
	carolL, carol := x.join("carol")
	x.grant(streamer, carolL)
	_, stranger := x.s.User("stranger")
	id := x.circle.ID

	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"without manage_streams", bob, map[string]any{"cmd": "stream_create", "circle": id, "name": "mine"}, "forbidden"},
		{"by a stranger", stranger, map[string]any{"cmd": "stream_create", "circle": id, "name": "mine"}, "forbidden"},
		{"unknown kind", x.alice, map[string]any{"cmd": "stream_create", "circle": id, "name": "x", "kind": "text"}, "invalid_kind"},
		{"dm kind", x.alice, map[string]any{"cmd": "stream_create", "circle": id, "name": "x", "kind": "dm"}, "invalid_kind"},
		{"blank name", x.alice, map[string]any{"cmd": "stream_create", "circle": id, "name": " ", "kind": "voice"}, "invalid_name"},
		{"control character in topic", x.alice, map[string]any{"cmd": "stream_create", "circle": id, "name": "x", "topic": "a\x00"}, "invalid_text"},
		{"unknown circle", x.alice, map[string]any{"cmd": "stream_create", "circle": "no-such-circle", "name": "x"}, "not_found"},
	})
	if n := mgCount(t, x.s, store.StreamsCollection, bson.D{{Key: "circle_id", Value: id}}); n != 1 {
		t.Fatalf("%d streams after the refusals", n)
	}
	mgSettle(t, ctx, x.alice, bob)

	voice, err := x.alice.CreateStreamWith(ctx, id, "Lounge", client.StreamOptions{Kind: models.Voice, Topic: "talk here"})
	if err != nil || voice.Kind != models.Voice || voice.Topic != "talk here" || voice.CircleID != id || voice.Position != 1 {
		t.Fatalf("voice = %+v, %v", voice, err)
	}
	if ev := nextEvent(t, bob, "stream_create"); ev.NewStream == nil || ev.NewStream.ID != voice.ID || ev.NewStream.Kind != models.Voice {
		t.Fatalf("stream_create = %s", ev.Raw)
	}
	sep, err := carol.CreateStreamWith(ctx, id, "— Info —", client.StreamOptions{Kind: models.Separator})
	if err != nil || sep.Kind != models.Separator || sep.Position != 2 {
		t.Fatalf("separator = %+v, %v", sep, err)
	}
	news, err := carol.CreateStreamWith(ctx, id, "news", client.StreamOptions{Topic: "what happened"})
	if err != nil || news.Kind != models.Channel || news.Topic != "what happened" {
		t.Fatalf("channel = %+v, %v", news, err)
	}
	var c *models.Circle
	for c == nil || len(c.Streams) != 4 {
		c = nextEvent(t, bob, "circle_update").CircleInfo
	}
	if got := mgStreamNames(c); got != "general,Lounge,— Info —,news" {
		t.Fatalf("bob's streams = %s", got)
	}

	// Voice streams and separators hold no messages.
	for _, st := range []string{voice.ID, sep.ID} {
		_, err := x.alice.Send(ctx, st, "hello?", "")
		wantCode(t, err, "not_text")
	}
	if _, err := bob.Send(ctx, news.ID, "a channel holds messages", ""); err != nil {
		t.Fatal(err)
	}
	if n := mgCount(t, x.s, store.MessagesCollection, bson.D{{Key: "stream_id", Value: bson.D{{Key: "$in", Value: []string{voice.ID, sep.ID}}}}}); n != 0 {
		t.Fatalf("%d messages stored in voice and separator streams", n)
	}
	es, _, err := x.alice.AuditLog(ctx, id, client.AuditFilter{Action: "stream_create"})
	if err != nil || len(es) != 3 || es[0].TargetID != news.ID || es[2].Details["kind"] != "voice" || es[1].Actor.ID != carolL.User.ID {
		t.Fatalf("audit = %+v, %v", es, err)
	}
}

func TestStreamEdit(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	streamer := x.role("streamer", models.ManageStreams)
	bobL, bob := x.join("bob")
	carolL, carol := x.join("carol")
	x.grant(streamer, carolL)
	_, stranger := x.s.User("stranger")
	a, err := x.alice.CreateStream(ctx, x.circle.ID, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.alice.CreateStream(ctx, x.circle.ID, "b")
	if err != nil {
		t.Fatal(err)
	}
	dm, err := x.alice.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}

	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"without manage_streams", bob, map[string]any{"cmd": "stream_edit", "stream": a.ID, "name": "mine"}, "forbidden"},
		{"by a stranger", stranger, map[string]any{"cmd": "stream_edit", "stream": a.ID, "name": "mine"}, "forbidden"},
		{"unknown stream", x.alice, map[string]any{"cmd": "stream_edit", "stream": "no-such-stream", "name": "x"}, "not_found"},
		{"a dm", x.alice, map[string]any{"cmd": "stream_edit", "stream": dm.ID, "name": "x"}, "not_found"},
		{"negative position", x.alice, map[string]any{"cmd": "stream_edit", "stream": a.ID, "position": -1}, "invalid_position"},
		{"position past the end", x.alice, map[string]any{"cmd": "stream_edit", "stream": a.ID, "position": 3}, "invalid_position"},
		{"control character in name", x.alice, map[string]any{"cmd": "stream_edit", "stream": a.ID, "name": "a\x01"}, "invalid_name"},
		{"control character in topic", x.alice, map[string]any{"cmd": "stream_edit", "stream": a.ID, "topic": "\x1b"}, "invalid_text"},
		{"nothing to change", x.alice, map[string]any{"cmd": "stream_edit", "stream": a.ID}, "bad_request"},
		{"no stream", x.alice, map[string]any{"cmd": "stream_edit", "name": "x"}, "bad_request"},
	})
	if n := mgCount(t, x.s, store.StreamsCollection, bson.D{{Key: "_id", Value: a.ID}, {Key: "name", Value: "a"}, {Key: "position", Value: 1}}); n != 1 {
		t.Fatal("stream a changed")
	}
	mgSettle(t, ctx, x.alice, bob)

	name, topic := "alpha", "the first"
	st, err := x.alice.EditStream(ctx, a.ID, client.StreamEdit{Name: &name, Topic: &topic})
	if err != nil || st.ID != a.ID || st.Name != name || st.Topic != topic || st.Position != 1 {
		t.Fatalf("edit = %+v, %v", st, err)
	}
	c := nextEvent(t, bob, "circle_update").CircleInfo
	if got := mgStreamNames(c); got != "general,alpha,b" || c.Streams[1].Topic != topic {
		t.Fatalf("streams after rename = %s (%+v)", got, c.Streams)
	}

	for _, tc := range []struct {
		by       *client.Client
		stream   string
		position int
		want     string
	}{
		{x.alice, b.ID, 0, "b,general,alpha"},
		{carol, x.general, 2, "b,alpha,general"},
		{carol, x.general, 1, "b,general,alpha"},
		{x.alice, b.ID, 2, "general,alpha,b"},
	} {
		st, err := tc.by.EditStream(ctx, tc.stream, client.StreamEdit{Position: &tc.position})
		if err != nil || st.Position != tc.position {
			t.Fatalf("move to %d = %+v, %v", tc.position, st, err)
		}
		c := nextEvent(t, bob, "circle_update").CircleInfo
		if got := mgStreamNames(c); got != tc.want {
			t.Fatalf("streams after moving to %d = %s, want %s", tc.position, got, tc.want)
		}
		for i, s := range c.Streams {
			if s.Position != i {
				t.Fatalf("positions = %+v", c.Streams)
			}
		}
	}
	// Moved streams stay moved for a new connection.
	x.mustMove(b.ID, 0)
	r := x.s.Dial(bobL).Ready()
	if len(r.Circles) != 1 || mgStreamNames(r.Circles[0]) != "b,general,alpha" {
		t.Fatalf("ready = %+v", r.Circles)
	}

	empty := ""
	if st, err := x.alice.EditStream(ctx, a.ID, client.StreamEdit{Topic: &empty}); err != nil || st.Topic != "" || st.Name != name {
		t.Fatalf("clear topic = %+v, %v", st, err)
	}
	es, _, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{Action: "stream_edit", Target: a.ID})
	if err != nil || len(es) != 2 || es[1].Details["name"] != name {
		t.Fatalf("audit = %+v, %v", es, err)
	}
}

// mustMove moves a stream to position as alice.
func (x *mgCircle) mustMove(stream string, position int) {
	x.t.Helper()
	if _, err := x.alice.EditStream(x.ctx, stream, client.StreamEdit{Position: &position}); err != nil {
		x.t.Fatal(err)
	}
}

func TestStreamDelete(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	bobL, b1 := x.join("bob")
	b2 := x.s.Dial(bobL)
	_, stranger := x.s.User("stranger")
	random, err := x.alice.CreateStream(ctx, x.circle.ID, "random")
	if err != nil {
		t.Fatal(err)
	}
	dm, err := x.alice.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	x.subscribe(random.ID, b1, b2)
	x.subscribe(x.general, b1, b2)
	for _, st := range []string{random.ID, random.ID, x.general} {
		if _, err := x.alice.Send(ctx, st, "hello", ""); err != nil {
			t.Fatal(err)
		}
	}

	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"without manage_streams", b1, map[string]any{"cmd": "stream_delete", "stream": random.ID}, "forbidden"},
		{"by a stranger", stranger, map[string]any{"cmd": "stream_delete", "stream": random.ID}, "forbidden"},
		{"unknown stream", x.alice, map[string]any{"cmd": "stream_delete", "stream": "no-such-stream"}, "not_found"},
		{"a dm", x.alice, map[string]any{"cmd": "stream_delete", "stream": dm.ID}, "not_found"},
		{"no stream", x.alice, map[string]any{"cmd": "stream_delete"}, "bad_request"},
	})
	byRandom := bson.D{{Key: "stream_id", Value: random.ID}}
	if n := mgCount(t, x.s, store.MessagesCollection, byRandom); n != 2 {
		t.Fatalf("%d messages in random before", n)
	}
	mgSettle(t, ctx, x.alice, b1, b2)

	if err := x.alice.DeleteStream(ctx, random.ID); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*client.Client{b1, b2} {
		if ev := mgNextBefore(t, b, "unsubscribed", "circle_update"); ev.Stream != random.ID || ev.Reason != "deleted" {
			t.Fatalf("unsubscribed = %s", ev.Raw)
		}
		if c := nextEvent(t, b, "circle_update").CircleInfo; mgStreamNames(c) != "general" {
			t.Fatalf("circle_update streams = %s", mgStreamNames(c))
		}
		wantCode(t, b.Unsubscribe(ctx, random.ID), "not_subscribed")
		_, err := b.Subscribe(ctx, random.ID, 0)
		wantCode(t, err, "not_found")
		_, err = b.History(ctx, random.ID, client.HistoryQuery{})
		wantCode(t, err, "not_found")
	}
	_, err = x.alice.Send(ctx, random.ID, "into the void", "")
	wantCode(t, err, "not_found")
	if n := mgCount(t, x.s, store.MessagesCollection, byRandom); n != 0 {
		t.Fatalf("%d messages left in the deleted stream", n)
	}
	if n := mgCount(t, x.s, store.StreamsCollection, bson.D{{Key: "_id", Value: random.ID}}); n != 0 {
		t.Fatal("the stream document is left")
	}
	// The rest of the circle goes on.
	if _, err := x.alice.Send(ctx, x.general, "still here", ""); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*client.Client{b1, b2} {
		if ev := nextEvent(t, b, "message_new"); ev.Stream != x.general || ev.Message.Content != "still here" {
			t.Fatalf("message_new = %s", ev.Raw)
		}
	}
	if r := x.s.Dial(bobL).Ready(); len(r.Circles) != 1 || mgStreamNames(r.Circles[0]) != "general" {
		t.Fatalf("ready = %+v", r.Circles)
	}
	es, _, err := x.alice.AuditLog(ctx, x.circle.ID, client.AuditFilter{Action: "stream_delete"})
	if err != nil || len(es) != 1 || es[0].TargetID != random.ID || es[0].Details["name"] != "random" {
		t.Fatalf("audit = %+v, %v", es, err)
	}
}

func TestInvites(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	private := models.Private
	if _, err := x.alice.EditCircle(ctx, x.circle.ID, client.CircleEdit{Visibility: private}); err != nil {
		t.Fatal(err)
	}
	manager := x.role("manager", models.ManageCircle)
	code, err := x.alice.CreateInvite(ctx, x.circle.ID)
	if err != nil {
		t.Fatal(err)
	}
	bobL, bob := x.s.User("bob")
	mgrL, mgr := x.s.User("mgr")
	for _, c := range []*client.Client{bob, mgr} {
		if _, err := c.JoinInvite(ctx, code); err != nil {
			t.Fatal(err)
		}
	}
	x.grant(manager, mgrL)
	_, carol := x.s.User("carol")
	_, dave := x.s.User("dave")
	_, stranger := x.s.User("stranger")
	other, err := stranger.CreateCircle(ctx, "Elsewhere", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := stranger.CreateInvite(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	id := x.circle.ID

	mgRequests(t, ctx, []struct {
		name  string
		as    *client.Client
		frame map[string]any
		want  string
	}{
		{"negative max_age", x.alice, map[string]any{"cmd": "invite_create", "circle": id, "max_age": -1}, "bad_request"},
		{"max_age past 30 days", x.alice, map[string]any{"cmd": "invite_create", "circle": id, "max_age": 30*24*3600 + 1}, "bad_request"},
		{"negative max_uses", x.alice, map[string]any{"cmd": "invite_create", "circle": id, "max_uses": -1}, "bad_request"},
		{"max_uses past 10000", x.alice, map[string]any{"cmd": "invite_create", "circle": id, "max_uses": 10001}, "bad_request"},
		{"create by a stranger", stranger, map[string]any{"cmd": "invite_create", "circle": id}, "forbidden"},
		{"list without manage_circle", bob, map[string]any{"cmd": "invite_list", "circle": id}, "forbidden"},
		{"list by a stranger", stranger, map[string]any{"cmd": "invite_list", "circle": id}, "forbidden"},
		{"revoke by a stranger", stranger, map[string]any{"cmd": "invite_revoke", "circle": id, "code": code}, "forbidden"},
		{"revoke another's without manage_circle", bob, map[string]any{"cmd": "invite_revoke", "circle": id, "code": code}, "forbidden"},
		{"revoke an unknown code", x.alice, map[string]any{"cmd": "invite_revoke", "circle": id, "code": "no-such-code"}, "invite_not_found"},
		{"revoke another circle's code", x.alice, map[string]any{"cmd": "invite_revoke", "circle": id, "code": elsewhere}, "invite_not_found"},
		{"revoke without code", x.alice, map[string]any{"cmd": "invite_revoke", "circle": id}, "bad_request"},
	})
	if invs, err := x.alice.ListInvites(ctx, id); err != nil || len(invs) != 1 || invs[0].Code != code {
		t.Fatalf("invites after the refusals = %+v, %v", invs, err)
	}
	if _, err := carol.JoinInvite(ctx, elsewhere); err != nil {
		t.Fatalf("the other circle's invite was revoked: %v", err)
	}

	// One use: one join, then invalid_invite.
	once, err := x.alice.CreateInviteWith(ctx, id, 0, 1)
	if err != nil || once.MaxUses != 1 || once.Uses != 0 || once.ExpiresAt != nil || once.Creator == nil || once.Creator.ID != x.aliceL.User.ID {
		t.Fatalf("invite = %+v, %v", once, err)
	}
	if _, err := carol.JoinInvite(ctx, once.Code); err != nil {
		t.Fatal(err)
	}
	_, err = dave.JoinInvite(ctx, once.Code)
	wantCode(t, err, "invalid_invite")

	// An expired invite: made for an hour, then aged in the store.
	before := time.Now()
	aged, err := x.alice.CreateInviteWith(ctx, id, time.Hour, 0)
	if err != nil || aged.ExpiresAt == nil || aged.ExpiresAt.Before(before.Add(time.Hour-time.Second)) {
		t.Fatalf("invite = %+v, %v", aged, err)
	}
	res, err := x.s.Srv.Store().Database().Collection(store.InvitesCollection).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: aged.Code}}, bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: time.Now().Add(-time.Minute)}}}})
	if err != nil || res.ModifiedCount != 1 {
		t.Fatalf("age the invite: %+v, %v", res, err)
	}
	_, err = dave.JoinInvite(ctx, aged.Code)
	wantCode(t, err, "invalid_invite")

	// Any member may make an invite and revoke their own; the manager may
	// list and revoke any.
	bobs, err := bob.CreateInviteWith(ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	invs, err := mgr.ListInvites(ctx, id)
	var codes []string
	for _, inv := range invs {
		codes = append(codes, inv.Code)
	}
	if err != nil || !slices.Equal(codes, []string{code, bobs.Code}) {
		t.Fatalf("invite_list = %v, %v; want the first and bob's (not the used and the expired)", codes, err)
	}
	if invs[1].Creator == nil || invs[1].Creator.ID != bobL.User.ID || invs[1].CircleID != id {
		t.Fatalf("bob's invite = %+v", invs[1])
	}
	_, err = carol.Request(ctx, map[string]any{"cmd": "invite_revoke", "circle": id, "code": bobs.Code})
	wantCode(t, err, "forbidden")
	if err := bob.RevokeInvite(ctx, id, bobs.Code); err != nil {
		t.Fatal(err)
	}
	wantCode(t, bob.RevokeInvite(ctx, id, bobs.Code), "invite_not_found")
	_, err = dave.JoinInvite(ctx, bobs.Code)
	wantCode(t, err, "invalid_invite")
	if err := mgr.RevokeInvite(ctx, id, code); err != nil {
		t.Fatal(err)
	}
	_, err = dave.JoinInvite(ctx, code)
	wantCode(t, err, "invalid_invite")
	if invs, err := x.alice.ListInvites(ctx, id); err != nil || len(invs) != 0 {
		t.Fatalf("invites at the end = %+v, %v", invs, err)
	}
	// Listing cleared the used and the expired invites away.
	if n := mgCount(t, x.s, store.InvitesCollection, bson.D{{Key: "circle_id", Value: id}}); n != 0 {
		t.Fatalf("%d invite documents left", n)
	}
	es, _, err := x.alice.AuditLog(ctx, id, client.AuditFilter{Action: "invite_revoke"})
	if err != nil || len(es) != 2 || es[0].TargetID != circles.MaskInvite(code) || es[0].Actor.ID != mgrL.User.ID || es[1].Actor.ID != bobL.User.ID {
		t.Fatalf("audit = %+v, %v", es, err)
	}
}

func TestMemberList(t *testing.T) {
	x := newMgCircle(t, server.Config{})
	ctx := x.ctx
	top := x.role("top", models.ManageMembers)
	red := x.role("red", 0, "color", 0xff0000)
	blue := x.role("blue", 0, "color", 0x0000ff)
	erinL, erin := x.join("erin")
	bobL, _ := x.join("Bob")
	daveL, dave := x.join("Dave")
	carolL, _ := x.join("carol")
	_, stranger := x.s.User("stranger")
	for _, r := range []string{blue, red, top} {
		x.grant(r, carolL)
	}
	x.grant(blue, daveL)
	if _, err := erin.SetNickname(ctx, x.circle.ID, "", "E"); err != nil {
		t.Fatal(err)
	}

	_, _, err := stranger.Members(ctx, x.circle.ID, "", 0)
	wantCode(t, err, "forbidden")
	_, _, err = x.alice.Members(ctx, "no-such-circle", "", 0)
	wantCode(t, err, "not_found")
	_, err = x.alice.Request(ctx, map[string]any{"cmd": "member_list", "circle": x.circle.ID, "limit": -1})
	wantCode(t, err, "bad_request")

	all, next, err := dave.Members(ctx, x.circle.ID, "", 0)
	if err != nil || next != "" || strings.Join(mgUsernames(all), ",") != "alice,Bob,carol,Dave,erin" {
		t.Fatalf("members = %v, next %q, %v", mgUsernames(all), next, err)
	}
	byName := map[string]models.MemberView{}
	for _, m := range all {
		byName[m.User.Username] = m
	}
	if m := byName["carol"]; m.User.ID != carolL.User.ID || len(m.Roles) != 3 || m.Color != 0xff0000 || !m.Permissions.Has(models.ManageMembers) {
		t.Fatalf("carol = %+v; want three roles and red, the highest coloured", m)
	}
	if m := byName["Dave"]; !slices.Equal(m.Roles, []string{blue}) || m.Color != 0x0000ff {
		t.Fatalf("Dave = %+v", m)
	}
	if m := byName["erin"]; m.User.ID != erinL.User.ID || m.Nickname != "E" || len(m.Roles) != 0 || m.Color != 0 || m.JoinedAt.IsZero() {
		t.Fatalf("erin = %+v", m)
	}
	if m := byName["Bob"]; m.User.ID != bobL.User.ID || m.Roles == nil || m.Permissions != models.DefaultPermissions {
		t.Fatalf("Bob = %+v", m)
	}
	if m := byName["alice"]; m.Permissions != models.AllPermissions {
		t.Fatalf("alice = %+v", m)
	}

	var pages [][]string
	cursor := ""
	for {
		page, next, err := x.alice.Members(ctx, x.circle.ID, cursor, 2)
		if err != nil || len(page) > 2 || len(pages) > 5 {
			t.Fatalf("page %d = %v, %v", len(pages), mgUsernames(page), err)
		}
		pages = append(pages, mgUsernames(page))
		if next == "" {
			break
		}
		cursor = next
	}
	if len(pages) != 3 || strings.Join(pages[0], ",") != "alice,Bob" || strings.Join(pages[1], ",") != "carol,Dave" || strings.Join(pages[2], ",") != "erin" {
		t.Fatalf("pages = %v", pages)
	}
	// The cursor is a username, in any case.
	if page, _, err := x.alice.Members(ctx, x.circle.ID, "bob", 2); err != nil || strings.Join(mgUsernames(page), ",") != "carol,Dave" {
		t.Fatalf("after bob = %v, %v", mgUsernames(page), err)
	}
	if err := dave.LeaveCircle(ctx, x.circle.ID); err != nil {
		t.Fatal(err)
	}
	if page, _, err := x.alice.Members(ctx, x.circle.ID, "", 0); err != nil || strings.Join(mgUsernames(page), ",") != "alice,Bob,carol,erin" {
		t.Fatalf("after dave left = %v, %v", mgUsernames(page), err)
	}
}

// TestManageLimits: the circle limits of server.Config are enforced with
// limit_reached, and a freed place can be taken again.
func TestManageLimits(t *testing.T) {
	x := newMgCircle(t, server.Config{MaxMembersPerCircle: 3, MaxCirclesPerUser: 2, MaxStreamsPerCircle: 2, MaxRolesPerCircle: 2})
	ctx := x.ctx
	id := x.circle.ID
	bobL, bob := x.join("bob")
	x.join("carol")
	_, dave := x.s.User("dave")
	code, err := x.alice.CreateInvite(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	// Members per circle: three.
	_, err = dave.JoinCircle(ctx, id)
	wantCode(t, err, "limit_reached")
	_, err = dave.JoinInvite(ctx, code)
	wantCode(t, err, "limit_reached")
	if err := x.alice.Kick(ctx, id, bobL.User.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.JoinInvite(ctx, code); err != nil {
		t.Fatalf("join once a place is free: %v", err)
	}

	// Circles per user: two.
	second, err := x.alice.CreateCircle(ctx, "Second", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.alice.CreateCircle(ctx, "Third", models.Public)
	wantCode(t, err, "limit_reached")
	if _, err := bob.CreateCircle(ctx, "Bob's", models.Public); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinCircle(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	_, err = bob.CreateCircle(ctx, "Bob's third", models.Public)
	wantCode(t, err, "limit_reached")
	_, err = dave.JoinCircle(ctx, second.ID)
	if err != nil {
		t.Fatalf("dave's second circle: %v", err)
	}
	_, err = dave.CreateCircle(ctx, "Dave's", models.Public)
	wantCode(t, err, "limit_reached")

	// Streams per circle: two.
	if _, err := x.alice.CreateStream(ctx, id, "second"); err != nil {
		t.Fatal(err)
	}
	_, err = x.alice.CreateStreamWith(ctx, id, "third", client.StreamOptions{Kind: models.Voice})
	wantCode(t, err, "limit_reached")

	// Roles per circle: two, the default role included.
	x.role("one", 0)
	_, err = x.alice.Request(ctx, map[string]any{"cmd": "role_create", "circle": id, "name": "two"})
	wantCode(t, err, "limit_reached")

	if n := mgCount(t, x.s, store.StreamsCollection, bson.D{{Key: "circle_id", Value: id}}); n != 2 {
		t.Fatalf("%d streams stored", n)
	}
	if n := mgCount(t, x.s, store.RolesCollection, bson.D{{Key: "circle_id", Value: id}}); n != 2 {
		t.Fatalf("%d roles stored", n)
	}
}

// readOf selects the users' read-state documents that hold a read state
// of one of the streams.
func readOf(streamIDs []string) bson.D {
	var or bson.A
	for _, id := range streamIDs {
		or = append(or, bson.D{{Key: "streams." + id, Value: bson.D{{Key: "$exists", Value: true}}}})
	}
	return bson.D{{Key: "$or", Value: or}}
}
