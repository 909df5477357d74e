// Command wordfilter runs Oshi with two hooks: one masks banned words in
// messages before they are stored, one refuses users whose name starts
// with "bot_" (a stand-in for any policy an embedder has).
//
//	go run ./examples/wordfilter
package main

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"time"

	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// WordFilter masks banned words, whole words only, any case.
type WordFilter struct {
	hooks.Base
	re *regexp.Regexp
}

// NewWordFilter returns a filter for the given words.
func NewWordFilter(words ...string) *WordFilter {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = regexp.QuoteMeta(w)
	}
	return &WordFilter{re: regexp.MustCompile(`(?i)\b(` + strings.Join(quoted, "|") + `)\b`)}
}

// OnMessage masks every banned word with asterisks, keeping its length.
func (f *WordFilter) OnMessage(_ context.Context, m *models.Message) error {
	m.Content = f.re.ReplaceAllStringFunc(m.Content, func(w string) string { return strings.Repeat("*", len(w)) })
	return nil
}

// NoBots refuses connections of users whose name starts with "bot_", and
// messages that are nothing but a link.
type NoBots struct{ hooks.Base }

// OnConnect implements hooks.Hook.
func (NoBots) OnConnect(_ context.Context, u models.UserRef) error {
	if strings.HasPrefix(strings.ToLower(u.Username), "bot_") {
		return errors.New("bots are not welcome here")
	}
	return nil
}

// OnMessage implements hooks.Hook.
func (NoBots) OnMessage(_ context.Context, m *models.Message) error {
	if c := strings.TrimSpace(m.Content); strings.HasPrefix(c, "http") && !strings.ContainsAny(c, " \n") {
		return errors.New("a bare link is not a message")
	}
	return nil
}

func config() server.Config {
	cfg, err := server.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	cfg.Hooks = []hooks.Hook{NewWordFilter("darn", "heck"), NoBots{}}
	return cfg
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv, err := server.New(ctx, config())
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Run(ctx, 10*time.Second); err != nil {
		log.Fatal(err)
	}
}
