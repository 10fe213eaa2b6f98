package auth

import (
	"context"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// ResendVerification queues a new verification mail for the principal.
func (s *Service) ResendVerification(ctx context.Context, p *domain.Principal, m Meta) error {
	return s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		u, err := tx.GetUser(p.UserID)
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt != nil {
			return domain.Errorf(domain.ECodeConflict, "the e-mail address is already verified")
		}
		ev := m.event("auth.verification_sent")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
		tx.Audit(ev)
		return s.enqueue(ctx, tx, MailArgs{Mail: MailVerifyEmail, OrgID: u.OrgID, UserID: u.ID})
	})
}

// VerifyEmail consumes a verification token. A refused token is audited.
func (s *Service) VerifyEmail(ctx context.Context, token string, m Meta) error {
	const failed = "auth.email_verification_failed"
	t, err := s.redeemToken(ctx, token, PrefixVerification, domain.PurposeVerifyEmail, failed, m)
	if err != nil {
		return err
	}
	var refused string
	err = s.store.Write(ctx, domain.OrgScope(t.OrgID), func(tx domain.Tx) error {
		refused = ""
		won, err := tx.UseOneTimeToken(t.ID, tx.Now())
		if err != nil {
			return err
		}
		if !won {
			refused = "token already used"
			return errTokenRefused
		}
		u, err := tx.GetUser(t.UserID)
		if err != nil {
			return err
		}
		if u.Email != t.Data["email"] {
			refused = "the address changed since the mail was sent"
			return errTokenRefused
		}
		if u.EmailVerifiedAt == nil {
			now := tx.Now()
			u.EmailVerifiedAt = &now
			if err := tx.UpdateUser(u); err != nil {
				return err
			}
		}
		ev := m.event("auth.email_verified")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
		tx.Audit(ev)
		return nil
	})
	if refused != "" {
		s.tokenRefused(ctx, t, failed, refused, m)
	}
	return err
}

// ForgotPassword queues a password-reset mail for the account with this
// e-mail, if there is one. It does the same work whether or not there is:
// the lookup happens in the job, off the request path, so neither the
// answer nor its timing reveals which addresses have accounts.
func (s *Service) ForgotPassword(ctx context.Context, email string, m Meta) error {
	email = normalizeLogin(email)
	if email == "" || len(email) > 254 {
		s.auditFailure(ctx, "", s.resetRequestFailedEvent(m, "", "", "malformed address"))
		return nil
	}
	sealed, err := s.box.Seal([]byte(email), []byte(resetRequestAAD))
	if err != nil {
		return err
	}
	return s.store.Write(ctx, domain.SystemScope(domain.SystemLogin), func(tx domain.Tx) error {
		return s.enqueue(ctx, tx, MailArgs{Mail: MailPasswordResetRequest, SealedEmail: sealed, RequestID: m.RequestID, IP: m.IP})
	})
}

