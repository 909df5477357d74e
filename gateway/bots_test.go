package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/server"
)

// botReq sends a frame and logs it with its answer (go test -v shows
// the real frames docs/protocol.md quotes).
func botReq(t *testing.T, c *client.Client, frame map[string]any) (json.RawMessage, error) {
	t.Helper()
	out, _ := json.Marshal(frame)
	raw, err := c.Request(ctxT(t), frame)
	if err != nil {
		t.Logf("→ %s\n← error %v", out, err)
	} else {
		t.Logf("→ %s\n← %s", out, raw)
	}
	return raw, err
}

// botCode fails unless err carries the protocol code want.
func botCode(t *testing.T, what string, raw json.RawMessage, err error, want string) {
	t.Helper()
	if got := client.Code(err); got != want {
		t.Fatalf("%s: reply %s, err %v; want %s", what, raw, err, want)
	}
}

// nextLogged is oshitest.Next that logs the event.
func nextLogged(t *testing.T, c *client.Client, cmds ...string) client.Event {
	t.Helper()
	ev := oshitest.Next(t, c, cmds...)
	t.Logf("event %s", ev.Raw)
	return ev
}

// echoCommands are the commands the test bots register.
var echoCommands = []models.Command{
	{Name: "echo", Description: "Says it back", Options: []models.CommandOption{
		{Name: "text", Description: "What to say", Type: models.OptionString, Required: true},
		{Name: "times", Description: "How often", Type: models.OptionInteger},
		{Name: "loud", Description: "Shout", Type: models.OptionBoolean},
		{Name: "who", Description: "To whom", Type: models.OptionUser},
		{Name: "where", Description: "Where", Type: models.OptionStream},
		{Name: "role", Description: "Which role", Type: models.OptionRole},
		{Name: "mood", Description: "How", Type: models.OptionString, Choices: []models.CommandChoice{
			{Name: "Happy", Value: "happy"}, {Name: "Sad", Value: "sad"}}},
		{Name: "ratio", Description: "A number", Type: models.OptionNumber},
	}},
	{Name: "admin", Description: "For the crew only"},
}

// botFixture is a circle with an owner (alice, who also owns the bot),
// a member (bob), a stranger (carol) and alice's private bot, connected
// and with echoCommands registered.
type botFixture struct {
	s                *oshitest.Server
	aliceL, bobL     *client.Login
	alice, bob, carl *client.Client
	bot              *client.Client
	botSecret        *client.BotSecret
	circle           *models.Circle
	general          string
}

