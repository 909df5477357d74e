package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/term"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/models"
)

// cmdAuth runs register or login: it asks for the password and stores
// the token it gets.
func cmdAuth(ctx context.Context, env *Env, name string, args []string) error {
	fs := newFlagSet(name, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(env.Stderr, "usage: oshi %s [-url URL] USERNAME\n", name)
		return errUsage
	}
	username := fs.Arg(0)
	password, err := readPassword(env, "Password: ")
	if err != nil {
		return err
	}
	if name == "register" {
		if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			again, err := readPassword(env, "Repeat password: ")
			if err != nil {
				return err
			}
			if again != password {
				return errors.New("passwords do not match")
			}
		}
	}
	url := strings.TrimRight(env.URL, "/")
	auth := client.LoginUser
	if name == "register" {
		auth = client.Register
	}
	l, err := auth(ctx, url, username, password)
	if err != nil {
		return err
	}
	if err := saveCredentials(env.ConfigDir, &Credentials{URL: url, Username: l.User.Username, Token: l.Token}); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	fmt.Fprintf(env.Stdout, "logged in as %s on %s\n", l.User.Username, url)
	return nil
}

// readPassword reads a password without echo from a terminal, or a line
// from any other stdin.
func readPassword(env *Env, prompt string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func cmdLogout(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("logout", env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, err := loadCredentials(env.ConfigDir)
	if err != nil {
		return err
	}
	// Forget the token even when the server cannot be told: it is what
	// the user asked for.
	lerr := client.Logout(ctx, creds.URL, creds.Token)
	if err := removeCredentials(env.ConfigDir); err != nil {
		return err
	}
	if lerr != nil && client.Code(lerr) != "invalid_token" {
		fmt.Fprintf(env.Stderr, "oshi: the server was not told (%v); the token is forgotten here\n", lerr)
	}
	fmt.Fprintf(env.Stdout, "logged out %s\n", creds.Username)
	return nil
}

// dial connects with the stored credentials.
func dial(ctx context.Context, env *Env, reconnect bool) (*client.Client, error) {
	creds, err := loadCredentials(env.ConfigDir)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, client.WSURL(creds.URL), client.Credentials{Token: creds.Token}, &client.Options{Reconnect: reconnect})
	if client.Code(err) == "invalid_token" {
		return nil, fmt.Errorf("%w (log in again)", err)
	}
	return c, err
}

// resolveStream finds the stream a user named: an id, CIRCLE/CHANNEL,
// #CHANNEL or CHANNEL when unique, or @USERNAME (the DM is opened).
func resolveStream(ctx context.Context, c *client.Client, name string) (*models.Stream, error) {
	if user, ok := strings.CutPrefix(name, "@"); ok {
		return c.OpenDM(ctx, user)
	}
	r := c.Ready()
	for _, dm := range r.DMs {
		if dm.ID == name {
			return dm, nil
		}
	}
	var matches []*models.Stream
	circleName, channel, qualified := strings.Cut(name, "/")
	channel = strings.TrimPrefix(channel, "#")
	for _, ci := range r.Circles {
		for i := range ci.Streams {
			s := &ci.Streams[i]
			switch {
			case s.ID == name:
				return s, nil
			case qualified && strings.EqualFold(ci.Name, circleName) && strings.EqualFold(s.Name, channel):
				return s, nil
			case !qualified && (strings.EqualFold("#"+s.Name, name) || strings.EqualFold(s.Name, name)):
				matches = append(matches, s)
			}
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("no stream %q (see `oshi circles`)", name)
	case 1:
		return matches[0], nil
	default:
		return nil, fmt.Errorf("%q names %d channels: use CIRCLE/CHANNEL or the id", name, len(matches))
	}
}

// cmdSend posts one message and prints its seq.
func cmdSend(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("send", env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		fmt.Fprintln(env.Stderr, "usage: oshi send STREAM TEXT...")
		return errUsage
	}
	c, err := dial(ctx, env, false)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := resolveStream(ctx, c, fs.Arg(0))
	if err != nil {
		return err
	}
	msg, err := c.Send(ctx, s.ID, strings.Join(fs.Args()[1:], " "), uuid.NewString())
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, msg.Seq)
	return nil
}

// cmdTail prints the last -n messages of a stream, then every new one,
// until interrupted or -timeout passes.
func cmdTail(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("tail", env)
	n := fs.Int("n", 10, "messages of history to print first (at most 100)")
	timeout := fs.Duration("timeout", 0, "stop after this long (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: oshi tail [-n N] [-timeout D] STREAM")
		return errUsage
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	c, err := dial(ctx, env, true)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := resolveStream(ctx, c, fs.Arg(0))
	if err != nil {
		return err
	}
	// History first, then subscribe from the last seq printed: the
	// server replays anything between, so nothing is missed or doubled.
	since := int64(-1)
	if *n > 0 {
		msgs, err := c.History(ctx, s.ID, client.HistoryQuery{Limit: *n})
		if err != nil {
			return err
		}
		since = 0
		for _, m := range msgs {
			printMessage(env.Stdout, m)
			since = m.Seq
		}
	}
	if _, err := c.Subscribe(ctx, s.ID, since); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-c.Events():
			if !ok {
				return c.Err()
			}
			switch ev.Cmd {
			case "message_new":
				if ev.Stream == s.ID && ev.Message != nil {
					printMessage(env.Stdout, ev.Message)
				}
			case client.EventReconnecting:
				fmt.Fprintln(env.Stderr, "oshi: connection lost, reconnecting…")
			case client.EventReconnected:
				fmt.Fprintln(env.Stderr, "oshi: reconnected")
			case "error":
				return fmt.Errorf("subscription ended: %s: %s", ev.Code, ev.Val)
			}
		}
	}
}

func printMessage(w io.Writer, m *models.Message) {
	fmt.Fprintf(w, "[%s] %s: %s\n", m.CreatedAt.Local().Format("2006-01-02 15:04:05"), m.Author.Username, m.Content)
}

// cmdCircles lists the user's circles with their channels, and DMs.
func cmdCircles(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("circles", env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dial(ctx, env, false)
	if err != nil {
		return err
	}
	defer c.Close()
	r := c.Ready()
	if len(r.Circles) == 0 {
		fmt.Fprintln(env.Stdout, "no circles (join one with /join in `oshi`)")
	}
	for _, ci := range r.Circles {
		fmt.Fprintf(env.Stdout, "%s (%s) %s\n", ci.Name, ci.Visibility, ci.ID)
		for _, s := range ci.Streams {
			fmt.Fprintf(env.Stdout, "  #%s %s\n", s.Name, s.ID)
		}
	}
	if len(r.DMs) > 0 {
		fmt.Fprintln(env.Stdout, "direct messages")
		for _, dm := range r.DMs {
			fmt.Fprintf(env.Stdout, "  @%s %s\n", peerName(dm), dm.ID)
		}
	}
	return nil
}

func peerName(s *models.Stream) string {
	if s.Peer != nil {
		return s.Peer.Username
	}
	return "?"
}