// ResetPassword consumes a reset token and sets a new password. Every
// session of the user ends, and the e-mail counts as verified (the link
// proved the address).
func (s *Service) ResetPassword(ctx context.Context, token, password string, m Meta) error {
	const failed = "auth.password_reset_failed"
	t, err := s.redeemToken(ctx, token, PrefixPasswordReset, domain.PurposePasswordReset, failed, m)
	if err != nil {
		return err
	}
	var u *domain.User
	if err := s.store.Read(ctx, domain.OrgScope(t.OrgID), func(q domain.Queries) error {
		u, err = q.GetUser(t.UserID)
		return err
	}); err != nil {
		return err
	}
	if errs := passwordProblem("/password", password, u.Email, u.Username); errs != nil {
		return domain.Invalid("the new password is not acceptable", errs...)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	var refused bool
	err = s.store.Write(ctx, domain.OrgScope(t.OrgID), func(tx domain.Tx) error {
		refused = false
		won, err := tx.UseOneTimeToken(t.ID, tx.Now())
		if err != nil {
			return err
		}
		if !won {
			refused = true
			return errTokenRefused
		}
		return s.setPassword(tx, t.UserID, hash, "password reset", m, "auth.password_reset_completed")
	})
	if refused {
		s.tokenRefused(ctx, t, failed, "token already used", m)
	}
	return err
}

// setPassword stores a new hash, ends every session and outstanding reset
// link of the user, and audits.
func (s *Service) setPassword(tx domain.Tx, userID, hash, reason string, m Meta, action string) error {
	u, err := tx.GetUser(userID)
	if err != nil {
		return err
	}
	now := tx.Now()
	u.PasswordHash, u.PasswordChangedAt, u.LockedUntil, u.FailedLogins = hash, &now, nil, 0
	if u.EmailVerifiedAt == nil && action == "auth.password_reset_completed" {
		u.EmailVerifiedAt = &now
	}
	if err := tx.UpdateUser(u); err != nil {
		return err
	}
	n, err := tx.RevokeUserSessions(u.ID, reason, now)
	if err != nil {
		return err
	}
	if err := tx.InvalidateOneTimeTokens(u.ID, domain.PurposePasswordReset, now); err != nil {
		return err
	}
	ev := m.event(action)
	ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
	ev.Details = map[string]any{"sessions_ended": n}
	tx.Audit(ev)
	return nil
}

// ChangePassword checks the current password and sets a new one. Every
// session ends, including this one; a new token pair is returned for the
// caller.
func (s *Service) ChangePassword(ctx context.Context, p *domain.Principal, current, next string, m Meta) (*TokenPair, error) {
	if err := requireSession(p); err != nil {
		return nil, err
	}
	var u *domain.User
	if err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
		var err error
		u, err = q.GetUser(p.UserID)
		return err
	}); err != nil {
		return nil, err
	}
	ok, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !ok {
		ev := m.event("auth.password_change_failed")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.ErrorMessage = u.ID, "user", u.ID, "wrong current password"
		s.auditFailure(ctx, u.OrgID, ev)
		s.recordFailure(ctx, u, m, "wrong current password")
		return nil, domain.Invalid("the current password is wrong", domain.FieldError{Pointer: "/current_password", Message: "does not match"})
	}
	if errs := passwordProblem("/new_password", next, u.Email, u.Username); errs != nil {
		return nil, domain.Invalid("the new password is not acceptable", errs...)
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return nil, err
	}
	var pair *TokenPair
	err = s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		if err := s.setPassword(tx, u.ID, hash, "password changed", m, "auth.password_changed"); err != nil {
			return err
		}
		var err error
		pair, err = s.openSession(tx, u, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.signAccess(pair, u)
}

// Sessions lists one page of the principal's active sessions, newest
// first, and returns the cursor of the next page ("" after the last).
func (s *Service) Sessions(ctx context.Context, p *domain.Principal, page domain.Page) ([]domain.Session, string, error) {
	if err := requireSession(p); err != nil {
		return nil, "", err
	}
	var out []domain.Session
	var next string
	err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
		var err error
		out, next, err = q.ListSessions(p.UserID, page)
		return err
	})
	return out, next, err
}

// EndSession revokes one of the principal's own sessions.
func (s *Service) EndSession(ctx context.Context, p *domain.Principal, id string, m Meta) error {
	if err := requireSession(p); err != nil {
		return err
	}
	return s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		sess, err := tx.GetSession(id)
		if err != nil || sess.UserID != p.UserID {
			return domain.NotFound("session")
		}
		if err := tx.RevokeSession(id, "ended by user", tx.Now()); err != nil {
			return err
		}
		ev := m.event("auth.session_revoked")
		ev.UserID, ev.APIKeyID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, p.APIKeyID, "session", id, true
		tx.Audit(ev)
		return nil
	})
}

