package models

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Now returns the current time in UTC, truncated to the millisecond that
// MongoDB dates keep, so a document read back equals the one sent live.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// MaxNameLength is the longest circle or stream name, in characters.
const MaxNameLength = 100

// ValidName trims a circle or stream name and checks it: 1–100
// characters, valid UTF-8, no control characters (newlines included).
func ValidName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLength {
		return "", false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return name, true
}

// ValidText reports whether s is valid UTF-8 without control characters
// other than newline and tab: the rule for message content and other
// free text.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
}

// Visibility says who may find and join a circle.
type Visibility string

// Circle visibilities.
const (
	// Public circles are listed by circle_list and anyone may join them.
	Public Visibility = "public"
	// Private circles are joined only with an invite code.
	Private Visibility = "private"
)

// StreamKind tells channels from direct messages.
type StreamKind string

// Stream kinds.
const (
	// Channel is a stream that belongs to a circle.
	Channel StreamKind = "channel"
	// DM is a stream between two users.
	DM StreamKind = "dm"
	// Voice is a circle's voice room: members join it (voice_join) and
	// exchange WebRTC signals; it holds no messages.
	Voice StreamKind = "voice"
	// Separator is a heading in a circle's stream list; it holds nothing.
	Separator StreamKind = "separator"
)

// User is an account. The password hash never leaves the server.
type User struct {
	ID           string    `bson:"_id" json:"id"`
	Username     string    `bson:"username" json:"username"`
	UsernameKey  string    `bson:"username_key" json:"-"` // lower-cased, unique: usernames are case-insensitive
	PasswordHash string    `bson:"password_hash" json:"-"`
	CreatedAt    time.Time `bson:"created_at" json:"-"`
	// Status and StatusText are the presence the user chose last
	// (status_set); empty means online.
	Status     string `bson:"status,omitempty" json:"-"`
	StatusText string `bson:"status_text,omitempty" json:"-"`

	// Bot accounts (bot.go): Bot marks an account made by
	// POST /api/bots, which authenticates only with its token; OwnerID
	// is the user who made it.
	Bot     bool   `bson:"bot,omitempty" json:"-"`
	OwnerID string `bson:"owner_id,omitempty" json:"-"`
}

// Ref returns the public view of u.
func (u *User) Ref() UserRef { return UserRef{ID: u.ID, Username: u.Username, Bot: u.Bot} }

// Presence statuses. Invisible is only ever sent to the user themselves;
// everyone else sees an invisible user as offline.
const (
	Online    = "online"
	Idle      = "idle"
	DND       = "dnd"
	Invisible = "invisible"
	Offline   = "offline"
)

// Presence is a user's status as co-members see it.
type Presence struct {
	User   UserRef `json:"user"`
	Status string  `json:"status"`
	Text   string  `json:"text,omitempty"`
}

// UserRef is how a user appears on the wire and inside other documents.
type UserRef struct {
	ID       string `bson:"id" json:"id"`
	Username string `bson:"username" json:"username"`
	// Bot marks a bot account (bot.go), so clients can badge it.
	Bot bool `bson:"bot,omitempty" json:"bot,omitempty"`
}