func newBotFixture(t *testing.T, cfg server.Config) *botFixture {
	t.Helper()
	ctx := ctxT(t)
	f := &botFixture{s: oshitest.NewServer(t, cfg)}
	f.aliceL, f.alice = f.s.User("alice")
	f.bobL, f.bob = f.s.User("bob")
	_, f.carl = f.s.User("carol")
	var err error
	if f.circle, err = f.alice.CreateCircle(ctx, "Bots", models.Private); err != nil {
		t.Fatal(err)
	}
	f.general = f.circle.Streams[0].ID
	code, err := f.alice.CreateInvite(ctx, f.circle.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.bob.JoinInvite(ctx, code); err != nil {
		t.Fatal(err)
	}
	if f.botSecret, err = client.CreateBot(ctx, f.s.URL, f.aliceL.Token, "echobot", false); err != nil {
		t.Fatal(err)
	}
	f.bot = f.s.Dial(&client.Login{User: f.botSecret.Bot.Ref(), Token: f.botSecret.Token})
	if _, err := f.bot.RegisterCommands(ctx, echoCommands); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBotAccounts(t *testing.T) {
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxBotsPerUser: 2})
	aliceL, _ := s.User("alice")
	bobL := s.Register("bob")

	// Refusals first.
	if _, err := client.CreateBot(ctx, s.URL, "not-a-token", "b1", false); client.Code(err) != "invalid_token" {
		t.Fatalf("create with a bad token: %v", err)
	}
	if _, err := client.CreateBot(ctx, s.URL, aliceL.Token, "no spaces", false); client.Code(err) != "invalid_username" {
		t.Fatalf("create with a bad name: %v", err)
	}
	if _, err := client.CreateBot(ctx, s.URL, aliceL.Token, "BOB", false); client.Code(err) != "username_taken" {
		t.Fatalf("create with a taken name: %v", err)
	}
	sec, err := client.CreateBot(ctx, s.URL, aliceL.Token, "helper", true)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Token == "" || sec.Bot.OwnerID != aliceL.User.ID || !sec.Bot.Public || sec.Bot.Username != "helper" {
		t.Fatalf("created %+v", sec)
	}
	if _, err := client.CreateBot(ctx, s.URL, aliceL.Token, "helper2", false); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBot(ctx, s.URL, aliceL.Token, "helper3", false); client.Code(err) != "limit_reached" {
		t.Fatalf("third bot of a limit of two: %v", err)
	}
	// A bot manages no bots.
	if _, err := client.CreateBot(ctx, s.URL, sec.Token, "child", false); client.Code(err) != "forbidden" {
		t.Fatalf("a bot creating a bot: %v", err)
	}
	// A bot has no password: login is refused, over HTTP and WebSocket.
	for _, pw := range []string{"", "password-helper", "anything at all"} {
		if _, err := client.LoginUser(ctx, s.URL, "helper", pw); client.Code(err) != "invalid_credentials" {
			t.Fatalf("password login of a bot with %q: %v", pw, err)
		}
	}
	if _, err := client.Dial(ctx, s.WSURL, client.Credentials{Username: "helper", Password: "password-helper"}, nil); client.Code(err) != "invalid_credentials" {
		t.Fatalf("websocket password auth of a bot: %v", err)
	}
	// Another user neither sees nor rotates nor deletes alice's bot.
	if _, err := client.RotateBotToken(ctx, s.URL, bobL.Token, sec.Bot.ID); client.Code(err) != "bot_not_found" {
		t.Fatalf("bob rotating alice's bot: %v", err)
	}
	if err := client.DeleteBot(ctx, s.URL, bobL.Token, sec.Bot.ID); client.Code(err) != "bot_not_found" {
		t.Fatalf("bob deleting alice's bot: %v", err)
	}
	if mine, err := client.Bots(ctx, s.URL, bobL.Token); err != nil || len(mine) != 0 {
		t.Fatalf("bob's bots = %v, %v", mine, err)
	}

	// The bot connects with its token and is a bot on the wire.
	bc := s.Dial(&client.Login{User: sec.Bot.Ref(), Token: sec.Token})
	if r := bc.Ready(); !r.User.Bot || r.User.ID != sec.Bot.ID {
		t.Fatalf("bot's ready user = %+v", r.User)
	}
	raw, err := botReq(t, bc, map[string]any{"cmd": "circle_create", "name": "Mine"})
	botCode(t, "a bot creating a circle", raw, err, "forbidden")
	mine, err := client.Bots(ctx, s.URL, aliceL.Token)
	if err != nil || len(mine) != 2 || mine[0].ID != sec.Bot.ID {
		t.Fatalf("alice's bots = %v, %v", mine, err)
	}

	// Rotating the token closes the bot's connection with 4004; the old
	// token is dead, the new one works.
	rot, err := client.RotateBotToken(ctx, s.URL, aliceL.Token, sec.Bot.ID)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-bc.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bot connection still open after rotation")
	}
	if got := closeStatus(bc.Err()); got != 4004 {
		t.Fatalf("close status = %d, want 4004", got)
	}
	if _, err := client.Dial(ctx, s.WSURL, client.Credentials{Token: sec.Token}, nil); client.Code(err) != "invalid_token" {
		t.Fatalf("old token after rotation: %v", err)
	}
	bc2 := s.Dial(&client.Login{User: rot.Bot.Ref(), Token: rot.Token})

	// Deleting the bot closes it too and frees the name.
	if err := client.DeleteBot(ctx, s.URL, aliceL.Token, sec.Bot.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bc2.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bot connection still open after deletion")
	}
	if mine, err := client.Bots(ctx, s.URL, aliceL.Token); err != nil || len(mine) != 1 {
		t.Fatalf("alice's bots after a deletion = %v, %v", mine, err)
	}
	if _, err := client.CreateBot(ctx, s.URL, aliceL.Token, "helper", false); err != nil {
		t.Fatalf("the deleted bot's name: %v", err)
	}
	// An HTTP status check: DELETE of an unknown bot is 404.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.URL+"/api/bots/nope", nil)
	req.Header.Set("Authorization", "Bearer "+aliceL.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE unknown bot: %d", resp.StatusCode)
	}
}

