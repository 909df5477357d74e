package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/circles"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/streams"
)

// Bots and slash commands. A bot is an account made by its owner over
// HTTP (POST /api/bots); it has a token and no password, connects over
// the WebSocket like anyone, and registers slash commands with typed
// options (command_register). A member with manage_circle adds it to a
// circle (circle_bot_add) and may restrict each command to some roles
// (command_permissions). A member invokes a command (command_invoke) in a
// channel the bot belongs to, or in the DM with the bot: the arguments
// are checked against the command's options and resolved, and the bot's
// connections get an interaction event through the bot's user topic, so
// it reaches them on any node. The bot answers once
// (interaction_respond) within models.InteractionTTL: with a message in
// the stream, stored and sequenced like any, or with an ephemeral
// interaction_reply that only the invoker's connections get. Pending
// interactions are stored by _id, so the answer is checked on any node.
// docs/protocol.md describes it all (section 3.14 and section 2).
func init() {
	handle(map[string]handler{
		"circle_bot_add":      (*conn).cmdCircleBotAdd,
		"command_register":    (*conn).cmdCommandRegister,
		"command_permissions": (*conn).cmdCommandPermissions,
		"command_list":        (*conn).cmdCommandList,
		"command_invoke":      (*conn).cmdCommandInvoke,
		"interaction_respond": (*conn).cmdInteractionRespond,
	})
	mapErrors([]errorCode{
		{errBotNotFound, CodeBotNotFound},
		{errCommandNotFound, CodeCommandNotFound},
		{errBotOffline, CodeBotOffline},
		{errInteractionNotFound, CodeInteractionNotFound},
	})
	// An invocation counts as a message of the invoker. The bot's answer
	// does not count against the bot: each answers one invocation,
	// already counted, and a bot serving a busy circle answers far more
	// than one person posts.
	limitedCommands["command_invoke"] = messageBucket
	// A bot removed from a circle (left, kicked, banned) loses its
	// record there, and with it the circle's command permissions.
	onRemoved = append(onRemoved, func(g *Gateway, circleID, userID string) {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		if err := g.svc.Store.DeleteCircleBot(ctx, circleID, userID); err != nil {
			g.log.Warn("drop circle bot", "circle", circleID, "user", userID, "err", err)
		}
	})
}

// Error codes of bots and slash commands.
const (
	// CodeBotNotFound: no bot has this id, or it is not in the circle
	// or DM the command names (HTTP 404 for /api/bots/{id}).
	CodeBotNotFound = "bot_not_found"
	// CodeCommandNotFound: the bot has no command of this name.
	CodeCommandNotFound = "command_not_found"
	// CodeInvalidCommand: command_register's commands break a rule; the
	// message says which.
	CodeInvalidCommand = "invalid_command"
	// CodeInvalidOption: command_invoke's args do not fit the command's
	// options (unknown, missing, wrong type, not a choice, not found in
	// the circle); the message names the option.
	CodeInvalidOption = "invalid_option"
	// CodeBotOffline: the bot has no connection on any node.
	CodeBotOffline = "bot_offline"
	// CodeInteractionNotFound: no pending interaction of this bot has
	// this id: unknown, answered already, or expired.
	CodeInteractionNotFound = "interaction_not_found"
)

var (
	errBotNotFound         = errors.New("bot not found")
	errCommandNotFound     = errors.New("the bot has no such command")
	errBotOffline          = errors.New("the bot is not connected")
	errInteractionNotFound = errors.New("no pending interaction has this id: unknown, answered or expired")
)

// errBotJoin refuses circle_join and circle_create to bots: a bot enters
// a circle only when a member with manage_circle adds it, and owns none.
var errBotJoin = errCode(CodeForbidden, "a bot joins circles only by circle_bot_add, and creates none")

// MaxCommandRoles bounds the roles of one command_permissions.
const MaxCommandRoles = 25

