package main

import (
	"context"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func TestMain(m *testing.M) { oshitest.Main(m) }

func TestWordFilterHooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := oshitest.NewServer(t, server.Config{Hooks: []hooks.Hook{NewWordFilter("darn", "heck"), NoBots{}}})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Polite", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID

	cases := []struct {
		in, want, code string
	}{
		{"well darn it", "well **** it", ""},
		{"HECK no, darning is fine", "**** no, darning is fine", ""},
		{"https://spam.example", "", "rejected"},
	}
	for _, tc := range cases {
		m, err := ac.Send(ctx, general, tc.in, "")
		if tc.code != "" {
			if client.Code(err) != tc.code {
				t.Fatalf("send %q: %v, want %s", tc.in, err, tc.code)
			}
			continue
		}
		if err != nil || m.Content != tc.want {
			t.Fatalf("send %q = %+v, %v; want %q", tc.in, m, err, tc.want)
		}
	}
	hist, err := ac.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[0].Content != "well **** it" {
		t.Fatalf("stored = %v, %v: the filtered text, and nothing of the rejected one", hist, err)
	}

	bot := s.Register("bot_spam")
	_, err = client.Dial(ctx, s.WSURL, client.Credentials{Token: bot.Token}, nil)
	if client.Code(err) != "rejected" {
		t.Fatalf("bot connect: %v, want rejected", err)
	}
}
