package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/oshichat/oshi/models"
)

// Bots are accounts their owners make over HTTP (CreateBot); a bot
// connects with its token like anyone (Dial with Credentials{Token}),
// registers slash commands (RegisterCommands), and answers the
// interactions it gets as "interaction" events (ParseInteraction,
// RespondInteraction). Members invoke the commands with InvokeCommand
// (docs/protocol.md, section 3.14 and section 2).

// BotSecret is a bot with its token, as POST /api/bots and POST
// /api/bots/{id}/token answer; the token is never shown again.
type BotSecret struct {
	Bot   *models.Bot `json:"bot"`
	Token string      `json:"token"`
}

func botRequest(ctx context.Context, method, url, token string, body any) (*http.Request, error) {
	var r *bytes.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(data)
	}
	var req *http.Request
	var err error
	if r != nil {
		req, err = http.NewRequestWithContext(ctx, method, url, r)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, url, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// CreateBot makes a bot account owned by the user of token, on the
// server at baseURL (http://host:port). A public bot may be added to
// circles by members who do not own it.
func CreateBot(ctx context.Context, baseURL, token, username string, public bool) (*BotSecret, error) {
	req, err := botRequest(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+"/api/bots", token,
		map[string]any{"username": username, "public": public})
	if err != nil {
		return nil, err
	}
	return doJSON[BotSecret](req)
}

// Bots lists the bots the user of token owns, oldest first.
func Bots(ctx context.Context, baseURL, token string) ([]*models.Bot, error) {
	req, err := botRequest(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/api/bots", token, nil)
	if err != nil {
		return nil, err
	}
	r, err := doJSON[struct {
		Bots []*models.Bot `json:"bots"`
	}](req)
	if err != nil {
		return nil, err
	}
	return r.Bots, nil
}

// RotateBotToken gives a bot a new token; the old one stops working and
// the bot's connections are closed (4004).
func RotateBotToken(ctx context.Context, baseURL, token, botID string) (*BotSecret, error) {
	req, err := botRequest(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+"/api/bots/"+botID+"/token", token, nil)
	if err != nil {
		return nil, err
	}
	return doJSON[BotSecret](req)
}

// DeleteBot deletes a bot: it leaves its circles, its connections are
// closed and its account is gone. Its messages stay.
func DeleteBot(ctx context.Context, baseURL, token, botID string) error {
	req, err := botRequest(ctx, http.MethodDelete, strings.TrimSuffix(baseURL, "/")+"/api/bots/"+botID, token, nil)
	if err != nil {
		return err
	}
	_, err = doJSON[struct{}](req)
	return err
}

// AddBot adds a bot to a circle; the user needs manage_circle, and the
// bot must be theirs or public.
func (c *Client) AddBot(ctx context.Context, circleID, botID string) error {
	_, err := c.Request(ctx, map[string]any{"cmd": "circle_bot_add", "circle": circleID, "bot": botID})
	return err
}

// RegisterCommands replaces the connected bot's commands with cmds.
func (c *Client) RegisterCommands(ctx context.Context, cmds []models.Command) ([]models.Command, error) {
	if cmds == nil {
		cmds = []models.Command{}
	}
	r, err := call[struct {
		Commands []models.Command `json:"commands"`
	}](ctx, c, map[string]any{"cmd": "command_register", "commands": cmds})
	if err != nil {
		return nil, err
	}
	return r.Commands, nil
}

// SetCommandRoles restricts a bot's command in a circle to the members
// holding one of roles; no roles lifts the restriction. The user needs
// manage_circle.
func (c *Client) SetCommandRoles(ctx context.Context, circleID, botID, command string, roles []string) error {
	if roles == nil {
		roles = []string{}
	}
	_, err := c.Request(ctx, map[string]any{"cmd": "command_permissions", "circle": circleID, "bot": botID, "command": command, "roles": roles})
	return err
}

// BotCommands is a bot with the commands the user may invoke, as
// command_list answers.
type BotCommands struct {
	Bot      models.UserRef   `json:"bot"`
	Commands []models.Command `json:"commands"`
}

// Commands lists the bots of a circle with the commands the user may
// invoke there.
func (c *Client) Commands(ctx context.Context, circleID string) ([]BotCommands, error) {
	r, err := call[struct {
		Bots []BotCommands `json:"bots"`
	}](ctx, c, map[string]any{"cmd": "command_list", "circle": circleID})
	if err != nil {
		return nil, err
	}
	return r.Bots, nil
}

// InvokeCommand invokes a bot's command in a stream with args (option
// name to value: strings, numbers, booleans, and ids for user, stream
// and role options). It returns the interaction's id; the answer comes
// as a message_new carrying that interaction, or as an
// interaction_reply event.
func (c *Client) InvokeCommand(ctx context.Context, streamID, botID, command string, args map[string]any) (string, error) {
	frame := map[string]any{"cmd": "command_invoke", "stream": streamID, "bot": botID, "command": command}
	if args != nil {
		frame["args"] = args
	}
	r, err := call[struct {
		Interaction string `json:"interaction"`
	}](ctx, c, frame)
	if err != nil {
		return "", err
	}
	return r.Interaction, nil
}

// Interaction is an invocation as the bot gets it (the "interaction"
// event). Args holds the arguments given: strings, float64 numbers
// (integers too), booleans, and for user, stream and role options
// objects ({id, username} for a user, {id, name, kind} for a stream,
// {id, name} for a role).
type Interaction struct {
	ID        string          `json:"id"`
	Command   string          `json:"command"`
	Args      map[string]any  `json:"args"`
	User      models.UserRef  `json:"user"`
	Circle    string          `json:"circle"`
	Stream    string          `json:"stream"`
	ExpiresAt time.Time       `json:"expires_at"`
	Raw       json.RawMessage `json:"-"`
}

// ParseInteraction reads an "interaction" event; ok is false for any
// other event.
func ParseInteraction(ev Event) (in *Interaction, ok bool) {
	if ev.Cmd != "interaction" {
		return nil, false
	}
	in = &Interaction{Raw: ev.Raw}
	if err := json.Unmarshal(ev.Raw, in); err != nil {
		return nil, false
	}
	return in, true
}

// RespondInteraction answers an interaction once: with a message in its
// stream (returned), or, when ephemeral, with an interaction_reply only
// the invoker sees (nil message).
func (c *Client) RespondInteraction(ctx context.Context, interactionID, content string, ephemeral bool) (*models.Message, error) {
	r, err := call[struct {
		Message *models.Message `json:"message"`
	}](ctx, c, map[string]any{"cmd": "interaction_respond", "interaction": interactionID, "content": content, "ephemeral": ephemeral})
	if err != nil {
		return nil, err
	}
	return r.Message, nil
}

// InteractionReply is an ephemeral answer, as the invoker gets it.
type InteractionReply struct {
	Interaction string         `json:"interaction"`
	Stream      string         `json:"stream"`
	Bot         models.UserRef `json:"bot"`
	Command     string         `json:"command"`
	Content     string         `json:"content"`
}

// ParseInteractionReply reads an "interaction_reply" event; ok is false
// for any other event.
func ParseInteractionReply(ev Event) (r *InteractionReply, ok bool) {
	if ev.Cmd != "interaction_reply" {
		return nil, false
	}
	r = &InteractionReply{}
	if err := json.Unmarshal(ev.Raw, r); err != nil {
		return nil, false
	}
	return r, true
}
