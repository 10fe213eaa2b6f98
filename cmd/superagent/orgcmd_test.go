package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// commandEnv is the environment of an operator command on db.
func commandEnv(db dbtest.DB, extra ...string) []string {
	env := []string{"PASSWORD_HASH_PROFILE=test", "DATABASE_URL=" + db.URL, "LOG_LEVEL=error"}
	if db.Kind == sqlstore.KindPostgres {
		env = append(env, "DATABASE_MIGRATE_URL="+db.OwnerDSN)
	}
	return append(env, extra...)
}

var createdOrg = regexp.MustCompile(`created organization (\S+) \(slug (\S+)\)`)

// createOrgCmd runs `org create NAME` and returns the new id and slug.
func createOrgCmd(t *testing.T, env []string, name string, flags ...string) (id, slug string) {
	t.Helper()
	out, err := runCommand(t, env, append([]string{"org", "create", name}, flags...)...)
	if err != nil {
		t.Fatalf("org create %s: %v\n%s", name, err, out)
	}
	m := createdOrg.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("org create %s printed no id: %s", name, out)
	}
	return m[1], m[2]
}

func getOrg(t *testing.T, s *sqlstore.Store, id string) (*domain.Organization, error) {
	t.Helper()
	var o *domain.Organization
	err := s.Read(context.Background(), domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		var err error
		o, err = q.GetOrganization(id)
		return err
	})
	return o, err
}

func auditActions(t *testing.T, s *sqlstore.Store, orgID string) []string {
	t.Helper()
	var actions []string
	if err := s.Read(context.Background(), domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		rows, err := q.AuditChain(orgID, 0, 1000)
		for _, r := range rows {
			actions = append(actions, r.Action)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return actions
}

// TestOrgCreateIsOffInSingleOrganizationMode: ENABLE_MULTI_TENANCY=false
// runs one organization; the operator command refuses to create another
// and writes nothing, while the default mode creates it.
func TestOrgCreateIsOffInSingleOrganizationMode(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindSQLite)
	out, err := runCommand(t, commandEnv(db, "ENABLE_MULTI_TENANCY=false"), "org", "create", "Second Org")
	if err == nil || !strings.Contains(err.Error(), "ENABLE_MULTI_TENANCY=false") {
		t.Fatalf("org create in single-organization mode: %v\n%s", err, out)
	}
	s := dbtest.Open(t, db)
	list := func() []domain.Organization {
		var orgs []domain.Organization
		if err := s.Read(context.Background(), domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
			var err error
			orgs, err = q.ListOrganizations()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return orgs
	}
	for _, o := range list() {
		if o.Name == "Second Org" {
			t.Fatalf("a refused org create stored %+v", o)
		}
	}
	id, _ := createOrgCmd(t, commandEnv(db, "ENABLE_MULTI_TENANCY=true"), "Second Org")
	if o, err := getOrg(t, s, id); err != nil || o.Name != "Second Org" {
		t.Errorf("org create with multi-tenancy: %+v %v", o, err)
	}
}

// TestOrgSetPlan: the operator sets a plan (by id or slug), which resets
// the limits to the plan's defaults, and overrides single limits; each
// change is audited; a bad plan or an unknown organization is an error
// that changes nothing.
func TestOrgSetPlan(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t, kind)
			env := commandEnv(db)
			id, slug := createOrgCmd(t, env, "Plan Co")
			s := dbtest.Open(t, db)

			out, err := runCommand(t, env, "org", "set-plan", slug, "--plan", "pro", "--max-workflows", "7", "--max-teams", "0")
			if err != nil {
				t.Fatalf("set-plan: %v\n%s", err, out)
			}
			pro, _ := domain.DefaultPlanLimits(domain.PlanPro)
			want := pro
			want.MaxWorkflows, want.MaxTeams = 7, 0
			o, err := getOrg(t, s, id)
			if err != nil {
				t.Fatal(err)
			}
			if o.Plan != domain.PlanPro || o.Limits != want {
				t.Errorf("after set-plan pro: plan %s limits %+v, want pro %+v", o.Plan, o.Limits, want)
			}
			if !strings.Contains(out, id) || !strings.Contains(out, "pro plan") {
				t.Errorf("set-plan output: %s", out)
			}

			// Overriding one limit keeps the plan and the other limits.
			if out, err := runCommand(t, env, "org", "set-plan", id, "--max-agents", "3"); err != nil {
				t.Fatalf("set-plan override: %v\n%s", err, out)
			}
			want.MaxAgents = 3
			if o, _ = getOrg(t, s, id); o.Plan != domain.PlanPro || o.Limits != want {
				t.Errorf("after --max-agents 3: plan %s limits %+v, want %+v", o.Plan, o.Limits, want)
			}

			// A plan without overrides resets every limit.
			if out, err := runCommand(t, env, "org", "set-plan", id, "--plan", "free"); err != nil {
				t.Fatalf("set-plan free: %v\n%s", err, out)
			}
			free, _ := domain.DefaultPlanLimits(domain.PlanFree)
			if o, _ = getOrg(t, s, id); o.Plan != domain.PlanFree || o.Limits != free {
				t.Errorf("after --plan free: plan %s limits %+v, want %+v", o.Plan, o.Limits, free)
			}

			if out, err := runCommand(t, env, "org", "set-plan", id, "--plan", "platinum"); err == nil || !strings.Contains(err.Error(), "--plan") {
				t.Errorf("unknown plan: %v\n%s", err, out)
			}
			if out, err := runCommand(t, env, "org", "set-plan", "no-such-org", "--plan", "pro"); err == nil || !strings.Contains(err.Error(), "no-such-org") {
				t.Errorf("unknown organization: %v\n%s", err, out)
			}
			if o, _ = getOrg(t, s, id); o.Plan != domain.PlanFree || o.Limits != free {
				t.Errorf("a refused set-plan changed the organization: %s %+v", o.Plan, o.Limits)
			}
			changes := 0
			for _, a := range auditActions(t, s, id) {
				if a == "organization.plan_changed" {
					changes++
				}
			}
			if changes != 3 {
				t.Errorf("%d organization.plan_changed audit rows, want 3: %v", changes, auditActions(t, s, id))
			}
		})
	}
}

