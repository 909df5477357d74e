package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// TestClusterBots: a bot connected to node B is added to a circle and
// invoked by a member on node A. The interaction reaches the bot through
// its user topic, its answer (checked on node B against the interaction
// node A stored) reaches the member on node A as a message, and an
// ephemeral answer reaches only the invoker, across the nodes too.
func TestClusterBots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	aliceL, alice := a.User("alice")

	secret, err := client.CreateBot(ctx, a.URL, aliceL.Token, "farbot", false)
	if err != nil {
		t.Fatal(err)
	}
	bot := b.Dial(&client.Login{User: secret.Bot.Ref(), Token: secret.Token})
	cmds := []models.Command{{Name: "ping", Description: "Answers pong", Options: []models.CommandOption{
		{Name: "n", Description: "A number", Type: models.OptionInteger, Required: true}}}}
	if _, err := bot.RegisterCommands(ctx, cmds); err != nil {
		t.Fatal(err)
	}
	circle, err := alice.CreateCircle(ctx, "Far", models.Private)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if err := alice.AddBot(ctx, circle.ID, secret.Bot.ID); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, bot, "circle_join"); ev.Circle != circle.ID {
		t.Fatalf("the bot on node B got %s", ev.Raw)
	}
	if _, err := alice.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}

	// Node A learns that the bot is online through the presence bus,
	// asynchronously: until then the answer is bot_offline.
	invoke := func() string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			id, err := alice.InvokeCommand(ctx, general, secret.Bot.ID, "ping", map[string]any{"n": 7})
			if err == nil {
				return id
			}
			if client.Code(err) != "bot_offline" || time.Now().After(deadline) {
				t.Fatalf("invoke across nodes: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	id := invoke()
	in, ok := client.ParseInteraction(next(t, bot, "interaction"))
	if !ok || in.ID != id || in.Args["n"] != 7.0 || in.User.ID != aliceL.User.ID {
		t.Fatalf("interaction on node B = %+v", in)
	}
	if _, err := bot.RespondInteraction(ctx, in.ID, "pong 7", false); err != nil {
		t.Fatal(err)
	}
	ev := next(t, alice, "message_new")
	if m := ev.Message; m.Content != "pong 7" || !m.Author.Bot || m.Interaction == nil || m.Interaction.ID != id {
		t.Fatalf("alice on node A got %s", ev.Raw)
	}

	id = invoke()
	in, _ = client.ParseInteraction(next(t, bot, "interaction"))
	if _, err := bot.RespondInteraction(ctx, in.ID, "just for you", true); err != nil {
		t.Fatal(err)
	}
	r, ok := client.ParseInteractionReply(next(t, alice, "interaction_reply"))
	if !ok || r.Interaction != id || r.Content != "just for you" {
		t.Fatalf("interaction_reply on node A = %+v", r)
	}
	// Answered: no second answer, on either node.
	if _, err := bot.RespondInteraction(ctx, in.ID, "again", false); client.Code(err) != "interaction_not_found" {
		t.Fatalf("second answer: %v", err)
	}
}
