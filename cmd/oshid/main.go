// Command oshid runs the Oshi chat server, and its maintenance commands
// (`oshid help` lists them).
//
// Configuration comes from OSHI_* environment variables (see README.md).
// With no OSHI_MONGO_URI it starts an embedded MongoDB-compatible store
// under OSHI_DATA_DIR, so `go run ./cmd/oshid` works on a bare machine.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
