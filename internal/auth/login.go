package auth

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// ErrInvalidCredentials is the single answer to every failed sign-in:
// unknown user, wrong password, inactive or locked account look the same.
var ErrInvalidCredentials = &domain.Error{Code: domain.ECodeUnauthorized, Message: "invalid username or password"}

// TokenPair is what a successful sign-in or refresh returns.
type TokenPair struct {
	AccessToken  string
	ExpiresAt    time.Time
	RefreshToken string
	SessionID    string
	User         *domain.User
}

// ExpiresIn is the access token's remaining lifetime in whole seconds.
func (p *TokenPair) ExpiresIn(now time.Time) int {
	return int(math.Max(0, p.ExpiresAt.Sub(now).Seconds()))
}

// MFARequiredError is returned by Login when the password was right and a
// second factor is needed: exchange Token and a code at VerifyMFA.
type MFARequiredError struct {
	Token     string
	ExpiresIn int
}

func (e *MFARequiredError) Error() string { return "a second factor is required" }

// Login checks a username or e-mail and password. Unknown users cost the
// same as known ones (a dummy hash), and every failure answers
// ErrInvalidCredentials.
func (s *Service) Login(ctx context.Context, login, password string, m Meta) (*TokenPair, error) {
	login = normalizeLogin(login)
	if login == "" || password == "" || len(login) > 320 || len(password) > MaxPasswordBytes {
		_ = s.hasher.VerifyDummy(ctx, password)
		s.auditFailure(ctx, "", s.loginFailedEvent(m, "", "malformed credentials"))
		return nil, ErrInvalidCredentials
	}
	var u *domain.User
	err := s.store.Read(ctx, domain.SystemScope(domain.SystemLogin), func(q domain.Queries) error {
		var err error
		u, err = q.FindUserByLogin(login)
		return err
	})
	if domain.IsCode(err, domain.ECodeNotFound) {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return nil, err
		}
		ev := s.loginFailedEvent(m, "", "unknown user")
		ev.Details["login"] = truncateRunes(login, 64)
		s.auditFailure(ctx, "", ev)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	switch {
	case !u.IsActive || u.DeletedAt != nil || u.PasswordHash == "":
		_ = s.hasher.VerifyDummy(ctx, password)
		s.auditFailure(ctx, u.OrgID, s.loginFailedEvent(m, u.ID, "account inactive"))
		return nil, ErrInvalidCredentials
	case u.LockedUntil != nil && now.Before(*u.LockedUntil):
		_ = s.hasher.VerifyDummy(ctx, password)
		s.auditFailure(ctx, u.OrgID, s.loginFailedEvent(m, u.ID, "account locked"))
		return nil, ErrInvalidCredentials
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		s.recordFailure(ctx, u, m, "wrong password")
		return nil, ErrInvalidCredentials
	}
	newHash := ""
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			newHash = h
		}
	}
	if u.MFAEnabled {
		return nil, s.startMFAChallenge(ctx, u, newHash, m)
	}
	return s.completeLogin(ctx, u, m, "password", func(tx domain.Tx) error { return s.storeRehash(tx, u.ID, newHash) })
}

func (s *Service) loginFailedEvent(m Meta, userID, reason string) domain.AuditEvent {
	ev := m.event("auth.login_failed")
	ev.UserID = userID
	ev.ResourceType, ev.ResourceID = "user", userID
	ev.ErrorMessage = reason
	ev.Details = map[string]any{"reason": reason}
	return ev
}

