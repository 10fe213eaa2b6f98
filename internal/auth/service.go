package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/secretbox"
)

// Settings are the authentication settings the service needs.
type Settings struct {
	RefreshTTL               time.Duration
	SignupEnabled            bool
	RequireEmailVerification bool
	MultiTenancy             bool
	// AuthDisabled makes every request the development admin (ENABLE_AUTH=false).
	AuthDisabled bool
	DevUserEmail string
	PublicURL    string
	Production   bool
}

// Timing and limits of the sign-in flows.
const (
	// RefreshReuseGrace is how long after a rotation the old refresh token is
	// refused without revoking its family, so two concurrent refreshes from
	// one client yield one new pair and no lock-out.
	RefreshReuseGrace = 10 * time.Second
	// MFAChallengeTTL bounds the time between password and second factor.
	MFAChallengeTTL        = 5 * time.Minute
	VerificationTTL        = 48 * time.Hour
	PasswordResetTTL       = time.Hour
	InvitationTTL          = 7 * 24 * time.Hour
	sessionTouchGap        = time.Minute
	failureWindow          = time.Hour
	failuresBeforeLockout  = 5
	maxLockout             = 15 * time.Minute
	maxAPIKeyNameLen       = 100
	maxUserAgentLen        = 512
	singleOrgSlug          = "default"
	developmentOrgSlug     = "development"
	developmentDisplayName = "Development"
)

// Enqueuer inserts a job in the given transaction (River's InsertTx), so a
// mail is sent exactly when the change that asks for it commits.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error
}

// Service implements sign-up, sign-in, token rotation and revocation, API
// keys, MFA, e-mail verification and password reset over the store. Every
// success and failure is an audit event.
type Service struct {
	store  domain.Store
	hasher *Hasher
	tokens TokenIssuer
	box    *secretbox.Keyring
	jobs   Enqueuer
	set    Settings
	log    *slog.Logger
	now    func() time.Time
	// verified caches the claims of access tokens already checked.
	verified *verifiedTokens

	devPrincipal *domain.Principal
}

// Options configure NewService.
type Options struct {
	Store    domain.Store
	Hasher   *Hasher
	Tokens   TokenIssuer
	Keyring  *secretbox.Keyring
	Jobs     Enqueuer
	Settings Settings
	Logger   *slog.Logger
	Now      func() time.Time
}

// NewService checks the options and builds the service.
func NewService(o Options) (*Service, error) {
	if err := o.Tokens.Validate(); err != nil {
		return nil, err
	}
	if o.Store == nil || o.Hasher == nil || o.Keyring == nil {
		return nil, errors.New("auth service needs a store, a hasher and a keyring")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Settings.RefreshTTL <= 0 {
		o.Settings.RefreshTTL = 7 * 24 * time.Hour
	}
	return &Service{store: o.Store, hasher: o.Hasher, tokens: o.Tokens, box: o.Keyring, jobs: o.Jobs,
		set: o.Settings, log: o.Logger, now: o.Now, verified: newVerifiedTokens(maxVerifiedTokens)}, nil
}

// Hasher is the service's password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Meta describes the request an action comes from, for sessions and audit rows.
type Meta struct {
	IP        string
	UserAgent string
	RequestID string
}

func (m Meta) event(action string) domain.AuditEvent {
	ua := m.UserAgent
	if len(ua) > maxUserAgentLen {
		ua = ua[:maxUserAgentLen]
	}
	return domain.AuditEvent{Action: action, IPAddress: m.IP, UserAgent: ua, RequestID: m.RequestID}
}

// enqueue inserts a job when a queue is configured.
func (s *Service) enqueue(ctx context.Context, tx domain.Tx, args river.JobArgs) error {
	if s.jobs == nil {
		return nil
	}
	if err := s.jobs.InsertTx(ctx, tx.SQL(), args, nil); err != nil {
		return fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// auditFailure writes a failed attempt in its own transaction: into the
// organization's chain when the user is known, else the installation chain.
func (s *Service) auditFailure(ctx context.Context, orgID string, ev domain.AuditEvent) {
	ev.Success = false
	scope := domain.SystemScope(domain.SystemLogin)
	if orgID != "" {
		scope = domain.OrgScope(orgID)
		ev.OrgID = orgID
	} else {
		ev.OrgID = domain.InstallationOrgID
	}
	if err := s.store.Write(ctx, scope, func(tx domain.Tx) error {
		tx.Audit(ev)
		return nil
	}); err != nil {
		s.log.WarnContext(ctx, "audit failure not recorded", "action", ev.Action, "error", err)
	}
}

// permissionsOf computes a user's effective permissions now.
func permissionsOf(u *domain.User) domain.PermissionSet {
	return domain.NewPermissionSet(u.Role, u.Permissions)
}

// normalizeLogin trims and lower-cases an e-mail or username.
func normalizeLogin(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// unauthorized is the one answer for bad credentials of any kind.
func unauthorized(msg string) *domain.Error {
	return &domain.Error{Code: domain.ECodeUnauthorized, Message: msg}
}

// requireSession refuses account-security actions to API keys: changing a
// password, MFA and sessions belong to a signed-in person.
func requireSession(p *domain.Principal) error {
	if p.APIKeyID != "" || p.SessionID == "" && !p.Development {
		return domain.Errorf(domain.ECodeBadRequest, "this needs a signed-in user session, not an API key")
	}
	return nil
}