func TestBotCommandRegisterRefusals(t *testing.T) {
	f := newBotFixture(t, server.Config{})
	long := strings.Repeat("x", 101)
	many := make([]models.CommandChoice, 26)
	for i := range many {
		many[i] = models.CommandChoice{Name: "c", Value: "v"}
	}
	opt := func(o models.CommandOption) []models.Command {
		if o.Description == "" {
			o.Description = "d"
		}
		return []models.Command{{Name: "x", Description: "d", Options: []models.CommandOption{o}}}
	}
	cases := []struct {
		name string
		cmds any
		code string
	}{
		{"not an array", map[string]any{"name": "x"}, "bad_request"},
		{"bad name", []models.Command{{Name: "Echo", Description: "d"}}, "invalid_command"},
		{"long name", []models.Command{{Name: strings.Repeat("a", 33), Description: "d"}}, "invalid_command"},
		{"no description", []models.Command{{Name: "x"}}, "invalid_command"},
		{"long description", []models.Command{{Name: "x", Description: long}}, "invalid_command"},
		{"twice", []models.Command{{Name: "x", Description: "d"}, {Name: "x", Description: "d"}}, "invalid_command"},
		{"unknown type", opt(models.CommandOption{Name: "o", Type: "date"}), "invalid_command"},
		{"bad option name", opt(models.CommandOption{Name: "O O", Type: "string"}), "invalid_command"},
		{"choices on a boolean", opt(models.CommandOption{Name: "o", Type: "boolean", Choices: []models.CommandChoice{{Name: "a", Value: true}}}), "invalid_command"},
		{"choice of the wrong type", opt(models.CommandOption{Name: "o", Type: "integer", Choices: []models.CommandChoice{{Name: "a", Value: 1.5}}}), "invalid_command"},
		{"26 choices", opt(models.CommandOption{Name: "o", Type: "string", Choices: many}), "invalid_command"},
		{"required after optional", []models.Command{{Name: "x", Description: "d", Options: []models.CommandOption{
			{Name: "a", Description: "d", Type: "string"}, {Name: "b", Description: "d", Type: "string", Required: true}}}}, "invalid_command"},
	}
	fifty := make([]models.Command, 51)
	for i := range fifty {
		fifty[i] = models.Command{Name: "c" + strings.Repeat("x", i%30) + string(rune('a'+i/30)), Description: "d"}
	}
	cases = append(cases, struct {
		name string
		cmds any
		code string
	}{"51 commands", fifty, "invalid_command"})
	eleven := models.Command{Name: "x", Description: "d"}
	for i := range 11 {
		eleven.Options = append(eleven.Options, models.CommandOption{Name: "o" + string(rune('a'+i)), Description: "d", Type: "string"})
	}
	cases = append(cases, struct {
		name string
		cmds any
		code string
	}{"11 options", []models.Command{eleven}, "invalid_command"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := botReq(t, f.bot, map[string]any{"cmd": "command_register", "commands": tc.cmds})
			botCode(t, tc.name, raw, err, tc.code)
		})
	}
	// A person registers no commands.
	raw, err := botReq(t, f.bob, map[string]any{"cmd": "command_register", "commands": []models.Command{}})
	botCode(t, "a user registering", raw, err, "forbidden")
	// The bot's commands are as they were.
	bots, err := f.alice.Commands(ctxT(t), f.circle.ID)
	if err != nil || len(bots) != 0 {
		t.Fatalf("command_list before the bot is added = %v, %v", bots, err)
	}
}