// Bot HTTP API: POST /api/bots, GET /api/bots, POST
// /api/bots/{id}/token, DELETE /api/bots/{id}. Every request carries the
// owner's Authorization: Bearer token; a bot cannot manage bots.

func (g *Gateway) routeBots() {
	g.mux.HandleFunc("POST /api/bots", g.createBot)
	g.mux.HandleFunc("GET /api/bots", g.listBots)
	g.mux.HandleFunc("POST /api/bots/{id}/token", g.rotateBotToken)
	g.mux.HandleFunc("DELETE /api/bots/{id}", g.deleteBot)
}

// botSecret answers POST /api/bots and POST /api/bots/{id}/token; the
// token is shown only there.
type botSecret struct {
	Bot   *models.Bot `json:"bot"`
	Token string      `json:"token"`
}

// owner authenticates a bot HTTP request: the bearer's user, who must
// not be a bot. On failure it has answered.
func (g *Gateway) owner(w http.ResponseWriter, r *http.Request) (*models.User, bool) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, "missing Authorization: Bearer token")
		return nil, false
	}
	user, _, err := g.svc.Auth.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		writeError(w, http.StatusUnauthorized, CodeInvalidToken, err.Error())
		return nil, false
	case err != nil:
		g.httpFailure(w, "bots", err)
		return nil, false
	case user.Bot:
		writeError(w, http.StatusForbidden, CodeForbidden, "a bot cannot manage bots")
		return nil, false
	}
	return user, true
}

// ownedBot authenticates the request's owner and reads the bot {id} of
// its path; a bot that is not the owner's is not found.
func (g *Gateway) ownedBot(w http.ResponseWriter, r *http.Request) (*models.User, *models.Bot, bool) {
	owner, ok := g.owner(w, r)
	if !ok {
		return nil, nil, false
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusNotFound, CodeBotNotFound, errBotNotFound.Error())
		return nil, nil, false
	}
	b, err := g.svc.Store.Bot(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && b.OwnerID != owner.ID:
		writeError(w, http.StatusNotFound, CodeBotNotFound, errBotNotFound.Error())
		return nil, nil, false
	case err != nil:
		g.httpFailure(w, "bots", err)
		return nil, nil, false
	}
	return owner, b, true
}

func (g *Gateway) createBot(w http.ResponseWriter, r *http.Request) {
	owner, ok := g.owner(w, r)
	if !ok {
		return
	}
	var body struct {
		Username string `json:"username"`
		Public   bool   `json:"public"`
	}
	if !readBody(w, r, &body, "body must be a JSON object with username and optionally public (at most 4 KiB)") {
		return
	}
	ctx := r.Context()
	mine, err := g.svc.Store.BotsOf(ctx, owner.ID)
	if err != nil {
		g.httpFailure(w, "create bot", err)
		return
	}
	if len(mine) >= g.cfg.MaxBotsPerUser {
		writeError(w, http.StatusConflict, CodeLimitReached, fmt.Sprintf("a user may own at most %d bots", g.cfg.MaxBotsPerUser))
		return
	}
	user, login, err := g.svc.Auth.CreateBot(ctx, owner, body.Username)
	switch {
	case errors.Is(err, auth.ErrInvalidUsername):
		writeError(w, http.StatusBadRequest, CodeInvalidUsername, err.Error())
		return
	case errors.Is(err, auth.ErrUsernameTaken):
		writeError(w, http.StatusConflict, CodeUsernameTaken, err.Error())
		return
	case err != nil:
		g.httpFailure(w, "create bot", err)
		return
	}
	b := &models.Bot{ID: user.ID, Username: user.Username, OwnerID: owner.ID, Public: body.Public,
		CreatedAt: user.CreatedAt, Commands: []models.Command{}}
	if err := g.svc.Store.PutBot(ctx, b); err != nil {
		g.httpFailure(w, "create bot", err)
		return
	}
	g.log.Info("bot created", "bot", b.Username, "owner", owner.Username)
	writeJSON(w, http.StatusCreated, botSecret{b, login.Token})
}

