package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/oshichat/oshi/models"
)

// Errors returned (wrapped) by Store methods. Test them with errors.Is.
var (
	// ErrNotFound means the document asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means a unique index refused the write.
	ErrDuplicate = errors.New("duplicate")
	// ErrUnavailable means the database could not be reached or failed.
	ErrUnavailable = errors.New("store unavailable")
)

// HistoryQuery selects messages of one stream by sequence number: After <
// seq < Before, where zero means no bound. Results are always oldest first;
// Newest picks the newest Limit matching messages instead of the oldest.
type HistoryQuery struct {
	StreamID string
	After    int64
	Before   int64
	Limit    int
	Newest   bool
	// Since, when not zero, keeps only messages created at or after it.
	Since time.Time
}

// AuditQuery selects a circle's audit entries. Empty fields do not
// filter; Before is an entry id (ids grow with time) to page back from.
type AuditQuery struct {
	CircleID string
	ActorID  string
	TargetID string // a user id, or the id of a role, stream or invite
	Action   string
	Since    time.Time
	Until    time.Time
	Before   string
	Limit    int
}

// Store is Oshi's persistence. Every method is safe for concurrent use.
type Store interface {
	// CreateUser inserts u; ErrDuplicate when the username is taken.
	CreateUser(ctx context.Context, u *models.User) error
	// UserByName finds a user by username, case-insensitively.
	UserByName(ctx context.Context, username string) (*models.User, error)
	// UserByID finds a user by id.
	UserByID(ctx context.Context, id string) (*models.User, error)
	// UsersByID finds the users with the given ids, keyed by id.
	UsersByID(ctx context.Context, ids []string) (map[string]*models.User, error)
	// SetUserStatus stores the presence a user chose (status_set);
	// ErrNotFound when there is no such user.
	SetUserStatus(ctx context.Context, userID, status, text string) error
	// SetPasswordHash replaces a user's password hash; ErrNotFound when
	// there is no such user.
	SetPasswordHash(ctx context.Context, userID, hash string) error

	// CreateSession stores a login.
	CreateSession(ctx context.Context, s *models.Session) error
	// Session finds an unexpired session by token hash.
	Session(ctx context.Context, tokenHash string, now time.Time) (*models.Session, error)
	// DeleteSession removes a session; removing a missing one is not an error.
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteSessions removes every session of a user and returns their
	// token hashes (none is not an error).
	DeleteSessions(ctx context.Context, userID string) ([]string, error)

	// CreateCircle inserts a circle, its first streams and its owner's membership.
	CreateCircle(ctx context.Context, c *models.Circle, streams []*models.Stream, owner *models.Member) error
	// Circle finds a circle by id.
	Circle(ctx context.Context, id string) (*models.Circle, error)
	// PublicCircles lists public circles, oldest first, at most limit.
	PublicCircles(ctx context.Context, limit int) ([]*models.Circle, error)
	// CirclesByID finds circles by id, oldest first.
	CirclesByID(ctx context.Context, ids []string) ([]*models.Circle, error)

	// AddMember inserts a membership; ErrDuplicate when it exists.
	AddMember(ctx context.Context, m *models.Member) error
	// RemoveMember deletes a membership; ErrNotFound when there was none.
	RemoveMember(ctx context.Context, circleID, userID string) error
	// Member finds one membership.
	Member(ctx context.Context, circleID, userID string) (*models.Member, error)
	// Members lists a circle's memberships.
	Members(ctx context.Context, circleID string) ([]*models.Member, error)
	// MembershipsOf lists the circles a user belongs to.
	MembershipsOf(ctx context.Context, userID string) ([]*models.Member, error)

	// CreateInvite stores an invite code.
	CreateInvite(ctx context.Context, inv *models.Invite) error
	// Invite finds an invite by code.
	Invite(ctx context.Context, code string) (*models.Invite, error)

	// CreateStream inserts a stream; ErrDuplicate when its id exists.
	CreateStream(ctx context.Context, s *models.Stream) error
	// Stream finds a stream by id.
	Stream(ctx context.Context, id string) (*models.Stream, error)
	// StreamsOfCircles lists the channels of the given circles, oldest first.
	StreamsOfCircles(ctx context.Context, circleIDs []string) ([]*models.Stream, error)
	// DMsOf lists the DM streams a user takes part in.
	DMsOf(ctx context.Context, userID string) ([]*models.Stream, error)
	// SetLastSeq raises each stream's last_seq to at least the given value.
	SetLastSeq(ctx context.Context, seqs map[string]int64) error

	// InsertMessages inserts msgs in order in one batch. It returns how many
	// were inserted before the first failure; when that failure is a unique
	// index the error wraps ErrDuplicate.
	InsertMessages(ctx context.Context, msgs []*models.Message) (int, error)
	// History returns messages selected by q, oldest first.
	History(ctx context.Context, q HistoryQuery) ([]*models.Message, error)
	// SearchMessages returns the messages of q's streams whose content
	// holds every word of q, newest first (see SearchQuery).
	SearchMessages(ctx context.Context, q SearchQuery) ([]*models.Message, error)
	// MessageByNonce finds the message an author sent to a stream with a nonce.
	MessageByNonce(ctx context.Context, streamID, authorID, nonce string) (*models.Message, error)
	// MaxSeq returns the highest stored seq of a stream, 0 when it has none.
	MaxSeq(ctx context.Context, streamID string) (int64, error)

	// MessagesByID finds the messages with the given ids, in no
	// particular order; missing ones are left out.
	MessagesByID(ctx context.Context, ids []string) ([]*models.Message, error)
	// Message finds a message by id.
	Message(ctx context.Context, id string) (*models.Message, error)
	// EditMessage sets a message's content and edited_at (prev.EditedAt)
	// and appends prev, the content it replaces, to its edits, in one
	// update; it returns the message as updated, ErrNotFound when the
	// message does not exist.
	EditMessage(ctx context.Context, id, content string, prev models.Edit) (*models.Message, error)
	// DeleteMessage turns a message into a tombstone: deleted and
	// deleted_at set; content, edits, edited_at, reactions, pinned_at,
	// pinned_by, poll and embeds cleared (a reply's stored preview
	// stays).
	DeleteMessage(ctx context.Context, id string, at time.Time) (*models.Message, error)
	// AddReaction adds userID to the users of emoji on m, or adds the
	// emoji with that one user, and returns the message as updated. m
	// is the message as the caller last read it: the caller serializes
	// the changes to one message (streams does so per stream), because
	// the update addresses the reaction by its position in m. Adding a
	// reaction that is there changes nothing.
	AddReaction(ctx context.Context, m *models.Message, emoji, userID string) (*models.Message, error)
	// RemoveReaction takes userID out of the users of emoji on m, and the
	// emoji out when nobody is left; as AddReaction otherwise.
	RemoveReaction(ctx context.Context, m *models.Message, emoji, userID string) (*models.Message, error)

	// PinMessage sets a message's pinned_at and pinned_by and returns it
	// as updated; UnpinMessage clears them. The caller serializes the
	// changes to one message.
	PinMessage(ctx context.Context, id string, by models.UserRef, at time.Time) (*models.Message, error)
	UnpinMessage(ctx context.Context, id string) (*models.Message, error)
	// AddPin adds msgID to the end of a stream's pins unless it is there;
	// RemovePin takes it out. Both address the stream by _id; ErrNotFound
	// when there is no such stream. The caller serializes the changes to
	// one stream's pins.
	AddPin(ctx context.Context, streamID, msgID string) error
	RemovePin(ctx context.Context, streamID, msgID string) error

	// PollVote finds a user's vote on the poll of a message by its _id;
	// ErrNotFound when the user has not voted.
	PollVote(ctx context.Context, messageID, userID string) (*models.PollVote, error)
	// PutPollVote stores v whole (an upsert by v.ID); DeletePollVote
	// removes a vote (a missing one is not an error).
	PutPollVote(ctx context.Context, v *models.PollVote) error
	DeletePollVote(ctx context.Context, messageID, userID string) error
	// UpdatePoll adds inc[id] to the count of each option id of a
	// message's poll and, when closed, closes it, in one update by _id;
	// it returns the message as updated. The caller serializes the
	// changes to one poll.
	UpdatePoll(ctx context.Context, messageID string, inc map[int]int, closed bool) (*models.Message, error)
	// DeletePollVotes removes every vote on the poll of a message (its
	// message is deleted).
	DeletePollVotes(ctx context.Context, messageID string) error
	// PutOpenPoll records a poll not closed yet (an upsert by its message
	// id); DeleteOpenPoll removes the record (a missing one is not an
	// error); OpenPolls lists them all. ClaimOpenPoll claims a poll's
	// closing for this node until until, when no claim holds at now; it
	// reports false when another node holds one or the record is gone.
	PutOpenPoll(ctx context.Context, p *OpenPoll) error
	DeleteOpenPoll(ctx context.Context, messageID string) error
	OpenPolls(ctx context.Context) ([]*OpenPoll, error)
	ClaimOpenPoll(ctx context.Context, messageID string, now, until time.Time) (bool, error)

	// SetEmbeds replaces the link embeds of a message (none clears
	// them), by _id, and returns the message as updated. The caller
	// serializes the changes to one message.
	SetEmbeds(ctx context.Context, messageID string, embeds []models.Embed) (*models.Message, error)

	// PutAttachment stores an uploaded file in GridFS (bucket
	// AttachmentsBucket) with id a.ID, a.Filename, a.ContentType,
	// a.UploaderID and a.CreatedAt, reading content to its end; a.Size
	// is not read. When content fails, the upload is undone and its error
	// is returned as it is.
	PutAttachment(ctx context.Context, a *models.StoredAttachment, content io.Reader) error
	// Attachment finds an uploaded file's description by id.
	Attachment(ctx context.Context, id string) (*models.StoredAttachment, error)
	// OpenAttachment opens an uploaded file's bytes for reading; the
	// reader lives as long as ctx.
	OpenAttachment(ctx context.Context, id string) (AttachmentReader, error)
	// ClaimAttachment reserves a file uploaded by uploaderID for one
	// message_new (claim) in streamID, atomically: it succeeds when the
	// file is unclaimed, or already claimed with the same claim and
	// stream (a retry), and says which (fresh). ErrNotFound when the file
	// does not exist, was uploaded by someone else or is claimed
	// otherwise.
	ClaimAttachment(ctx context.Context, id, uploaderID, streamID, claim string) (a *models.StoredAttachment, fresh bool, err error)
	// ReleaseAttachments undoes claim on the files ids that no stored
	// message uses yet (their message id is empty).
	ReleaseAttachments(ctx context.Context, ids []string, claim string) error
	// AttachAttachments records that the message messageID, stored, uses
	// the files ids claimed with claim.
	AttachAttachments(ctx context.Context, ids []string, claim, messageID string) error
	// DeleteAttachments deletes files and their chunks; missing ones are
	// not an error.
	DeleteAttachments(ctx context.Context, ids []string) error
	// ClearMessageAttachments removes the attachments field of a stored
	// message (a tombstone no longer lists its deleted files).
	ClearMessageAttachments(ctx context.Context, messageID string) error
	// SweepAttachments deletes the uploaded files no stored message uses
	// that were uploaded before cutoff, with their chunks (see
	// attachments_sweep.go; issue #7).
	SweepAttachments(ctx context.Context, cutoff time.Time) (SweepResult, error)

	// ReadStates returns all of a user's read states by stream id (none
	// is not an error), in one read.
	ReadStates(ctx context.Context, userID string) (map[string]*models.ReadState, error)
	// ReadState finds a user's read state of a stream; ErrNotFound when
	// the user never acknowledged the stream.
	ReadState(ctx context.Context, userID, streamID string) (*models.ReadState, error)
	// SetReadState stores rs whole. A user's read states share one
	// document: the caller serializes the changes to one user's read
	// states and decides the seq.
	SetReadState(ctx context.Context, rs *models.ReadState) error

	// PutCircle replaces a circle's stored fields (name, description,
	// icon, visibility, owner) by _id; ErrNotFound when there is none.
	PutCircle(ctx context.Context, c *models.Circle) error
	// DeleteCircle removes a circle and everything in it: its streams and
	// their messages and read states, members, roles, invites, bans and
	// audit log, custom emoji and their images. The circle goes first,
	// so a half-deleted circle is never found.
	DeleteCircle(ctx context.Context, circleID string) error

	// Roles lists a circle's roles (the default one included).
	Roles(ctx context.Context, circleID string) ([]*models.Role, error)
	// PutRole stores r whole (an upsert by _id).
	PutRole(ctx context.Context, r *models.Role) error
	// DeleteRole removes a role; removing a missing one is not an error.
	// Members holding it are changed by the caller (PutMember).
	DeleteRole(ctx context.Context, id string) error
	// PutMember replaces a membership by _id; ErrNotFound when the
	// member has left.
	PutMember(ctx context.Context, m *models.Member) error

	// UpdateStreamInfo stores a stream's name, topic, position and
	// overwrites (nothing else) by _id; ErrNotFound when there is none.
	UpdateStreamInfo(ctx context.Context, s *models.Stream) error
	// DeleteStream removes a stream, its messages and its read states,
	// and its polls' votes and open-poll records.
	DeleteStream(ctx context.Context, id string) error

	// InvitesOf lists a circle's invites, oldest first.
	InvitesOf(ctx context.Context, circleID string) ([]*models.Invite, error)
	// PutInvite replaces an invite by code (its uses); ErrNotFound when
	// it was revoked.
	PutInvite(ctx context.Context, inv *models.Invite) error
	// DeleteInvite removes an invite; ErrNotFound when there is none.
	DeleteInvite(ctx context.Context, code string) error

	// PutBan stores a ban (an upsert by _id).
	PutBan(ctx context.Context, b *models.Ban) error
	// DeleteBan lifts a ban; ErrNotFound when there is none.
	DeleteBan(ctx context.Context, circleID, userID string) error
	// Ban finds a user's ban from a circle by _id.
	Ban(ctx context.Context, circleID, userID string) (*models.Ban, error)
	// Bans lists a circle's bans, oldest first.
	Bans(ctx context.Context, circleID string) ([]*models.Ban, error)

	// SetTimeout records until when a user is timed out in a circle, so
	// leaving and joining again does not end it; a zero until removes
	// the record. Timeout returns it; ErrNotFound when there is none.
	SetTimeout(ctx context.Context, circleID, userID string, until time.Time) error
	Timeout(ctx context.Context, circleID, userID string) (time.Time, error)

	// AddAudit appends an entry to a circle's audit log.
	AddAudit(ctx context.Context, e *models.AuditEntry) error
	// Audit returns audit entries selected by q, newest first.
	Audit(ctx context.Context, q AuditQuery) ([]*models.AuditEntry, error)

	// PutWebhook stores w whole (an upsert by _id).
	PutWebhook(ctx context.Context, w *models.Webhook) error
	// Webhook finds a webhook by _id.
	Webhook(ctx context.Context, id string) (*models.Webhook, error)
	// WebhooksOf lists a circle's webhooks, oldest first.
	WebhooksOf(ctx context.Context, circleID string) ([]*models.Webhook, error)
	// DeleteWebhook removes a webhook; ErrNotFound when there is none.
	DeleteWebhook(ctx context.Context, id string) error

	// UpdateThread stores a thread's name, archived, archived_at and
	// locked (nothing else) by _id; ErrNotFound when there is none.
	UpdateThread(ctx context.Context, s *models.Stream) error
	// SetMessageThread sets the thread a message started (nil clears
	// it) by _id and returns the message as updated; ErrNotFound when
	// the message does not exist. The caller serializes the changes to
	// one message.
	SetMessageThread(ctx context.Context, id string, ref *models.ThreadRef) (*models.Message, error)

	// Custom emoji (emoji.go).
	//
	// EmojiSet returns a circle's emoji list; an empty one at revision
	// 0 when the circle never had any.
	EmojiSet(ctx context.Context, circleID string) (*EmojiSet, error)
	// PutEmojiSet stores set whole if the stored list is still at
	// set.Rev (0: none stored) and then raises set.Rev; ErrConflict when
	// another write came first.
	PutEmojiSet(ctx context.Context, set *EmojiSet) error
	// PutEmojiImage stores an emoji's image in GridFS (bucket
	// EmojiBucket) under e.ID with e's fields, reading content to its
	// end, and sets e.Size. When content fails, what was written is
	// removed and its error returned as it is.
	PutEmojiImage(ctx context.Context, e *models.Emoji, content io.Reader) error
	// EmojiImage finds an emoji image's description by id (its name as
	// uploaded); ErrNotFound when there is none.
	EmojiImage(ctx context.Context, id string) (*models.Emoji, error)
	// OpenEmojiImage opens the bytes of an image EmojiImage found; the
	// reader lives as long as ctx.
	OpenEmojiImage(ctx context.Context, e *models.Emoji) AttachmentReader
	// DeleteEmojiImages deletes emoji images; missing ones are not an
	// error.
	DeleteEmojiImages(ctx context.Context, ids []string) error

	// Bot accounts and slash commands (bots.go).
	//
	// PutBot stores b whole (an upsert by _id); Bot finds a bot by _id;
	// BotsOf lists an owner's bots, oldest first; SetBotCommands
	// replaces a bot's commands (ErrNotFound when there is no such bot);
	// DeleteBot removes a bot's settings, circle records and user
	// document (ErrNotFound when there is no such user).
	PutBot(ctx context.Context, b *models.Bot) error
	Bot(ctx context.Context, id string) (*models.Bot, error)
	BotsOf(ctx context.Context, ownerID string) ([]*models.Bot, error)
	SetBotCommands(ctx context.Context, botID string, cmds []models.Command) error
	DeleteBot(ctx context.Context, id string) error
	// PutCircleBot stores cb whole (an upsert by _id); CircleBot finds a
	// bot's record in a circle by _id; CircleBots lists a circle's,
	// oldest first; DeleteCircleBot removes one (a missing one is not an
	// error).
	PutCircleBot(ctx context.Context, cb *models.CircleBot) error
	CircleBot(ctx context.Context, circleID, botID string) (*models.CircleBot, error)
	CircleBots(ctx context.Context, circleID string) ([]*models.CircleBot, error)
	DeleteCircleBot(ctx context.Context, circleID, botID string) error
	// SetCommandPermission sets the roles that may invoke one command
	// of a bot in a circle (none: unset); ErrNotFound when the bot has
	// no record in the circle.
	SetCommandPermission(ctx context.Context, circleID, botID, command string, roles []string) error
	// PutInteraction stores a pending interaction; Interaction finds it
	// by _id; TakeInteraction deletes it, ErrNotFound when it is gone
	// (another answer took it first).
	PutInteraction(ctx context.Context, in *models.Interaction) error
	Interaction(ctx context.Context, id string) (*models.Interaction, error)
	TakeInteraction(ctx context.Context, id string) error
	// DeleteExpiredInteractions removes the interactions that expired
	// before now and were never answered.
	DeleteExpiredInteractions(ctx context.Context, now time.Time) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connection.
	Close(ctx context.Context) error
}
