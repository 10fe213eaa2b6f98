package auth

import (
	"context"
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
)

// InviteInput asks to invite someone into the inviter's organization.
type InviteInput struct {
	Email       string
	FullName    string
	Role        domain.Role
	TeamID      string
	Permissions []domain.Permission
}

// Invite creates a pending user (no password yet) and queues an invitation
// mail with a one-time link; accepting it sets the password.
func (s *Service) Invite(ctx context.Context, p *domain.Principal, in InviteInput, m Meta) (*domain.User, error) {
	in.Email = normalizeLogin(in.Email)
	errs := ValidateIdentity(in.Email, "placeholder", in.FullName)
	if !domain.ValidRole(in.Role) {
		errs = append(errs, domain.FieldError{Pointer: "/role", Message: "must be admin, developer, operator or viewer"})
	}
	errs = append(errs, CheckGrant(p, in.Role, in.Permissions, "/permissions")...)
	if len(errs) > 0 {
		return nil, domain.Invalid("the invitation has problems", errs...)
	}
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: in.Email, FullName: strings.TrimSpace(in.FullName),
		Username: "invited-" + strings.TrimPrefix(domain.NewID(""), "_")[:12], Role: in.Role, TeamID: in.TeamID,
		Permissions: in.Permissions, IsActive: true, InvitedBy: p.UserID}
	err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		if in.TeamID != "" {
			if _, err := tx.GetTeam(in.TeamID); err != nil {
				return domain.Invalid("the invitation has problems", domain.FieldError{Pointer: "/team_id", Message: "no such team"})
			}
		}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		ev := m.event("user.invited")
		ev.UserID, ev.APIKeyID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, p.APIKeyID, "user", u.ID, true
		ev.Details = map[string]any{"email": u.Email, "role": string(u.Role), "team_id": u.TeamID}
		tx.Audit(ev)
		return s.enqueue(ctx, tx, MailArgs{Mail: MailInvitation, OrgID: u.OrgID, UserID: u.ID, InviterID: p.UserID})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CheckGrant reports what an actor may not grant: the admin role and extra
// permissions are granted only by an admin who holds them.
func CheckGrant(actor *domain.Principal, role domain.Role, perms []domain.Permission, pointer string) []domain.FieldError {
	var errs []domain.FieldError
	if role == domain.RoleAdmin && actor.Role != domain.RoleAdmin {
		errs = append(errs, domain.FieldError{Pointer: "/role", Message: "only an admin can make someone an admin"})
	}
	for i, perm := range perms {
		switch {
		case !domain.ValidPermission(perm):
			errs = append(errs, domain.FieldError{Pointer: pointer + "/" + itoa(i), Message: "unknown permission " + string(perm)})
		case actor.Role != domain.RoleAdmin || !actor.Can(perm):
			errs = append(errs, domain.FieldError{Pointer: pointer + "/" + itoa(i), Message: "only an admin who holds " + string(perm) + " can grant it"})
		}
	}
	return errs
}

// AcceptInvitation consumes an invitation token, sets the username and
// password, marks the address verified and signs the new user in.
func (s *Service) AcceptInvitation(ctx context.Context, token, username, password, fullName string, m Meta) (*TokenPair, error) {
	const failed = "user.invitation_accept_failed"
	t, err := s.redeemToken(ctx, token, PrefixInvitation, domain.PurposeInvitation, failed, m)
	if err != nil {
		return nil, err
	}
	var u *domain.User
	if err := s.store.Read(ctx, domain.OrgScope(t.OrgID), func(q domain.Queries) error {
		u, err = q.GetUser(t.UserID)
		return err
	}); err != nil {
		return nil, err
	}
	username = normalizeLogin(username)
	if fullName == "" {
		fullName = u.FullName
	}
	errs := ValidateIdentity(u.Email, username, fullName)
	errs = append(errs, passwordProblem("/password", password, u.Email, username)...)
	if len(errs) > 0 {
		return nil, domain.Invalid("the account has problems", errs...)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	var refused string
	pair, err := s.completeLogin(ctx, u, m, "invitation", func(tx domain.Tx) error {
		refused = ""
		won, err := tx.UseOneTimeToken(t.ID, tx.Now())
		if err != nil {
			return err
		}
		cur, err := tx.GetUser(u.ID)
		if err != nil {
			return err
		}
		switch {
		case !won:
			refused = "token already used"
		case !cur.Pending():
			refused = "the invitation was already accepted"
		case !cur.IsActive:
			refused = "account inactive"
		case cur.Email != t.Data["email"]:
			refused = "the address changed since the mail was sent"
		}
		if refused != "" {
			return errTokenRefused
		}
		now := tx.Now()
		cur.Username, cur.FullName, cur.PasswordHash, cur.EmailVerifiedAt, cur.PasswordChangedAt = username, strings.TrimSpace(fullName), hash, &now, &now
		if err := tx.UpdateUser(cur); err != nil {
			return err
		}
		*u = *cur
		ev := m.event("user.invitation_accepted")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
		tx.Audit(ev)
		return nil
	})
	if refused != "" {
		s.tokenRefused(ctx, t, failed, refused, m)
	}
	return pair, err
}

// ResendInvitation queues a new invitation mail for a pending user.
func (s *Service) ResendInvitation(ctx context.Context, p *domain.Principal, userID string, m Meta) error {
	return s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		u, err := tx.GetUser(userID)
		if err != nil {
			return err
		}
		if !u.Pending() {
			return domain.Errorf(domain.ECodeConflict, "the user has already accepted the invitation")
		}
		ev := m.event("user.invitation_resent")
		ev.UserID, ev.APIKeyID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, p.APIKeyID, "user", u.ID, true
		tx.Audit(ev)
		return s.enqueue(ctx, tx, MailArgs{Mail: MailInvitation, OrgID: u.OrgID, UserID: u.ID, InviterID: p.UserID})
	})
}
