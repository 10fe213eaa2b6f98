package auth

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/domain"
)

// RegisterInput is a sign-up request.
type RegisterInput struct {
	Email            string
	Username         string
	Password         string
	FullName         string
	OrganizationName string
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,49}$`)

// ValidateIdentity checks an e-mail, username and full name, returning
// every problem with its JSON pointer.
func ValidateIdentity(email, username, fullName string) []domain.FieldError {
	var errs []domain.FieldError
	if len(email) > 254 {
		errs = append(errs, domain.FieldError{Pointer: "/email", Message: "must be at most 254 characters"})
	} else if a, err := mail.ParseAddress(email); err != nil || a.Address != email || !strings.Contains(email, "@") {
		errs = append(errs, domain.FieldError{Pointer: "/email", Message: "must be a plain e-mail address such as ada@example.com"})
	}
	if !usernamePattern.MatchString(username) {
		errs = append(errs, domain.FieldError{Pointer: "/username", Message: "must be 3 to 50 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"})
	}
	if utf8.RuneCountInString(fullName) > 200 {
		errs = append(errs, domain.FieldError{Pointer: "/full_name", Message: "must be at most 200 characters"})
	}
	return errs
}

// passwordProblem turns the policy's verdict into a field error.
func passwordProblem(pointer, password, email, username string) []domain.FieldError {
	if err := CheckPassword(password, email, username); err != nil {
		msg := err.Error()
		if de, ok := err.(*domain.Error); ok {
			msg = de.Message
		}
		return []domain.FieldError{{Pointer: pointer, Message: msg}}
	}
	return nil
}

// Register creates an account. With multi-tenancy it also creates the
// organization (free plan) and its default team, making the user its admin;
// in single-organization mode the first user becomes the admin of the one
// organization and later ones join as viewers. A verification mail is queued.
func (s *Service) Register(ctx context.Context, in RegisterInput, m Meta) (*TokenPair, error) {
	if !s.set.SignupEnabled {
		return nil, domain.Errorf(domain.ECodeForbidden, "sign-up is closed on this installation; ask an administrator for an invitation")
	}
	in.Email, in.Username = normalizeLogin(in.Email), normalizeLogin(in.Username)
	in.FullName, in.OrganizationName = strings.TrimSpace(in.FullName), strings.TrimSpace(in.OrganizationName)
	errs := ValidateIdentity(in.Email, in.Username, in.FullName)
	if s.set.MultiTenancy {
		if n := utf8.RuneCountInString(in.OrganizationName); n < 1 || n > 100 {
			errs = append(errs, domain.FieldError{Pointer: "/organization_name", Message: "must be 1 to 100 characters"})
		}
	}
	errs = append(errs, passwordProblem("/password", in.Password, in.Email, in.Username)...)
	if len(errs) > 0 {
		return nil, domain.Invalid("the registration has problems", errs...)
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: in.Email, Username: in.Username, FullName: in.FullName,
		PasswordHash: hash, Role: domain.RoleAdmin, IsActive: true}
	var org *domain.Organization
	var team *domain.Team
	if s.set.MultiTenancy {
		org, team = NewOrganization(in.OrganizationName, domain.PlanFree)
	} else {
		if err := s.store.Read(ctx, domain.SystemScope(domain.SystemSignup), func(q domain.Queries) error {
			var err error
			org, err = q.GetOrganizationBySlug(singleOrgSlug)
			return err
		}); err != nil {
			return nil, fmt.Errorf("single-organization mode: %w", err)
		}
	}
	var pair *TokenPair
	err = s.store.Write(ctx, domain.OrgScope(org.ID), func(tx domain.Tx) error {
		if team != nil {
			if err := tx.CreateOrganization(org); err != nil {
				return err
			}
			if err := tx.CreateTeam(team); err != nil {
				return err
			}
			u.TeamID = team.ID
			ev := m.event("organization.created")
			ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "organization", org.ID, true
			ev.Details = map[string]any{"name": org.Name, "plan": string(org.Plan)}
			tx.Audit(ev)
		} else {
			// Serialize sign-ups into the one organization, so the count
			// below sees every user committed before it: on PostgreSQL
			// under READ COMMITTED two simultaneous first sign-ups would
			// otherwise both count zero and both become admin. The row
			// lock waits for a concurrent sign-up's commit; the count is a
			// new statement, so it sees that sign-up's user. (SQLite runs
			// one write transaction at a time already.)
			if s.store.Kind() == "postgres" {
				var id string
				if err := tx.SQL().QueryRowContext(ctx, `SELECT id FROM organizations WHERE id = $1 FOR UPDATE`, org.ID).Scan(&id); err != nil {
					return fmt.Errorf("lock the organization for sign-up: %w", err)
				}
			}
			n, err := tx.CountUsers()
			if err != nil {
				return err
			}
			if n > 0 {
				u.Role = domain.RoleViewer
			}
			if id, ok := org.Settings["default_team_id"].(string); ok {
				u.TeamID = id
			}
		}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		ev := m.event("auth.registered")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
		ev.Details = map[string]any{"email": u.Email, "username": u.Username, "role": string(u.Role)}
		tx.Audit(ev)
		if err := s.enqueue(ctx, tx, MailArgs{Mail: MailVerifyEmail, OrgID: org.ID, UserID: u.ID}); err != nil {
			return err
		}
		var err error
		pair, err = s.openSession(tx, u, m)
		if err != nil {
			return err
		}
		login := m.event("auth.login")
		login.UserID, login.ResourceType, login.ResourceID, login.Success = u.ID, "session", pair.SessionID, true
		login.Details = map[string]any{"method": "registration"}
		tx.Audit(login)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.signAccess(pair, u)
}

// NewOrganization returns a new organization on a plan with its default team.
func NewOrganization(name string, plan domain.Plan) (*domain.Organization, *domain.Team) {
	limits, _ := domain.DefaultPlanLimits(plan)
	id := domain.NewID(domain.PrefixOrg)
	team := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Default", Description: "Everyone in " + name}
	org := &domain.Organization{ID: id, Name: name, Slug: Slugify(name) + "-" + id[len(id)-6:], Plan: plan, Limits: limits,
		IsActive: true, Settings: map[string]any{"default_team_id": team.ID}}
	return org, team
}

var slugStrip = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify makes a URL-safe slug of a name.
func Slugify(name string) string {
	s := strings.Trim(slugStrip.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	if s == "" {
		s = "org"
	}
	return s
}

// EnsureSingleOrganization creates the one organization of
// single-organization mode (ENABLE_MULTI_TENANCY=false) if it is missing.
func (s *Service) EnsureSingleOrganization(ctx context.Context, name string) (*domain.Organization, error) {
	return s.ensureOrg(ctx, singleOrgSlug, name, domain.PlanEnterprise)
}

func (s *Service) ensureOrg(ctx context.Context, slug, name string, plan domain.Plan) (*domain.Organization, error) {
	var org *domain.Organization
	err := s.store.Read(ctx, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		var err error
		org, err = q.GetOrganizationBySlug(slug)
		return err
	})
	if err == nil {
		return org, nil
	}
	if !domain.IsCode(err, domain.ECodeNotFound) {
		return nil, err
	}
	org, team := NewOrganization(name, plan)
	org.Slug = slug
	err = s.store.Write(ctx, domain.OrgScope(org.ID), func(tx domain.Tx) error {
		if err := tx.CreateOrganization(org); err != nil {
			return err
		}
		if err := tx.CreateTeam(team); err != nil {
			return err
		}
		ev := domain.AuditEvent{Action: "organization.created", ResourceType: "organization", ResourceID: org.ID, Success: true,
			Details: map[string]any{"name": name, "plan": string(plan), "by": "system"}}
		tx.Audit(ev)
		return nil
	})
	if domain.IsCode(err, domain.ECodeConflict) {
		// Another process created it first.
		return s.ensureOrg(ctx, slug, name, plan)
	}
	return org, err
}

// EnsureDevelopmentAdmin prepares the development admin that every request
// acts as when ENABLE_AUTH=false (refused in production by configuration).
func (s *Service) EnsureDevelopmentAdmin(ctx context.Context) error {
	slug, name := developmentOrgSlug, developmentDisplayName
	if !s.set.MultiTenancy {
		slug, name = singleOrgSlug, "Default Organization"
	}
	org, err := s.ensureOrg(ctx, slug, name, domain.PlanEnterprise)
	if err != nil {
		return err
	}
	email := normalizeLogin(s.set.DevUserEmail)
	var u *domain.User
	err = s.store.Write(ctx, domain.OrgScope(org.ID), func(tx domain.Tx) error {
		var err error
		u, err = tx.FindUserByEmail(email)
		if domain.IsCode(err, domain.ECodeNotFound) {
			u = &domain.User{ID: domain.NewID(domain.PrefixUser), Email: email, Username: "dev-" + org.ID[len(org.ID)-6:],
				FullName: "Development Admin", Role: domain.RoleAdmin, IsActive: true}
			if id, ok := org.Settings["default_team_id"].(string); ok {
				u.TeamID = id
			}
			now := tx.Now()
			u.EmailVerifiedAt = &now
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			tx.Audit(domain.AuditEvent{Action: "user.created", ResourceType: "user", ResourceID: u.ID, Success: true,
				Details: map[string]any{"reason": "development admin (ENABLE_AUTH=false)"}})
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	s.devPrincipal = &domain.Principal{UserID: u.ID, OrgID: org.ID, TeamID: u.TeamID, Role: domain.RoleAdmin,
		Permissions: domain.NewPermissionSet(domain.RoleAdmin, nil), Email: u.Email, Development: true}
	return nil
}

// CreateUserInput is an operator's `superagent user create`.
type CreateUserInput struct {
	OrgID    string // id or slug
	Email    string
	Username string
	FullName string
	Role     domain.Role
	Password string
}

// CreateUser creates a verified, active user for installations with sign-up
// closed (operator command, system scope).
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*domain.User, error) {
	in.Email, in.Username = normalizeLogin(in.Email), normalizeLogin(in.Username)
	if in.Username == "" {
		in.Username = Slugify(strings.SplitN(in.Email, "@", 2)[0])
	}
	errs := ValidateIdentity(in.Email, in.Username, in.FullName)
	if !domain.ValidRole(in.Role) {
		errs = append(errs, domain.FieldError{Pointer: "/role", Message: "must be admin, developer, operator or viewer"})
	}
	errs = append(errs, passwordProblem("/password", in.Password, in.Email, in.Username)...)
	if len(errs) > 0 {
		return nil, domain.Invalid("the user has problems", errs...)
	}
	var org *domain.Organization
	err := s.store.Read(ctx, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		var err error
		if org, err = q.GetOrganization(in.OrgID); domain.IsCode(err, domain.ECodeNotFound) {
			org, err = q.GetOrganizationBySlug(in.OrgID)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("organization %q: %w", in.OrgID, err)
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: in.Email, Username: in.Username, FullName: in.FullName,
		PasswordHash: hash, Role: in.Role, IsActive: true}
	err = s.store.Write(ctx, domain.OrgScope(org.ID), func(tx domain.Tx) error {
		now := tx.Now()
		u.EmailVerifiedAt = &now
		if id, ok := org.Settings["default_team_id"].(string); ok {
			u.TeamID = id
		}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		tx.Audit(domain.AuditEvent{Action: "user.created", ResourceType: "user", ResourceID: u.ID, Success: true,
			Details: map[string]any{"email": u.Email, "role": string(u.Role), "by": "operator command"}})
		return nil
	})
	return u, err
}
