package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// readyStream finds a stream in a connection's ready frame.
func readyStream(t *testing.T, c *client.Client, id string) *models.Stream {
	t.Helper()
	r := c.Ready()
	for _, circle := range r.Circles {
		for i := range circle.Streams {
			if circle.Streams[i].ID == id {
				return &circle.Streams[i]
			}
		}
	}
	for _, dm := range r.DMs {
		if dm.ID == id {
			return dm
		}
	}
	t.Fatalf("stream %s not in ready", id)
	return nil
}

func unread(t *testing.T, st *models.Stream) int64 {
	t.Helper()
	if st.Unread == nil {
		t.Fatalf("stream %s has no unread in ready", st.ID)
	}
	return *st.Unread
}

func TestStreamAck(t *testing.T) {
	ctx := ctxT(t)
	x := newChangeSetup(t, ctx)
	for i := range 3 {
		if _, err := x.ac.Send(ctx, x.general, fmt.Sprint("m", i+1), ""); err != nil {
			t.Fatal(err)
		}
	}
	dm, err := x.ac.OpenDM(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.ac.Send(ctx, dm.ID, "psst", ""); err != nil {
		t.Fatal(err)
	}
	// bob's second connection: everything unread.
	bc2 := x.s.Dial(x.bob)
	if got := unread(t, readyStream(t, bc2, x.general)); got != 3 {
		t.Fatalf("unread before any ack = %d, want 3", got)
	}
	if got := unread(t, readyStream(t, bc2, dm.ID)); got != 1 {
		t.Fatalf("dm unread = %d, want 1", got)
	}

	seq, err := x.bc.Ack(ctx, x.general, 2)
	if err != nil || seq != 2 {
		t.Fatalf("ack 2 = %d, %v", seq, err)
	}
	ev := nextEvent(t, bc2, "stream_ack")
	if ev.Stream != x.general || ev.Seq != 2 {
		t.Fatalf("stream_ack event = %s", ev.Raw)
	}
	noEvent(t, x.bc, 100*time.Millisecond, "stream_ack") // not to itself
	noEvent(t, x.ac, 0, "stream_ack")                    // nor to others

	// Backwards changes nothing and tells nobody; past the end is clamped.
	if seq, err := x.bc.Ack(ctx, x.general, 1); err != nil || seq != 2 {
		t.Fatalf("ack 1 after 2 = %d, %v; want 2", seq, err)
	}
	noEvent(t, bc2, 100*time.Millisecond, "stream_ack")
	if seq, err := bc2.Ack(ctx, x.general, 99); err != nil || seq != 3 {
		t.Fatalf("ack 99 = %d, %v; want 3 (clamped)", seq, err)
	}
	if ev := nextEvent(t, x.bc, "stream_ack"); ev.Seq != 3 {
		t.Fatalf("stream_ack event = %s", ev.Raw)
	}

	// Stored in the user's document, keyed by the user's id.
	var doc struct {
		Streams map[string]bson.M `bson:"streams"`
	}
	if err := x.s.Srv.Store().Database().Collection(store.ReadStatesCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: x.bob.User.ID}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if rs := doc.Streams[x.general]; rs["seq"] != int64(3) || rs["updated_at"] == nil {
		t.Fatalf("stored read state = %v", doc.Streams)
	}

	// ready counts from the read seq; alice, who acked nothing, from 0.
	if _, err := x.ac.Send(ctx, x.general, "m4", ""); err != nil {
		t.Fatal(err)
	}
	if got := unread(t, readyStream(t, x.s.Dial(x.bob), x.general)); got != 1 {
		t.Fatalf("unread after ack 3 and one more message = %d, want 1", got)
	}
	if got := unread(t, readyStream(t, x.s.Dial(x.alice), x.general)); got != 4 {
		t.Fatalf("alice's unread = %d, want 4", got)
	}

	// Refusals.
	for _, tc := range []struct {
		name  string
		c     *client.Client
		frame map[string]any
		code  string
	}{
		{"stranger", x.cc, map[string]any{"stream": x.general, "seq": 1}, "forbidden"},
		{"stranger on a dm", x.cc, map[string]any{"stream": dm.ID, "seq": 1}, "forbidden"},
		{"no such stream", x.bc, map[string]any{"stream": "nope", "seq": 1}, "not_found"},
		{"negative", x.bc, map[string]any{"stream": x.general, "seq": -1}, "bad_request"},
		{"no seq", x.bc, map[string]any{"stream": x.general}, "bad_request"},
		{"no stream", x.bc, map[string]any{"seq": 1}, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.frame["cmd"] = "stream_ack"
			raw, err := tc.c.Request(ctx, tc.frame)
			if client.Code(err) != tc.code {
				t.Fatalf("reply %s, err %v; want %s", raw, err, tc.code)
			}
		})
	}
	noEvent(t, bc2, 100*time.Millisecond, "stream_ack")
	if n, _ := x.s.Srv.Store().Database().Collection(store.ReadStatesCollection).CountDocuments(context.Background(), bson.D{{Key: "_id", Value: x.carol.User.ID}}); n != 0 {
		t.Fatalf("a refused ack stored %d read states", n)
	}
}
