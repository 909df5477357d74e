package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/streams"
	"github.com/oshichat/oshi/unfurl"
)

// embedSite is a web site on loopback for link embeds: /a and /b are
// pages with Open Graph metadata, /slow answers when release is closed.
// It counts the requests it gets.
type embedSite struct {
	*httptest.Server
	hits    atomic.Int64
	release chan struct{}
}

func newEmbedSite(t *testing.T) *embedSite {
	t.Helper()
	site := &embedSite{release: make(chan struct{})}
	pages := map[string]string{
		"/a":    `<html><head><title>Page A</title><meta property="og:title" content="Oshi docs"><meta property="og:description" content="The wire protocol of Oshi."><meta property="og:site_name" content="Oshi"><meta property="og:image" content="/cover.png"></head></html>`,
		"/b":    `<html><head><title>Page B</title><meta name="description" content="Second page."></head></html>`,
		"/slow": `<html><head><title>Slow page</title></head></html>`,
	}
	site.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site.hits.Add(1)
		if r.URL.Path == "/logo.png" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte("\x89PNG\r\n\x1a\n"))
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/slow" {
			select {
			case <-site.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(site.Close)
	return site
}

// embedServer starts a server with link embeds on whose fetcher may
// reach the test site on loopback.
func embedServer(t *testing.T) *oshitest.Server {
	t.Helper()
	return oshitest.NewServer(t, server.Config{Embeds: true, EmbedFetcher: &unfurl.Config{AllowPrivate: true}})
}

// embedsChat makes a circle of alice's that bob joins and follows.
func embedsChat(t *testing.T, ctx context.Context, s *oshitest.Server) (ac, bc *client.Client, general string) {
	t.Helper()
	_, ac = s.User("alice")
	_, bc = s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Links", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general = circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Subscribe(ctx, general, 0); err != nil {
		t.Fatal(err)
	}
	return ac, bc, general
}