// TestOrgDelete: `org delete` deactivates the organization at once and
// queues a purge job; a running process purges its data (users, teams,
// the organization) and its audit rows stay. Another organization is
// untouched.
func TestOrgDelete(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.New(t, kind)
			env := commandEnv(db)
			id, slug := createOrgCmd(t, env, "Doomed Co")
			otherID, otherSlug := createOrgCmd(t, env, "Survivor Co")
			for _, org := range []string{slug, otherSlug} {
				if out, err := runCommand(t, env, "user", "create", "--email", "dev-"+org+"@example.com", "--org", org, "--role", "developer"); err != nil {
					t.Fatalf("user create: %v\n%s", err, out)
				}
			}
			s := dbtest.Open(t, db)

			out, err := runCommand(t, env, "org", "delete", slug)
			if err != nil {
				t.Fatalf("org delete: %v\n%s", err, out)
			}
			if !strings.Contains(out, id+" deactivated") {
				t.Errorf("org delete output: %s", out)
			}
			o, err := getOrg(t, s, id)
			if err != nil {
				t.Fatalf("the organization is purged before any process ran the job: %v", err)
			}
			if o.IsActive || o.DeletedAt == nil {
				t.Errorf("after org delete: active %v, deleted_at %v", o.IsActive, o.DeletedAt)
			}
			var args []byte
			argsText := "args::text" // River stores arguments as jsonb on PostgreSQL, a JSONB blob on SQLite
			if kind == sqlstore.KindSQLite {
				argsText = "json(args)"
			}
			if err := s.DB().QueryRowContext(ctx, `SELECT `+argsText+` FROM river_job WHERE kind = 'superagent.purge_org'`).Scan(&args); err != nil {
				t.Fatalf("purge job: %v", err)
			}
			var job struct {
				OrgID string `json:"org_id"`
			}
			if err := json.Unmarshal(args, &job); err != nil || job.OrgID != id {
				t.Errorf("purge job arguments %s (%v), want org_id %s", args, err, id)
			}

			if out, err := runCommand(t, env, "org", "delete", "no-such-org"); err == nil || !strings.Contains(err.Error(), "no-such-org") {
				t.Errorf("delete of an unknown organization: %v\n%s", err, out)
			}

			// A running process purges the organization.
			runCtx, stop := context.WithCancel(ctx)
			var logs syncBuffer
			root := newRootCommand(strings.NewReader(""), &logs, &logs, append(env, "HOST=127.0.0.1"))
			root.SetArgs([]string{"serve", "--port", "0", "--env-file="})
			done := make(chan error, 1)
			go func() { done <- root.ExecuteContext(runCtx) }()
			deadline := time.Now().Add(60 * time.Second)
			for {
				_, err := getOrg(t, s, id)
				if domain.IsCode(err, domain.ECodeNotFound) {
					break
				}
				if time.Now().After(deadline) {
					stop()
					<-done
					t.Fatalf("organization not purged within 60s (last: %v)\n%s", err, logs.String())
				}
				select {
				case err := <-done:
					t.Fatalf("serve exited: %v\n%s", err, logs.String())
				case <-time.After(100 * time.Millisecond):
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}

			var users []domain.User
			err = s.Read(ctx, domain.OrgScope(id), func(q domain.Queries) error {
				var err error
				users, _, err = q.ListUsers(domain.UserFilter{Page: domain.Page{Limit: 100}})
				return err
			})
			if err != nil || len(users) != 0 {
				t.Errorf("users of the purged organization: %d (%v)", len(users), err)
			}
			actions := strings.Join(auditActions(t, s, id), " ")
			for _, want := range []string{"organization.created", "organization.deleted", "organization.purged"} {
				if !strings.Contains(actions, want) {
					t.Errorf("audit rows of the purged organization lack %s: %s", want, actions)
				}
			}
			if other, err := getOrg(t, s, otherID); err != nil || !other.IsActive {
				t.Errorf("the other organization: %+v %v", other, err)
			}
			err = s.Read(ctx, domain.OrgScope(otherID), func(q domain.Queries) error {
				var err error
				users, _, err = q.ListUsers(domain.UserFilter{Page: domain.Page{Limit: 100}})
				return err
			})
			if err != nil || len(users) != 1 {
				t.Errorf("users of the other organization: %d (%v)", len(users), err)
			}
		})
	}
}
