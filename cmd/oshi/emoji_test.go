package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// TestChatCustomEmoji: /react :name: reacts with the circle's custom
// emoji, reactions custom:<id> and <:name:id> in content show as :name:
// and follow renames (emoji_update), and a reaction with an emoji the
// circle no longer has shows as :?:.
func TestChatCustomEmoji(t *testing.T) {
	ctx := context.Background()
	s := oshitest.NewServer(t, server.Config{})
	alice, ac := s.User("alice")
	bob, bc := s.User("bob")
	circle, err := ac.CreateCircle(ctx, "Party", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bc.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 16, 16))); err != nil {
		t.Fatal(err)
	}
	blob, err := client.UploadEmoji(ctx, s.URL, alice.Token, circle.ID, "blob", "blob.png", &img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Send(ctx, general, "look <:blob:"+blob.ID+"> here", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Send(ctx, general, "party time", ""); err != nil {
		t.Fatal(err)
	}

	sc := newScreen(t, s, bob)
	sc.waitText("alice: look :blob: here", "alice: party time")
	sc.waitSubscribed(general)
	sc.typeLine("/react :nope:")
	sc.waitText("no custom emoji :nope: in this circle")
	sc.typeLine("/react :BLOB:")
	sc.waitText("alice: party time [:blob: 1]")
	hist, err := ac.History(ctx, general, client.HistoryQuery{Limit: 1})
	if err != nil || len(hist) != 1 || len(hist[0].ReactionCounts) != 1 || hist[0].ReactionCounts[0].Emoji != models.CustomReaction(blob.ID) {
		t.Fatalf("after /react :BLOB: the server has %+v, %v", hist, err)
	}

	// A rename shows at once; the reaction keeps its count.
	if _, err := ac.EmojiRename(ctx, circle.ID, blob.ID, "blobcat"); err != nil {
		t.Fatal(err)
	}
	sc.waitText("alice: party time [:blobcat: 1]", "alice: look :blobcat: here")
	// alice's reaction with the same emoji counts with bob's.
	if _, err := ac.React(ctx, general, hist[0].ID, models.CustomReaction(blob.ID)); err != nil {
		t.Fatal(err)
	}
	sc.waitText("alice: party time [:blobcat: 2]")

	// Deleted, the emoji's reactions stay with a placeholder, and can
	// no longer be named.
	if _, err := ac.EmojiDelete(ctx, circle.ID, blob.ID); err != nil {
		t.Fatal(err)
	}
	sc.waitText("alice: party time [:?: 2]", "alice: look :blob: here")
	sc.typeLine("/unreact :blobcat:")
	sc.waitText("no custom emoji :blobcat: in this circle")
	if strings.Contains(sc.text(), ":blobcat:]") {
		t.Errorf("a deleted emoji is still shown by name:\n%s", sc.text())
	}
}
