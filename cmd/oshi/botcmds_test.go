package main

import (
	"context"
	"strings"
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestChatBotCommands: /cmd lists the circle's bot commands; /roll …
// invokes one with its arguments converted to the options' types; the
// bot's ephemeral answer shows to the invoker only, its posted answer
// to everyone with a [bot] mark.
func TestChatBotCommands(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Games", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	sec, err := client.CreateBot(ctx, s.URL, alice.Token, "dice", false)
	if err != nil {
		t.Fatal(err)
	}
	bot := s.Dial(&client.Login{User: sec.Bot.Ref(), Token: sec.Token})
	if _, err := bot.RegisterCommands(ctx, []models.Command{{
		Name: "roll", Description: "Rolls dice",
		Options: []models.CommandOption{
			{Name: "sides", Description: "Sides of each die", Type: models.OptionInteger, Required: true},
			{Name: "loud", Description: "Tell everyone", Type: models.OptionBoolean},
			{Name: "note", Description: "Why", Type: models.OptionString},
			{Name: "for", Description: "Roll for someone", Type: models.OptionUser},
		},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := ac.AddBot(ctx, circle.ID, sec.Bot.ID); err != nil {
		t.Fatal(err)
	}

	sa := newScreen(t, s, alice)
	sb := newScreen(t, s, bob)
	sa.waitText("▸ #general")
	sb.waitText("▸ #general")
	sa.waitSubscribed(general)
	sb.waitSubscribed(general)

	sa.typeLine("/cmd")
	sa.waitText("Bot commands of Games", "/roll sides=integer loud?=boolean note?=string for?=user", "    Rolls dice (dice [bot])")
	sa.press(escKey)

	// Arguments are checked against the options' types before sending.
	sa.typeLine("/roll sides=many")
	sa.waitText("roll: option sides: must be an integer")
	sa.typeLine("/fly")
	sa.waitText("unknown command /fly")

	sa.typeLine("/roll sides=20 loud=false note=for the win")
	ev := oshitest.Next(t, bot, "interaction")
	in, ok := client.ParseInteraction(ev)
	if !ok {
		t.Fatalf("interaction %s", ev.Raw)
	}
	if in.Command != "roll" || in.Stream != general || in.User.ID != alice.User.ID ||
		in.Args["sides"] != float64(20) || in.Args["loud"] != false || in.Args["note"] != "for the win" {
		t.Fatalf("the bot got %s", ev.Raw)
	}
	sa.waitText("sent /roll to dice")
	if _, err := bot.RespondInteraction(ctx, in.ID, "You rolled a 7", true); err != nil {
		t.Fatal(err)
	}
	sa.waitText("dice [bot] /roll, only you see this: You rolled a 7")

	// A positional word is the first option; a posted answer shows to
	// everyone, its author marked as a bot.
	// A user option takes a member's name.
	sa.typeLine("/roll 6 for=@bob")
	ev = oshitest.Next(t, bot, "interaction")
	in, ok = client.ParseInteraction(ev)
	if !ok || in.Args["sides"] != float64(6) || len(in.Args) != 2 {
		t.Fatalf("the bot got %s", ev.Raw)
	}
	if who, _ := in.Args["for"].(map[string]any); who == nil || who["id"] != bob.User.ID {
		t.Fatalf("the bot got %s, want for bob", ev.Raw)
	}
	if _, err := bot.RespondInteraction(ctx, in.ID, "alice rolled a 4", false); err != nil {
		t.Fatal(err)
	}
	sb.waitText("↳ alice used /roll", "dice [bot]: alice rolled a 4")
	sa.waitText("dice [bot]: alice rolled a 4")
	if strings.Contains(sb.text(), "You rolled a 7") {
		t.Errorf("bob sees alice's ephemeral answer:\n%s", sb.text())
	}
}
