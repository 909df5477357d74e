package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// TestDMsOf checks that a user's DMs are listed from the per-user list,
// including DMs stored before the list existed (found once by a query on
// the streams and then listed).
func TestDMsOf(t *testing.T) {
	ctx := context.Background()
	m := open(t)
	dm := func(id string, a, b string) *models.Stream {
		return &models.Stream{ID: id, Kind: models.DM, Members: []string{a, b}, CreatedAt: time.Now()}
	}
	ids := func(dms []*models.Stream) []string {
		var out []string
		for _, d := range dms {
			out = append(out, d.ID)
		}
		return out
	}
	// An older DM, stored the way earlier versions did: no list entry.
	if _, err := m.Database().Collection(store.StreamsCollection).InsertOne(ctx, dm("dm-old", "ann", "bob")); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateStream(ctx, dm("dm-new", "ann", "cat")); err != nil {
		t.Fatal(err)
	}
	// Creating an existing DM again is a duplicate, and lists it anyway.
	if err := m.CreateStream(ctx, dm("dm-new", "ann", "cat")); err == nil {
		t.Fatal("second CreateStream of one DM: no error, want a duplicate")
	}
	tests := []struct {
		user string
		want []string
	}{
		{"ann", []string{"dm-new", "dm-old"}},
		{"ann", []string{"dm-new", "dm-old"}}, // again, now from the complete list
		{"bob", []string{"dm-old"}},
		{"cat", []string{"dm-new"}},
		{"dan", nil},
	}
	for _, tc := range tests {
		got, err := m.DMsOf(ctx, tc.user)
		if err != nil {
			t.Fatalf("DMsOf(%s): %v", tc.user, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("DMsOf(%s) = %v, want %v", tc.user, ids(got), tc.want)
		}
	}
	// A DM made after bob's list was completed is listed too.
	if err := m.CreateStream(ctx, dm("dm-late", "bob", "dan")); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string][]string{"bob": {"dm-late", "dm-old"}, "dan": {"dm-late"}} {
		got, err := m.DMsOf(ctx, user)
		if err != nil || !slices.Equal(ids(got), want) {
			t.Errorf("DMsOf(%s) after a new DM = %v, %v; want %v", user, ids(got), err, want)
		}
	}
}

// TestDMsOfConcurrent lists one user's DMs from many goroutines at once
// before the user has a list, as a user's connections do when they all
// connect together: each must succeed.
func TestDMsOfConcurrent(t *testing.T) {
	ctx := context.Background()
	m := open(t)
	if err := m.CreateStream(ctx, &models.Stream{ID: "dm-x", Kind: models.DM, Members: []string{"eve", "fay"}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Database().Collection(store.DMListsCollection).DeleteMany(ctx, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			dms, err := m.DMsOf(ctx, "eve")
			if err == nil && len(dms) != 1 {
				err = fmt.Errorf("got %d DMs, want 1", len(dms))
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
