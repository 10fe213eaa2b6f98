package domain

import (
	"context"
	"database/sql"
	"time"
)

// Store is the persistence boundary. Every method that touches tenant data
// runs inside a Read or Write bound to a Scope, so no query can forget its
// organization. There is one implementation over SQLite and PostgreSQL, and
// one test suite (storetest) that runs against both.
type Store interface {
	// Read runs fn in a read-only transaction bound to scope.
	Read(ctx context.Context, scope Scope, fn func(q Queries) error) error
	// Write runs fn in one read-write transaction bound to scope. Audit
	// events recorded with tx.Audit are appended to their hash chains as the
	// last step before commit, so a change and its audit rows commit or roll
	// back together. fn must not do slow work (hashing, network, waiting):
	// on SQLite the writer is a single connection.
	Write(ctx context.Context, scope Scope, fn func(tx Tx) error) error
	// WriteBatch runs several writes in one transaction, each in its own
	// scope: a write that fails is rolled back alone and its error set in
	// its item; the rest commit together (one commit for many step
	// completions). Items run in the order given.
	WriteBatch(ctx context.Context, items []BatchItem) error
	// SessionPrincipal loads what authenticating an access token needs —
	// the user, the session and the organization, in orgID's scope — in
	// one statement outside any transaction: every request pays for it.
	// ErrNotFound when any of them is missing.
	SessionPrincipal(ctx context.Context, orgID, userID, sessionID string) (*User, *Session, *Organization, error)
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// Kind is "sqlite" or "postgres".
	Kind() string
	Close() error
}

// BatchItem is one write of a WriteBatch. Fn may run more than once, each
// time in a fresh transaction (WriteBatch runs the batch again when an
// item fails), so it must start from scratch whatever it computes.
type BatchItem struct {
	Scope Scope
	Fn    func(tx Tx) error
	// Finish, when set, is the step completion Fn starts with: Fn's first
	// write is tx.LockAndFinishStep(Finish.Step, Finish.Edges,
	// Finish.Progress), with these very values. WriteBatch may then run
	// the completions of several items in one statement before their Fns
	// run, and each Fn's call returns what that statement did for it.
	Finish *FinishCall
	// Err is the item's outcome, set by WriteBatch.
	Err error
}

// FinishCall is the arguments of one LockAndFinishStep.
type FinishCall struct {
	Step     *Step
	Edges    []EdgeResolution
	Progress *StepProgress
}

// Tx is a read-write transaction.
type Tx interface {
	Queries
	// Audit queues an audit event to be chained and inserted just before commit.
	Audit(ev AuditEvent)
	// SQL exposes the transaction so the job queue can insert jobs that
	// commit with it (River's InsertTx, JobCompleteTx).
	SQL() *sql.Tx
	// AfterCommit registers fn to run once the transaction has committed.
	AfterCommit(fn func())
	// Savepoint runs fn in a savepoint: when fn returns an error, what it
	// wrote (and the audit events and AfterCommit functions it queued) is
	// undone, the transaction goes on, and the error is returned.
	Savepoint(fn func() error) error
	// Now is the transaction's clock reading (UTC, microseconds), shared by
	// every row it writes.
	Now() time.Time
}

// Queries are the operations available in a transaction, grouped by area.
type Queries interface {
	OrgQueries
	UserQueries
	AuthQueries
	AuditQueries
	WorkflowQueries
	AgentQueries
	ScheduleQueries
	ExecutionQueries
	EngineQueries
	CredentialQueries
	UsageQueries
	MonitoringQueries
}

// Page asks for one page of a list. Cursor is opaque, from a previous page.
type Page struct {
	Limit  int
	Cursor string
}

// Page size bounds shared by every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Normalize clamps the page size.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageSize
	}
	if p.Limit > MaxPageSize {
		p.Limit = MaxPageSize
	}
	return p
}

// OrgQueries manage organizations and teams.
type OrgQueries interface {
	CreateOrganization(o *Organization) error
	// GetOrganization returns the organization; in a tenant scope only the
	// scope's own (any other id is ErrNotFound).
	GetOrganization(id string) (*Organization, error)
	UpdateOrganization(o *Organization) error
	// GetOrganizationBySlug finds an organization by slug (system scope only).
	GetOrganizationBySlug(slug string) (*Organization, error)
	// ListOrganizations lists every organization (system scope only).
	ListOrganizations() ([]Organization, error)
	// DeleteOrganization removes the organization and, by cascade, its data
	// (system scope only). Audit rows stay.
	DeleteOrganization(id string) error

	CreateTeam(t *Team) error
	GetTeam(id string) (*Team, error)
	ListTeams(p Page) ([]Team, string, error)
	UpdateTeam(t *Team) error
	// DeleteTeam deletes the team; its users and resources become organization-wide.
	DeleteTeam(id string) error
	CountTeams() (int, error)
}

