package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

func testOrganizations(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "acme")
	scope := domain.OrgScope(f.Org.ID)
	mustRead(t, s, scope, func(q domain.Queries) error {
		o, err := q.GetOrganization(f.Org.ID)
		if err != nil {
			return err
		}
		if o.Name != "acme" || o.Plan != domain.PlanFree || o.Limits.MaxWorkflows != 10 || !o.IsActive {
			t.Errorf("organization = %+v", o)
		}
		if !sameInstant(o.CreatedAt, f.Org.CreatedAt) || o.CreatedAt.Location().String() != "UTC" {
			t.Errorf("created_at %v (stored %v), want the same UTC instant", o.CreatedAt, f.Org.CreatedAt)
		}
		return nil
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		o, err := tx.GetOrganization(f.Org.ID)
		if err != nil {
			return err
		}
		o.Name, o.RequireMFA = "Acme Corporation", true
		o.Settings = map[string]any{"theme": "dark", "n": 3.0}
		return tx.UpdateOrganization(o)
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		o, err := q.GetOrganization(f.Org.ID)
		if err != nil {
			return err
		}
		if o.Name != "Acme Corporation" || !o.RequireMFA || o.Settings["theme"] != "dark" || o.Settings["n"] != 3.0 {
			t.Errorf("after update: %+v", o)
		}
		return nil
	})
	// Slugs are unique across the installation.
	dup := &domain.Organization{ID: domain.NewID(domain.PrefixOrg), Name: "x", Slug: f.Org.Slug, Plan: domain.PlanFree, IsActive: true}
	err := s.Write(ctx, domain.OrgScope(dup.ID), func(tx domain.Tx) error { return tx.CreateOrganization(dup) })
	wantCode(t, err, domain.ECodeConflict)

	other := NewFixture(t, s, "globex")
	mustRead(t, s, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		orgs, err := q.ListOrganizations()
		if err != nil {
			return err
		}
		if len(orgs) != 2 {
			t.Errorf("ListOrganizations = %d orgs, want 2", len(orgs))
		}
		return nil
	})
	// Its executions, their steps and their events go with it.
	otherScope := domain.OrgScope(other.Org.ID)
	wf := NewWorkflow(t, s, otherScope, other.Admin.ID, "", "doomed")
	exe := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1,
		Status: domain.ExecutionRunning, Trigger: domain.TriggerManual, TriggeredBy: other.Admin.ID, Input: json.RawMessage(`{}`), NodesTotal: 1}
	mustWrite(t, s, otherScope, func(tx domain.Tx) error {
		exe.CreatedAt = tx.Now()
		if err := tx.CreateExecution(exe); err != nil {
			return err
		}
		if err := tx.CreateSteps([]domain.Step{{ExecutionID: exe.ID, NodeID: "a", NodeType: domain.NodeTransform, Status: domain.StepQueued}}); err != nil {
			return err
		}
		exe.EventSeq = 1
		return tx.SaveExecution(exe, []domain.ExecutionEvent{{ExecutionID: exe.ID, Seq: 1, Type: domain.EventStepStarted, NodeID: "a"}})
	})
	mustWrite(t, s, domain.SystemScope(domain.SystemOperator), func(tx domain.Tx) error {
		return tx.DeleteOrganization(other.Org.ID)
	})
	err = s.Read(ctx, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		_, err := q.GetOrganization(other.Org.ID)
		return err
	})
	wantCode(t, err, domain.ECodeNotFound)
	mustRead(t, s, otherScope, func(q domain.Queries) error {
		if _, err := q.GetStep(exe.ID, "a"); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("a step of the deleted organization: %v", err)
		}
		if evs, err := q.ListEvents(exe.ID, 0, 10); err != nil || len(evs) != 0 {
			t.Errorf("events of the deleted organization: %d, %v", len(evs), err)
		}
		return nil
	})
}

