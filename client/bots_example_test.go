package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// A tiny echo bot: its owner makes it over HTTP, it connects with its
// token and registers /echo, the owner adds it to a circle, and a
// member's /echo comes back as the bot's message.
func ExampleClient_RespondInteraction() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "oshi-example-")
	defer os.RemoveAll(dir)
	srv, err := server.New(ctx, server.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Shutdown(ctx) }()

	alice, _ := client.Register(ctx, hs.URL, "alice", "correct-horse")
	ac, err := client.Dial(ctx, client.WSURL(hs.URL), client.Credentials{Token: alice.Token}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ac.Close()

	// The bot: made by alice, connected with its own token.
	secret, err := client.CreateBot(ctx, hs.URL, alice.Token, "echo", false)
	if err != nil {
		log.Fatal(err)
	}
	bot, err := client.Dial(ctx, client.WSURL(hs.URL), client.Credentials{Token: secret.Token}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer bot.Close()
	_, err = bot.RegisterCommands(ctx, []models.Command{{
		Name: "echo", Description: "Says it back",
		Options: []models.CommandOption{{Name: "text", Description: "What to say", Type: models.OptionString, Required: true}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	go func() { // the bot's loop: it ends when the connection closes
		for ev := range bot.Events() {
			if in, ok := client.ParseInteraction(ev); ok {
				text, _ := in.Args["text"].(string)
				_, _ = bot.RespondInteraction(ctx, in.ID, text, false)
			}
		}
	}()

	circle, _ := ac.CreateCircle(ctx, "Gophers", models.Private)
	general := circle.Streams[0].ID
	if err := ac.AddBot(ctx, circle.ID, secret.Bot.ID); err != nil {
		log.Fatal(err)
	}
	_, _ = ac.Subscribe(ctx, general, -1)
	if _, err := ac.InvokeCommand(ctx, general, secret.Bot.ID, "echo", map[string]any{"text": "hello, bot"}); err != nil {
		log.Fatal(err)
	}
	for ev := range ac.Events() {
		if ev.Cmd == "message_new" {
			m := ev.Message
			fmt.Printf("%s (bot: %v) answered /%s: %s\n", m.Author.Username, m.Author.Bot, m.Interaction.Command, m.Content)
			break
		}
	}
	// Output:
	// echo (bot: true) answered /echo: hello, bot
}
