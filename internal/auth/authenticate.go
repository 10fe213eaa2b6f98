package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

var errNoCredentials = unauthorized("missing or invalid credentials")

// Authenticate resolves the credentials of a request — a bearer access
// token, or an API key as a bearer token or X-API-Key — to a principal
// whose role and permissions are read now, so changes apply on the very
// next request. allowRestricted lets through a user who still has to verify
// an e-mail address or enrol MFA (sign-in, profile and those flows).
func (s *Service) Authenticate(ctx context.Context, authorization, apiKey string, m Meta, allowRestricted bool) (*domain.Principal, error) {
	p, _, err := s.authenticate(ctx, authorization, apiKey, allowRestricted, false)
	return p, err
}

// AuthenticateRead is Authenticate for a request that changes nothing (a
// GET). When the access token's previous request confirmed a principal
// and the session's last use needs no update, it returns that principal
// without reading the database, with a check (domain.PrincipalCheck) that
// the request's first transaction in the organization settles in the
// statement that sets its scope, or that Confirm settles before the
// request is answered. Otherwise the check is nil and the principal was
// read as by Authenticate.
func (s *Service) AuthenticateRead(ctx context.Context, authorization, apiKey string, m Meta, allowRestricted bool) (*domain.Principal, *domain.PrincipalCheck, error) {
	return s.authenticate(ctx, authorization, apiKey, allowRestricted, true)
}

// Confirm settles a check the request left pending, in one statement, and
// records the session's use when it is due, as Authenticate does.
func (s *Service) Confirm(ctx context.Context, c *domain.PrincipalCheck) error {
	settled, _, err := c.Settled()
	if !settled {
		// Pending, or taken by a transaction that did not settle it.
		var u *domain.User
		var sess *domain.Session
		var org *domain.Organization
		u, sess, org, err = s.store.SessionPrincipal(ctx, c.OrgID, c.UserID, c.SessionID)
		if err != nil && !domain.IsCode(err, domain.ECodeNotFound) {
			return err
		}
		err = c.Settle(u, sess, org)
	}
	if err == nil || errors.Is(err, domain.ErrPrincipalChanged) {
		s.touchSession(ctx, c.OrgID, c.SessionID, c.SessionLastUsed())
	}
	return err
}

// touchSession records a session's use when the last one recorded is
// sessionTouchGap old; it reports whether it did.
func (s *Service) touchSession(ctx context.Context, orgID, sessionID string, lastUsed time.Time) bool {
	if s.clock().Sub(lastUsed) < sessionTouchGap {
		return false
	}
	if err := s.store.Write(ctx, domain.OrgScope(orgID), func(tx domain.Tx) error {
		return tx.TouchSession(sessionID, tx.Now(), sessionTouchGap)
	}); err != nil {
		s.log.WarnContext(ctx, "session last-use not recorded", "error", err)
		return false
	}
	return true
}

func (s *Service) authenticate(ctx context.Context, authorization, apiKey string, allowRestricted, read bool) (*domain.Principal, *domain.PrincipalCheck, error) {
	if s.set.AuthDisabled {
		if s.devPrincipal == nil {
			return nil, nil, errNoCredentials
		}
		p := *s.devPrincipal
		return &p, nil, nil
	}
	token := apiKey
	if token == "" {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(authorization), " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return nil, nil, errNoCredentials
		}
		token = strings.TrimSpace(rest)
	}
	if token == "" || len(token) > 4096 {
		return nil, nil, errNoCredentials
	}
	if TokenPrefix(token) == PrefixAPIKey {
		p, err := s.authenticateAPIKey(ctx, token)
		return p, nil, err
	}
	if TokenPrefix(token) != "" {
		// A refresh, reset, verification, invitation or MFA token is never an access token.
		return nil, nil, errNoCredentials
	}
	entry, ok := s.verified.get(token, s.tokens.now())
	claims := entry.claims
	if !ok {
		var err error
		if claims, err = s.tokens.ParseAccess(token); err != nil {
			if errors.Is(err, ErrTokenExpired) {
				return nil, nil, unauthorized("access token expired: refresh it")
			}
			return nil, nil, errNoCredentials
		}
		s.verified.put(token, claims)
	}
	now := s.clock()
	if read && entry.principal != nil && now.Sub(entry.lastUsed) < sessionTouchGap {
		guess := entry.principal
		c := domain.NewPrincipalCheck(claims.OrgID, claims.UserID, claims.SessionID,
			func(u *domain.User, sess *domain.Session, org *domain.Organization) (*domain.Principal, error) {
				p, err := s.principalFrom(u, sess, org, allowRestricted)
				if err != nil {
					s.verified.remember(token, nil, time.Time{})
					return nil, err
				}
				if !samePrincipal(p, guess) {
					s.rememberPrincipal(token, u, sess, org, p)
					return p, domain.ErrPrincipalChanged
				}
				return p, nil
			})
		p := *guess
		return &p, c, nil
	}
	u, sess, org, err := s.store.SessionPrincipal(ctx, claims.OrgID, claims.UserID, claims.SessionID)
	if err != nil && !domain.IsCode(err, domain.ECodeNotFound) {
		return nil, nil, err
	}
	p, err := s.principalFrom(u, sess, org, allowRestricted)
	if err != nil {
		s.verified.remember(token, nil, time.Time{})
		return nil, nil, err
	}
	if s.touchSession(ctx, u.OrgID, sess.ID, sess.LastUsedAt) {
		sess.LastUsedAt = now
	}
	s.rememberPrincipal(token, u, sess, org, p)
	return p, nil, nil
}