func testTeams(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "teams")
	scope := domain.OrgScope(f.Org.ID)
	sales := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Sales", Description: "closers"}
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateTeam(sales) })
	err := s.Write(ctx, scope, func(tx domain.Tx) error {
		return tx.CreateTeam(&domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Sales"})
	})
	wantCode(t, err, domain.ECodeConflict)

	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: "seller@teams.example", Username: "seller",
		Role: domain.RoleDeveloper, IsActive: true, TeamID: sales.ID}
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateUser(u) })
	mustRead(t, s, scope, func(q domain.Queries) error {
		teams, next, err := q.ListTeams(domain.Page{})
		if err != nil {
			return err
		}
		if len(teams) != 2 || next != "" {
			t.Errorf("ListTeams = %d, next %q", len(teams), next)
		}
		n, err := q.CountTeams()
		if n != 2 {
			t.Errorf("CountTeams = %d", n)
		}
		return err
	})
	// Deleting a team makes its members organization-wide.
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.DeleteTeam(sales.ID) })
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetUser(u.ID)
		if err != nil {
			return err
		}
		if got.TeamID != "" {
			t.Errorf("member's team after delete = %q", got.TeamID)
		}
		_, err = q.GetTeam(sales.ID)
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
}

func testUsers(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "users")
	scope := domain.OrgScope(f.Org.ID)
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: "Dev@Users.Example", Username: "DevOne",
		FullName: "Dev One", Role: domain.RoleDeveloper, Permissions: []domain.Permission{domain.PermAuditRead},
		IsActive: true, PasswordHash: "hash"}
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateUser(u) })

	// E-mail and username are unique installation-wide, case-insensitively.
	g := NewFixture(t, s, "usersother")
	err := s.Write(ctx, domain.OrgScope(g.Org.ID), func(tx domain.Tx) error {
		return tx.CreateUser(&domain.User{ID: domain.NewID(domain.PrefixUser), Email: "dev@users.example", Username: "x1", Role: domain.RoleViewer})
	})
	wantCode(t, err, domain.ECodeConflict)
	if err != nil && err.(*domain.Error).Message != "a user with this email already exists" {
		t.Errorf("conflict message = %q", err.(*domain.Error).Message)
	}
	err = s.Write(ctx, domain.OrgScope(g.Org.ID), func(tx domain.Tx) error {
		return tx.CreateUser(&domain.User{ID: domain.NewID(domain.PrefixUser), Email: "x2@users.example", Username: "devone", Role: domain.RoleViewer})
	})
	wantCode(t, err, domain.ECodeConflict)

	mustRead(t, s, domain.SystemScope(domain.SystemLogin), func(q domain.Queries) error {
		for _, login := range []string{"DEV@users.example", "devone", " DevOne "} {
			got, err := q.FindUserByLogin(login)
			if err != nil {
				return fmt.Errorf("login %q: %w", login, err)
			}
			if got.ID != u.ID || got.OrgID != f.Org.ID {
				t.Errorf("FindUserByLogin(%q) = %s", login, got.ID)
			}
		}
		_, err := q.FindUserByLogin("nobody")
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
	now := f.Org.CreatedAt
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		got, err := tx.GetUser(u.ID)
		if err != nil {
			return err
		}
		if len(got.Permissions) != 1 || got.Permissions[0] != domain.PermAuditRead || got.Email != "dev@users.example" {
			t.Errorf("stored user = %+v", got)
		}
		got.Role, got.FailedLogins, got.LockedUntil, got.LastLogin = domain.RoleOperator, 3, &now, &now
		got.Permissions = nil
		return tx.UpdateUser(got)
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetUser(u.ID)
		if err != nil {
			return err
		}
		if got.Role != domain.RoleOperator || got.FailedLogins != 3 || got.LockedUntil == nil || len(got.Permissions) != 0 {
			t.Errorf("after update = %+v", got)
		}
		n, err := q.CountActiveAdmins()
		if err != nil || n != 1 {
			t.Errorf("CountActiveAdmins = %d, %v", n, err)
		}
		users, _, err := q.ListUsers(domain.UserFilter{Search: "dev o"})
		if err != nil || len(users) != 1 || users[0].ID != u.ID {
			t.Errorf("search by full name = %d users, %v", len(users), err)
		}
		users, _, err = q.ListUsers(domain.UserFilter{Search: "%"})
		if err != nil || len(users) != 0 {
			t.Errorf("a %% search must match literally, got %d users, %v", len(users), err)
		}
		users, _, err = q.ListUsers(domain.UserFilter{Role: domain.RoleAdmin})
		if len(users) != 1 || users[0].ID != f.Admin.ID {
			t.Errorf("filter by role = %d users", len(users))
		}
		return err
	})
}

