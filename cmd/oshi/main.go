// Command oshi is the terminal client of Oshi.
//
//	oshi register [-url URL] USERNAME   create an account and log in
//	oshi login [-url URL] USERNAME      log in; the token is stored
//	oshi logout                         revoke the token and forget it
//	oshi send STREAM TEXT...            post a message, print its seq
//	oshi tail [-n N] [-timeout D] STREAM print messages as they arrive
//	oshi circles                        list your circles, channels and DMs
//	oshi                                the interactive chat screen
//
// STREAM is a stream id, CIRCLE/CHANNEL, #CHANNEL (when the name is
// unique among your circles) or @USERNAME for a direct message.
//
// The server URL defaults to $OSHI_URL, then http://127.0.0.1:7777.
// Credentials live in os.UserConfigDir()/oshi/credentials.json; -config
// names another directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Env is what a command runs with: its streams and settings.
type Env struct {
	ConfigDir string
	URL       string // server base URL, for register and login
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
}

const defaultURL = "http://127.0.0.1:7777"

var errUsage = errors.New("usage")

// run parses the command line and runs a command; it returns the exit
// status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	fs := newFlagSet("oshi", env)
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if len(args) == 0 {
		return exit(stderr, runChat(ctx, env))
	}
	name, args := args[0], args[1:]
	var err error
	switch name {
	case "register", "login":
		err = cmdAuth(ctx, env, name, args)
	case "logout":
		err = cmdLogout(ctx, env, args)
	case "send":
		err = cmdSend(ctx, env, args)
	case "tail":
		err = cmdTail(ctx, env, args)
	case "circles":
		err = cmdCircles(ctx, env, args)
	case "chat":
		err = runChat(ctx, env)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "oshi: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	return exit(stderr, err)
}

func exit(stderr io.Writer, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(stderr, "oshi:", err)
		return 1
	}
}

// newFlagSet returns a flag set with the flags every command accepts:
// -config and -url, written to env.
func newFlagSet(name string, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if env.ConfigDir == "" {
		env.ConfigDir = defaultConfigDir()
	}
	if env.URL == "" {
		env.URL = os.Getenv("OSHI_URL")
		if env.URL == "" {
			env.URL = defaultURL
		}
	}
	fs.StringVar(&env.ConfigDir, "config", env.ConfigDir, "directory holding credentials.json")
	fs.StringVar(&env.URL, "url", env.URL, "server base URL (default $OSHI_URL)")
	return fs
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  oshi [-config DIR]                     interactive chat
  oshi register [-url URL] USERNAME      create an account and log in
  oshi login [-url URL] USERNAME         log in
  oshi logout                            log out
  oshi send STREAM TEXT...               send a message, print its seq
  oshi tail [-n N] [-timeout D] STREAM   print messages as they arrive
  oshi circles                           list circles, channels and DMs

STREAM is a stream id, CIRCLE/CHANNEL, #CHANNEL or @USERNAME.
`)
}