// waitEmbeds waits until the server's embed workers have finished done
// messages.
func waitEmbeds(t *testing.T, s *oshitest.Server, done int64) streams.EmbedStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Srv.Streams().EmbedStats()
		if st.Done >= done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("embed workers finished %d messages, want %d (%+v)", st.Done, done, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextEmbeds returns the message of the next message_embeds on c.
func nextEmbeds(t *testing.T, c *client.Client) *models.Message {
	t.Helper()
	ev := nextEvent(t, c, "message_embeds")
	t.Logf("event: %s", ev.Raw)
	if ev.Message == nil {
		t.Fatalf("message_embeds without a message: %s", ev.Raw)
	}
	return ev.Message
}

func historyOf(t *testing.T, ctx context.Context, c *client.Client, streamID string) map[string]*models.Message {
	t.Helper()
	msgs, err := c.History(ctx, streamID, client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*models.Message, len(msgs))
	for _, m := range msgs {
		out[m.ID] = m
	}
	return out
}

// TestEmbeds: a message with a link gets its embed after its
// message_new, a second subscriber sees message_embeds, history returns
// the embeds, an edit that changes the link replaces them, and links
// written <…>, deleted messages and webhook posts behave.
func TestEmbeds(t *testing.T) {
	ctx := ctxT(t)
	site := newEmbedSite(t)
	s := embedServer(t)
	ac, bc, general := embedsChat(t, ctx, s)

	frame := map[string]any{"cmd": "message_new", "stream": general, "content": "read " + site.URL + "/a, it is short", "nonce": "c7a1e0c2-0e01"}
	raw, err := ac.Request(ctx, frame)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("request: %v", frame)
	t.Logf("reply: %s", raw)
	var reply struct {
		Message *models.Message `json:"message"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		t.Fatal(err)
	}
	sent := reply.Message
	if len(sent.Embeds) != 0 {
		t.Fatalf("the reply to message_new has embeds already: %+v", sent.Embeds)
	}
	first := nextEvent(t, bc, "message_new", "message_embeds")
	t.Logf("event: %s", first.Raw)
	if first.Cmd != "message_new" || first.Message.ID != sent.ID {
		t.Fatalf("first event %s, want message_new of %s", first.Raw, sent.ID)
	}
	m := nextEmbeds(t, bc)
	want := models.Embed{URL: site.URL + "/a", Type: models.EmbedLink, Title: "Oshi docs", Description: "The wire protocol of Oshi.", SiteName: "Oshi", Image: site.URL + "/cover.png"}
	if m.ID != sent.ID || m.Content != sent.Content || len(m.Embeds) != 1 || m.Embeds[0] != want {
		t.Fatalf("message_embeds message = %+v, want embeds [%+v]", m, want)
	}
	if h := historyOf(t, ctx, ac, general)[sent.ID]; h == nil || len(h.Embeds) != 1 || h.Embeds[0] != want {
		t.Fatalf("history has %+v", h)
	}
	raw, err = bc.Request(ctx, map[string]any{"cmd": "history", "stream": general, "limit": 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("history reply: %s", raw)

	// An edit that keeps the link keeps the embed.
	edited, err := ac.Edit(ctx, general, sent.ID, "read "+site.URL+"/a, it is really short")
	if err != nil {
		t.Fatal(err)
	}
	if len(edited.Embeds) != 1 {
		t.Fatalf("edit keeping the link: embeds %+v", edited.Embeds)
	}
	if ev := nextEvent(t, bc, "message_edit", "message_embeds"); ev.Cmd != "message_edit" || len(ev.Message.Embeds) != 1 {
		t.Fatalf("after an edit keeping the link: %s", ev.Raw)
	}

	// An edit that changes the link clears the embed, then the new one
	// comes.
	edited, err = ac.Edit(ctx, general, sent.ID, "no, read "+site.URL+"/b")
	if err != nil {
		t.Fatal(err)
	}
	if len(edited.Embeds) != 0 {
		t.Fatalf("edit changing the link: embeds %+v", edited.Embeds)
	}
	ev := nextEvent(t, bc, "message_edit", "message_embeds")
	t.Logf("event: %s", ev.Raw)
	if ev.Cmd != "message_edit" || len(ev.Message.Embeds) != 0 {
		t.Fatalf("after an edit changing the link: %s", ev.Raw)
	}
	m = nextEmbeds(t, bc)
	if m.ID != sent.ID || len(m.Embeds) != 1 || m.Embeds[0].Title != "Page B" || m.Embeds[0].Description != "Second page." || m.Embeds[0].URL != site.URL+"/b" {
		t.Fatalf("embeds after the edit: %+v", m.Embeds)
	}

	// A link written <…> asks for no preview: the message is not queued,
	// and the next message_embeds is the next message's.
	before := waitEmbeds(t, s, s.Srv.Streams().EmbedStats().Queued) // all done so far
	quiet, err := ac.Send(ctx, general, "no preview: <"+site.URL+"/a>", "")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Srv.Streams().EmbedStats(); st.Queued != before.Queued {
		t.Fatalf("a <link> was queued: %+v", st)
	}

	// A message deleted while its link is fetched gets no embeds.
	slow, err := ac.Send(ctx, general, site.URL+"/slow", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Delete(ctx, general, slow.ID); err != nil {
		t.Fatal(err)
	}
	close(site.release)
	waitEmbeds(t, s, before.Done+1)

	// A webhook's post gets embeds too; the cached page is not fetched
	// again.
	hits := site.hits.Load()
	hook := mustWebhook(t, ctx, ac, general, "CI")
	posted, err := client.PostWebhook(ctx, s.URL, hook.Path, client.WebhookPost{Content: "docs: " + site.URL + "/a and our logo " + site.URL + "/logo.png"})
	if err != nil {
		t.Fatal(err)
	}
	m = nextEmbeds(t, bc)
	logo := models.Embed{URL: site.URL + "/logo.png", Type: models.EmbedImage, Image: site.URL + "/logo.png"}
	if m.ID != posted.ID || len(m.Embeds) != 2 || m.Embeds[0] != want || m.Embeds[1] != logo {
		t.Fatalf("next message_embeds %+v, want the webhook post's %s (not %s nor %s)", m, posted.ID, quiet.ID, slow.ID)
	}
	if n := site.hits.Load(); n != hits+1 {
		t.Fatalf("%d requests, want 1 (the logo; the cached page is not fetched again)", n-hits)
	}
	// Deleting a message that has embeds drops them with its content.
	if _, err := ac.Delete(ctx, general, sent.ID); err != nil {
		t.Fatal(err)
	}
	h := historyOf(t, ctx, ac, general)
	if len(h[quiet.ID].Embeds) != 0 || len(h[slow.ID].Embeds) != 0 || !h[slow.ID].Deleted {
		t.Fatalf("history: quiet %+v, slow %+v", h[quiet.ID], h[slow.ID])
	}
	if len(h[sent.ID].Embeds) != 0 || !h[sent.ID].Deleted {
		t.Fatalf("history: deleted %+v", h[sent.ID])
	}
}

// TestEmbedsOff: without OSHI_EMBEDS nothing is fetched, even with a
// fetcher that could reach the site.
func TestEmbedsOff(t *testing.T) {
	ctx := ctxT(t)
	site := newEmbedSite(t)
	s := oshitest.NewServer(t, server.Config{EmbedFetcher: &unfurl.Config{AllowPrivate: true}})
	ac, _, general := embedsChat(t, ctx, s)
	sent, err := ac.Send(ctx, general, "read "+site.URL+"/a", "")
	if err != nil {
		t.Fatal(err)
	}
	// Messages are queued for embeds before their sender is answered,
	// so a queued one would show by now.
	if st := s.Srv.Streams().EmbedStats(); st != (streams.EmbedStats{}) {
		t.Fatalf("embeds off, but %+v", st)
	}
	if n := site.hits.Load(); n != 0 {
		t.Fatalf("the site got %d requests", n)
	}
	if h := historyOf(t, ctx, ac, general)[sent.ID]; len(h.Embeds) != 0 {
		t.Fatalf("history has embeds %+v", h.Embeds)
	}
}

// TestEmbedsRefuseLoopback: with the default fetcher a link to a
// loopback address, by number or by name, gets no embed and the site
// sees no request.
func TestEmbedsRefuseLoopback(t *testing.T) {
	ctx := ctxT(t)
	site := newEmbedSite(t)
	s := oshitest.NewServer(t, server.Config{Embeds: true})
	ac, _, general := embedsChat(t, ctx, s)
	port := site.URL[strings.LastIndex(site.URL, ":")+1:]
	sent, err := ac.Send(ctx, general, "http://127.0.0.1:"+port+"/a http://localhost:"+port+"/b http://[::1]:"+port+"/a", "")
	if err != nil {
		t.Fatal(err)
	}
	st := waitEmbeds(t, s, 1)
	if st.Fetches != 3 || st.Failed != 3 || st.Applied != 0 {
		t.Fatalf("stats %+v, want 3 failed fetches", st)
	}
	if n := site.hits.Load(); n != 0 {
		t.Fatalf("the site got %d requests", n)
	}
	if h := historyOf(t, ctx, ac, general)[sent.ID]; len(h.Embeds) != 0 {
		t.Fatalf("history has embeds %+v", h.Embeds)
	}
}
