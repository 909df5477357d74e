package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Credentials is what register and login store, and what every other
// command reads: the server and the bearer token.
type Credentials struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Token    string `json:"token"`
}

// errNotLoggedIn is returned when no credentials are stored.
var errNotLoggedIn = errors.New("not logged in: run `oshi login USERNAME` (or `oshi register USERNAME`) first")

// defaultConfigDir is os.UserConfigDir()/oshi.
func defaultConfigDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ".oshi"
	}
	return filepath.Join(dir, "oshi")
}

func credentialsPath(dir string) string { return filepath.Join(dir, "credentials.json") }

// loadCredentials reads dir/credentials.json.
func loadCredentials(dir string) (*Credentials, error) {
	data, err := os.ReadFile(credentialsPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotLoggedIn
	}
	if err != nil {
		return nil, err
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read %s: %w", credentialsPath(dir), err)
	}
	if c.Token == "" || c.URL == "" {
		return nil, errNotLoggedIn
	}
	return &c, nil
}

// saveCredentials writes dir/credentials.json readable by the user only
// (file 0600, directory 0700), replacing it atomically.
func saveCredentials(dir string, c *Credentials) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), credentialsPath(dir))
}

// removeCredentials deletes the stored credentials; none is not an error.
func removeCredentials(dir string) error {
	err := os.Remove(credentialsPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
