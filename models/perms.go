package models

import (
	"strings"
	"time"
)

// Permission is a set of things a member may do in a circle, one bit each.
// The bits are part of the protocol (docs/protocol.md lists them) and
// never change meaning.
type Permission uint64

// Permissions. A circle's owner holds all of them, and so does a member
// with Administrator; everyone else holds the union of their roles'
// permissions, adjusted per stream by the stream's overwrites.
const (
	// Administrator grants every permission and bypasses stream overwrites.
	Administrator Permission = 1 << iota
	// ManageCircle allows editing the circle's name, description, icon
	// and visibility.
	ManageCircle
	// ManageRoles allows creating, editing, moving, deleting, assigning
	// and removing roles below the member's highest role, and setting
	// stream overwrites.
	ManageRoles
	// ManageStreams allows creating, editing, moving and deleting streams.
	ManageStreams
	// ManageMembers allows kicking members, timing them out and setting
	// their nicknames.
	ManageMembers
	// BanMembers allows banning and unbanning, and listing bans.
	BanMembers
	// ViewAuditLog allows reading the circle's audit log.
	ViewAuditLog
	// ManageMessages allows deleting and pinning others' messages.
	ManageMessages
	// ViewStreams allows seeing a stream and subscribing to it.
	ViewStreams
	// SendMessages allows posting, editing one's own messages and typing.
	SendMessages
	// ReadHistory allows reading stored messages (history, pins, since).
	ReadHistory
	// AddReactions allows reacting to messages.
	AddReactions
	// CreateInvites allows making invite codes.
	CreateInvites
	// MentionEveryone allows @everyone to notify every member.
	MentionEveryone
	// Connect allows joining voice streams.
	Connect
	// Speak allows talking (being unmuted) in voice streams.
	Speak
	// ManageEmoji allows adding, renaming and deleting the circle's
	// custom emoji.
	ManageEmoji
	// CreateThreads allows starting threads in the streams one may post in.
	CreateThreads
	// ManageThreads allows renaming, archiving, locking and deleting
	// others' threads, and posting in locked ones.
	ManageThreads
	// UseCommands allows invoking bots' slash commands.
	UseCommands

	// AllPermissions is every permission defined.
	AllPermissions = UseCommands<<1 - 1
	// DefaultPermissions are those of a new circle's default role.
	DefaultPermissions = ViewStreams | SendMessages | ReadHistory | AddReactions | CreateInvites | Connect | Speak | CreateThreads | UseCommands
	// TimeoutPermissions are taken away from a timed-out member.
	TimeoutPermissions = SendMessages | AddReactions | Speak | CreateThreads | UseCommands
)

var permissionNames = []string{
	"administrator", "manage_circle", "manage_roles", "manage_streams", "manage_members",
	"ban_members", "view_audit_log", "manage_messages", "view_streams", "send_messages",
	"read_history", "add_reactions", "create_invites", "mention_everyone", "connect", "speak",
	"manage_emoji", "create_threads", "manage_threads", "use_commands",
}

// Has reports whether p holds every permission of q.
func (p Permission) Has(q Permission) bool { return p&q == q }

// String names the permissions of p, separated by "|".
func (p Permission) String() string {
	var names []string
	for i, n := range permissionNames {
		if p&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Role is a named set of permissions in one circle. The default role's
// id is the circle's id; every member holds it without it being listed.
type Role struct {
	ID       string `bson:"_id" json:"id"`
	CircleID string `bson:"circle_id" json:"circle"`
	Name     string `bson:"name" json:"name"`
	// Color is 0xRRGGBB; 0 means none.
	Color int `bson:"color" json:"color"`
	// Position orders the hierarchy: higher outranks lower. The default
	// role is always 0; the others are 1, 2, 3… without gaps.
	Position int `bson:"position" json:"position"`
	// Hoist shows the role's members apart in member lists.
	Hoist bool `bson:"hoist" json:"hoist"`
	// SelfAssignable lets any member take or drop the role themselves.
	SelfAssignable bool       `bson:"self_assignable" json:"self_assignable"`
	Permissions    Permission `bson:"permissions" json:"permissions"`
	CreatedAt      time.Time  `bson:"created_at" json:"created_at"`
}

// Overwrite adjusts a role's permissions in one stream: Deny is taken
// away, then Allow is added.
type Overwrite struct {
	Role  string     `bson:"role" json:"role"`
	Allow Permission `bson:"allow" json:"allow"`
	Deny  Permission `bson:"deny" json:"deny"`
}

// Ban keeps a user out of a circle. Its _id is BanID(circle, user).
type Ban struct {
	ID        string    `bson:"_id" json:"-"`
	CircleID  string    `bson:"circle_id" json:"circle"`
	User      UserRef   `bson:"user" json:"user"`
	Reason    string    `bson:"reason" json:"reason"`
	By        UserRef   `bson:"by" json:"by"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// BanID returns the _id of a user's ban from a circle.
func BanID(circleID, userID string) string { return circleID + ":" + userID }

// AuditEntry records one moderation or management action in a circle.
type AuditEntry struct {
	ID       string   `bson:"_id" json:"id"`
	CircleID string   `bson:"circle_id" json:"circle"`
	Action   string   `bson:"action" json:"action"`
	Actor    UserRef  `bson:"actor" json:"actor"`
	Target   *UserRef `bson:"target,omitempty" json:"target,omitempty"`
	// TargetID names what the action was done to when it is not a user:
	// a role, a stream, an invite code.
	TargetID string         `bson:"target_id,omitempty" json:"target_id,omitempty"`
	Reason   string         `bson:"reason,omitempty" json:"reason,omitempty"`
	Details  map[string]any `bson:"details,omitempty" json:"details,omitempty"`
	At       time.Time      `bson:"at" json:"at"`
}