func (g *Gateway) listBots(w http.ResponseWriter, r *http.Request) {
	owner, ok := g.owner(w, r)
	if !ok {
		return
	}
	bots, err := g.svc.Store.BotsOf(r.Context(), owner.ID)
	if err != nil {
		g.httpFailure(w, "list bots", err)
		return
	}
	if bots == nil {
		bots = []*models.Bot{}
	}
	writeJSON(w, http.StatusOK, struct {
		Bots []*models.Bot `json:"bots"`
	}{bots})
}

// rotateBotToken answers POST /api/bots/{id}/token: every token of the
// bot is revoked, its connections on every node close with 4004, and a
// new token is issued.
func (g *Gateway) rotateBotToken(w http.ResponseWriter, r *http.Request) {
	_, b, ok := g.ownedBot(w, r)
	if !ok {
		return
	}
	user, err := g.svc.Store.UserByID(r.Context(), b.ID)
	if err != nil {
		g.httpFailure(w, "rotate bot token", err)
		return
	}
	login, revoked, err := g.svc.Auth.RotateBotToken(r.Context(), user)
	g.revokeUser(b.ID, revoked)
	if err != nil {
		g.httpFailure(w, "rotate bot token", err)
		return
	}
	writeJSON(w, http.StatusOK, botSecret{b, login.Token})
}

// deleteBot answers DELETE /api/bots/{id}: the bot leaves every circle
// (members get member_remove), its tokens are revoked and its
// connections closed, and its account is deleted. Its messages stay.
func (g *Gateway) deleteBot(w http.ResponseWriter, r *http.Request) {
	owner, b, ok := g.ownedBot(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	cids, err := g.svc.Circles.CircleIDs(ctx, b.ID)
	if err != nil {
		g.httpFailure(w, "delete bot", err)
		return
	}
	by := owner.Ref()
	for _, cid := range cids {
		if _, err := g.svc.Circles.Leave(ctx, b.ID, cid); err != nil && !errors.Is(err, circles.ErrNotMember) {
			g.httpFailure(w, "delete bot", err)
			return
		}
		g.removed(cid, b.Ref(), &by, "bot deleted", false)
	}
	revoked, err := g.svc.Store.DeleteSessions(ctx, b.ID)
	g.revokeUser(b.ID, revoked)
	if err != nil {
		g.httpFailure(w, "delete bot", err)
		return
	}
	if err := g.svc.Store.DeleteBot(ctx, b.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		g.httpFailure(w, "delete bot", err)
		return
	}
	g.log.Info("bot deleted", "bot", b.Username, "owner", owner.Username)
	w.WriteHeader(http.StatusNoContent)
}

// WebSocket commands.

// botOf reads a bot by id for a command: errBotNotFound when there is
// none.
func (c *conn) botOf(ctx context.Context, id string) (*models.Bot, error) {
	if err := required("bot", id); err != nil {
		return nil, err
	}
	if len(id) > 64 {
		return nil, errBotNotFound
	}
	b, err := c.g.svc.Store.Bot(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBotNotFound
	}
	return b, err
}

// circleBotOf reads a bot's record in a circle: errBotNotFound when the
// bot is not a member there.
func (c *conn) circleBotOf(ctx context.Context, circleID, botID string) (*models.CircleBot, error) {
	if ok, err := c.g.svc.Circles.IsMember(ctx, circleID, botID); err != nil {
		return nil, err
	} else if !ok {
		return nil, errBotNotFound
	}
	cb, err := c.g.svc.Store.CircleBot(ctx, circleID, botID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBotNotFound
	}
	return cb, err
}

// cmdCircleBotAdd adds a bot to a circle: the member needs
// manage_circle, and the bot must be theirs or public.
func (c *conn) cmdCircleBotAdd(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if _, err := c.g.svc.Circles.Require(ctx, req.Circle, c.user.ID, "", models.ManageCircle); err != nil {
		return err
	}
	b, err := c.botOf(ctx, req.Bot)
	if err != nil {
		return err
	}
	if b.OwnerID != c.user.ID && !b.Public {
		return errCode(CodeForbidden, "only its owner may add a private bot")
	}
	user, err := c.g.svc.Store.UserByID(ctx, b.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errBotNotFound
	}
	if err != nil {
		return err
	}
	circle, err := c.g.svc.Circles.AddBot(ctx, c.user.Ref(), user, req.Circle)
	if err != nil {
		return err
	}
	cb := &models.CircleBot{ID: models.CircleBotID(circle.ID, b.ID), CircleID: circle.ID, BotID: b.ID,
		AddedBy: c.user.Ref(), AddedAt: models.Now()}
	if err := c.g.svc.Store.PutCircleBot(ctx, cb); err != nil {
		return err
	}
	// As circle_join does: the members hear of the bot, then every
	// connection of the bot follows the circle.
	c.g.membership(circle.ID, b.ID, true)
	c.g.publish(circleTopic(circle.ID), encode(memberEvent{Cmd: "member_join", Circle: circle.ID, User: b.Ref()}))
	c.g.publish(userTopic(b.ID), userControl(opJoin, 0, circle.ID, encode(circleReply{header{Cmd: "circle_join"}, circle})))
	c.reply(struct {
		header
		Circle string         `json:"circle"`
		Bot    models.UserRef `json:"bot"`
	}{hdr(req), circle.ID, b.Ref()})
	return nil
}

// cmdCommandRegister replaces the connected bot's whole command set.
func (c *conn) cmdCommandRegister(ctx context.Context, req *request) error {
	if !c.user.Bot {
		return errCode(CodeForbidden, "only a bot registers commands")
	}
	var cmds []models.Command
	dec := json.NewDecoder(bytes.NewReader(req.Commands))
	dec.UseNumber()
	if len(req.Commands) == 0 || dec.Decode(&cmds) != nil {
		return errCode(CodeBadRequest, "commands must be an array of commands")
	}
	if cmds == nil {
		cmds = []models.Command{}
	}
	if err := models.ValidateCommands(cmds); err != nil {
		return errCode(CodeInvalidCommand, err.Error())
	}
	if err := c.g.svc.Store.SetBotCommands(ctx, c.user.ID, cmds); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errBotNotFound
		}
		return err
	}
	c.reply(struct {
		header
		Commands []models.Command `json:"commands"`
	}{hdr(req), cmds})
	return nil
}

