package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// rawPeer is a hand-driven connection whose every frame is logged, for
// the examples of docs/protocol.md.
type rawPeer struct {
	t    *testing.T
	ctx  context.Context
	name string
	ws   *websocket.Conn
}

func dialRawPeer(t *testing.T, ctx context.Context, url, name, token string) *rawPeer {
	t.Helper()
	ws, err := client.DialRaw(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	p := &rawPeer{t: t, ctx: ctx, name: name, ws: ws}
	p.read() // handshake
	p.send(fmt.Sprintf(`{"cmd":"auth","ref":1,"token":%q}`, token))
	p.until("ready")
	return p
}

func (p *rawPeer) send(frame string) {
	p.t.Helper()
	p.t.Logf("[%s] C→S %s", p.name, frame)
	if err := p.ws.Write(p.ctx, websocket.MessageText, []byte(frame)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) read() map[string]any {
	p.t.Helper()
	_, data, err := p.ws.Read(p.ctx)
	if err != nil {
		p.t.Fatalf("[%s] read: %v", p.name, err)
	}
	p.t.Logf("[%s] S→C %s", p.name, data)
	var f map[string]any
	_ = json.Unmarshal(data, &f)
	return f
}

// until reads frames until one of cmd arrives and returns it.
func (p *rawPeer) until(cmd string) map[string]any {
	p.t.Helper()
	for {
		if f := p.read(); f["cmd"] == cmd {
			return f
		}
	}
}

func logHTTP(t *testing.T, ctx context.Context, method, url, token, body string) map[string]any {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	t.Logf("HTTP %s %s %s\n→ %d %s", method, strings.SplitN(url, "/api", 2)[1], body, resp.StatusCode, bytes.TrimSpace(data))
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

// TestBotFramesCapture logs the frames of a whole bot session, as
// docs/protocol.md quotes them. It checks nothing the other bot tests do
// not, so it runs only with OSHI_CAPTURE_FRAMES=1.
func TestBotFramesCapture(t *testing.T) {
	if os.Getenv("OSHI_CAPTURE_FRAMES") == "" {
		t.Skip("set OSHI_CAPTURE_FRAMES=1 to log the frames")
	}
	ctx := ctxT(t)
	s := oshitest.NewServer(t, server.Config{MaxBotsPerUser: 1})
	aliceL, alicec := s.User("alice")
	bobL := s.Register("bob")
	circle, err := alicec.CreateCircle(ctx, "Bots", "private")
	if err != nil {
		t.Fatal(err)
	}
	general := circle.Streams[0].ID
	code, _ := alicec.CreateInvite(ctx, circle.ID)
	bobc := s.Dial(bobL)
	if _, err := bobc.JoinInvite(ctx, code); err != nil {
		t.Fatal(err)
	}
	crew, _ := alicec.CreateRole(ctx, circle.ID, client.RoleSpec{Name: "crew"})
	t.Logf("alice %s bob %s circle %s general %s crew %s", aliceL.User.ID, bobL.User.ID, circle.ID, general, crew.ID)

	logHTTP(t, ctx, "POST", s.URL+"/api/bots", aliceL.Token, `{"username":"bob"}`)
	sec := logHTTP(t, ctx, "POST", s.URL+"/api/bots", aliceL.Token, `{"username":"dice","public":false}`)
	token := sec["token"].(string)
	botID := sec["bot"].(map[string]any)["id"].(string)
	logHTTP(t, ctx, "POST", s.URL+"/api/bots", aliceL.Token, `{"username":"dice2"}`)
	logHTTP(t, ctx, "POST", s.URL+"/api/bots", token, `{"username":"child"}`)
	logHTTP(t, ctx, "POST", s.URL+"/api/login", "", `{"username":"dice","password":"anything"}`)
	logHTTP(t, ctx, "GET", s.URL+"/api/bots", aliceL.Token, "")
	rot := logHTTP(t, ctx, "POST", s.URL+"/api/bots/"+botID+"/token", aliceL.Token, "")
	logHTTP(t, ctx, "POST", s.URL+"/api/bots/"+botID+"/token", bobL.Token, "")
	token = rot["token"].(string)

	bot := dialRawPeer(t, ctx, s.WSURL, "bot", token)
	alice := dialRawPeer(t, ctx, s.WSURL, "alice", aliceL.Token)
	bob := dialRawPeer(t, ctx, s.WSURL, "bob", bobL.Token)

	bot.send(`{"cmd":"command_register","ref":2,"commands":[{"name":"roll","description":"Rolls dice","options":[{"name":"sides","description":"Sides of each die","type":"integer","required":true,"choices":[{"name":"d6","value":6},{"name":"d20","value":20}]},{"name":"count","description":"How many dice","type":"integer"},{"name":"for","description":"Roll for someone","type":"user"}]},{"name":"reset","description":"Crew only: resets the table"}]}`)
	bot.until("command_register")
	bot.send(`{"cmd":"command_register","ref":3,"commands":[{"name":"Roll","description":"Rolls dice"}]}`)
	bot.until("error")
	bot.send(fmt.Sprintf(`{"cmd":"circle_join","ref":4,"circle":%q}`, circle.ID))
	bot.until("error")

	bob.send(fmt.Sprintf(`{"cmd":"circle_bot_add","ref":2,"circle":%q,"bot":%q}`, circle.ID, botID))
	bob.until("error")
	alice.send(fmt.Sprintf(`{"cmd":"circle_bot_add","ref":2,"circle":%q,"bot":%q}`, circle.ID, botID))
	alice.until("circle_bot_add")
	bob.until("member_join")
	bot.until("circle_join")

	alice.send(fmt.Sprintf(`{"cmd":"command_permissions","ref":3,"circle":%q,"bot":%q,"command":"reset","roles":[%q]}`, circle.ID, botID, crew.ID))
	alice.until("command_permissions")
	alice.send(fmt.Sprintf(`{"cmd":"subscribe","ref":4,"stream":%q}`, general))
	alice.until("subscribe")

	bob.send(fmt.Sprintf(`{"cmd":"command_list","ref":3,"circle":%q}`, circle.ID))
	bob.until("command_list")
	bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":4,"stream":%q,"bot":%q,"command":"reset"}`, general, botID))
	bob.until("error")
	bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":5,"stream":%q,"bot":%q,"command":"roll","args":{"sides":7}}`, general, botID))
	bob.until("error")
	bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":6,"stream":%q,"bot":%q,"command":"roll","args":{"count":2}}`, general, botID))
	bob.until("error")
	bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":7,"stream":%q,"bot":%q,"command":"fly"}`, general, botID))
	bob.until("error")
	bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":8,"stream":%q,"bot":%q,"command":"roll","args":{"sides":20,"count":2,"for":%q}}`, general, botID, aliceL.User.ID))
	bob.until("command_invoke")
	in := bot.until("interaction")
	id := in["id"].(string)

	bot.send(fmt.Sprintf(`{"cmd":"interaction_respond","ref":5,"interaction":%q,"content":"🎲 alice rolled 2d20: 7 + 18 = 25"}`, id))
	bot.until("interaction_respond")
	alice.until("message_new")
	bot.send(fmt.Sprintf(`{"cmd":"interaction_respond","ref":6,"interaction":%q,"content":"again"}`, id))
	bot.until("error")

	bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":9,"stream":%q,"bot":%q,"command":"roll","args":{"sides":6}}`, general, botID))
	bob.until("command_invoke")
	in = bot.until("interaction")
	bot.send(fmt.Sprintf(`{"cmd":"interaction_respond","ref":7,"interaction":%q,"content":"You rolled a 4 (only you can see this)","ephemeral":true}`, in["id"].(string)))
	bot.until("interaction_respond")
	bob.until("interaction_reply")

	_ = bot.ws.Close(websocket.StatusNormalClosure, "")
	for {
		time.Sleep(50 * time.Millisecond)
		bob.send(fmt.Sprintf(`{"cmd":"command_invoke","ref":10,"stream":%q,"bot":%q,"command":"roll","args":{"sides":6}}`, general, botID))
		f := bob.read()
		for f["ref"] == nil {
			f = bob.read()
		}
		if f["code"] == "bot_offline" {
			break
		}
	}
	logHTTP(t, ctx, "DELETE", s.URL+"/api/bots/"+botID, aliceL.Token, "")
	bob.until("member_remove")
}
