package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/oshichat/oshi/server"
)

// errUsage marks a command line oshid does not understand: exit 2.
var errUsage = errors.New("usage")

// run runs the subcommand in args and returns the exit code: 0, 1 on a
// failure, 2 on a bad command line.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(args, stdin, stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "oshid: %v\n\n", err)
		usage(stderr)
		return 2
	default:
		fmt.Fprintln(stderr, "oshid:", err)
		return 1
	}
}

func dispatch(args []string, stdin io.Reader, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return serve()
	case "migrate":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return withAdmin(func(ctx context.Context, a *server.Admin) error {
			if err := a.Migrate(ctx); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "indexes are up to date")
			return nil
		})
	case "admin":
		return admin(args, stdin, stdout)
	case "version":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "oshid", server.Version)
		return nil
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: %s takes no arguments", errUsage, cmd)
	}
	return nil
}

// serve runs the server until SIGINT or SIGTERM.
func serve() error {
	cfg, err := server.FromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx, 15*time.Second)
}

func admin(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "create-user" && args[0] != "reset-password" {
		return fmt.Errorf("%w: admin takes create-user USERNAME or reset-password USERNAME", errUsage)
	}
	username := args[1]
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	return withAdmin(func(ctx context.Context, a *server.Admin) error {
		if args[0] == "create-user" {
			u, err := a.CreateUser(ctx, username, password)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, u.ID)
			return nil
		}
		n, err := a.ResetPassword(ctx, username, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s reset; %d sessions revoked. Connections already open stay open until they reconnect or the server restarts.\n", username, n)
		return nil
	})
}

// readPassword reads one line from stdin, without its line ending.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("read the password from standard input: one line")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// withAdmin opens the store from the environment's configuration, runs
// f, and closes it.
func withAdmin(f func(context.Context, *server.Admin) error) error {
	cfg, err := server.FromEnv()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := server.OpenAdmin(ctx, cfg)
	if err != nil {
		return err
	}
	err = f(ctx, a)
	return errors.Join(err, a.Close(ctx))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: oshid [command]

Commands:
  serve                          run the server (the default)
  migrate                        connect to the store, create its indexes, exit
  admin create-user USERNAME     create a user; the password is read from standard input (one line); prints the user id
  admin reset-password USERNAME  set a new password (read from standard input) and revoke the user's sessions;
                                 connections open on a running server stay open until they reconnect
  version                        print the version
  help                           this text

migrate and admin work on the store directly: with the embedded store, run
them while no server uses OSHI_DATA_DIR, or share a MongoDB (OSHI_MONGO_URI).

Environment:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range server.Variables() {
		def := v.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Desc)
	}
	_ = tw.Flush()
}