// APIKeyInput asks for a new API key.
type APIKeyInput struct {
	Name        string
	Role        domain.Role
	Permissions []domain.Permission
	ExpiresAt   *time.Time
}

// CreateAPIKey issues an API key. Its grant (a role, or an explicit list of
// permissions) may not exceed the creator's own permissions; the secret is
// returned once and stored only as a hash.
func (s *Service) CreateAPIKey(ctx context.Context, p *domain.Principal, in APIKeyInput, m Meta) (*domain.APIKey, string, error) {
	var errs []domain.FieldError
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > maxAPIKeyNameLen {
		errs = append(errs, domain.FieldError{Pointer: "/name", Message: "must be 1 to 100 characters"})
	}
	if in.Role == "" {
		in.Role = domain.RoleViewer
		if len(in.Permissions) == 0 {
			in.Role = p.Role
		}
	}
	if !domain.ValidRole(in.Role) {
		errs = append(errs, domain.FieldError{Pointer: "/role", Message: "must be admin, developer, operator or viewer"})
	}
	grant := domain.NewPermissionSet(in.Role, nil)
	if len(in.Permissions) > 0 {
		grant = domain.PermissionSet{}
		for i, perm := range in.Permissions {
			if !domain.ValidPermission(perm) {
				errs = append(errs, domain.FieldError{Pointer: "/permissions/" + itoa(i), Message: "unknown permission " + string(perm)})
				continue
			}
			grant[perm] = struct{}{}
		}
	}
	for perm := range grant {
		if !p.Can(perm) {
			errs = append(errs, domain.FieldError{Pointer: "/permissions", Message: "cannot grant " + string(perm) + ", which you do not hold"})
		}
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.clock()) {
		errs = append(errs, domain.FieldError{Pointer: "/expires_at", Message: "must be in the future"})
	}
	if len(errs) > 0 {
		return nil, "", domain.Invalid("the API key has problems", errs...)
	}
	plain, hash := NewOpaqueToken(PrefixAPIKey)
	k := &domain.APIKey{ID: domain.NewID(domain.PrefixAPIKey), CreatedBy: p.UserID, Name: in.Name, Prefix: plain[:12],
		SecretHash: hash, Role: in.Role, Permissions: in.Permissions, ExpiresAt: in.ExpiresAt}
	err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		if err := tx.CreateAPIKey(k); err != nil {
			return err
		}
		ev := m.event("api_key.created")
		ev.UserID, ev.APIKeyID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, p.APIKeyID, "api_key", k.ID, true
		ev.Details = map[string]any{"name": k.Name, "role": string(k.Role), "permissions": k.Permissions}
		tx.Audit(ev)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return k, plain, nil
}

// APIKeys lists keys: admins see the organization's, others their own.
func (s *Service) APIKeys(ctx context.Context, p *domain.Principal, page domain.Page) ([]domain.APIKey, string, error) {
	var out []domain.APIKey
	var next string
	err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
		keys, n, err := q.ListAPIKeys(page)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if p.Role == domain.RoleAdmin || k.CreatedBy == p.UserID {
				out = append(out, k)
			}
		}
		next = n
		return nil
	})
	return out, next, err
}

// RevokeAPIKey revokes a key the principal created (admins: any of the organization's).
func (s *Service) RevokeAPIKey(ctx context.Context, p *domain.Principal, id string, m Meta) error {
	return s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		k, err := tx.GetAPIKey(id)
		if err != nil || (p.Role != domain.RoleAdmin && k.CreatedBy != p.UserID) {
			return domain.NotFound("API key")
		}
		if err := tx.RevokeAPIKey(id, tx.Now()); err != nil {
			return err
		}
		ev := m.event("api_key.revoked")
		ev.UserID, ev.APIKeyID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, p.APIKeyID, "api_key", id, true
		ev.Details = map[string]any{"name": k.Name}
		tx.Audit(ev)
		return nil
	})
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