// cmdCommandPermissions restricts one command of a bot in a circle to
// some roles; the member needs manage_circle.
func (c *conn) cmdCommandPermissions(ctx context.Context, req *request) error {
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	if _, err := c.g.svc.Circles.Require(ctx, req.Circle, c.user.ID, "", models.ManageCircle); err != nil {
		return err
	}
	if err := required("bot", req.Bot); err != nil {
		return err
	}
	if _, err := c.circleBotOf(ctx, req.Circle, req.Bot); err != nil {
		return err
	}
	b, err := c.botOf(ctx, req.Bot)
	if err != nil {
		return err
	}
	if b.Command(req.Command) == nil {
		return errCommandNotFound
	}
	if len(req.Roles) > MaxCommandRoles {
		return errCode(CodeBadRequest, fmt.Sprintf("at most %d roles", MaxCommandRoles))
	}
	roles := []string{}
	for _, id := range req.Roles {
		if _, err := c.g.svc.Circles.Role(ctx, req.Circle, id); err != nil {
			return err
		}
		if !slices.Contains(roles, id) {
			roles = append(roles, id)
		}
	}
	err = c.g.svc.Store.SetCommandPermission(ctx, req.Circle, b.ID, req.Command, roles)
	if errors.Is(err, store.ErrNotFound) {
		return errBotNotFound
	}
	if err != nil {
		return err
	}
	c.g.svc.Circles.AuditCommandRoles(ctx, c.user.Ref(), req.Circle, b.Ref(), req.Command, roles)
	c.reply(struct {
		header
		Circle  string   `json:"circle"`
		Bot     string   `json:"bot"`
		Command string   `json:"command"`
		Roles   []string `json:"roles"`
	}{hdr(req), req.Circle, b.ID, req.Command, roles})
	return nil
}

