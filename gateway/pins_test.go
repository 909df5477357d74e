package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// storedPins reads a stream's pins straight from MongoDB.
func storedPins(t *testing.T, s *oshitest.Server, streamID string) []string {
	t.Helper()
	var doc struct {
		Pins []string `bson:"pins"`
	}
	db := s.Srv.Store().Database()
	if err := db.Collection(store.StreamsCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: streamID}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Pins
}

func pinIDs(msgs []*models.Message) string {
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return strings.Join(ids, ",")
}

func TestMessagePin(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	var ms []*models.Message
	for i, c := range []*client.Client{x.bc, x.ac, x.ac} {
		m, err := c.Send(ctx, x.general, fmt.Sprint("m", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, c := range []*client.Client{x.ac, x.bc} {
		for range ms {
			nextEvent(t, c, "message_new")
		}
	}

	// Refused: a member who is not the owner, a stranger, a bad target.
	_, err := x.bc.Pin(ctx, x.general, ms[0].ID)
	wantCode(t, err, "forbidden")
	_, err = x.cc.Pin(ctx, x.general, ms[0].ID)
	wantCode(t, err, "forbidden")
	_, err = x.cc.Pins(ctx, x.general)
	wantCode(t, err, "forbidden")
	_, err = x.ac.Pin(ctx, x.general, "01a21659-bf7d-72f6-88ed-51f14a7c04a2")
	wantCode(t, err, "not_found")
	_, err = x.ac.Pin(ctx, "nope", ms[0].ID)
	wantCode(t, err, "not_found")
	raw, err := x.ac.Request(ctx, map[string]any{"cmd": "message_pin", "stream": x.general})
	if client.Code(err) != "bad_request" {
		t.Fatalf("pin without id: %s, %v", raw, err)
	}
	raw, err = x.ac.Request(ctx, map[string]any{"cmd": "pins_list"})
	if client.Code(err) != "bad_request" {
		t.Fatalf("pins_list without stream: %s, %v", raw, err)
	}
	noEvent(t, x.bc, 200*time.Millisecond, "message_pin")
	if pins, err := x.bc.Pins(ctx, x.general); err != nil || len(pins) != 0 {
		t.Fatalf("pins = %v, %v; want none", pins, err)
	}
	if raw, err := x.bc.Request(ctx, map[string]any{"cmd": "pins_list", "stream": x.general}); err != nil || !strings.Contains(string(raw), `"messages":[]`) {
		t.Fatalf("empty pins_list = %s, %v", raw, err)
	}

	// The owner pins bob's message: both subscribers see it.
	p, err := x.ac.Pin(ctx, x.general, ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != ms[0].ID || p.PinnedAt == nil || p.PinnedBy == nil || *p.PinnedBy != x.alice.User || p.Content != "m1" {
		t.Fatalf("pin reply = %+v", p)
	}
	for _, c := range []*client.Client{x.bc, x.ac} {
		ev := nextEvent(t, c, "message_pin")
		if ev.Stream != x.general || ev.ID != ms[0].ID || ev.Seq != ms[0].Seq || ev.By == nil || *ev.By != x.alice.User ||
			ev.Message != nil || strings.Contains(string(ev.Raw), `"ref"`) {
			t.Fatalf("message_pin event = %s", ev.Raw)
		}
	}
	// Twice is a no-op without an event.
	again, err := x.ac.Pin(ctx, x.general, ms[0].ID)
	if err != nil || again.PinnedAt == nil || !again.PinnedAt.Equal(*p.PinnedAt) {
		t.Fatalf("second pin = %+v, %v", again, err)
	}
	if _, err := x.ac.Pin(ctx, x.general, ms[2].ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{x.bc, x.ac} {
		if ev := nextEvent(t, c, "message_pin"); ev.ID != ms[2].ID {
			t.Fatalf("after a repeated pin the next event is %s, want the pin of %s", ev.Raw, ms[2].ID)
		}
	}
	pins, err := x.bc.Pins(ctx, x.general)
	if err != nil || pinIDs(pins) != ms[0].ID+","+ms[2].ID || pins[0].PinnedBy == nil || pins[0].Content != "m1" {
		t.Fatalf("pins = %+v, %v", pins, err)
	}
	if got := storedPins(t, x.s, x.general); strings.Join(got, ",") != ms[0].ID+","+ms[2].ID {
		t.Fatalf("stored pins = %v", got)
	}
	hist, err := x.bc.History(ctx, x.general, client.HistoryQuery{})
	if err != nil || hist[0].PinnedAt == nil || hist[1].PinnedAt != nil {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// Unpin: refused for bob, then the owner; twice is a no-op.
	_, err = x.bc.Unpin(ctx, x.general, ms[0].ID)
	wantCode(t, err, "forbidden")
	up, err := x.ac.Unpin(ctx, x.general, ms[0].ID)
	if err != nil || up.PinnedAt != nil || up.PinnedBy != nil {
		t.Fatalf("unpin = %+v, %v", up, err)
	}
	for _, c := range []*client.Client{x.bc, x.ac} {
		ev := nextEvent(t, c, "message_unpin", "message_pin")
		if ev.Cmd != "message_unpin" || ev.ID != ms[0].ID || ev.Seq != ms[0].Seq || ev.By != nil || strings.Contains(string(ev.Raw), `"by"`) {
			t.Fatalf("message_unpin event = %s", ev.Raw)
		}
	}
	if _, err := x.ac.Unpin(ctx, x.general, ms[1].ID); err != nil {
		t.Fatal(err)
	}
	noEvent(t, x.bc, 200*time.Millisecond, "message_unpin", "message_pin")
	if doc := storedMessage(t, x.s, ms[0].ID); doc["pinned_at"] != nil || doc["pinned_by"] != nil {
		t.Fatalf("unpinned message stored as %v", doc)
	}

	// Deleting a pinned message unpins it.
	if _, err := x.ac.Delete(ctx, x.general, ms[2].ID); err != nil {
		t.Fatal(err)
	}
	if pins, err := x.bc.Pins(ctx, x.general); err != nil || len(pins) != 0 {
		t.Fatalf("pins after delete = %+v, %v", pins, err)
	}
	if got := storedPins(t, x.s, x.general); len(got) != 0 {
		t.Fatalf("stored pins after delete = %v", got)
	}
	_, err = x.ac.Pin(ctx, x.general, ms[2].ID)
	wantCode(t, err, "not_found")

	// In a DM either participant may pin; a third user may not list.
	dm, err := x.bc.OpenDM(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	dmMsg, err := x.ac.Send(ctx, dm.ID, "note this", "")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := x.bc.Pin(ctx, dm.ID, dmMsg.ID); err != nil || p.PinnedBy == nil || *p.PinnedBy != x.bob.User {
		t.Fatalf("dm pin = %+v, %v", p, err)
	}
	if pins, err := x.ac.Pins(ctx, dm.ID); err != nil || pinIDs(pins) != dmMsg.ID {
		t.Fatalf("dm pins = %+v, %v", pins, err)
	}
	_, err = x.cc.Pins(ctx, dm.ID)
	wantCode(t, err, "forbidden")
	// A message of another stream is not found through this one.
	_, err = x.ac.Pin(ctx, x.general, dmMsg.ID)
	wantCode(t, err, "not_found")
}

func TestTooManyPins(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	st, err := x.ac.CreateStream(ctx, x.circle.ID, "pins")
	if err != nil {
		t.Fatal(err)
	}
	var ms []*models.Message
	for i := range models.MaxPins + 1 {
		m, err := x.ac.Send(ctx, st.ID, fmt.Sprint("m", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, m := range ms[:models.MaxPins] {
		if _, err := x.ac.Pin(ctx, st.ID, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, err = x.ac.Pin(ctx, st.ID, ms[models.MaxPins].ID)
	wantCode(t, err, "too_many_pins")
	// Pinning a pinned one again is still a no-op, and unpinning frees a place.
	if _, err := x.ac.Pin(ctx, st.ID, ms[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := x.ac.Unpin(ctx, st.ID, ms[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := x.ac.Pin(ctx, st.ID, ms[models.MaxPins].ID); err != nil {
		t.Fatal(err)
	}
	pins, err := x.bc.Pins(ctx, st.ID)
	if err != nil || len(pins) != models.MaxPins || pins[0].ID != ms[1].ID || pins[len(pins)-1].ID != ms[models.MaxPins].ID {
		t.Fatalf("pins = %d, %v", len(pins), err)
	}
}
