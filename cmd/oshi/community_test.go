package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestChatPresence: DM peers carry a status marker, from ready and as it
// changes; /status sets the user's own; /members lists members with
// status and roles.
func TestChatPresence(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	s.Register("carol")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	mods, err := ac.CreateRole(ctx, circle.ID, client.RoleSpec{Name: "mods"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.AssignRole(ctx, circle.ID, mods.ID, bob.User.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.OpenDM(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.OpenDM(ctx, "carol"); err != nil {
		t.Fatal(err)
	}

	// bob is online (his connection above) when alice starts; carol is not.
	sa := newScreen(t, s, alice)
	sa.waitText("@bob ●", "@carol ○")

	sb := newScreen(t, s, bob)
	sb.waitText("@alice ●")
	sb.typeLine("/status dnd deep work")
	sb.waitText("status: do not disturb: deep work")
	if !strings.Contains(sb.status(), "bob (do not disturb: deep work)") {
		t.Errorf("status line %q", sb.status())
	}
	sa.waitText("@bob ⊖")
	sb.typeLine("/status idle")
	sa.waitText("@bob ◐")
	sb.typeLine("/status invisible")
	sa.waitText("@bob ○")
	sb.typeLine("/status away")
	sb.waitText("usage: /status online|idle|dnd|invisible")

	// A new screen learns bob's stored status from ready.
	sb.typeLine("/status dnd")
	sa.waitText("@bob ⊖")
	sa2 := newScreen(t, s, alice)
	sa2.waitText("@bob ⊖")

	sa.press(tabKey) // from #general to the DM, and back
	sa.press(tabKey)
	sa.press(tabKey)
	sa.waitText("▸ #general")
	sa.typeLine("/members")
	sa.waitText("Members of Gophers (2)", "● alice · owner", "⊖ bob · mods")
	sa.press(escKey)
	sa.waitFor("the panel closed", func(s string) bool { return !strings.Contains(s, "Members of") })
}

// TestChatModeration: an owner kicks, bans, unbans and times out from
// the screen; the member's screen leaves the circle with a notice; a
// renamed channel is renamed and a hidden one removed on the member's
// screen; a deleted circle goes away.
func TestChatModeration(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	random, err := ac.CreateStream(ctx, circle.ID, "random")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.OpenDM(ctx, "bob"); err != nil {
		t.Fatal(err)
	}

	sa := newScreen(t, s, alice)
	sb := newScreen(t, s, bob)
	sa.waitText("▸ #general", "#random")
	sb.waitText("▸ #general", "#random", "@alice")

	// circle_update: a renamed channel is renamed on bob's screen.
	name := "offtopic"
	if _, err := ac.EditStream(ctx, random.ID, client.StreamEdit{Name: &name}); err != nil {
		t.Fatal(err)
	}
	sb.waitFor("#offtopic instead of #random", func(s string) bool {
		return strings.Contains(s, "#offtopic") && !strings.Contains(s, "#random")
	})

	// unsubscribed: a channel bob may no longer see goes, with a notice.
	sb.press(tabKey)
	sb.waitText("▸ #offtopic")
	sb.waitSubscribed(random.ID) // else the server has nothing to unsubscribe
	if _, err := ac.SetStreamPermissions(ctx, random.ID, circle.ID, 0, models.ViewStreams); err != nil {
		t.Fatal(err)
	}
	sb.waitText("#offtopic is no longer available to you")
	sb.waitFor("#offtopic gone, #general selected", func(s string) bool {
		return !strings.Contains(s, "  #offtopic") && !strings.Contains(s, "▸ #offtopic") && strings.Contains(s, "▸ #general")
	})

	// A deleted channel goes too.
	tmp, err := ac.CreateStream(ctx, circle.ID, "tmp")
	if err != nil {
		t.Fatal(err)
	}
	sb.waitText("#tmp")
	sb.waitSubscribed(tmp.ID) // else the delete can pass bob's subscribe
	if err := ac.DeleteStream(ctx, tmp.ID); err != nil {
		t.Fatal(err)
	}
	sb.waitText("#tmp was deleted")
	sb.waitFor("#tmp gone", func(s string) bool { return !strings.Contains(s, "  #tmp") })

	// Moderation needs a name the circle knows, in a circle's channel.
	sa.typeLine("/kick nobody")
	sa.waitText(`kick: Gophers has no member "nobody"`)
	sa.typeLine("/timeout bob soon")
	sa.waitText("usage: /timeout USER SECONDS")

	// A timeout stops bob posting; 0 lifts it; /members shows it.
	sa.typeLine("/timeout bob 600 calm down")
	sa.waitText("bob timed out for 10m0s")
	sb.typeLine("let me speak")
	sb.waitText("error: send: ")
	sa.typeLine("/members")
	sa.waitText("Members of Gophers (2)", "timed out until")
	sa.press(escKey)
	sa.typeLine("/timeout bob 0")
	sa.waitText("bob's timeout lifted")

	// A kick: bob's screen leaves the circle and says who and why.
	sa.typeLine("/kick bob being rude")
	sa.waitText("removed bob from Gophers")
	sb.waitText("you were removed from Gophers by alice: being rude")
	inPane := regexp.MustCompile(`Gophers +│`)
	sb.waitFor("Gophers gone from bob's screen", func(s string) bool {
		return !inPane.MatchString(s) && strings.Contains(s, "▸ @alice")
	})
	if v := sb.m.views[sb.m.sel]; v == nil || !v.loaded {
		t.Error("the DM selected after the kick has no history asked for")
	}
	// The event reaches alice too, but her own command has said it; a
	// removal by someone else is told.
	sa.m.memberEvent(client.Event{Cmd: "member_remove", Circle: circle.ID,
		User: &models.UserRef{ID: "u-carol", Username: "carol"}, By: &models.UserRef{ID: "u-dave", Username: "dave"}})
	if !strings.Contains(sa.m.notice, "carol was removed from Gophers by dave") {
		t.Errorf("notice of another's removal = %q", sa.m.notice)
	}
	if _, ok := sb.m.views[general]; ok {
		t.Error("bob's screen still keeps #general")
	}

	// Back by himself, then banned.
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	sb.waitText("Gophers", "#general")
	sa.typeLine("/ban bob spam")
	sa.waitText("banned bob from Gophers")
	sb.waitText("you were banned from Gophers by alice: spam")
	if _, err := bc.JoinCircle(ctx, circle.ID); client.Code(err) == "" {
		t.Errorf("a banned member joined again: %v", err)
	}
	sa.typeLine("/unban bob")
	sa.waitText("unbanned bob from Gophers")
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	sb.waitText("#general")

	// bob may not kick: the server says no, the screen says why.
	sb.press(tabKey)
	sb.waitText("▸ #general")
	sb.typeLine("/kick alice")
	sb.waitText("kick: not allowed")

	// A deleted circle goes too.
	if err := ac.DeleteCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	sb.waitText("Gophers was deleted")
	sb.waitFor("Gophers gone", func(s string) bool { return !inPane.MatchString(s) })
}
