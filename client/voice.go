package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/oshichat/oshi/models"
)

// VoiceParticipant is a user in a voice stream. PeerID, the participant's
// WebRTC peer id, is set only for those who are in the stream themselves.
type VoiceParticipant struct {
	User   models.UserRef `json:"user"`
	PeerID string         `json:"peer_id,omitempty"`
	Muted  bool           `json:"muted"`
}

// VoiceStream is who is in one voice stream, as voice_state reports it.
type VoiceStream struct {
	Stream       string             `json:"stream"`
	Circle       string             `json:"circle"`
	Participants []VoiceParticipant `json:"participants"`
}

// VoiceJoin joins a voice stream on this connection, which becomes the
// user's voice connection (leaving any voice stream the user was in, on
// any connection), and returns the participants, the user included.
// peerID is the client's WebRTC peer id (1-64 printable characters), sent
// to the other participants. A user who may not speak there joins muted.
func (c *Client) VoiceJoin(ctx context.Context, streamID, peerID string) ([]VoiceParticipant, error) {
	r, err := call[VoiceStream](ctx, c, map[string]any{"cmd": "voice_join", "stream": streamID, "peer_id": peerID})
	if err != nil {
		return nil, err
	}
	return r.Participants, nil
}

// VoiceLeave leaves the user's voice stream, from any of its connections.
func (c *Client) VoiceLeave(ctx context.Context) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "voice_leave"})
	return err
}

// VoiceMute mutes or unmutes the user in the voice stream this connection
// is in. Unmuting needs the speak permission.
func (c *Client) VoiceMute(ctx context.Context, muted bool) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "voice_mute", "muted": muted})
	return err
}

// VoiceSignal relays data (a WebRTC offer, answer or ICE candidate: any
// value that encodes to JSON of at most 16 KiB) to the voice connection
// of the participant with user id to, who must be in the same voice
// stream as this connection. It arrives there as a voice_signal event
// (see ParseVoiceEvent).
func (c *Client) VoiceSignal(ctx context.Context, to string, data any) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "voice_signal", "to": to, "data": data})
	return err
}

// VoiceState returns who is in the voice streams the user may view, in
// one circle, or in all the user's circles when circleID is empty. Only
// streams with participants are listed.
func (c *Client) VoiceState(ctx context.Context, circleID string) ([]VoiceStream, error) {
	frame := map[string]any{"cmd": "voice_state"}
	if circleID != "" {
		frame["circle"] = circleID
	}
	r, err := call[struct {
		Streams []VoiceStream `json:"streams"`
	}](ctx, c, frame)
	if err != nil {
		return nil, err
	}
	return r.Streams, nil
}

// VoiceEvent is a voice event decoded by ParseVoiceEvent:
//
//   - voice_user_joined, voice_user_left, voice_user_updated: User joined,
//     left or was muted or unmuted (Muted) in Stream of Circle; PeerID is
//     set when this user is a participant of that stream.
//   - voice_leave (an event, without ref): this connection is no longer
//     in voice in Stream, for Reason: "moved" (the user joined voice on
//     another connection), "left" (voice_leave from another connection),
//     "removed" (the user left the circle or was removed from it) or
//     "forbidden" (the user may no longer connect to the stream).
//   - voice_signal: a signal from User (the frame's "from") in Stream,
//     with its Data as sent.
//   - voice_state: Streams lists who is in voice, sent after ready.
type VoiceEvent struct {
	Cmd     string
	Stream  string
	Circle  string
	User    models.UserRef
	PeerID  string
	Muted   bool
	Reason  string
	Data    json.RawMessage
	Streams []VoiceStream
}

// ParseVoiceEvent decodes a voice event received on Events.
func ParseVoiceEvent(ev Event) (*VoiceEvent, error) {
	var f struct {
		Cmd     string          `json:"cmd"`
		Stream  string          `json:"stream"`
		Circle  string          `json:"circle"`
		User    models.UserRef  `json:"user"`
		From    models.UserRef  `json:"from"`
		PeerID  string          `json:"peer_id"`
		Muted   bool            `json:"muted"`
		Reason  string          `json:"reason"`
		Data    json.RawMessage `json:"data"`
		Streams []VoiceStream   `json:"streams"`
	}
	if err := json.Unmarshal(ev.Raw, &f); err != nil {
		return nil, fmt.Errorf("oshi: decode %s event: %w", ev.Cmd, err)
	}
	switch f.Cmd {
	case "voice_user_joined", "voice_user_left", "voice_user_updated", "voice_leave", "voice_state":
	case "voice_signal":
		f.User = f.From
	default:
		return nil, fmt.Errorf("oshi: %q is not a voice event", f.Cmd)
	}
	return &VoiceEvent{Cmd: f.Cmd, Stream: f.Stream, Circle: f.Circle, User: f.User, PeerID: f.PeerID,
		Muted: f.Muted, Reason: f.Reason, Data: f.Data, Streams: f.Streams}, nil
}