func TestBotCommands(t *testing.T) {
	ctx := ctxT(t)
	f := newBotFixture(t, server.Config{})
	botID := f.botSecret.Bot.ID

	// Invoking before the bot is in the circle.
	raw, err := botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi"}})
	botCode(t, "bot not in circle", raw, err, "bot_not_found")

	// Adding: bob lacks manage_circle; in his own circle he may not add
	// alice's private bot; the bot may not join by itself.
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "circle_bot_add", "circle": f.circle.ID, "bot": botID})
	botCode(t, "bob adding", raw, err, "forbidden")
	bobs, err := f.bob.CreateCircle(ctx, "Bob's", models.Public)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "circle_bot_add", "circle": bobs.ID, "bot": botID})
	botCode(t, "non-owner adding a private bot", raw, err, "forbidden")
	raw, err = botReq(t, f.bot, map[string]any{"cmd": "circle_join", "circle": bobs.ID})
	botCode(t, "bot joining by itself", raw, err, "forbidden")
	raw, err = botReq(t, f.alice, map[string]any{"cmd": "circle_bot_add", "circle": f.circle.ID, "bot": "nobody"})
	botCode(t, "unknown bot", raw, err, "bot_not_found")

	if _, err := botReq(t, f.alice, map[string]any{"cmd": "circle_bot_add", "circle": f.circle.ID, "bot": botID}); err != nil {
		t.Fatal(err)
	}
	if ev := nextLogged(t, f.bob, "member_join"); ev.User == nil || ev.User.ID != botID || !ev.User.Bot {
		t.Fatalf("member_join = %s", ev.Raw)
	}
	if ev := nextLogged(t, f.bot, "circle_join"); ev.Circle != f.circle.ID {
		t.Fatalf("the bot's circle_join = %s", ev.Raw)
	}
	raw, err = botReq(t, f.alice, map[string]any{"cmd": "circle_bot_add", "circle": f.circle.ID, "bot": botID})
	botCode(t, "adding twice", raw, err, "already_member")
	raw, err = f.alice.Request(ctx, map[string]any{"cmd": "member_list", "circle": f.circle.ID})
	if err != nil || !strings.Contains(string(raw), `{"id":"`+botID+`","username":"echobot","bot":true}`) {
		t.Fatalf("member_list = %s, %v; want the bot badged", raw, err)
	}

	// The admin command is for the crew: bob is not in it.
	crew, err := f.alice.CreateRole(ctx, f.circle.ID, client.RoleSpec{Name: "crew"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_permissions", "circle": f.circle.ID, "bot": botID, "command": "admin", "roles": []string{crew.ID}})
	botCode(t, "bob setting permissions", raw, err, "forbidden")
	raw, err = botReq(t, f.alice, map[string]any{"cmd": "command_permissions", "circle": f.circle.ID, "bot": botID, "command": "nope", "roles": []string{crew.ID}})
	botCode(t, "permissions of an unknown command", raw, err, "command_not_found")
	raw, err = botReq(t, f.alice, map[string]any{"cmd": "command_permissions", "circle": f.circle.ID, "bot": botID, "command": "admin", "roles": []string{"nope"}})
	botCode(t, "permissions with an unknown role", raw, err, "role_not_found")
	if _, err := botReq(t, f.alice, map[string]any{"cmd": "command_permissions", "circle": f.circle.ID, "bot": botID, "command": "admin", "roles": []string{crew.ID}}); err != nil {
		t.Fatal(err)
	}
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "admin"})
	botCode(t, "a bot command from a user without the role", raw, err, "forbidden")
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_list", "circle": f.circle.ID})
	if err != nil || strings.Contains(string(raw), `"admin"`) || !strings.Contains(string(raw), `"echo"`) {
		t.Fatalf("bob's command_list = %s, %v; want echo without admin", raw, err)
	}
	raw, err = botReq(t, f.carl, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi"}})
	if c := client.Code(err); c != "forbidden" && c != "not_found" {
		t.Fatalf("a stranger invoking: %s, %v", raw, err)
	}

	// Arguments that do not fit.
	bad := []struct {
		name string
		cmd  string
		args any
		code string
	}{
		{"unknown command", "nope", map[string]any{}, "command_not_found"},
		{"missing required", "echo", map[string]any{"times": 2}, "invalid_option"},
		{"unknown option", "echo", map[string]any{"text": "hi", "colour": "red"}, "invalid_option"},
		{"string as integer", "echo", map[string]any{"text": "hi", "times": "2"}, "invalid_option"},
		{"fraction as integer", "echo", map[string]any{"text": "hi", "times": 2.5}, "invalid_option"},
		{"number as string", "echo", map[string]any{"text": 5}, "invalid_option"},
		{"string as boolean", "echo", map[string]any{"text": "hi", "loud": "yes"}, "invalid_option"},
		{"not a choice", "echo", map[string]any{"text": "hi", "mood": "angry"}, "invalid_option"},
		{"user not a member", "echo", map[string]any{"text": "hi", "who": f.carl.Ready().User.ID}, "invalid_option"},
		{"stream of another circle", "echo", map[string]any{"text": "hi", "where": bobs.Streams[0].ID}, "invalid_option"},
		{"unknown role", "echo", map[string]any{"text": "hi", "role": "nope"}, "invalid_option"},
		{"args not an object", "echo", []string{"hi"}, "invalid_option"},
	}
	for _, tc := range bad {
		raw, err := botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": tc.cmd, "args": tc.args})
		botCode(t, tc.name, raw, err, tc.code)
	}

	// The round trip: bob invokes, the bot gets typed, resolved
	// arguments and answers with a message alice sees.
	if _, err := f.alice.Subscribe(ctx, f.general, -1); err != nil {
		t.Fatal(err)
	}
	drain(t, f.bot)
	args := map[string]any{"text": "hello", "times": 3, "loud": true, "who": f.aliceL.User.ID, "where": f.general, "role": crew.ID, "mood": "happy", "ratio": 0.5}
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "echo", "args": args})
	if err != nil {
		t.Fatal(err)
	}
	var invoked struct {
		Interaction string `json:"interaction"`
	}
	if err := json.Unmarshal(raw, &invoked); err != nil || invoked.Interaction == "" {
		t.Fatalf("command_invoke reply %s", raw)
	}
	in, ok := client.ParseInteraction(nextLogged(t, f.bot, "interaction"))
	if !ok || in.ID != invoked.Interaction || in.Command != "echo" || in.User.ID != f.bobL.User.ID || in.Circle != f.circle.ID || in.Stream != f.general {
		t.Fatalf("interaction = %+v", in)
	}
	if time.Until(in.ExpiresAt) < 14*time.Minute {
		t.Fatalf("expires_at = %v", in.ExpiresAt)
	}
	who, _ := in.Args["who"].(map[string]any)
	where, _ := in.Args["where"].(map[string]any)
	role, _ := in.Args["role"].(map[string]any)
	if in.Args["text"] != "hello" || in.Args["times"] != 3.0 || in.Args["loud"] != true || in.Args["mood"] != "happy" || in.Args["ratio"] != 0.5 ||
		who["id"] != f.aliceL.User.ID || who["username"] != "alice" || where["name"] != "general" || role["name"] != "crew" {
		t.Fatalf("args = %v", in.Args)
	}

	// Another bot, and a person, cannot answer it.
	other, err := client.CreateBot(ctx, f.s.URL, f.bobL.Token, "otherbot", false)
	if err != nil {
		t.Fatal(err)
	}
	oc := f.s.Dial(&client.Login{User: other.Bot.Ref(), Token: other.Token})
	raw, err = botReq(t, oc, map[string]any{"cmd": "interaction_respond", "interaction": in.ID, "content": "mine"})
	botCode(t, "another bot answering", raw, err, "interaction_not_found")
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "interaction_respond", "interaction": in.ID, "content": "mine"})
	botCode(t, "a person answering", raw, err, "interaction_not_found")
	raw, err = botReq(t, f.bot, map[string]any{"cmd": "interaction_respond", "interaction": "nope", "content": "x"})
	botCode(t, "unknown interaction", raw, err, "interaction_not_found")
	raw, err = botReq(t, f.bot, map[string]any{"cmd": "interaction_respond", "interaction": in.ID, "content": " "})
	botCode(t, "empty answer", raw, err, "invalid_content")

	raw, err = botReq(t, f.bot, map[string]any{"cmd": "interaction_respond", "interaction": in.ID, "content": "HELLO HELLO HELLO"})
	if err != nil {
		t.Fatal(err)
	}
	ev := nextLogged(t, f.alice, "message_new")
	m := ev.Message
	if m == nil || m.Content != "HELLO HELLO HELLO" || m.Author.ID != botID || !m.Author.Bot || m.Interaction == nil ||
		m.Interaction.ID != in.ID || m.Interaction.Command != "echo" || m.Interaction.User.ID != f.bobL.User.ID {
		t.Fatalf("alice's message_new = %s", ev.Raw)
	}
	hist, err := f.alice.History(ctx, f.general, client.HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Interaction == nil || hist[0].Seq != m.Seq {
		t.Fatalf("history = %v, %v; want the stored answer", hist, err)
	}
	raw, err = botReq(t, f.bot, map[string]any{"cmd": "interaction_respond", "interaction": in.ID, "content": "again"})
	botCode(t, "a second answer", raw, err, "interaction_not_found")

	// An ephemeral answer reaches bob's connections only.
	bob2 := f.s.Dial(f.bobL)
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "echo", "args": map[string]any{"text": "psst"}})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &invoked)
	in, _ = client.ParseInteraction(nextLogged(t, f.bot, "interaction"))
	if _, err := botReq(t, f.bot, map[string]any{"cmd": "interaction_respond", "interaction": in.ID, "content": "only you", "ephemeral": true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{f.bob, bob2} {
		r, ok := client.ParseInteractionReply(nextLogged(t, c, "interaction_reply"))
		if !ok || r.Interaction != invoked.Interaction || r.Content != "only you" || r.Stream != f.general || r.Bot.ID != botID {
			t.Fatalf("interaction_reply = %+v", r)
		}
	}
	if _, err := f.bob.Send(ctx, f.general, "after", ""); err != nil {
		t.Fatal(err)
	}
	if ev := oshitest.Next(t, f.alice, "message_new", "interaction_reply"); ev.Cmd != "message_new" || ev.Message.Content != "after" {
		t.Fatalf("alice got %s before bob's message", ev.Raw)
	}

	// Bob joins the crew and may invoke admin now.
	if _, err := f.alice.AssignRole(ctx, f.circle.ID, crew.ID, f.bobL.User.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "admin"}); err != nil {
		t.Fatalf("admin by a crew member: %v", err)
	}
	nextLogged(t, f.bot, "interaction")

	// In the DM with the bot: user options name the two of them.
	dm, err := f.bob.OpenDM(ctx, "echobot")
	if err != nil {
		t.Fatal(err)
	}
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_list", "stream": dm.ID})
	if err != nil || !strings.Contains(string(raw), `"echo"`) {
		t.Fatalf("command_list of the DM = %s, %v", raw, err)
	}
	raw, err = botReq(t, f.bob, map[string]any{"cmd": "command_invoke", "stream": dm.ID, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi", "who": f.aliceL.User.ID}})
	botCode(t, "a user outside the DM", raw, err, "invalid_option")
	raw, err = botReq(t, f.alice, map[string]any{"cmd": "command_invoke", "stream": dm.ID, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi"}})
	botCode(t, "someone else's DM", raw, err, "not_found")
	if _, err := f.bob.InvokeCommand(ctx, dm.ID, botID, "echo", map[string]any{"text": "dm"}); err != nil {
		t.Fatal(err)
	}
	in, _ = client.ParseInteraction(nextLogged(t, f.bot, "interaction"))
	if in.Circle != "" || in.Stream != dm.ID {
		t.Fatalf("DM interaction = %+v", in)
	}
	if msg, err := f.bot.RespondInteraction(ctx, in.ID, "dm answer", false); err != nil || msg.StreamID != dm.ID {
		t.Fatalf("DM answer = %+v, %v", msg, err)
	}

	// An expired interaction cannot be answered.
	expired := &models.Interaction{ID: "expired-1", BotID: botID, User: f.bobL.User, StreamID: f.general, Command: "echo", ExpiresAt: models.Now().Add(-time.Second)}
	if err := f.s.Srv.Store().PutInteraction(ctx, expired); err != nil {
		t.Fatal(err)
	}
	raw, err = botReq(t, f.bot, map[string]any{"cmd": "interaction_respond", "interaction": expired.ID, "content": "late"})
	botCode(t, "expired interaction", raw, err, "interaction_not_found")

	// Offline: once the bot's connection has closed, invoking is
	// refused.
	if err := f.bot.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err = f.bob.Request(ctx, map[string]any{"cmd": "command_invoke", "stream": f.general, "bot": botID, "command": "echo", "args": map[string]any{"text": "hi"}})
		if client.Code(err) == "bot_offline" {
			t.Logf("← error %v", err)
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("invoking a closed bot: %s, %v", raw, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Kicked, the bot is gone from command_list.
	if _, err := f.alice.Request(ctx, map[string]any{"cmd": "member_kick", "circle": f.circle.ID, "user": botID}); err != nil {
		t.Fatal(err)
	}
	if bots, err := f.alice.Commands(ctx, f.circle.ID); err != nil || len(bots) != 0 {
		t.Fatalf("command_list after the kick = %v, %v", bots, err)
	}
}

// TestBotCommandRateLimit: command_invoke counts against the invoker's
// messages limit; the bot's answers do not count against the bot's.
func TestBotCommandRateLimit(t *testing.T) {
	ctx := ctxT(t)
	f := newBotFixture(t, server.Config{RateBurst: 2, RateBurstWindow: time.Minute})
	botID := f.botSecret.Bot.ID
	if err := f.alice.AddBot(ctx, f.circle.ID, botID); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range []*client.Client{f.bob, f.alice} {
		for range 2 {
			id, err := c.InvokeCommand(ctx, f.general, botID, "echo", map[string]any{"text": "hi"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	if _, err := f.bob.InvokeCommand(ctx, f.general, botID, "echo", map[string]any{"text": "hi"}); client.Code(err) != "rate_limit" {
		t.Fatalf("bob's third invocation in a burst of two: %v", err)
	}
	// Four answers from a bot whose own burst is two.
	for range ids {
		in, _ := client.ParseInteraction(oshitest.Next(t, f.bot, "interaction"))
		if _, err := f.bot.RespondInteraction(ctx, in.ID, "hi", false); err != nil {
			t.Fatalf("answer to %s: %v", in.ID, err)
		}
	}
}