// principalFrom is what the rows authentication reads make of a request:
// its principal, or why it has none (u is nil when the session, user or
// organization is gone).
func (s *Service) principalFrom(u *domain.User, sess *domain.Session, org *domain.Organization, allowRestricted bool) (*domain.Principal, error) {
	if u == nil || sess == nil || org == nil {
		return nil, errNoCredentials
	}
	if !u.IsActive || u.DeletedAt != nil || !sess.Active(s.clock()) || !org.IsActive {
		return nil, unauthorized("session ended: sign in again")
	}
	if !allowRestricted {
		if err := s.restriction(u, org); err != nil {
			return nil, err
		}
	}
	return &domain.Principal{UserID: u.ID, SessionID: sess.ID, OrgID: u.OrgID, TeamID: u.TeamID, Role: u.Role,
		Permissions: permissionsOf(u), Email: u.Email}, nil
}

// restriction says why a user may use only the routes that let them
// complete their account (e-mail verification, MFA enrolment), or nil.
func (s *Service) restriction(u *domain.User, org *domain.Organization) error {
	if s.set.RequireEmailVerification && u.EmailVerifiedAt == nil {
		return domain.Errorf(domain.ECodeForbidden, "verify your e-mail address first (POST /api/v1/auth/verify-email/resend sends a new link)")
	}
	if org.RequireMFA && !u.MFAEnabled {
		return domain.Errorf(domain.ECodeForbidden, "your organization requires multi-factor authentication: enrol at POST /api/v1/auth/mfa/enroll")
	}
	return nil
}

// rememberPrincipal keeps the principal a token's request confirmed as
// the guess for its next read, unless a restriction applies (a restricted
// user's routes differ, so their requests always read first).
func (s *Service) rememberPrincipal(token string, u *domain.User, sess *domain.Session, org *domain.Organization, p *domain.Principal) {
	if s.restriction(u, org) != nil {
		s.verified.remember(token, nil, time.Time{})
		return
	}
	s.verified.remember(token, p, sess.LastUsedAt)
}

// samePrincipal reports whether two principals may do the same things.
func samePrincipal(a, b *domain.Principal) bool {
	if a.UserID != b.UserID || a.SessionID != b.SessionID || a.OrgID != b.OrgID || a.TeamID != b.TeamID ||
		a.Role != b.Role || a.Email != b.Email || a.APIKeyID != b.APIKeyID || len(a.Permissions) != len(b.Permissions) {
		return false
	}
	for perm := range a.Permissions {
		if !b.Permissions.Has(perm) {
			return false
		}
	}
	return true
}

// roleRank orders roles from most (0) to least privileged.
func roleRank(r domain.Role) int {
	for i, x := range domain.Roles {
		if x == r {
			return i
		}
	}
	return len(domain.Roles)
}

// authenticateAPIKey resolves an API key. Its permissions are its grant
// intersected with its creator's current permissions, so a deactivated or
// demoted creator takes the key down with them.
func (s *Service) authenticateAPIKey(ctx context.Context, secret string) (*domain.Principal, error) {
	var key *domain.APIKey
	err := s.store.Read(ctx, domain.SystemScope(domain.SystemTokenHash), func(q domain.Queries) error {
		var err error
		key, err = q.GetAPIKeyByHash(HashToken(secret))
		return err
	})
	if domain.IsCode(err, domain.ECodeNotFound) {
		return nil, errNoCredentials
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if key.RevokedAt != nil || (key.ExpiresAt != nil && !now.Before(*key.ExpiresAt)) {
		return nil, unauthorized("API key revoked or expired")
	}
	var creator *domain.User
	var org *domain.Organization
	err = s.store.Read(ctx, domain.OrgScope(key.OrgID), func(q domain.Queries) error {
		var err error
		if creator, err = q.GetUser(key.CreatedBy); err != nil {
			return err
		}
		org, err = q.GetOrganization(key.OrgID)
		return err
	})
	if err != nil {
		if domain.IsCode(err, domain.ECodeNotFound) {
			return nil, errNoCredentials
		}
		return nil, err
	}
	if !creator.IsActive || creator.DeletedAt != nil || !org.IsActive {
		return nil, unauthorized("API key disabled: its creator is no longer active")
	}
	grant := domain.NewPermissionSet(key.Role, nil)
	if len(key.Permissions) > 0 {
		grant = domain.NewPermissionSet("", key.Permissions)
	}
	role := key.Role
	if roleRank(creator.Role) > roleRank(role) {
		role = creator.Role
	}
	if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) >= sessionTouchGap {
		if err := s.store.Write(ctx, domain.OrgScope(key.OrgID), func(tx domain.Tx) error {
			return tx.TouchAPIKey(key.ID, tx.Now(), sessionTouchGap)
		}); err != nil {
			s.log.WarnContext(ctx, "API key last-use not recorded", "error", err)
		}
	}
	return &domain.Principal{UserID: creator.ID, APIKeyID: key.ID, OrgID: key.OrgID, TeamID: creator.TeamID, Role: role,
		Permissions: grant.Intersect(permissionsOf(creator)), Email: creator.Email}, nil
}

// Denied records an attempt at an action the principal lacks the permission for.
func (s *Service) Denied(ctx context.Context, p *domain.Principal, perm domain.Permission, m Meta, method, path string) {
	ev := m.event("access.denied")
	ev.UserID, ev.APIKeyID = p.UserID, p.APIKeyID
	ev.ErrorMessage = "missing permission " + string(perm)
	ev.Details = map[string]any{"permission": string(perm), "method": method, "route": path}
	s.auditFailure(ctx, p.OrgID, ev)
}
