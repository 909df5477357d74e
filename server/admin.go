package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/oshichat/oshi/auth"
	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
	"github.com/oshichat/oshi/store/embedded"
)

// Admin is direct access to the store for maintenance (oshid migrate,
// oshid admin): no gateway, no broker, no listener.
//
// It works on the store alone, so it cannot reach a running server's
// connections: a password reset revokes the user's sessions (no token of
// theirs works again, on any node), but WebSockets they have open stay
// open until they reconnect or the server restarts. The embedded store
// is a directory of SQLite files; run Admin on it while no server uses
// that directory, or point both at a MongoDB with OSHI_MONGO_URI.
type Admin struct {
	embedded *embedded.Server
	store    *store.Mongo
	auth     *auth.Service
}

// OpenAdmin connects to the store cfg names (starting the embedded one
// when MongoURI is empty) and ensures the indexes, as New does.
func OpenAdmin(ctx context.Context, cfg Config) (*Admin, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Admin{}
	uri := cfg.MongoURI
	if uri == "" {
		emb, err := embedded.Start(embedded.Config{Dir: cfg.DataDir, Sync: cfg.StoreSync, Logger: ferretLogger(cfg.Logger)})
		if err != nil {
			return nil, err
		}
		a.embedded, uri = emb, emb.LocalURI()
	}
	st, err := store.OpenMongo(ctx, store.MongoConfig{URI: uri, Database: cfg.MongoDB})
	if err != nil {
		a.closeEmbedded()
		return nil, err
	}
	a.store = st
	if a.auth, err = auth.NewService(st, cfg.TokenTTL); err != nil {
		_ = a.Close(ctx)
		return nil, err
	}
	return a, nil
}

// Migrate brings the database's schema up to date: today, the indexes.
// It is idempotent.
func (a *Admin) Migrate(ctx context.Context) error {
	return a.store.EnsureIndexes(ctx)
}

// CreateUser creates an account with a password and no session.
func (a *Admin) CreateUser(ctx context.Context, username, password string) (*models.User, error) {
	return a.auth.CreateUser(ctx, username, password)
}

// ResetPassword sets a user's password and revokes every session of the
// user. It returns how many sessions were revoked. Connections open on a
// running server stay open until they reconnect (see Admin).
func (a *Admin) ResetPassword(ctx context.Context, username, password string) (int, error) {
	u, err := a.store.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("no user %q", username)
	}
	if err != nil {
		return 0, err
	}
	revoked, err := a.auth.SetPassword(ctx, u, password)
	return len(revoked), err
}

// Close releases the store.
func (a *Admin) Close(ctx context.Context) error {
	var err error
	if a.store != nil {
		err = a.store.Close(ctx)
	}
	a.closeEmbedded()
	return err
}

func (a *Admin) closeEmbedded() {
	if a.embedded != nil {
		_ = a.embedded.Close()
		a.embedded = nil
	}
}
