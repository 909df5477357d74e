package server_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// TestClusterEmoji: a custom emoji made, renamed and deleted on one node
// holds on the other at once: its member there gets emoji_update, a new
// connection's ready lists it as it now is, a reaction with it is
// accepted there, and once deleted its image is gone there too.
func TestClusterEmoji(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	ownerL, owner := a.User("owner")
	bobL, bob := b.User("bob")
	circle, err := owner.CreateCircle(ctx, "Split", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	// Node B has loaded the circle's rules (bob joined there): they must
	// be forgotten when node A changes the emoji.
	readyEmoji := func() []models.Emoji {
		t.Helper()
		for _, c := range b.Dial(bobL).Ready().Circles {
			if c.ID == circle.ID {
				return c.Emojis
			}
		}
		t.Fatal("bob's ready on node B lacks the circle")
		return nil
	}
	if got := readyEmoji(); len(got) != 0 {
		t.Fatalf("ready before the upload lists %v", got)
	}

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	e, err := client.UploadEmoji(ctx, a.URL, ownerL.Token, circle.ID, "wave", "wave.png", bytes.NewReader(img.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	next(t, bob, "emoji_update")
	if got := readyEmoji(); len(got) != 1 || got[0].Name != "wave" {
		t.Fatalf("ready on node B after the upload on node A = %v", got)
	}
	msg, err := owner.Send(ctx, circle.Streams[0].ID, "hi", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.React(ctx, circle.Streams[0].ID, msg.ID, models.CustomReaction(e.ID)); err != nil {
		t.Fatalf("react on node B with the emoji made on node A: %v", err)
	}

	if _, err := owner.EmojiRename(ctx, circle.ID, e.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	next(t, bob, "emoji_update")
	if got := readyEmoji(); len(got) != 1 || got[0].Name != "hello" {
		t.Fatalf("ready on node B after the rename on node A = %v", got)
	}

	get := func() int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, client.EmojiURL(b.URL, e.ID), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+bobL.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get(); status != 200 {
		t.Fatalf("GET on node B = %d", status)
	}
	if _, err := owner.EmojiDelete(ctx, circle.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	next(t, bob, "emoji_update")
	if status := get(); status != 404 {
		t.Fatalf("GET on node B after the delete on node A = %d; want 404", status)
	}
	if got := readyEmoji(); len(got) != 0 {
		t.Fatalf("ready on node B after the delete = %v", got)
	}
}