// botCommands is one bot of command_list with the commands the user may
// invoke.
type botCommands struct {
	Bot      models.UserRef   `json:"bot"`
	Commands []models.Command `json:"commands"`
}

// cmdCommandList lists the bots of a circle, or the bot of a DM, with
// the commands the user may invoke there.
func (c *conn) cmdCommandList(ctx context.Context, req *request) error {
	if req.Stream != "" {
		st, err := c.dmWith(ctx, req.Stream)
		if err != nil {
			return err
		}
		list := []botCommands{}
		if peer := dmPeer(st, c.user.ID); peer != "" {
			if b, err := c.g.svc.Store.Bot(ctx, peer); err == nil {
				list = append(list, botCommands{b.Ref(), b.Commands})
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		c.reply(struct {
			header
			Stream string        `json:"stream"`
			Bots   []botCommands `json:"bots"`
		}{hdr(req), st.ID, list})
		return nil
	}
	if err := required("circle", req.Circle); err != nil {
		return err
	}
	perms, err := c.g.svc.Circles.Permissions(ctx, req.Circle, c.user.ID, "")
	if err != nil {
		return err
	}
	records, err := c.g.svc.Store.CircleBots(ctx, req.Circle)
	if err != nil {
		return err
	}
	list := []botCommands{}
	for _, cb := range records {
		if ok, err := c.g.svc.Circles.IsMember(ctx, req.Circle, cb.BotID); err != nil {
			return err
		} else if !ok {
			continue
		}
		b, err := c.g.svc.Store.Bot(ctx, cb.BotID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		mine := []models.Command{}
		for _, cmd := range b.Commands {
			if !perms.Has(models.UseCommands) {
				break
			}
			if ok, err := c.mayInvoke(ctx, cb, cmd.Name); err != nil {
				return err
			} else if ok {
				mine = append(mine, cmd)
			}
		}
		list = append(list, botCommands{b.Ref(), mine})
	}
	c.reply(struct {
		header
		Circle string        `json:"circle"`
		Bots   []botCommands `json:"bots"`
	}{hdr(req), req.Circle, list})
	return nil
}

// mayInvoke applies a command's role restriction in a circle to the
// connection's user.
func (c *conn) mayInvoke(ctx context.Context, cb *models.CircleBot, command string) (bool, error) {
	roles := cb.Permissions[command]
	if len(roles) == 0 {
		return true, nil
	}
	return c.g.svc.Circles.HoldsAnyRole(ctx, cb.CircleID, c.user.ID, roles)
}

// dmWith reads a DM of the connection's user: not_found when the stream
// is not one of the user's DMs.
func (c *conn) dmWith(ctx context.Context, streamID string) (*models.Stream, error) {
	notFound := errCode(CodeNotFound, "stream not found")
	if len(streamID) > 64 {
		return nil, notFound
	}
	st, err := c.g.svc.Store.Stream(ctx, streamID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if st.Kind != models.DM || !slices.Contains(st.Members, c.user.ID) {
		return nil, notFound
	}
	return st, nil
}

// interactionEvent is what the bot's connections get for an invocation.
type interactionEvent struct {
	Cmd       string         `json:"cmd"`
	ID        string         `json:"id"`
	Command   string         `json:"command"`
	Args      map[string]any `json:"args"`
	User      models.UserRef `json:"user"`
	Circle    string         `json:"circle,omitempty"`
	Stream    string         `json:"stream"`
	ExpiresAt time.Time      `json:"expires_at"`
}

// streamArg and roleArg are how stream and role arguments reach the
// bot.
type streamArg struct {
	ID   string            `json:"id"`
	Name string            `json:"name,omitempty"`
	Kind models.StreamKind `json:"kind"`
}

type roleArg struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// cmdCommandInvoke invokes a bot's command in a stream: a channel of a
// circle the bot belongs to (the user needs view_streams and
// use_commands there, and one of the command's roles when it has any),
// or the user's DM with the bot.
func (c *conn) cmdCommandInvoke(ctx context.Context, req *request) error {
	if err := required("stream", req.Stream); err != nil {
		return err
	}
	notFound := errCode(CodeNotFound, "stream not found")
	if len(req.Stream) > 64 {
		return notFound
	}
	st, err := c.g.svc.Store.Stream(ctx, req.Stream)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	var cb *models.CircleBot
	switch st.Kind {
	case models.DM:
		if !slices.Contains(st.Members, c.user.ID) {
			return notFound
		}
		if err := required("bot", req.Bot); err != nil {
			return err
		}
		if dmPeer(st, c.user.ID) != req.Bot {
			return errBotNotFound
		}
	default:
		if st.CircleID == "" {
			return notFound
		}
		if _, err := c.g.svc.Circles.Require(ctx, st.CircleID, c.user.ID, st.ID, models.ViewStreams|models.UseCommands); err != nil {
			return err
		}
		if st.Kind != models.Channel && st.Kind != models.Thread {
			return streams.ErrNotText
		}
		if err := required("bot", req.Bot); err != nil {
			return err
		}
		if cb, err = c.circleBotOf(ctx, st.CircleID, req.Bot); err != nil {
			return err
		}
	}
	b, err := c.botOf(ctx, req.Bot)
	if err != nil {
		return err
	}
	if err := required("command", req.Command); err != nil {
		return err
	}
	cmd := b.Command(req.Command)
	if cmd == nil {
		return errCommandNotFound
	}
	if cb != nil {
		if ok, err := c.mayInvoke(ctx, cb, cmd.Name); err != nil {
			return err
		} else if !ok {
			return errCode(CodeForbidden, "this command is restricted to some roles, none of which you hold")
		}
	}
	args, err := c.resolveArgs(ctx, st, cmd, req.Args)
	if err != nil {
		return err
	}
	if !userOnline(c.g, b.ID) {
		return errBotOffline
	}
	in := &models.Interaction{
		ID: uuid.Must(uuid.NewV7()).String(), BotID: b.ID, User: c.user.Ref(), CircleID: st.CircleID,
		StreamID: st.ID, Command: cmd.Name, ExpiresAt: models.Now().Add(models.InteractionTTL),
	}
	c.sweepInteractions(ctx)
	if err := c.g.svc.Store.PutInteraction(ctx, in); err != nil {
		return err
	}
	// Every connection of the bot, on every node, gets it; the first
	// answer wins.
	ev := interactionEvent{Cmd: "interaction", ID: in.ID, Command: in.Command, Args: args, User: in.User,
		Circle: in.CircleID, Stream: in.StreamID, ExpiresAt: in.ExpiresAt}
	c.g.publish(userTopic(b.ID), userControl(opEvent, 0, "", encode(ev)))
	c.reply(struct {
		header
		Interaction string `json:"interaction"`
	}{hdr(req), in.ID})
	return nil
}

// sweepInteractions deletes the expired interactions, at most once per
// models.InteractionTTL on each node: MongoDB has no TTL on the embedded
// store, and unanswered interactions would otherwise stay.
func (c *conn) sweepInteractions(ctx context.Context) {
	now := time.Now()
	last := c.g.interactionSweep.Load()
	if now.UnixNano()-last < int64(models.InteractionTTL) || !c.g.interactionSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if err := c.g.svc.Store.DeleteExpiredInteractions(ctx, now); err != nil {
		c.g.log.Warn("delete expired interactions", "err", err)
	}
}

// resolveArgs checks the invocation's arguments against the command's
// options and returns them as the bot gets them.
func (c *conn) resolveArgs(ctx context.Context, st *models.Stream, cmd *models.Command, raw json.RawMessage) (map[string]any, error) {
	bad := func(format string, a ...any) error { return errCode(CodeInvalidOption, fmt.Sprintf(format, a...)) }
	given := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &given); err != nil {
			return nil, bad("args must be an object of option names to values")
		}
	}
	for name := range given {
		if !slices.ContainsFunc(cmd.Options, func(o models.CommandOption) bool { return o.Name == name }) {
			return nil, bad("the command has no option %s", quote(name))
		}
	}
	out := make(map[string]any, len(given))
	for _, o := range cmd.Options {
		v, ok := given[o.Name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if o.Required {
				return nil, bad("option %s is required", o.Name)
			}
			continue
		}
		val, err := c.resolveArg(ctx, st, o, v)
		if err != nil {
			return nil, bad("option %s: %s", o.Name, err.Error())
		}
		out[o.Name] = val
	}
	return out, nil
}

// resolveArg checks one argument against its option.
func (c *conn) resolveArg(ctx context.Context, st *models.Stream, o models.CommandOption, raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("not a JSON value")
	}
	switch o.Type {
	case models.OptionString, models.OptionInteger, models.OptionNumber:
		val, ok := models.OptionValue(o.Type, v)
		if !ok {
			article := "a"
			if o.Type == models.OptionInteger {
				article = "an"
			}
			return nil, fmt.Errorf("must be %s %s", article, o.Type)
		}
		if s, isString := val.(string); isString && (utf8.RuneCountInString(s) > models.MaxStringArg || !models.ValidText(s)) {
			return nil, fmt.Errorf("must be at most %d characters without control characters", models.MaxStringArg)
		}
		if len(o.Choices) > 0 && !slices.ContainsFunc(o.Choices, func(ch models.CommandChoice) bool { return ch.Value == val }) {
			return nil, errors.New("must be one of its choices")
		}
		return val, nil
	case models.OptionBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, errors.New("must be true or false")
		}
		return b, nil
	}
	id, ok := v.(string)
	if !ok || id == "" || len(id) > 64 {
		return nil, fmt.Errorf("must be a %s id", o.Type)
	}
	switch o.Type {
	case models.OptionUser:
		inScope := slices.Contains(st.Members, id)
		if st.CircleID != "" {
			member, err := c.g.svc.Circles.IsMember(ctx, st.CircleID, id)
			if err != nil {
				return nil, err
			}
			inScope = member
		}
		if !inScope {
			return nil, errors.New("no such member here")
		}
		u, err := c.g.svc.Store.UserByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errors.New("no such member here")
		}
		if err != nil {
			return nil, err
		}
		return u.Ref(), nil
	case models.OptionStream:
		if st.CircleID == "" {
			if id != st.ID {
				return nil, errors.New("no such stream here")
			}
			return streamArg{ID: st.ID, Kind: st.Kind}, nil
		}
		// Only a stream the invoker can see: naming another would
		// reveal its name.
		s, err := c.g.svc.Circles.Stream(ctx, st.CircleID, id)
		if err == nil {
			_, err = c.g.svc.Circles.Require(ctx, st.CircleID, c.user.ID, id, models.ViewStreams)
		}
		if err != nil {
			return nil, errors.New("no such stream here")
		}
		return streamArg{ID: s.ID, Name: s.Name, Kind: s.Kind}, nil
	default: // role
		if st.CircleID == "" {
			return nil, errors.New("no roles in a DM")
		}
		r, err := c.g.svc.Circles.Role(ctx, st.CircleID, id)
		if err != nil {
			return nil, errors.New("no such role here")
		}
		return roleArg{ID: r.ID, Name: r.Name}, nil
	}
}

