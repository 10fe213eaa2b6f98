package domain

import "time"

// Plan is an organization's billing plan.
type Plan string

// Plans.
const (
	PlanFree       Plan = "free"
	PlanPro        Plan = "pro"
	PlanEnterprise Plan = "enterprise"
)

// PlanLimits are the quotas a plan carries.
type PlanLimits struct {
	MaxWorkflows            int `json:"max_workflows"`
	MaxAgents               int `json:"max_agents"`
	MaxTeams                int `json:"max_teams"`
	MaxExecutionsPerMonth   int `json:"max_executions_per_month"`
	MaxConcurrentExecutions int `json:"max_concurrent_executions"`
	MaxAgentsPerWorkflow    int `json:"max_agents_per_workflow"`
}

// DefaultPlanLimits returns the limits a plan starts with; the installation's
// operator can change them per organization.
func DefaultPlanLimits(p Plan) (PlanLimits, bool) {
	switch p {
	case PlanFree:
		return PlanLimits{MaxWorkflows: 10, MaxAgents: 20, MaxTeams: 3, MaxExecutionsPerMonth: 1000, MaxConcurrentExecutions: 5, MaxAgentsPerWorkflow: 20}, true
	case PlanPro:
		return PlanLimits{MaxWorkflows: 50, MaxAgents: 100, MaxTeams: 10, MaxExecutionsPerMonth: 10000, MaxConcurrentExecutions: 20, MaxAgentsPerWorkflow: 50}, true
	case PlanEnterprise:
		return PlanLimits{MaxWorkflows: 100, MaxAgents: 200, MaxTeams: 50, MaxExecutionsPerMonth: 100000, MaxConcurrentExecutions: 100, MaxAgentsPerWorkflow: 200}, true
	}
	return PlanLimits{}, false
}

// Organization is the top-level tenant.
type Organization struct {
	ID         string
	Name       string
	Slug       string
	Plan       Plan
	Limits     PlanLimits
	Settings   map[string]any
	RequireMFA bool
	IsActive   bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  *time.Time
}

// Team groups users and scopes resources inside an organization.
type Team struct {
	ID          string
	OrgID       string
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// User is a person who signs in. Users are never hard-deleted: deletion
// deactivates and anonymises, so ids in history stay valid.
type User struct {
	ID                string
	OrgID             string
	TeamID            string
	Email             string
	Username          string
	FullName          string
	PasswordHash      string
	Role              Role
	Permissions       []Permission // granted beyond the role
	IsActive          bool
	EmailVerifiedAt   *time.Time
	MFAEnabled        bool
	MFASecret         string // sealed (encrypted) TOTP secret
	MFALastStep       int64  // last accepted TOTP time step, so a code works once
	LastLogin         *time.Time
	FailedLogins      int
	FailedWindowStart *time.Time
	LockedUntil       *time.Time
	PasswordChangedAt *time.Time
	InvitedBy         string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	DeletedAt         *time.Time
}

// Pending reports whether the user was invited and has not yet set a password.
func (u *User) Pending() bool { return u.PasswordHash == "" && u.DeletedAt == nil }

// Session is one login: a refresh-token family. Revoking it ends the
// refresh tokens and the access tokens issued under it.
type Session struct {
	ID            string
	OrgID         string
	UserID        string
	CreatedAt     time.Time
	LastUsedAt    time.Time
	ExpiresAt     time.Time
	IPAddress     string
	UserAgent     string
	RevokedAt     *time.Time
	RevokedReason string
}

// Active reports whether the session can still be used at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// RefreshToken is one link of a session's rotation chain. Only its hash is stored.
type RefreshToken struct {
	ID        string
	OrgID     string
	SessionID string
	TokenHash string
	ParentID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// APIKey is a service credential. Its effective permissions are its grant
// intersected with its creator's current permissions.
type APIKey struct {
	ID          string
	OrgID       string
	CreatedBy   string
	Name        string
	Prefix      string // the first characters of the secret, for recognition
	SecretHash  string
	Role        Role
	Permissions []Permission // when set, the grant is exactly these (still capped by the creator)
	ExpiresAt   *time.Time
	LastUsedAt  *time.Time
	RevokedAt   *time.Time
	CreatedAt   time.Time
}

// TokenPurpose says what a one-time token is for.
type TokenPurpose string

// One-time token purposes.
const (
	PurposeVerifyEmail   TokenPurpose = "verify_email"
	PurposePasswordReset TokenPurpose = "password_reset"
	PurposeInvitation    TokenPurpose = "invitation"
	PurposeMFAChallenge  TokenPurpose = "mfa_challenge"
)

// OneTimeToken is a hashed, expiring, single-use token.
type OneTimeToken struct {
	ID        string
	OrgID     string
	UserID    string
	Purpose   TokenPurpose
	TokenHash string
	Data      map[string]string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// Principal is who a request acts as: a user (possibly through an API key)
// with the organization, team, role and effective permissions resolved for
// this very request.
type Principal struct {
	UserID      string
	APIKeyID    string
	SessionID   string
	OrgID       string
	TeamID      string
	Role        Role
	Permissions PermissionSet
	Email       string
	// Development is set when ENABLE_AUTH=false made this the default development admin.
	Development bool
}

// Can reports whether the principal holds p.
func (p *Principal) Can(perm Permission) bool { return p != nil && p.Permissions.Has(perm) }

// Scope returns the store scope for the principal's organization and team
// visibility: admins see their whole organization; other roles see their
// team's resources and organization-wide ones.
func (p *Principal) Scope() Scope {
	return Scope{OrgID: p.OrgID, TeamID: p.TeamID, AllTeams: p.Role == RoleAdmin}
}
