package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
	"github.com/oshichat/oshi/store/embedded"
)

// TestStoreOutage stops the database under a connected client: posts fail
// with store_unavailable and nothing is acknowledged, /readyz says 503, the
// connection stays up, and service resumes when the database returns.
func TestStoreOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	db, err := embedded.Start(embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(db.URI())
	s := oshitest.NewServer(t, server.Config{MongoURI: db.URI(), MongoDB: "outage"})
	_, ac := s.User("alice")
	circle, err := ac.CreateCircle(ctx, "Fragile", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	if _, err := ac.Subscribe(ctx, general, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Send(ctx, general, "before", ""); err != nil {
		t.Fatal(err)
	}

	_ = db.Close()
	_, err = ac.Send(ctx, general, "during", "")
	if client.Code(err) != "store_unavailable" {
		t.Fatalf("send during outage: %v, want store_unavailable", err)
	}
	if got := status(t, s.URL+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during outage = %d, want 503", got)
	}
	if got := status(t, s.URL+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz during outage = %d, want 200", got)
	}
	if err := ac.Ping(ctx); err != nil {
		t.Fatalf("connection lost during outage: %v", err)
	}

	db, err = embedded.Start(embedded.Config{Dir: dir, Addr: u.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msg *models.Message
	for deadline := time.Now().Add(20 * time.Second); ; {
		msg, err = ac.Send(ctx, general, "after", "after-1")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || msg.Seq != 2 {
		t.Fatalf("send after outage = %+v, %v; want seq 2", msg, err)
	}
	if got := status(t, s.URL+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz after outage = %d, want 200", got)
	}
	hist, err := ac.History(ctx, general, client.HistoryQuery{})
	if err != nil || len(hist) != 2 || hist[1].Content != "after" {
		t.Fatalf("history = %v, %v; want before and after only", hist, err)
	}
	s.Stop() // before the store goes away
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func closeCode(err error) websocket.StatusCode { return websocket.CloseStatus(err) }
