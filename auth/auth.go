// Package auth registers users, checks and changes passwords, issues,
// checks and revokes bearer tokens, and throttles failed password
// attempts (Throttle).
//
// Passwords are hashed with argon2id and a per-user salt. Tokens are 256
// random bits; only their SHA-256 hash is stored, so a copy of the
// database does not let anyone log in.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// Errors returned by Service. Each maps to one documented error code.
var (
	ErrInvalidUsername    = errors.New("username must be 1-32 letters, digits or _")
	ErrWeakPassword       = errors.New("password must be at least 8 characters and at most 1024 bytes")
	ErrUsernameTaken      = errors.New("username is taken")
	ErrInvalidCredentials = errors.New("wrong username or password")
	ErrInvalidToken       = errors.New("token is invalid or expired")
	ErrTooManyAttempts    = errors.New("too many failed attempts; retry later")
)

// MinPasswordLength is the shortest password accepted, in characters.
const MinPasswordLength = 8

// maxPasswordBytes stops hashing of absurdly long inputs.
const maxPasswordBytes = 1024

// Service implements accounts and sessions on a Store.
type Service struct {
	store    store.Store
	tokenTTL time.Duration
	now      func() time.Time
	// dummyHash is checked against when a username is unknown, so a wrong
	// username costs as much time as a wrong password.
	dummyHash string
}

// NewService returns a Service issuing tokens valid for tokenTTL.
func NewService(st store.Store, tokenTTL time.Duration) (*Service, error) {
	dummy, err := HashPassword("not a real password")
	if err != nil {
		return nil, err
	}
	return &Service{store: st, tokenTTL: tokenTTL, now: models.Now, dummyHash: dummy}, nil
}

// Login is a successful registration or login.
type Login struct {
	User      models.UserRef `json:"user"`
	Token     string         `json:"token"`
	ExpiresAt time.Time      `json:"expires_at"`
}

// ValidUsername reports whether name is 1–32 ASCII letters, digits or '_'.
func ValidUsername(name string) bool {
	if len(name) < 1 || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Register creates an account and logs it in.
func (s *Service) Register(ctx context.Context, username, password string) (*Login, error) {
	u, err := s.CreateUser(ctx, username, password)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, u)
}

// CreateUser creates an account without logging it in (oshid admin
// create-user).
func (s *Service) CreateUser(ctx context.Context, username, password string) (*models.User, error) {
	if !ValidUsername(username) {
		return nil, ErrInvalidUsername
	}
	if !strongEnough(password) {
		return nil, ErrWeakPassword
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &models.User{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Username:     username,
		PasswordHash: hash,
		CreatedAt:    s.now(),
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, ErrUsernameTaken
		}
		return nil, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

func strongEnough(password string) bool {
	return utf8.RuneCountInString(password) >= MinPasswordLength && len(password) <= maxPasswordBytes
}

// Check verifies a username and password and returns the user. Unknown
// users and wrong passwords give the same error after the same work.
func (s *Service) Check(ctx context.Context, username, password string) (*models.User, error) {
	if len(password) > maxPasswordBytes {
		return nil, ErrInvalidCredentials
	}
	u, err := s.store.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) || !ValidUsername(username) {
		_, _ = CheckPassword(s.dummyHash, password)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if u.Bot {
		// Bots authenticate with their token only (bots.go).
		_, _ = CheckPassword(s.dummyHash, password)
		return nil, ErrInvalidCredentials
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", u.ID, err)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	return u, nil
}

// Login verifies a username and password and issues a token.
func (s *Service) Login(ctx context.Context, username, password string) (*Login, error) {
	u, err := s.Check(ctx, username, password)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, u)
}

// ChangePassword replaces the password of u, an authenticated user, and
// revokes every session of u. It checks the new password's strength
// first (ErrWeakPassword), then the current password
// (ErrInvalidCredentials). It returns a fresh login and the hashes of the
// revoked sessions, whose connections the caller must close.
func (s *Service) ChangePassword(ctx context.Context, u *models.User, current, newPassword string) (*Login, []string, error) {
	if !strongEnough(newPassword) {
		return nil, nil, ErrWeakPassword
	}
	if len(current) > maxPasswordBytes {
		return nil, nil, ErrInvalidCredentials
	}
	ok, err := CheckPassword(u.PasswordHash, current)
	if err != nil {
		return nil, nil, fmt.Errorf("change password %s: %w", u.ID, err)
	}
	if !ok {
		return nil, nil, ErrInvalidCredentials
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return nil, nil, err
	}
	// The new hash goes in first, so any login checked from now on needs
	// the new password. Only a login that checked the old hash just before
	// and stores its session just after the deletion below keeps it.
	if err := s.store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return nil, nil, fmt.Errorf("change password: %w", err)
	}
	u.PasswordHash = hash
	revoked, err := s.store.DeleteSessions(ctx, u.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("change password: revoke sessions: %w", err)
	}
	login, err := s.issue(ctx, u)
	if err != nil {
		return nil, revoked, err
	}
	return login, revoked, nil
}

// SetPassword replaces the password of u without checking the current
// one (oshid admin reset-password) and revokes every session of u. It
// returns the hashes of the revoked sessions.
func (s *Service) SetPassword(ctx context.Context, u *models.User, newPassword string) ([]string, error) {
	if !strongEnough(newPassword) {
		return nil, ErrWeakPassword
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return nil, fmt.Errorf("set password: %w", err)
	}
	u.PasswordHash = hash
	revoked, err := s.store.DeleteSessions(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("set password: revoke sessions: %w", err)
	}
	return revoked, nil
}

func (s *Service) issue(ctx context.Context, u *models.User) (*Login, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	sess := &models.Session{TokenHash: HashToken(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.tokenTTL)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	return &Login{User: u.Ref(), Token: token, ExpiresAt: sess.ExpiresAt}, nil
}

// Authenticate returns the user a token belongs to and the token's hash,
// which identifies the session.
func (s *Service) Authenticate(ctx context.Context, token string) (*models.User, string, error) {
	if token == "" || len(token) > 256 {
		return nil, "", ErrInvalidToken
	}
	h := HashToken(token)
	sess, err := s.store.Session(ctx, h, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrInvalidToken
	}
	if err != nil {
		return nil, "", fmt.Errorf("authenticate: %w", err)
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrInvalidToken
	}
	if err != nil {
		return nil, "", fmt.Errorf("authenticate: %w", err)
	}
	return u, h, nil
}

// Logout revokes a token. It returns the session's hash so the caller can
// close connections opened with it.
func (s *Service) Logout(ctx context.Context, token string) (string, error) {
	_, h, err := s.Authenticate(ctx, token)
	if err != nil {
		return "", err
	}
	if err := s.store.DeleteSession(ctx, h); err != nil {
		return "", fmt.Errorf("logout: %w", err)
	}
	return h, nil
}

// HashToken returns the hex SHA-256 of a token: the session's id.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
