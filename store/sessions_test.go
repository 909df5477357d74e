package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

func TestDeleteSessions(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	now := time.Now()
	for _, s := range []struct{ hash, user string }{{"a1", "alice"}, {"a2", "alice"}, {"a3", "alice"}, {"b1", "bob"}} {
		if err := st.CreateSession(ctx, &models.Session{TokenHash: s.hash, UserID: s.user, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		user string
		want []string
	}{
		{"alice", []string{"a1", "a2", "a3"}},
		{"alice", nil}, // none left: not an error
		{"nobody", nil},
	}
	for _, tc := range cases {
		got, err := st.DeleteSessions(ctx, tc.user)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("DeleteSessions(%q) = %v, %v; want %v", tc.user, got, err, tc.want)
		}
	}
	for _, h := range []string{"a1", "a2", "a3"} {
		if _, err := st.Session(ctx, h, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session %s after DeleteSessions: %v, want ErrNotFound", h, err)
		}
	}
	if _, err := st.Session(ctx, "b1", now); err != nil {
		t.Fatalf("another user's session: %v", err)
	}
}

func TestSetPasswordHash(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	if err := st.CreateUser(ctx, &models.User{ID: "u1", Username: "alice", PasswordHash: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPasswordHash(ctx, "u1", "new"); err != nil {
		t.Fatal(err)
	}
	if u, err := st.UserByName(ctx, "alice"); err != nil || u.PasswordHash != "new" {
		t.Fatalf("user after SetPasswordHash = %+v, %v", u, err)
	}
	if err := st.SetPasswordHash(ctx, "nobody", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetPasswordHash of a missing user = %v, want ErrNotFound", err)
	}
}
