package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/oshichat/oshi/models"
	"github.com/oshichat/oshi/store"
)

// BotTokenLifetime is how long a bot's token lasts: in effect for ever.
// A bot's token ends when it is rotated or the bot deleted.
const BotTokenLifetime = 100 * 365 * 24 * time.Hour

// CreateBot creates a bot account owned by owner and issues its token.
// The username follows the rules of users' and shares their namespace
// (ErrInvalidUsername, ErrUsernameTaken). A bot has no usable password:
// its password hash is that of random bytes nobody knows, and Check
// refuses bots whatever the password.
func (s *Service) CreateBot(ctx context.Context, owner *models.User, username string) (*models.User, *Login, error) {
	if !ValidUsername(username) {
		return nil, nil, ErrInvalidUsername
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, nil, fmt.Errorf("create bot: %w", err)
	}
	hash, err := HashPassword(base64.RawURLEncoding.EncodeToString(raw))
	if err != nil {
		return nil, nil, err
	}
	u := &models.User{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Username:     username,
		PasswordHash: hash,
		CreatedAt:    s.now(),
		Bot:          true,
		OwnerID:      owner.ID,
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, nil, ErrUsernameTaken
		}
		return nil, nil, fmt.Errorf("create bot: %w", err)
	}
	login, err := s.issueFor(ctx, u, BotTokenLifetime)
	if err != nil {
		return nil, nil, err
	}
	return u, login, nil
}

// RotateBotToken revokes every token of a bot and issues a new one. It
// returns the new login and the hashes of the revoked sessions, whose
// connections the caller must close.
func (s *Service) RotateBotToken(ctx context.Context, bot *models.User) (*Login, []string, error) {
	if !bot.Bot {
		return nil, nil, fmt.Errorf("rotate token of %s: not a bot", bot.ID)
	}
	revoked, err := s.store.DeleteSessions(ctx, bot.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("rotate bot token: %w", err)
	}
	login, err := s.issueFor(ctx, bot, BotTokenLifetime)
	if err != nil {
		return nil, revoked, err
	}
	return login, revoked, nil
}

// issueFor issues a token for u that lasts ttl.
func (s *Service) issueFor(ctx context.Context, u *models.User, ttl time.Duration) (*Login, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	sess := &models.Session{TokenHash: HashToken(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	return &Login{User: u.Ref(), Token: token, ExpiresAt: sess.ExpiresAt}, nil
}
