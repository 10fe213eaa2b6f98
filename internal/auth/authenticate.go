package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
)

var errNoCredentials = unauthorized("missing or invalid credentials")

// Authenticate resolves the credentials of a request — a bearer access
// token, or an API key as a bearer token or X-API-Key — to a principal
// whose role and permissions are read now, so changes apply on the very
// next request. allowRestricted lets through a user who still has to verify
// an e-mail address or enrol MFA (sign-in, profile and those flows).
func (s *Service) Authenticate(ctx context.Context, authorization, apiKey string, m Meta, allowRestricted bool) (*domain.Principal, error) {
	if s.set.AuthDisabled {
		if s.devPrincipal == nil {
			return nil, errNoCredentials
		}
		p := *s.devPrincipal
		return &p, nil
	}
	token := apiKey
	if token == "" {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(authorization), " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return nil, errNoCredentials
		}
		token = strings.TrimSpace(rest)
	}
	if token == "" || len(token) > 4096 {
		return nil, errNoCredentials
	}
	if TokenPrefix(token) == PrefixAPIKey {
		return s.authenticateAPIKey(ctx, token)
	}
	if TokenPrefix(token) != "" {
		// A refresh, reset, verification, invitation or MFA token is never an access token.
		return nil, errNoCredentials
	}
	claims, ok := s.verified.get(token, s.tokens.now())
	if !ok {
		var err error
		if claims, err = s.tokens.ParseAccess(token); err != nil {
			if errors.Is(err, ErrTokenExpired) {
				return nil, unauthorized("access token expired: refresh it")
			}
			return nil, errNoCredentials
		}
		s.verified.put(token, claims)
	}
	u, sess, org, err := s.store.SessionPrincipal(ctx, claims.OrgID, claims.UserID, claims.SessionID)
	if domain.IsCode(err, domain.ECodeNotFound) {
		return nil, errNoCredentials
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if !u.IsActive || u.DeletedAt != nil || !sess.Active(now) || !org.IsActive {
		return nil, unauthorized("session ended: sign in again")
	}
	if !allowRestricted {
		if s.set.RequireEmailVerification && u.EmailVerifiedAt == nil {
			return nil, domain.Errorf(domain.ECodeForbidden, "verify your e-mail address first (POST /api/v1/auth/verify-email/resend sends a new link)")
		}
		if org.RequireMFA && !u.MFAEnabled {
			return nil, domain.Errorf(domain.ECodeForbidden, "your organization requires multi-factor authentication: enrol at POST /api/v1/auth/mfa/enroll")
		}
	}
	if now.Sub(sess.LastUsedAt) >= sessionTouchGap {
		if err := s.store.Write(ctx, domain.OrgScope(u.OrgID), func(tx domain.Tx) error {
			return tx.TouchSession(sess.ID, tx.Now(), sessionTouchGap)
		}); err != nil {
			s.log.WarnContext(ctx, "session last-use not recorded", "error", err)
		}
	}
	return &domain.Principal{UserID: u.ID, SessionID: sess.ID, OrgID: u.OrgID, TeamID: u.TeamID, Role: u.Role,
		Permissions: permissionsOf(u), Email: u.Email}, nil
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