// Session is a login. Its _id is the SHA-256 hash of the bearer token, so
// the token itself is never stored.
type Session struct {
	TokenHash string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// Circle is a community: a collection of channel streams with members.
type Circle struct {
	ID         string     `bson:"_id" json:"id"`
	Name       string     `bson:"name" json:"name"`
	Visibility Visibility `bson:"visibility" json:"visibility"`
	OwnerID    string     `bson:"owner_id" json:"owner_id"`
	CreatedAt  time.Time  `bson:"created_at" json:"created_at"`
	// Description and Icon (a URL or an attachment id; not checked) are
	// set with circle_edit.
	Description string `bson:"description,omitempty" json:"description,omitempty"`
	Icon        string `bson:"icon,omitempty" json:"icon,omitempty"`

	// Roles is filled in for replies that describe a circle to a member:
	// its roles, lowest first (the default role first).
	Roles []Role `bson:"-" json:"roles,omitempty"`
	// Me is filled in for a member: their roles and permissions.
	Me *MemberView `bson:"-" json:"me,omitempty"`

	// Streams is filled in for replies that list a circle's streams.
	Streams []Stream `bson:"-" json:"streams,omitempty"`
	// Member is filled in by circle_list: whether the asking user belongs.
	Member *bool `bson:"-" json:"member,omitempty"`
	// Emojis is filled in for replies that describe a circle to a
	// member: its custom emoji, oldest first.
	Emojis []Emoji `bson:"-" json:"emojis,omitempty"`
}

// Member records that a user belongs to a circle.
type Member struct {
	ID       string `bson:"_id" json:"-"`
	CircleID string `bson:"circle_id" json:"circle"`
	UserID   string `bson:"user_id" json:"-"`
	Username string `bson:"username" json:"-"`
	// Roles are the ids of the member's roles besides the default one.
	Roles    []string  `bson:"roles" json:"roles"`
	JoinedAt time.Time `bson:"joined_at" json:"joined_at"`
	// Nickname is the member's name in this circle; empty means none.
	Nickname string `bson:"nickname,omitempty" json:"nickname,omitempty"`
	// TimeoutUntil, while in the future, takes TimeoutPermissions away.
	TimeoutUntil *time.Time `bson:"timeout_until,omitempty" json:"timeout_until,omitempty"`
	// Bot marks a bot account's membership (bot.go), so member views
	// badge it without reading the user.
	Bot bool `bson:"bot,omitempty" json:"-"`
}

// MemberView is a member as member_list and ready show them.
type MemberView struct {
	User     UserRef  `json:"user"`
	Nickname string   `json:"nickname,omitempty"`
	Roles    []string `json:"roles"`
	// Color is the colour of the member's highest coloured role.
	Color        int        `json:"color,omitempty"`
	Permissions  Permission `json:"permissions"`
	TimeoutUntil *time.Time `json:"timeout_until,omitempty"`
	JoinedAt     time.Time  `json:"joined_at"`
	// Status is the member's presence, when known.
	Status string `json:"status,omitempty"`
}

// Invite is a code that lets its holder join a (usually private) circle.
type Invite struct {
	Code      string    `bson:"_id" json:"code"`
	CircleID  string    `bson:"circle_id" json:"circle"`
	CreatorID string    `bson:"creator_id" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	// ExpiresAt, when set, ends the invite; MaxUses, when above 0, is
	// how many joins it admits; Uses counts them.
	ExpiresAt *time.Time `bson:"expires_at,omitempty" json:"expires_at,omitempty"`
	MaxUses   int        `bson:"max_uses" json:"max_uses"`
	Uses      int        `bson:"uses" json:"uses"`
	Creator   *UserRef   `bson:"creator,omitempty" json:"creator,omitempty"`
}

// Usable reports whether the invite still admits a join at now.
func (i *Invite) Usable(now time.Time) bool {
	return (i.ExpiresAt == nil || now.Before(*i.ExpiresAt)) && (i.MaxUses == 0 || i.Uses < i.MaxUses)
}

// Stream is a sequence of messages: a circle's channel or a DM.
type Stream struct {
	ID       string     `bson:"_id" json:"id"`
	Kind     StreamKind `bson:"kind" json:"kind"`
	CircleID string     `bson:"circle_id,omitempty" json:"circle,omitempty"`
	Name     string     `bson:"name,omitempty" json:"name,omitempty"`
	// Topic describes a circle's stream; Position orders its streams
	// (lowest first; ties by creation).
	Topic    string `bson:"topic,omitempty" json:"topic,omitempty"`
	Position int    `bson:"position" json:"position"`
	// Overwrites adjust the circle's roles' permissions in this stream.
	Overwrites []Overwrite `bson:"overwrites,omitempty" json:"overwrites,omitempty"`
	Members    []string    `bson:"members,omitempty" json:"members,omitempty"` // DMs: the two user ids
	LastSeq    int64       `bson:"last_seq" json:"last_seq"`
	CreatedAt  time.Time   `bson:"created_at" json:"created_at"`
	// Pins are the ids of the stream's pinned messages, oldest pin
	// first (at most MaxPins). Stored, not sent: pins_list sends the
	// messages.
	Pins []string `bson:"pins,omitempty" json:"-"`

	// Threads (kind thread, see thread.go). ParentID is the channel the
	// thread was started under; StarterID the parent's message it was
	// started from (empty when none); OwnerID who started it. An archived
	// thread is left out of circle views and listed by thread_list; a
	// locked one takes posts and edits only from members with
	// ManageThreads.
	ParentID   string     `bson:"parent_id,omitempty" json:"parent,omitempty"`
	StarterID  string     `bson:"starter_id,omitempty" json:"starter_message,omitempty"`
	OwnerID    string     `bson:"owner_id,omitempty" json:"owner,omitempty"`
	Archived   bool       `bson:"archived,omitempty" json:"archived,omitempty"`
	Locked     bool       `bson:"locked,omitempty" json:"locked,omitempty"`
	ArchivedAt *time.Time `bson:"archived_at,omitempty" json:"archived_at,omitempty"`

	// Peer is filled in for DMs sent to a user: the other participant.
	Peer *UserRef `bson:"-" json:"peer,omitempty"`
	// Unread is filled in for ready: last_seq minus the user's read seq
	// (never negative).
	Unread *int64 `bson:"-" json:"unread,omitempty"`
	// Mentions is filled in for ready: how many unread messages mention
	// the user by name.
	Mentions *int64 `bson:"-" json:"mentions,omitempty"`
	// Permissions is filled in for a circle's stream sent to one member:
	// what they may do in it.
	Permissions *Permission `bson:"-" json:"permissions,omitempty"`
}

// MaxPins is the most messages one stream may have pinned.
const MaxPins = 50

// ReadState is how far a user has read one stream. Its _id is
// ReadStateID(user, stream), so it is always found by _id.
type ReadState struct {
	ID        string    `bson:"_id" json:"-"`
	UserID    string    `bson:"user_id" json:"-"`
	StreamID  string    `bson:"stream_id" json:"stream"`
	Seq       int64     `bson:"seq" json:"seq"`
	UpdatedAt time.Time `bson:"updated_at" json:"-"`
	// Mentions are the seqs of the messages that mention the user by
	// name and are not read yet, oldest first (at most 100).
	Mentions []int64 `bson:"mentions,omitempty" json:"-"`
}

// ReadStateID returns the _id of a user's read state of a stream.
func ReadStateID(userID, streamID string) string { return userID + ":" + streamID }

// Message is one chat message. Seq numbers a stream's messages 1, 2, 3…
// without gaps.
type Message struct {
	ID       string  `bson:"_id" json:"id"`
	StreamID string  `bson:"stream_id" json:"stream"`
	Seq      int64   `bson:"seq" json:"seq"`
	AuthorID string  `bson:"author_id" json:"-"`
	Author   UserRef `bson:"author" json:"author"`
	Content  string  `bson:"content" json:"content"`
	// Nonce is the sender's idempotency key, unique per stream and author.
	// When the sender gives none the message id is stored in its place, so
	// the unique index holds for every message.
	Nonce     string    `bson:"nonce" json:"nonce,omitempty"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`

	// EditedAt is when the content was last changed by message_edit.
	EditedAt *time.Time `bson:"edited_at,omitempty" json:"edited_at,omitempty"`
	// Edits keeps every earlier content, oldest first. It is stored, not
	// sent: clients see only that the message was edited.
	Edits []Edit `bson:"edits,omitempty" json:"-"`
	// Deleted marks a tombstone: the content, edits and reactions are
	// gone, the seq, id, author and nonce stay, so seqs remain gap-free.
	Deleted   bool       `bson:"deleted,omitempty" json:"deleted,omitempty"`
	DeletedAt *time.Time `bson:"deleted_at,omitempty" json:"deleted_at,omitempty"`
	// Reactions are stored with the ids of the users who reacted; they go
	// out as ReactionCounts (see View).
	Reactions []Reaction `bson:"reactions,omitempty" json:"-"`
	// ReactionCounts is the wire form of Reactions, filled in by View.
	ReactionCounts []ReactionCount `bson:"-" json:"reactions,omitempty"`

	// ReplyToID is the id of the message this one answers, in the same
	// stream. It is stored, not sent: clients get Reply.
	ReplyToID string `bson:"reply_to,omitempty" json:"-"`
	// Reply describes the message answered, as it was when the reply was
	// made; it is stored with the reply, so reading a reply never needs
	// a second lookup, and it is kept when the original is edited or
	// deleted later.
	Reply *ReplyRef `bson:"reply,omitempty" json:"reply_to,omitempty"`

	// MentionIDs are the ids of the users the content mentions
	// (@username), resolved when the message was posted; Mentions are
	// the same users as sent. Both are stored, so reading a message never
	// looks its mentions up.
	MentionIDs []string  `bson:"mentions,omitempty" json:"-"`
	Mentions   []UserRef `bson:"mentioned,omitempty" json:"mentions,omitempty"`
	// MentionRoles are the ids of the roles the content mentions
	// (@rolename), and MentionEveryone says it mentions @everyone; both
	// count only for an author holding MentionEveryone in the stream.
	MentionRoles    []string `bson:"mention_roles,omitempty" json:"mention_roles,omitempty"`
	MentionEveryone bool     `bson:"mention_everyone,omitempty" json:"mention_everyone,omitempty"`

	// Attachments are the files the message carries, in order.
	Attachments []Attachment `bson:"attachments,omitempty" json:"attachments,omitempty"`
	// Webhook is set on a message a webhook posted; Author then names
	// the webhook (its id) with the display name the post asked for.
	Webhook *WebhookRef `bson:"webhook,omitempty" json:"webhook,omitempty"`

	// PinnedAt and PinnedBy are set while the message is pinned to its
	// stream (message_pin), and cleared by message_unpin or a delete.
	PinnedAt *time.Time `bson:"pinned_at,omitempty" json:"pinned_at,omitempty"`
	PinnedBy *UserRef   `bson:"pinned_by,omitempty" json:"pinned_by,omitempty"`

	// Poll is set on a message posted by poll_create; its content is
	// the question.
	Poll *Poll `bson:"poll,omitempty" json:"poll,omitempty"`

	// Embeds are the previews of the content's links (link embeds, see
	// Embed), set by the server a moment after the message is stored
	// and announced with message_embeds; replaced when an edit changes
	// the links.
	Embeds []Embed `bson:"embeds,omitempty" json:"embeds,omitempty"`

	// Thread is set on a message a thread was started from (thread.go).
	Thread *ThreadRef `bson:"thread,omitempty" json:"thread,omitempty"`

	// Interaction is set on a bot's answer to a slash command (bot.go).
	Interaction *InteractionRef `bson:"interaction,omitempty" json:"interaction,omitempty"`
}

// Attachment is a file a message carries, as the message shows it; the
// bytes are fetched from GET /api/attachments/{id}.
type Attachment struct {
	ID          string `bson:"id" json:"id"`
	Filename    string `bson:"filename" json:"filename"`
	ContentType string `bson:"content_type" json:"content_type"`
	Size        int64  `bson:"size" json:"size"`
}

// WebhookRef says which webhook posted a message and how it asked to be
// shown.
type WebhookRef struct {
	ID        string `bson:"id" json:"id"`
	AvatarURL string `bson:"avatar_url,omitempty" json:"avatar_url,omitempty"`
}

// ReplyRef is the message a reply answers, as the reply carries it.
type ReplyRef struct {
	ID     string  `bson:"id" json:"id"`
	Seq    int64   `bson:"seq" json:"seq"`
	Author UserRef `bson:"author" json:"author"`
	// Preview is the start of the original's content when the reply was
	// made: at most MaxPreviewLength characters.
	Preview string `bson:"preview" json:"preview"`
}

// MaxMentions is the most distinct @usernames of one message that are
// looked up; later ones are not mentions.
const MaxMentions = 10

// MentionNames returns the distinct usernames that content mentions, in
// order of first appearance and compared case-insensitively, at most
// MaxMentions. A mention is "@" followed by 1–32 letters, digits or
// underscores that are not part of a longer run, and not preceded by one
// of those characters (so "a@b.com" mentions nobody).
func MentionNames(content string) []string {
	var names []string
	seen := make(map[string]bool)
	for i := 0; i < len(content) && len(names) < MaxMentions; i++ {
		if content[i] != '@' || i > 0 && nameByte(content[i-1]) {
			continue
		}
		j := i + 1
		for j < len(content) && nameByte(content[j]) {
			j++
		}
		name := content[i+1 : j]
		if n := len(name); n >= 1 && n <= 32 && !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			names = append(names, name)
		}
		i = j - 1
	}
	return names
}

func nameByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// MaxPreviewLength is the longest ReplyRef.Preview, in characters.
const MaxPreviewLength = 100

// Preview returns the first MaxPreviewLength characters of content.
func Preview(content string) string {
	n := 0
	for i := range content {
		if n == MaxPreviewLength {
			return content[:i]
		}
		n++
	}
	return content
}

// Edit is an earlier content of an edited message.
type Edit struct {
	Content  string    `bson:"content" json:"content"`
	EditedAt time.Time `bson:"edited_at" json:"edited_at"`
}

// Reaction is one emoji on a message and who chose it, in order.
type Reaction struct {
	Emoji string   `bson:"emoji" json:"emoji"`
	Users []string `bson:"users" json:"users"`
}

// ReactionCount is a reaction as clients see it.
type ReactionCount struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	// Me says whether the user the frame is for chose this emoji; absent
	// in events, which every subscriber shares.
	Me *bool `json:"me,omitempty"`
}

// View returns a shallow copy of m with ReactionCounts filled in for the
// given viewer; an empty viewer leaves Me out. m itself is not changed,
// so a message shared between goroutines may be viewed by each.
func (m *Message) View(viewer string) *Message {
	out := *m
	out.ReactionCounts = nil
	for _, r := range m.Reactions {
		if len(r.Users) == 0 {
			continue
		}
		rc := ReactionCount{Emoji: r.Emoji, Count: len(r.Users)}
		if viewer != "" {
			me := false
			for _, u := range r.Users {
				if u == viewer {
					me = true
					break
				}
			}
			rc.Me = &me
		}
		out.ReactionCounts = append(out.ReactionCounts, rc)
	}
	return &out
}

// MaxEmojiBytes is the longest reaction emoji, in bytes.
const MaxEmojiBytes = 32

// ValidEmoji checks a reaction: 1–32 bytes of valid UTF-8 without
// control characters or white space. Any such text is accepted (a
// shortcode like ":tada:" as well as "🎉" or "👩‍👩‍👧"), except that
// text starting with CustomEmojiPrefix is a custom emoji and valid only
// when well formed (CustomEmojiID), whatever its length.
func ValidEmoji(e string) bool {
	if strings.HasPrefix(e, CustomEmojiPrefix) {
		_, ok := CustomEmojiID(e)
		return ok
	}
	if e == "" || len(e) > MaxEmojiBytes || !utf8.ValidString(e) {
		return false
	}
	for _, r := range e {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
