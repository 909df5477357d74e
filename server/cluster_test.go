package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// cluster starts n nodes sharing one NATS and one database.
func cluster(t *testing.T, n int) []*oshitest.Server {
	t.Helper()
	natsURL := oshitest.NATS(t)
	uri, db := oshitest.MongoURI(t), oshitest.Database(t)
	nodes := make([]*oshitest.Server, n)
	for i := range nodes {
		nodes[i] = oshitest.NewServer(t, server.Config{MongoURI: uri, MongoDB: db, NATSURL: natsURL, NodeName: fmt.Sprint("node", i)})
	}
	return nodes
}

func next(t *testing.T, c *client.Client, cmd string) client.Event {
	t.Helper()
	return oshitest.Next(t, c, cmd)
}

func quiet(t *testing.T, c *client.Client, cmd string, d time.Duration) {
	t.Helper()
	oshitest.Quiet(t, c, d, cmd)
}

// TestClusterFanout: two nodes publish into one stream at once; a
// subscriber on a third node, and one on a publishing node, see every
// message exactly once, in seq order.
func TestClusterFanout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	_, alice := a.User("alice")
	_, carol := b.User("carol")
	_, bob := c.User("bob")

	circle, err := alice.CreateCircle(ctx, "Everywhere", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := bob.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, alice, "member_join"); ev.User.Username != "bob" {
		t.Fatalf("alice on node A got %s", ev.Raw)
	}
	if _, err := carol.JoinCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*client.Client{alice, bob} {
		if _, err := cl.Subscribe(ctx, general, -1); err != nil {
			t.Fatal(err)
		}
	}

	const each = 60
	var wg sync.WaitGroup
	for _, sender := range []*client.Client{alice, carol} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := sender.Send(ctx, general, fmt.Sprint("m", i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for name, cl := range map[string]*client.Client{"alice on A": alice, "bob on C": bob} {
		for want := int64(1); want <= 2*each; want++ {
			if ev := next(t, cl, "message_new"); ev.Message.Seq != want {
				t.Fatalf("%s got seq %d, want %d", name, ev.Message.Seq, want)
			}
		}
		quiet(t, cl, "message_new", 200*time.Millisecond)
	}
	hist, err := bob.History(ctx, general, client.HistoryQuery{Limit: 100, After: client.Seq(2*each - 100)})
	if err != nil || len(hist) != 100 || hist[99].Seq != 2*each {
		t.Fatalf("history tail = %d messages, %v", len(hist), err)
	}
}

// TestClusterMembershipAndNodeLoss: a leave on one node reaches the user's
// connections on another; a node that goes away takes only its own
// connections with it.
func TestClusterMembershipAndNodeLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := cluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	_, alice := a.User("alice")
	bobLogin, bobOnB := b.User("bob")
	bobOnA := a.Dial(bobLogin)
	_, carol := c.User("carol")

	circle, err := alice.CreateCircle(ctx, "Mesh", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	for _, cl := range []*client.Client{bobOnB, carol} {
		if _, err := cl.JoinCircle(ctx, circle.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, cl := range []*client.Client{bobOnA, carol} {
		if _, err := cl.Subscribe(ctx, general, -1); err != nil {
			t.Fatal(err)
		}
	}

	// Bob leaves on node B: his subscription on node A ends, and node A
	// refuses his posts.
	if err := bobOnB.LeaveCircle(ctx, circle.ID); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, alice, "member_leave"); ev.User.Username != "bob" {
		t.Fatalf("alice got %s", ev.Raw)
	}
	if _, err := alice.Send(ctx, general, "after bob left", ""); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, carol, "message_new"); ev.Message.Content != "after bob left" {
		t.Fatalf("carol got %s", ev.Raw)
	}
	quiet(t, bobOnA, "message_new", 300*time.Millisecond)
	if _, err := bobOnA.Send(ctx, general, "still here?", ""); client.Code(err) != "forbidden" {
		t.Fatalf("bob's post on node A after leaving on B: %v, want forbidden", err)
	}

	// Node B goes away: its clients are told to reconnect (1012); A and C
	// go on.
	b.Stop()
	<-bobOnB.Done()
	if got := int(closeCode(bobOnB.Err())); got != 1012 {
		t.Fatalf("bob on B closed with %d, want 1012", got)
	}
	if _, err := alice.Send(ctx, general, "B is gone", ""); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, carol, "message_new"); ev.Message.Content != "B is gone" || ev.Message.Seq != 2 {
		t.Fatalf("carol got %s", ev.Raw)
	}
}

// TestClusterUnreachable: a node whose NATS cannot be reached refuses to
// start, naming NATS, instead of running alone while claiming a cluster.
func TestClusterUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = server.New(context.Background(), server.Config{
		MongoURI: oshitest.MongoURI(t), MongoDB: oshitest.Database(t), NATSURL: "nats://" + addr,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil || !strings.Contains(err.Error(), "nats") {
		t.Fatalf("server.New with an unreachable NATS: %v, want an error naming nats", err)
	}
}
