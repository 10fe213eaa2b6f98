package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// runCommand runs the CLI in-process with exactly the given environment
// and no .env file, and returns its standard output and error.
func runCommand(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	var errOut syncBuffer // background goroutines of the command may log late
	root := newRootCommand(strings.NewReader(""), &out, &errOut, env)
	root.SetArgs(append(args, "--env-file="))
	err := root.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

// syncBuffer is a buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSeedDemo runs `seed --demo` twice on each database: the first run
// creates the demo organization, its teams and users, two workflows
// published to dev and one successful execution of each, run by the engine
// through the queue; the second creates nothing and says what exists.
// admin@acme.com then signs in through the authentication service, and the
// audit chain holds one operator-command row per thing created.
func TestSeedDemo(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.New(t, kind)
			env := []string{"PASSWORD_HASH_PROFILE=test", "DATABASE_URL=" + db.URL, "LOG_LEVEL=error"}
			if kind == sqlstore.KindPostgres {
				env = append(env, "DATABASE_MIGRATE_URL="+db.OwnerDSN)
			}

			first, err := runCommand(t, env, "seed", "--demo")
			if err != nil {
				t.Fatalf("first seed: %v\n%s", err, first)
			}
			for _, want := range []string{
				"created  organization Acme Corporation", "slug acme, enterprise plan: 100 workflows, 200 agents, 10000 executions a month",
				"created  team Sales", "created  team Engineering", "created  team Operations",
				"created  user admin@acme.com (admin, whole organization)", "created  user dev@acme.com (developer, Engineering team)",
				"created  user ops@acme.com (operator, Operations team)", "created  user sales@acme.com (developer, Sales team)",
				"created  workflow Customer support triage", "created  workflow Research summary", "version 1 published to dev",
				"of Customer support triage: succeeded", "of Research summary: succeeded",
				"- admin@acme.com / admin123 (Admin)", "- dev@acme.com / dev123 (Developer)", "- ops@acme.com / ops123 (Operator)",
				"- sales@acme.com / sales123 (Sales Developer)", "the password policy guards the",
				"Demo data ready: 12 created, 0 already there.",
			} {
				if !strings.Contains(first, want) {
					t.Errorf("first run lacks %q:\n%s", want, first)
				}
			}

			second, err := runCommand(t, env, "seed", "--demo")
			if err != nil {
				t.Fatalf("second seed: %v\n%s", err, second)
			}
			if strings.Contains(second, "created ") || !strings.Contains(second, "Demo data ready: 0 created, 12 already there.") ||
				!strings.Contains(second, "exists   workflow Research summary") || !strings.Contains(second, "exists   user sales@acme.com") {
				t.Errorf("second run:\n%s", second)
			}

			s := dbtest.Open(t, db)
			var org *domain.Organization
			if err := s.Read(ctx, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
				var err error
				org, err = q.GetOrganizationBySlug("acme")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if org.Name != "Acme Corporation" || org.Plan != domain.PlanEnterprise || org.Limits.MaxWorkflows != 100 ||
				org.Limits.MaxAgents != 200 || org.Limits.MaxExecutionsPerMonth != 10000 {
				t.Errorf("organization %+v", org)
			}
			checkSeededOrg(t, s, org)

			cfg, err := config.Load(env, "")
			if err != nil {
				t.Fatal(err)
			}
			box, err := keyring(cfg)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := newAuthService(ctx, cfg, s, box, nil, newLogger(cfg, io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			pair, err := svc.Login(ctx, "admin@acme.com", "admin123", auth.Meta{IP: "127.0.0.1"})
			if err != nil {
				t.Fatalf("admin@acme.com cannot sign in: %v", err)
			}
			if pair.AccessToken == "" || pair.User.OrgID != org.ID || pair.User.Role != domain.RoleAdmin {
				t.Errorf("sign-in: %+v", pair.User)
			}
			if _, err := svc.Login(ctx, "sales@acme.com", "admin123", auth.Meta{IP: "127.0.0.1"}); err == nil {
				t.Error("sales@acme.com signed in with another user's password")
			}
		})
	}
}

// checkSeededOrg checks what the seed left in the organization: exactly
// three teams, four users in their teams, two active workflows pinned to
// dev, one succeeded execution each with its output, and one audit row
// by the operator command for each thing created.
func checkSeededOrg(t *testing.T, s domain.Store, org *domain.Organization) {
	t.Helper()
	ctx := context.Background()
	err := s.Read(ctx, domain.OrgScope(org.ID), func(q domain.Queries) error {
		teams, _, err := q.ListTeams(domain.Page{Limit: 50})
		if err != nil {
			return err
		}
		teamName := map[string]string{}
		for _, tm := range teams {
			teamName[tm.ID] = tm.Name
		}
		if len(teams) != 3 {
			t.Errorf("%d teams: %v", len(teams), teamName)
		}
		users, _, err := q.ListUsers(domain.UserFilter{Page: domain.Page{Limit: 50}})
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, u := range users {
			got[u.Email] = string(u.Role) + "/" + teamName[u.TeamID]
			if !u.IsActive || u.EmailVerifiedAt == nil {
				t.Errorf("%s is not active and verified", u.Email)
			}
		}
		want := map[string]string{"admin@acme.com": "admin/", "dev@acme.com": "developer/Engineering",
			"ops@acme.com": "operator/Operations", "sales@acme.com": "developer/Sales"}
		if len(got) != len(want) {
			t.Errorf("users %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("user %s is %q, want %q", k, got[k], v)
			}
		}
		wfs, _, err := q.ListWorkflows(domain.WorkflowFilter{Environment: domain.EnvDev, Page: domain.Page{Limit: 50}})
		if err != nil {
			return err
		}
		if len(wfs) != 2 {
			t.Errorf("%d workflows published to dev, want 2", len(wfs))
		}
		exes, _, err := q.ListExecutions(domain.ExecutionFilter{Page: domain.Page{Limit: 50}})
		if err != nil {
			return err
		}
		if len(exes) != 2 {
			t.Errorf("%d executions, want 2", len(exes))
		}
		outputs := map[string]map[string]any{}
		for _, e := range exes {
			var out map[string]any
			if e.Status != domain.ExecutionSucceeded || json.Unmarshal(e.Output, &out) != nil {
				t.Errorf("execution %s: %s %s %s", e.ID, e.Status, e.Output, e.Error)
			}
			steps, err := q.ListSteps(e.ID)
			if err != nil {
				return err
			}
			outputs[string(e.Output)] = out
			for _, st := range steps {
				if !st.Status.Final() {
					t.Errorf("execution %s step %s is %s", e.ID, st.NodeID, st.Status)
				}
			}
		}
		foundTriage, foundResearch := false, false
		for _, out := range outputs {
			foundTriage = foundTriage || (out["category"] == "billing" && strings.Contains(toString(out["reply"]), "billing case"))
			foundResearch = foundResearch || (out["topic"] == "AI-assisted customer support" && strings.Contains(toString(out["summary"]), "pilot"))
		}
		if !foundTriage || !foundResearch {
			t.Errorf("outputs %v: want the billing route's reply and the research summary", outputs)
		}
		rows, err := q.ListAudit(domain.AuditFilter{Limit: 200})
		if err != nil {
			return err
		}
		actions := map[string]int{}
		for _, r := range rows {
			if r.Details["by"] == "operator command" {
				actions[r.Action]++
			}
		}
		wantActions := map[string]int{"organization.created": 1, "team.created": 3, "user.created": 4, "workflow.created": 2, "workflow.published": 2}
		for a, n := range wantActions {
			if actions[a] != n {
				t.Errorf("%d %s rows by the operator command, want %d (all: %v)", actions[a], a, n, actions)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if brk, _ := storetest.VerifyChain(t, s, org.ID); brk != nil {
		t.Errorf("the audit chain is broken: %+v", brk)
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

// TestSeedIsRefusedInProduction: the demo's published passwords never
// reach a production database; without --demo nothing is seeded.
func TestSeedIsRefusedInProduction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "prod.db")
	prod := []string{"ENVIRONMENT=production", "SECRET_KEY=" + strings.Repeat("s", 40), "ENCRYPTION_KEYS=k1:x",
		"SMTP_HOST=mail.example.com", "DATABASE_URL=sqlite://" + dbPath}
	out, err := runCommand(t, prod, "seed", "--demo")
	if err == nil || !strings.Contains(err.Error(), "refused when ENVIRONMENT=production") {
		t.Errorf("seed in production: %v %s", err, out)
	}
	if _, statErr := os.Stat(dbPath); statErr == nil {
		t.Error("a refused seed touched the database")
	}
	out, err = runCommand(t, []string{"DATABASE_URL=sqlite://" + filepath.Join(dir, "dev.db")}, "seed")
	if err == nil || !strings.Contains(err.Error(), "--demo") {
		t.Errorf("seed without --demo: %v %s", err, out)
	}
}
