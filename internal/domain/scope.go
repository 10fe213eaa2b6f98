package domain

// Scope bounds what a store transaction can see and change. A tenant scope
// names one organization; every query it runs filters by that organization
// and, on PostgreSQL, row-level security enforces it a second time.
//
// The system scope is for the few operations that cannot belong to one
// organization: login lookup by e-mail or username, token-hash lookups, the
// scheduler's scan for due schedules, retention, audit verification across
// organizations, operator commands, and the counts the metrics endpoint
// reports. It is created only through
// SystemScope with a reason from the list below, so every use is named and
// can be found.
type Scope struct {
	OrgID string
	// TeamID and AllTeams restrict team-scoped resources: unless AllTeams,
	// only resources of TeamID and organization-wide ones (no team) are
	// visible.
	TeamID   string
	AllTeams bool

	system string
}

// System scope reasons: the complete list of cross-organization operations.
const (
	SystemLogin      = "login lookup"
	SystemTokenHash  = "token hash lookup"
	SystemScheduler  = "scheduler scan"
	SystemRetention  = "retention"
	SystemAuditCheck = "audit verification"
	SystemOperator   = "operator command"
	SystemSignup     = "sign-up"
	SystemMetrics    = "metrics"
)

// SystemScope returns the named system scope.
func SystemScope(reason string) Scope { return Scope{system: reason, AllTeams: true} }

// IsSystem reports whether s is the system scope.
func (s Scope) IsSystem() bool { return s.system != "" }

// SystemReason returns why the system scope was taken ("" for tenant scopes).
func (s Scope) SystemReason() string { return s.system }

// OrgScope returns a tenant scope that sees all of an organization's teams.
func OrgScope(orgID string) Scope { return Scope{OrgID: orgID, AllTeams: true} }

// SeesTeam reports whether a resource of teamID ("" = organization-wide) is visible.
func (s Scope) SeesTeam(teamID string) bool {
	return s.AllTeams || s.IsSystem() || teamID == "" || teamID == s.TeamID
}
