package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

func TestMessageReply(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	_, bc := s.User("bob")
	_, cc := s.User("carol")
	circle, err := ac.CreateCircle(ctx, "Gophers", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{ac, bc} {
		if _, err := c.Subscribe(ctx, general, -1); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("é", 99) + "✓ and more"
	orig, err := ac.Send(ctx, general, long, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{ac, bc} {
		if ev := nextEvent(t, c, "message_new"); ev.Message.Reply != nil || strings.Contains(string(ev.Raw), "reply_to") {
			t.Fatalf("a message that answers nothing carries reply_to: %s", ev.Raw)
		}
	}

	re, err := bc.SendReply(ctx, general, orig.ID, "agreed", "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := models.ReplyRef{ID: orig.ID, Seq: orig.Seq, Author: alice.User, Preview: strings.Repeat("é", 99) + "✓"}
	if re.Reply == nil || *re.Reply != want || re.Content != "agreed" || re.Seq != 2 {
		t.Fatalf("reply = %+v, reply_to %+v; want %+v", re, re.Reply, want)
	}
	// Both subscribers get the reply with its reply_to.
	for _, c := range []*client.Client{ac, bc} {
		ev := nextEvent(t, c, "message_new")
		if ev.Message == nil || ev.Message.ID != re.ID || ev.Message.Reply == nil || *ev.Message.Reply != want ||
			!strings.Contains(string(ev.Raw), `"reply_to":{"id":"`+orig.ID+`","seq":1,"author":{`) {
			t.Fatalf("message_new event = %s", ev.Raw)
		}
	}
	// Stored: the id in reply_to, the rest beside it.
	doc := storedMessage(t, s, re.ID)
	if doc["reply_to"] != orig.ID || field(doc["reply"], "preview") != want.Preview || field(doc["reply"], "id") != orig.ID {
		t.Fatalf("stored reply = %v", doc)
	}

	// The preview stays as it was when the original changes, and history
	// sends it without looking the original up.
	if _, err := ac.Edit(ctx, general, orig.ID, "changed"); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Delete(ctx, general, orig.ID); err != nil {
		t.Fatal(err)
	}
	hist, err := bc.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[1].Reply == nil || *hist[1].Reply != want || !hist[0].Deleted {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// Refusals: nothing is stored or announced.
	dm, err := ac.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	inDM, err := ac.Send(ctx, dm.ID, "in the dm", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"deleted original", bc, map[string]any{"stream": general, "content": "x", "reply_to": orig.ID}, "invalid_reply"},
		{"unknown original", bc, map[string]any{"stream": general, "content": "x", "reply_to": "01a21659-bf7d-72f6-88ed-51f14a7c04a2"}, "invalid_reply"},
		{"original in another stream", ac, map[string]any{"stream": general, "content": "x", "reply_to": inDM.ID}, "invalid_reply"},
		{"overlong id", bc, map[string]any{"stream": general, "content": "x", "reply_to": strings.Repeat("a", 65)}, "invalid_reply"},
		{"stranger", cc, map[string]any{"stream": general, "content": "x", "reply_to": re.ID}, "forbidden"},
		{"empty content", bc, map[string]any{"stream": general, "content": "", "reply_to": re.ID}, "invalid_content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.frame["cmd"] = "message_new"
			raw, err := tc.c.Request(ctx, tc.frame)
			if client.Code(err) != tc.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.code)
			}
		})
	}
	noEvent(t, ac, 200*time.Millisecond, "message_new")
	if hist, err := bc.History(ctx, general, client.HistoryQuery{}); err != nil || len(hist) != 2 {
		t.Fatalf("a refused reply was stored: %+v, %v", hist, err)
	}

	// A reply to a reply, in a DM.
	dmRe, err := bc.SendReply(ctx, dm.ID, inDM.ID, "yes", "")
	if err != nil || dmRe.Reply == nil || dmRe.Reply.ID != inDM.ID || dmRe.Reply.Preview != "in the dm" {
		t.Fatalf("dm reply = %+v, %v", dmRe, err)
	}
	reRe, err := ac.SendReply(ctx, dm.ID, dmRe.ID, "good", "")
	if err != nil || reRe.Reply == nil || reRe.Reply.ID != dmRe.ID || reRe.Reply.Author.Username != "bob" || reRe.Reply.Preview != "yes" {
		t.Fatalf("reply to a reply = %+v, %v", reRe, err)
	}
}
