package gateway

import (
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
)

// BenchmarkMessageEvent measures encoding one message_new event, done once
// per publish whatever the number of subscribers.
func BenchmarkMessageEvent(b *testing.B) {
	m := &models.Message{
		ID: "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506", StreamID: "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f507", Seq: 12345,
		AuthorID: "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f508",
		Author:   models.UserRef{ID: "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f508", Username: "alice"},
		Content:  "a typical chat message of about sixty characters, give or take",
		Nonce:    "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506", CreatedAt: time.Now(),
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = MessageEvent(m)
	}
}