func testUserPaging(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "paging")
	scope := domain.OrgScope(f.Org.ID)
	for i := range 7 {
		mustWrite(t, s, scope, func(tx domain.Tx) error {
			return tx.CreateUser(&domain.User{ID: domain.NewID(domain.PrefixUser), Email: fmt.Sprintf("p%d@paging.example", i),
				Username: fmt.Sprintf("pager%d", i), Role: domain.RoleViewer, IsActive: true})
		})
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var users []domain.User
		var next string
		mustRead(t, s, scope, func(q domain.Queries) error {
			var err error
			users, next, err = q.ListUsers(domain.UserFilter{Page: domain.Page{Limit: 3, Cursor: cursor}})
			return err
		})
		pages++
		for _, u := range users {
			if seen[u.ID] {
				t.Fatalf("user %s on two pages", u.ID)
			}
			seen[u.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 8 || pages != 3 {
		t.Errorf("paged %d users over %d pages, want 8 over 3", len(seen), pages)
	}
	err := s.Read(ctx, scope, func(q domain.Queries) error {
		_, _, err := q.ListUsers(domain.UserFilter{Page: domain.Page{Cursor: "not-a-cursor!"}})
		return err
	})
	wantCode(t, err, domain.ECodeBadRequest)
}

func testTenantIsolation(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "isoa")
	b := NewFixture(t, s, "isob")
	scopeA := domain.OrgScope(a.Org.ID)
	mustRead(t, s, scopeA, func(q domain.Queries) error {
		if _, err := q.GetUser(b.Admin.ID); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("GetUser of another org: %v", err)
		}
		if _, err := q.GetTeam(b.Team.ID); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("GetTeam of another org: %v", err)
		}
		if _, err := q.GetOrganization(b.Org.ID); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("GetOrganization of another org: %v", err)
		}
		users, _, err := q.ListUsers(domain.UserFilter{})
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.OrgID != a.Org.ID {
				t.Errorf("ListUsers leaked %s of %s", u.ID, u.OrgID)
			}
		}
		return nil
	})
	// Writes through A's scope cannot touch B's rows.
	err := s.Write(ctx, scopeA, func(tx domain.Tx) error {
		victim := *b.Admin
		victim.Role = domain.RoleViewer
		return tx.UpdateUser(&victim)
	})
	wantCode(t, err, domain.ECodeNotFound)
	err = s.Write(ctx, scopeA, func(tx domain.Tx) error { return tx.DeleteTeam(b.Team.ID) })
	wantCode(t, err, domain.ECodeNotFound)
	// A user of A cannot be put into B's team: the composite foreign key refuses.
	err = s.Write(ctx, scopeA, func(tx domain.Tx) error {
		return tx.CreateUser(&domain.User{ID: domain.NewID(domain.PrefixUser), Email: "cross@iso.example", Username: "cross",
			Role: domain.RoleViewer, TeamID: b.Team.ID})
	})
	wantCode(t, err, domain.ECodeInvalid)
}

func testSystemScopeRequired(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "sysreq")
	err := s.Read(ctx, domain.OrgScope(f.Org.ID), func(q domain.Queries) error {
		_, err := q.FindUserByLogin(f.Admin.Email)
		return err
	})
	wantCode(t, err, domain.ECodeInternal)
	err = s.Read(ctx, domain.SystemScope(domain.SystemLogin), func(q domain.Queries) error {
		_, err := q.GetUser(f.Admin.ID)
		return err
	})
	wantCode(t, err, domain.ECodeInternal)
	err = s.Read(ctx, domain.Scope{}, func(q domain.Queries) error { return nil })
	wantCode(t, err, domain.ECodeInternal)
}
