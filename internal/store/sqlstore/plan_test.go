package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// TestStepQueriesSearchByExecution: the statements every hand-off runs
// against execution_steps find the execution's rows through an index on
// the execution, not by reading all of the organization's steps (which
// SQLite's planner chose through execution_steps_usage_idx before the
// execution index existed, making each step slower the longer an
// organization had run).
func TestStepQueriesSearchByExecution(t *testing.T) {
	t.Parallel()
	s := dbtest.Open(t, dbtest.New(t, sqlstore.KindSQLite))
	for _, q := range []string{
		`SELECT id FROM execution_steps WHERE org_id = 'o' AND execution_id = 'e' ORDER BY id`,
		`SELECT node_id FROM execution_steps WHERE org_id = 'o' AND execution_id = 'e' AND owner_job = 3`,
		`UPDATE execution_steps SET status = 'queued' WHERE org_id = 'o' AND execution_id = 'e' AND node_id IN ('a', 'b')`,
		`UPDATE execution_steps SET owner_job = 0 WHERE org_id = 'o' AND execution_id = 'e' AND node_id = 'a'`,
	} {
		rows, err := s.DB().Query(`EXPLAIN QUERY PLAN ` + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "execution_id=?") {
			t.Errorf("%s\nplan: %s\nwant a search on execution_id", q, got)
		}
	}
}

// TestTransactionsRunGenericPlans: on PostgreSQL every scoped transaction
// runs its prepared statements on their generic plans, set by the
// statement that sets the tenant scope, so a statement is planned once per
// connection rather than on every call; outside the store's transactions
// the server's setting is untouched.
func TestTransactionsRunGenericPlans(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindPostgres)
	s := dbtest.Open(t, db)
	ctx := context.Background()
	f := storetest.NewFixture(t, s, "plans")
	scope := domain.OrgScope(f.Org.ID)
	sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.Write(ctx, scope, func(tx domain.Tx) error { return tx.CreateSession(sess) }); err != nil {
		t.Fatal(err)
	}
	read, write, err := s.Settings(ctx, scope, "plan_cache_mode")
	if err != nil {
		t.Fatal(err)
	}
	// A GET's first transaction sets its scope in the statement that
	// confirms the request's principal.
	check := domain.NewPrincipalCheck(f.Org.ID, f.Admin.ID, sess.ID, func(*domain.User, *domain.Session, *domain.Organization) (*domain.Principal, error) {
		return &domain.Principal{}, nil
	})
	checked, _, err := s.Settings(domain.WithPrincipalCheck(ctx, check), scope, "plan_cache_mode")
	if err != nil {
		t.Fatal(err)
	}
	if settled, _, _ := check.Settled(); !settled {
		t.Fatal("the read did not settle the principal check")
	}
	for name, got := range map[string]string{"read": read, "write": write, "read confirming a principal": checked} {
		if got != "force_generic_plan" {
			t.Errorf("plan_cache_mode in a %s: %q, want force_generic_plan", name, got)
		}
	}
	var outside string
	if err := s.DB().QueryRowContext(ctx, "SELECT current_setting('plan_cache_mode')").Scan(&outside); err != nil {
		t.Fatal(err)
	}
	if outside != "auto" {
		t.Errorf("plan_cache_mode outside a transaction: %q, want the server's auto", outside)
	}
}
