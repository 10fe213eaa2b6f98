// Package storetest is the one test suite every domain.Store implementation
// must pass. Run calls it with a fresh store per test; the SQL store runs it
// against SQLite and PostgreSQL.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Opener returns a fresh, migrated, empty store.
type Opener func(t *testing.T) domain.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s domain.Store)
	}{
		{"Organizations", testOrganizations},
		{"Teams", testTeams},
		{"Users", testUsers},
		{"UserPaging", testUserPaging},
		{"TenantIsolation", testTenantIsolation},
		{"Sessions", testSessions},
		{"SessionPrincipal", testSessionPrincipal},
		{"PrincipalCheckInTransaction", testPrincipalCheckInTransaction},
		{"SingleUseTokens", testSingleUseTokens},
		{"APIKeys", testAPIKeys},
		{"RecoveryCodes", testRecoveryCodes},
		{"AuditChain", testAuditChain},
		{"AuditManyRows", testAuditManyRows},
		{"AuditRollsBackWithChange", testAuditRollsBack},
		{"AuditConcurrentWriters", testAuditConcurrent},
		{"AuditFilters", testAuditFilters},
		{"AuditRetention", testAuditRetention},
		{"SystemScopeRequired", testSystemScopeRequired},
		{"WriteBatch", testWriteBatch},
		{"FinishInBatch", testFinishInBatch},
		{"Savepoint", testSavepoint},
		{"ExecutionStarts", testExecutionStarts},
		{"StartsKeepTheAuditChain", testStartsKeepTheAuditChain},
		{"ExecutionStartsPerHour", testExecutionStartsPerHour},
		{"SaveExecution", testSaveExecution},
		{"LockAndFinishStep", testLockAndFinishStep},
		{"CreateExecutionWith", testCreateExecutionWith},
		{"Workflows", testWorkflows},
		{"WorkflowConcurrentUpdates", testWorkflowConcurrentUpdates},
		{"WorkflowFiltersAndPaging", testWorkflowFiltersAndPaging},
		{"WorkflowVersionsAndPins", testWorkflowVersionsAndPins},
		{"WorkflowQuota", testWorkflowQuota},
		{"WorkflowTeamVisibility", testWorkflowTeamVisibility},
		{"WorkflowStats", testWorkflowStats},
		{"AgentsLibrary", testAgentsLibrary},
		{"Schedules", testSchedules},
		{"WorkflowTenantIsolation", testWorkflowTenantIsolation},
		{"ProviderCredentials", testProviderCredentials},
		{"ProviderCredentialConcurrentPuts", testProviderCredentialConcurrentPuts},
		{"Usage", testUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// Fixture is an organization with a team and an admin user.
type Fixture struct {
	Org   *domain.Organization
	Team  *domain.Team
	Admin *domain.User
}

// NewFixture creates an organization named name with a team and an admin.
func NewFixture(t *testing.T, s domain.Store, name string) Fixture {
	t.Helper()
	limits, _ := domain.DefaultPlanLimits(domain.PlanFree)
	f := Fixture{
		Org:  &domain.Organization{ID: domain.NewID(domain.PrefixOrg), Name: name, Slug: name + "-" + domain.NewID("s")[2:10], Plan: domain.PlanFree, Limits: limits, IsActive: true},
		Team: &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Default"},
	}
	f.Admin = &domain.User{ID: domain.NewID(domain.PrefixUser), Email: name + "-admin-" + f.Org.ID[4:12] + "@example.com",
		Username: name + "-admin-" + f.Org.ID[4:12], Role: domain.RoleAdmin, IsActive: true, PasswordHash: "x", TeamID: f.Team.ID}
	err := s.Write(ctx, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
		if err := tx.CreateOrganization(f.Org); err != nil {
			return err
		}
		if err := tx.CreateTeam(f.Team); err != nil {
			return err
		}
		return tx.CreateUser(f.Admin)
	})
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return f
}

func mustWrite(t *testing.T, s domain.Store, scope domain.Scope, fn func(tx domain.Tx) error) {
	t.Helper()
	if err := s.Write(ctx, scope, fn); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func mustRead(t *testing.T, s domain.Store, scope domain.Scope, fn func(q domain.Queries) error) {
	t.Helper()
	if err := s.Read(ctx, scope, fn); err != nil {
		t.Fatalf("read: %v", err)
	}
}

func wantCode(t *testing.T, err error, code domain.ErrorCode) {
	t.Helper()
	if !domain.IsCode(err, code) {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func ptr[T any](v T) *T { return &v }

func sameInstant(a, b time.Time) bool {
	return a.UTC().Truncate(time.Microsecond).Equal(b.UTC().Truncate(time.Microsecond))
}
