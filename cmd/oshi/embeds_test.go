package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/unfurl"
)

// TestChatEmbeds: a message's link embeds show under it as one dim line
// each, when message_embeds brings them and in history.
func TestChatEmbeds(t *testing.T) {
	ctx := context.Background()
	pages := map[string]string{
		"/a": `<html><head><meta property="og:title" content="Oshi docs"><meta property="og:description" content="The wire protocol of Oshi."><meta property="og:site_name" content="Oshi"></head></html>`,
		"/b": `<html><head><title>Page B</title><meta name="description" content="First line
second line"></head></html>`,
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(site.Close)
	s := oshitest.NewServer(t, server.Config{Embeds: true, EmbedFetcher: &unfurl.Config{AllowPrivate: true}})
	alice, ac := s.User("alice")
	_, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Readers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}

	sc := newScreen(t, s, alice)
	sc.waitText("▸ #general")
	sc.waitSubscribed(general)
	if _, err := bc.Send(ctx, general, "read "+site.URL+"/a and "+site.URL+"/b", ""); err != nil {
		t.Fatal(err)
	}
	// The message comes first, its embeds after (message_embeds).
	sc.waitText("bob: read", "› Oshi — Oshi docs; The wire protocol of Oshi.", "› Page B; First line second line")
	msgLine := strings.Index(sc.text(), "bob: read")
	if embed := strings.Index(sc.text(), "› Oshi — Oshi docs"); embed < msgLine {
		t.Errorf("the embed is not under its message:\n%s", sc.text())
	}

	// Another screen gets them with the history.
	sc2 := newScreen(t, s, alice)
	sc2.waitText("bob: read", "› Oshi — Oshi docs; The wire protocol of Oshi.", "› Page B; First line second line")

	// An edit that drops the links drops the embeds.
	sc.waitSubscribed(general)
	hist, err := ac.History(ctx, general, client.HistoryQuery{Limit: 1})
	if err != nil || len(hist) != 1 {
		t.Fatalf("history %v, %v", hist, err)
	}
	if _, err := bc.Edit(ctx, general, hist[0].ID, "never mind"); err != nil {
		t.Fatal(err)
	}
	sc.waitFor("the embeds gone after the edit", func(s string) bool {
		return strings.Contains(s, "bob: never mind") && !strings.Contains(s, "›")
	})
}
