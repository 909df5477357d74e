package models

import "time"

// StoredAttachment is an uploaded file as the store keeps it (the
// metadata of its GridFS file): what a message shows of it, who uploaded
// it and which message, if any, uses it.
type StoredAttachment struct {
	Attachment
	// UploaderID is the user who uploaded the file; only that user may
	// attach it to a message.
	UploaderID string
	// StreamID is set when a message_new claims the file, MessageID once
	// that message is stored; both are empty while the file is attached
	// to nothing.
	StreamID  string
	MessageID string
	// Claim identifies the message_new that claimed the file (see
	// store.Store.ClaimAttachment); empty while unclaimed.
	Claim     string
	CreatedAt time.Time
}

// MaxAttachments is the most files one message may carry.
const MaxAttachments = 10