// recordFailure counts a failed attempt and locks the account with a
// growing delay after failuresBeforeLockout failures in failureWindow:
// 1 s, 2 s, 4 s … up to maxLockout. With the delay capped at 15 minutes an
// account takes at most about 20 failed attempts an hour.
func (s *Service) recordFailure(ctx context.Context, u *domain.User, m Meta, reason string) {
	err := s.store.Write(ctx, domain.OrgScope(u.OrgID), func(tx domain.Tx) error {
		n, err := tx.RecordLoginFailure(u.ID, tx.Now(), failureWindow)
		if err != nil {
			return err
		}
		ev := s.loginFailedEvent(m, u.ID, reason)
		ev.Success = false
		ev.Details["failures"] = n
		tx.Audit(ev)
		if n >= failuresBeforeLockout {
			delay := time.Duration(math.Min(float64(time.Second)*math.Pow(2, float64(n-failuresBeforeLockout)), float64(maxLockout)))
			until := tx.Now().Add(delay)
			if err := tx.LockUser(u.ID, &until); err != nil {
				return err
			}
			lock := m.event("auth.lockout")
			lock.UserID, lock.ResourceType, lock.ResourceID = u.ID, "user", u.ID
			lock.Details = map[string]any{"failures": n, "locked_seconds": int(delay.Seconds())}
			tx.Audit(lock)
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "failed sign-in not recorded", "error", err)
	}
}

func (s *Service) storeRehash(tx domain.Tx, userID, newHash string) error {
	if newHash == "" {
		return nil
	}
	cur, err := tx.GetUser(userID)
	if err != nil {
		return err
	}
	cur.PasswordHash = newHash
	return tx.UpdateUser(cur)
}

// completeLogin opens a session (a refresh-token family) for u and issues
// its first token pair. extra runs in the same transaction.
func (s *Service) completeLogin(ctx context.Context, u *domain.User, m Meta, method string, extra func(tx domain.Tx) error) (*TokenPair, error) {
	var pair *TokenPair
	err := s.store.Write(ctx, domain.OrgScope(u.OrgID), func(tx domain.Tx) error {
		org, err := tx.GetOrganization(u.OrgID)
		if err != nil {
			return err
		}
		if !org.IsActive {
			return ErrInvalidCredentials
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		if err := tx.RecordLoginSuccess(u.ID, tx.Now()); err != nil {
			return err
		}
		pair, err = s.openSession(tx, u, m)
		if err != nil {
			return err
		}
		ev := m.event("auth.login")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "session", pair.SessionID, true
		ev.Details = map[string]any{"method": method}
		tx.Audit(ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.signAccess(pair, u)
}

// openSession creates a session and its first refresh token in tx.
func (s *Service) openSession(tx domain.Tx, u *domain.User, m Meta) (*TokenPair, error) {
	now := tx.Now()
	ua := m.UserAgent
	if len(ua) > maxUserAgentLen {
		ua = ua[:maxUserAgentLen]
	}
	sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(s.set.RefreshTTL), IPAddress: m.IP, UserAgent: ua}
	if err := tx.CreateSession(sess); err != nil {
		return nil, err
	}
	plain, hash := NewOpaqueToken(PrefixRefreshToken)
	rt := &domain.RefreshToken{ID: domain.NewID(domain.PrefixRefresh), SessionID: sess.ID, TokenHash: hash, CreatedAt: now, ExpiresAt: sess.ExpiresAt}
	if err := tx.CreateRefreshToken(rt); err != nil {
		return nil, err
	}
	return &TokenPair{RefreshToken: plain, SessionID: sess.ID, User: u}, nil
}

// signAccess adds a fresh access token to pair.
func (s *Service) signAccess(pair *TokenPair, u *domain.User) (*TokenPair, error) {
	tok, exp, err := s.tokens.IssueAccess(AccessClaims{UserID: u.ID, OrgID: u.OrgID, SessionID: pair.SessionID})
	if err != nil {
		return nil, err
	}
	pair.AccessToken, pair.ExpiresAt = tok, exp
	return pair, nil
}

// errRefreshRaced refuses an already-rotated refresh token inside the grace window.
var errRefreshRaced = unauthorized("refresh token already used")

// Refresh rotates a refresh token: it works once. Presenting a used token
// again revokes the whole family (every token of that login) — unless it
// was rotated less than RefreshReuseGrace ago, when it is only refused, so
// two concurrent refreshes from one client end with one new pair. Every
// rotation and every refusal is audited (the token never is).
func (s *Service) Refresh(ctx context.Context, token string, m Meta) (*TokenPair, error) {
	invalid := unauthorized("invalid refresh token")
	if TokenPrefix(token) != PrefixRefreshToken {
		s.auditFailure(ctx, "", s.refreshFailedEvent(m, "", "", "malformed token or token of another kind"))
		return nil, invalid
	}
	var rt *domain.RefreshToken
	err := s.store.Read(ctx, domain.SystemScope(domain.SystemTokenHash), func(q domain.Queries) error {
		var err error
		rt, err = q.GetRefreshTokenByHash(HashToken(token))
		return err
	})
	if domain.IsCode(err, domain.ECodeNotFound) {
		s.auditFailure(ctx, "", s.refreshFailedEvent(m, "", "", "unknown refresh token"))
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	var pair *TokenPair
	var user *domain.User
	var reuse bool
	var refused, userID string
	err = s.store.Write(ctx, domain.OrgScope(rt.OrgID), func(tx domain.Tx) error {
		refused, userID = "", ""
		now := tx.Now()
		sess, err := tx.GetSession(rt.SessionID)
		if err != nil {
			return err
		}
		userID = sess.UserID
		switch {
		case sess.RevokedAt != nil:
			refused = "session revoked"
		case !sess.Active(now):
			refused = "session expired"
		case !now.Before(rt.ExpiresAt):
			refused = "refresh token expired"
		}
		if refused != "" {
			return unauthorized("session ended: sign in again")
		}
		won, err := tx.UseRefreshToken(rt.ID, now)
		if err != nil {
			return err
		}
		if !won {
			if rt.UsedAt == nil || now.Sub(*rt.UsedAt) <= RefreshReuseGrace {
				refused = "refresh token already rotated, within the grace window"
				return errRefreshRaced
			}
			// Reuse of a rotated token: someone holds a copy. End the family.
			if err := tx.RevokeSession(sess.ID, "refresh token reuse", now); err != nil {
				return err
			}
			ev := m.event("auth.refresh_reuse_detected")
			ev.UserID, ev.ResourceType, ev.ResourceID = sess.UserID, "session", sess.ID
			ev.Success, ev.ErrorMessage = false, "a rotated refresh token was presented again; the session was revoked"
			tx.Audit(ev)
			reuse = true
			return nil
		}
		user, err = tx.GetUser(sess.UserID)
		if err != nil {
			return err
		}
		if !user.IsActive || user.DeletedAt != nil {
			refused = "account inactive"
			return unauthorized("session ended: sign in again")
		}
		plain, hash := NewOpaqueToken(PrefixRefreshToken)
		next := &domain.RefreshToken{ID: domain.NewID(domain.PrefixRefresh), SessionID: sess.ID, TokenHash: hash,
			ParentID: rt.ID, CreatedAt: now, ExpiresAt: sess.ExpiresAt}
		if err := tx.CreateRefreshToken(next); err != nil {
			return err
		}
		if err := tx.TouchSession(sess.ID, now, 0); err != nil {
			return err
		}
		ev := m.event("auth.token_refreshed")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = user.ID, "session", sess.ID, true
		tx.Audit(ev)
		pair = &TokenPair{RefreshToken: plain, SessionID: sess.ID, User: user}
		return nil
	})
	if refused != "" {
		s.auditFailure(ctx, rt.OrgID, s.refreshFailedEvent(m, userID, rt.SessionID, refused))
	}
	if err != nil {
		return nil, err
	}
	if reuse {
		return nil, unauthorized("refresh token reuse detected: the session was revoked, sign in again")
	}
	return s.signAccess(pair, user)
}

func (s *Service) refreshFailedEvent(m Meta, userID, sessionID, reason string) domain.AuditEvent {
	ev := m.event("auth.refresh_failed")
	ev.UserID = userID
	if sessionID != "" {
		ev.ResourceType, ev.ResourceID = "session", sessionID
	}
	ev.ErrorMessage = reason
	ev.Details = map[string]any{"reason": reason}
	return ev
}

// Logout ends the principal's session: its refresh tokens and every access
// token issued under it stop working at once.
func (s *Service) Logout(ctx context.Context, p *domain.Principal, m Meta) error {
	if p.SessionID == "" {
		return domain.Errorf(domain.ECodeBadRequest, "only a signed-in session can log out; revoke API keys at /api/v1/api-keys")
	}
	return s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		if err := tx.RevokeSession(p.SessionID, "logout", tx.Now()); err != nil {
			return err
		}
		ev := m.event("auth.logout")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, "session", p.SessionID, true
		tx.Audit(ev)
		return nil
	})
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
