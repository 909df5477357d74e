package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oshichat/oshi/server"
)

// TestSubcommands runs the built binary: admin create-user, migrate,
// admin reset-password, version, help, and a bad command line, on an
// embedded store in a temporary directory.
func TestSubcommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "oshid")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	oshid := func(stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "OSHI_DATA_DIR="+data, "OSHI_LOG_LEVEL=error")
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code = cmd.ProcessState.ExitCode()
		if err != nil && code == -1 {
			t.Fatalf("oshid %v: %v", args, err)
		}
		return out.String(), errOut.String(), code
	}

	out, errOut, code := oshid("correct-horse\n", "admin", "create-user", "alice")
	if code != 0 || !regexp.MustCompile(`^[0-9a-f-]{36}\n$`).MatchString(out) {
		t.Fatalf("create-user: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := oshid("battery-staple\n", "admin", "create-user", "alice"); code != 1 || !strings.Contains(errOut, "taken") {
		t.Errorf("create-user again: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := oshid("short\n", "admin", "create-user", "bob"); code != 1 || !strings.Contains(errOut, "password") {
		t.Errorf("create-user with a weak password: exit %d, stderr %q", code, errOut)
	}
	if out, errOut, code := oshid("", "migrate"); code != 0 || !strings.Contains(out, "indexes") {
		t.Errorf("migrate: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := oshid("new-password\n", "admin", "reset-password", "alice"); code != 0 || !strings.Contains(out, "reset") {
		t.Errorf("reset-password: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := oshid("new-password\n", "admin", "reset-password", "nobody"); code != 1 || !strings.Contains(errOut, "nobody") {
		t.Errorf("reset-password of an unknown user: exit %d, stderr %q", code, errOut)
	}
	if out, _, code := oshid("", "version"); code != 0 || out != "oshid "+server.Version+"\n" {
		t.Errorf("version: exit %d, %q", code, out)
	}
	for _, help := range []string{"help", "-h", "--help"} {
		out, _, code := oshid("", help)
		if code != 0 {
			t.Errorf("%s: exit %d", help, code)
		}
		for _, want := range []string{"serve", "migrate", "admin create-user", "admin reset-password", "version"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not mention %q", help, want)
			}
		}
		for _, v := range server.Variables() {
			if !strings.Contains(out, v.Name) || !strings.Contains(out, v.Desc) {
				t.Errorf("%s does not describe %s", help, v.Name)
			}
		}
	}
	for _, args := range [][]string{{"bogus"}, {"admin"}, {"admin", "delete-user", "alice"}, {"version", "extra"}} {
		out, errOut, code := oshid("", args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "Usage: oshid") {
			t.Errorf("oshid %v: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", args, code, out, errOut)
		}
	}
	if _, errOut, code := oshid("", "admin", "create-user", "carol"); code != 1 || !strings.Contains(errOut, "standard input") {
		t.Errorf("create-user without a password: exit %d, stderr %q", code, errOut)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "OSHI_DATA_DIR="+data, "OSHI_LOG_FORMAT=xml")
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "OSHI_LOG_FORMAT") {
		t.Errorf("bad OSHI_LOG_FORMAT: %v, %q", err, out)
	}
}
