package circles

import (
	"slices"
	"testing"
	"time"

	"github.com/oshichat/oshi/models"
)

// TestThreadPerms: a thread's permissions are its parent's, its own
// overwrites (it should have none) are ignored, a thread whose parent is
// gone allows nothing, and circle views list the active threads one may
// see, at their parent's position.
func TestThreadPerms(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	const circle = "c"
	r := &rules{
		circle: &models.Circle{ID: circle, OwnerID: "owner"},
		roles: map[string]*models.Role{
			circle:  {ID: circle, Permissions: models.DefaultPermissions},
			"staff": {ID: "staff", Position: 1},
		},
		members: map[string]*models.Member{
			"owner": {UserID: "owner"},
			"plain": {UserID: "plain"},
			"staff": {UserID: "staff", Roles: []string{"staff"}},
		},
		streams: map[string]*models.Stream{
			"general": {ID: "general", Kind: models.Channel, Position: 0},
			"staff-only": {ID: "staff-only", Kind: models.Channel, Position: 3, Overwrites: []models.Overwrite{
				{Role: circle, Deny: models.ViewStreams},
				{Role: "staff", Allow: models.ViewStreams},
			}},
			"news": {ID: "news", Kind: models.Channel, Position: 2, Overwrites: []models.Overwrite{
				{Role: circle, Deny: models.SendMessages},
			}},
		},
		threads: map[string]*models.Stream{
			"t-news":   {ID: "t-news", Kind: models.Thread, ParentID: "news"},
			"t-staff":  {ID: "t-staff", Kind: models.Thread, ParentID: "staff-only"},
			"t-orphan": {ID: "t-orphan", Kind: models.Thread, ParentID: "gone"},
			"t-old":    {ID: "t-old", Kind: models.Thread, ParentID: "general", Archived: true},
			// Overwrites on a thread are not read.
			"t-own": {ID: "t-own", Kind: models.Thread, ParentID: "general", Overwrites: []models.Overwrite{
				{Role: circle, Deny: models.ViewStreams},
			}},
		},
	}
	for _, tc := range []struct {
		user, stream string
		want         models.Permission
	}{
		{"plain", "t-news", models.DefaultPermissions &^ models.SendMessages},
		{"plain", "t-staff", 0},
		{"staff", "t-staff", models.DefaultPermissions},
		{"owner", "t-orphan", 0},
		{"plain", "t-own", models.DefaultPermissions},
		{"plain", "t-old", models.DefaultPermissions},
		{"stranger", "t-news", 0},
	} {
		if got := r.perms(tc.user, tc.stream, now); got != tc.want {
			t.Errorf("perms(%s, %s) = %v, want %v", tc.user, tc.stream, got, tc.want)
		}
	}
	for _, tc := range []struct {
		user string
		want []string
	}{
		{"plain", []string{"t-news", "t-own"}},
		{"staff", []string{"t-news", "t-own", "t-staff"}},
	} {
		var ids []string
		for _, v := range r.viewThreads(tc.user, now, nil) {
			ids = append(ids, v.ID)
			if parent := r.streams[v.ParentID]; v.Position != parent.Position || v.Permissions == nil {
				t.Errorf("%s sees %+v; want the parent's position and permissions", tc.user, v)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s's view lists threads %v, want %v", tc.user, ids, tc.want)
		}
	}
	if n := r.activeThreads("general"); n != 1 {
		t.Errorf("active threads of general = %d, want 1", n)
	}
}