// userOnline reports whether a user has a connection on any node (an
// invisible user counts: invisibility hides presence, not the
// connection).
func userOnline(g *Gateway, userID string) bool {
	h := hubOf(g)
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[userID]
	return u != nil && (u.local > 0 || len(u.remote) > 0)
}

// interactionReply is the ephemeral answer the invoker's connections get.
type interactionReply struct {
	Cmd         string         `json:"cmd"`
	Interaction string         `json:"interaction"`
	Stream      string         `json:"stream"`
	Bot         models.UserRef `json:"bot"`
	Command     string         `json:"command"`
	Content     string         `json:"content"`
}

// cmdInteractionRespond is a bot's one answer to an interaction sent to
// it: a message in the interaction's stream, or an ephemeral reply to
// the invoker.
func (c *conn) cmdInteractionRespond(ctx context.Context, req *request) error {
	if err := required("interaction", req.Interaction); err != nil {
		return err
	}
	if !c.user.Bot || len(req.Interaction) > 64 {
		return errInteractionNotFound
	}
	in, err := c.g.svc.Store.Interaction(ctx, req.Interaction)
	if errors.Is(err, store.ErrNotFound) {
		return errInteractionNotFound
	}
	if err != nil {
		return err
	}
	if in.BotID != c.user.ID || !models.Now().Before(in.ExpiresAt) {
		return errInteractionNotFound
	}
	switch n := utf8.RuneCountInString(req.Content); {
	case strings.TrimSpace(req.Content) == "":
		return streams.ErrEmptyContent
	case n > c.g.cfg.MaxMessageLength:
		return streams.ErrTooLong
	case !models.ValidText(req.Content):
		return streams.ErrInvalidContent
	}
	h := hdr(req)
	if req.Ephemeral {
		if err := c.takeInteraction(ctx, in.ID); err != nil {
			return err
		}
		c.g.publish(userTopic(in.User.ID), userControl(opEvent, 0, "", encode(interactionReply{
			Cmd: "interaction_reply", Interaction: in.ID, Stream: in.StreamID, Bot: c.user.Ref(), Command: in.Command, Content: req.Content,
		})))
		c.reply(struct {
			header
			Interaction string `json:"interaction"`
			Ephemeral   bool   `json:"ephemeral"`
		}{h, in.ID, true})
		return nil
	}
	// The bot posts as itself: it needs send_messages in the stream.
	if _, err := c.g.svc.Streams.Allowed(ctx, c.user.ID, in.StreamID, models.SendMessages); err != nil {
		return err
	}
	if err := c.takeInteraction(ctx, in.ID); err != nil {
		return err
	}
	// The interaction's id is the message's nonce: a retry after a
	// failure whose message was stored after all gets that message back
	// instead of posting twice.
	d := streams.Draft{Content: req.Content, Nonce: in.ID, Interaction: &models.InteractionRef{ID: in.ID, Command: in.Command, User: in.User}}
	err = c.g.svc.Streams.SubmitDraft(ctx, c.user, in.StreamID, d, func(m *models.Message, err error) {
		if err != nil {
			// Not stored (or not known to be): the bot may answer again.
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if perr := c.g.svc.Store.PutInteraction(rctx, in); perr != nil {
				c.g.log.Warn("restore interaction", "interaction", in.ID, "err", perr)
			}
			c.fail(h, "interaction_respond", err)
			return
		}
		c.reply(struct {
			header
			Interaction string          `json:"interaction"`
			Message     *models.Message `json:"message"`
		}{h, in.ID, m})
	})
	if err != nil {
		// Nothing was queued: the bot may answer again.
		if perr := c.g.svc.Store.PutInteraction(ctx, in); perr != nil {
			c.g.log.Warn("restore interaction", "interaction", in.ID, "err", perr)
		}
	}
	return err
}

// takeInteraction claims an interaction for the one answer it gets.
func (c *conn) takeInteraction(ctx context.Context, id string) error {
	err := c.g.svc.Store.TakeInteraction(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errInteractionNotFound
	}
	return err
}
