package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/oshichat/oshi/auth"
)

// attempt is one password check under the login throttles (HTTP login,
// WebSocket auth with a password, password change).
type attempt struct {
	g          *Gateway
	user, addr string
}

// beginLogin starts a password check for username from remoteAddr. When
// the username or the address has used up its failures, it returns nil
// and how long to wait, and the password must not be checked.
func (g *Gateway) beginLogin(username, remoteAddr string) (*attempt, time.Duration) {
	a := &attempt{g: g, user: auth.UsernameKey(username), addr: auth.AddrKey(remoteAddr)}
	ok, wait := g.userThrottle.Allow(a.user)
	if !ok {
		g.throttled.Add(1)
		return nil, wait
	}
	if ok, wait := g.addrThrottle.Allow(a.addr); !ok {
		g.userThrottle.Release(a.user)
		g.throttled.Add(1)
		return nil, wait
	}
	return a, 0
}

// end records the outcome of the check: a wrong password (or unknown
// user) counts against both keys, a right one clears the username's
// failures, and anything else (a weak new password, a store failure)
// counts for neither.
func (a *attempt) end(err error) {
	switch {
	case err == nil:
		a.g.userThrottle.Reset(a.user)
		a.g.addrThrottle.Release(a.addr)
	case errors.Is(err, auth.ErrInvalidCredentials):
		if a.g.userThrottle.Fail(a.user) {
			a.g.log.Warn("login throttled", "username", a.user, "window", a.g.cfg.LoginWindow)
		}
		if a.g.addrThrottle.Fail(a.addr) {
			a.g.log.Warn("login throttled", "addr", a.addr, "window", a.g.cfg.LoginWindow)
		}
	default:
		a.g.userThrottle.Release(a.user)
		a.g.addrThrottle.Release(a.addr)
	}
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(wait time.Duration) int64 {
	return max(1, int64((wait+time.Second-1)/time.Second))
}

// writeTooMany answers 429 with code and msg, and a Retry-After of wait
// in whole seconds (at least 1).
func writeTooMany(w http.ResponseWriter, wait time.Duration, code, msg string) {
	w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(wait), 10))
	writeError(w, http.StatusTooManyRequests, code, msg)
}

// writeTooManyAttempts answers 429 too_many_attempts with Retry-After.
func writeTooManyAttempts(w http.ResponseWriter, wait time.Duration) {
	writeTooMany(w, wait, CodeTooManyAttempts, auth.ErrTooManyAttempts.Error())
}

// addUserConn counts an authenticated connection of a user; it reports
// false, counting nothing, when the user has MaxConnectionsPerUser
// already.
func (g *Gateway) addUserConn(userID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perUser[userID] >= g.cfg.MaxConnectionsPerUser {
		return false
	}
	g.perUser[userID]++
	return true
}

// dropUserConn uncounts a connection counted by addUserConn.
func (g *Gateway) dropUserConn(userID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := g.perUser[userID] - 1; n > 0 {
		g.perUser[userID] = n
	} else {
		delete(g.perUser, userID)
	}
}