// UserFilter selects users for listing.
type UserFilter struct {
	TeamID   string
	Role     Role
	Active   *bool
	Search   string // substring of email, username or full name
	Page     Page
	Deleted  bool // include deleted users
	Verified *bool
}

// UserQueries manage users.
type UserQueries interface {
	CreateUser(u *User) error
	GetUser(id string) (*User, error)
	// FindUserByLogin finds an active or inactive user by e-mail or username,
	// case-insensitively (system scope: sign-in has no organization yet).
	FindUserByLogin(login string) (*User, error)
	// FindUserByEmail finds a user by e-mail in the current scope.
	FindUserByEmail(email string) (*User, error)
	ListUsers(f UserFilter) ([]User, string, error)
	// UpdateUser writes every mutable field of u.
	UpdateUser(u *User) error
	// CountActiveAdmins counts the organization's active admins.
	CountActiveAdmins() (int, error)
	// CountUsers counts the organization's users that are not deleted.
	CountUsers() (int, error)
	// RecordLoginFailure counts a failed sign-in atomically: the count
	// restarts when the last window began more than window ago. It returns
	// the failures in the current window.
	RecordLoginFailure(userID string, at time.Time, window time.Duration) (int, error)
	// LockUser sets (or clears, with nil) the time until which sign-in is refused.
	LockUser(userID string, until *time.Time) error
	// RecordLoginSuccess clears failures and lockout and sets last_login.
	RecordLoginSuccess(userID string, at time.Time) error
}

// AuthQueries manage sessions, refresh tokens, API keys, one-time tokens and
// MFA recovery codes.
type AuthQueries interface {
	CreateSession(s *Session) error
	GetSession(id string) (*Session, error)
	// ListSessions returns one page of a user's active sessions, newest
	// first, and the cursor of the next page ("" after the last).
	ListSessions(userID string, p Page) ([]Session, string, error)
	// TouchSession records use; it writes only when the stored value is older than minGap.
	TouchSession(id string, at time.Time, minGap time.Duration) error
	RevokeSession(id, reason string, at time.Time) error
	// RevokeUserSessions revokes every active session of a user and returns how many.
	RevokeUserSessions(userID, reason string, at time.Time) (int, error)

	CreateRefreshToken(t *RefreshToken) error
	// GetRefreshTokenByHash finds a refresh token (system scope).
	GetRefreshTokenByHash(hash string) (*RefreshToken, error)
	// UseRefreshToken marks the token used; false when it already was.
	UseRefreshToken(id string, at time.Time) (bool, error)

	CreateAPIKey(k *APIKey) error
	GetAPIKey(id string) (*APIKey, error)
	// GetAPIKeyByHash finds an API key (system scope).
	GetAPIKeyByHash(hash string) (*APIKey, error)
	ListAPIKeys(p Page) ([]APIKey, string, error)
	RevokeAPIKey(id string, at time.Time) error
	TouchAPIKey(id string, at time.Time, minGap time.Duration) error

	CreateOneTimeToken(t *OneTimeToken) error
	// GetOneTimeTokenByHash finds a one-time token (system scope).
	GetOneTimeTokenByHash(hash string) (*OneTimeToken, error)
	// UseOneTimeToken marks the token used; false when it already was.
	UseOneTimeToken(id string, at time.Time) (bool, error)
	// InvalidateOneTimeTokens marks every unused token of the user and purpose used.
	InvalidateOneTimeTokens(userID string, purpose TokenPurpose, at time.Time) error

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores new hashes.
	ReplaceRecoveryCodes(userID string, hashes []string, at time.Time) error
	// UseRecoveryCode marks the matching unused code used; false when none matches.
	UseRecoveryCode(userID, hash string, at time.Time) (bool, error)
	CountRecoveryCodes(userID string) (int, error)
}

// AuditQueries read the audit log. Writing goes through Tx.Audit.
type AuditQueries interface {
	// ListAudit returns the scope organization's rows, newest first.
	ListAudit(f AuditFilter) ([]AuditEvent, error)
	// AuditChain returns up to limit rows of an organization's chain with
	// seq > afterSeq in ascending order (system scope may read any chain,
	// including the installation chain).
	AuditChain(orgID string, afterSeq int64, limit int) ([]AuditEvent, error)
	// AuditCheckpoint returns the retention checkpoint (seq 0 and "" when none).
	AuditCheckpoint(orgID string) (seq int64, hash string, err error)
	// AuditHead returns the recorded head of a chain (0 and "" when empty).
	AuditHead(orgID string) (seq int64, hash string, err error)
	// AuditChainOrgs lists organizations that have audit chains (system scope).
	AuditChainOrgs() ([]string, error)
	// PruneAudit removes rows older than cutoff, recording checkpoints (system scope).
	PruneAudit(cutoff time.Time) (int64, error)
}
