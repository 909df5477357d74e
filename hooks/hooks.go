// Package hooks lets a Go program that embeds Oshi take part in its life:
// refuse a connection, rewrite or reject a message before it is stored,
// learn when a connection ends.
//
// Implement Hook by embedding Base and overriding only what you need:
//
//	type wordFilter struct{ hooks.Base }
//
//	func (wordFilter) OnMessage(ctx context.Context, m *models.Message) error {
//		m.Content = strings.ReplaceAll(m.Content, "darn", "d**n")
//		return nil
//	}
//
// and pass it in server.Config.Hooks. Hooks run in the order given; they
// run on the connection's goroutine and must not block for long.
package hooks

import (
	"context"
	"errors"

	"github.com/oshichat/oshi/models"
)

// Hook is called at points of a connection's and a message's life.
type Hook interface {
	// OnConnect runs after a connection authenticates, before ready is
	// sent. An error refuses the connection: the client gets an
	// auth_error with code "rejected" and the error's text.
	OnConnect(ctx context.Context, user models.UserRef) error
	// OnMessage runs before a message is stored, after it was validated
	// and the author's access checked. It may change m.Content (the result
	// is validated again). An error rejects the message: the sender gets
	// code "rejected" and the error's text, and nothing is stored.
	OnMessage(ctx context.Context, m *models.Message) error
	// OnDisconnect runs when an authenticated connection has ended.
	OnDisconnect(user models.UserRef, err error)
}

// Base implements Hook with methods that do nothing. Embed it.
type Base struct{}

// OnConnect implements Hook.
func (Base) OnConnect(context.Context, models.UserRef) error { return nil }

// OnMessage implements Hook.
func (Base) OnMessage(context.Context, *models.Message) error { return nil }

// OnDisconnect implements Hook.
func (Base) OnDisconnect(models.UserRef, error) {}

var _ Hook = Base{}

// ErrRejected marks errors from hooks: Hooks wraps a hook's error so that
// errors.Is(err, ErrRejected) tells a refusal from a failure, while the
// error's text stays the hook's own.
var ErrRejected = errors.New("rejected")

type rejection struct{ err error }

func (r rejection) Error() string   { return r.err.Error() }
func (r rejection) Unwrap() []error { return []error{ErrRejected, r.err} }

// Hooks is a list of hooks run in order.
type Hooks []Hook

// OnConnect runs every hook's OnConnect and stops at the first error.
func (hs Hooks) OnConnect(ctx context.Context, user models.UserRef) error {
	for _, h := range hs {
		if err := h.OnConnect(ctx, user); err != nil {
			return rejection{err}
		}
	}
	return nil
}

// OnMessage runs every hook's OnMessage and stops at the first error.
func (hs Hooks) OnMessage(ctx context.Context, m *models.Message) error {
	for _, h := range hs {
		if err := h.OnMessage(ctx, m); err != nil {
			return rejection{err}
		}
	}
	return nil
}

// OnDisconnect runs every hook's OnDisconnect.
func (hs Hooks) OnDisconnect(user models.UserRef, err error) {
	for _, h := range hs {
		h.OnDisconnect(user, err)
	}
}
