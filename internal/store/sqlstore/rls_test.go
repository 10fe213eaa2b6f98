package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// TestRowLevelSecurity proves the second wall on PostgreSQL: connected as
// the application role, SQL that forgets the tenant setting sees no tenant
// rows, and SQL with organization A's setting cannot read or write B's.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindPostgres)
	s := dbtest.Open(t, db)
	a := storetest.NewFixture(t, s, "rlsa")
	b := storetest.NewFixture(t, s, "rlsb")
	if err := s.Write(context.Background(), domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		tx.Audit(domain.AuditEvent{Action: "test.event", Success: true})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", db.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := context.Background()

	var super, bypass bool
	if err := raw.QueryRowContext(ctx, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("the application role must be neither superuser nor BYPASSRLS (super=%v bypass=%v)", super, bypass)
	}

	count := func(tx *sql.Tx, table string) int {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}

	// No setting: nothing visible.
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"organizations", "users", "teams", "audit_logs"} {
		if n := count(tx, table); n != 0 {
			t.Errorf("without the tenant setting %s shows %d rows", table, n)
		}
	}
	tx.Rollback()

	// A's setting: only A's rows, and no writes into B.
	tx, err = raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT set_config('app.org_id', $1, true)", a.Org.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(tx, "users"); n != 1 {
		t.Errorf("with A's setting users shows %d rows, want A's 1", n)
	}
	if n := count(tx, "audit_logs"); n != 1 {
		t.Errorf("with A's setting audit_logs shows %d rows, want A's 1", n)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES ('team_x', $1, 'Evil', now(), now())`, b.Org.ID)
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("inserting a row for B under A's setting: %v, want a row-level security violation", err)
	}
	tx.Rollback()

	tx, _ = raw.BeginTx(ctx, nil)
	tx.ExecContext(ctx, "SELECT set_config('app.org_id', $1, true)", a.Org.ID)
	res, err := tx.ExecContext(ctx, `UPDATE users SET full_name = 'owned' WHERE org_id = $1`, b.Org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 0 {
		t.Errorf("updated %d of B's users under A's setting", n)
	}
	tx.Rollback()

	// The audit log is append-only for the application role.
	for _, stmt := range []string{"UPDATE audit_logs SET action = 'x'", "DELETE FROM audit_logs"} {
		tx, _ = raw.BeginTx(ctx, nil)
		tx.ExecContext(ctx, "SELECT set_config('app.org_id', $1, true)", a.Org.ID)
		_, err := tx.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as the application role: %v, want permission denied", stmt, err)
		}
		tx.Rollback()
	}
}

// TestDefaultPrivileges: a table the owning role creates after the
// migrations (a River upgrade's, say) is usable by the application role
// without another grant.
func TestDefaultPrivileges(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindPostgres)
	ctx := context.Background()
	owner, err := sql.Open("pgx", db.OwnerDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if _, err := owner.ExecContext(ctx, "CREATE TABLE later_table (id bigserial PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	app, err := sql.Open("pgx", db.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.ExecContext(ctx, "INSERT INTO later_table (v) VALUES ('x')"); err != nil {
		t.Fatalf("the application role cannot write a table created later: %v", err)
	}
	var n int
	if err := app.QueryRowContext(ctx, "SELECT count(*) FROM later_table").Scan(&n); err != nil || n != 1 {
		t.Fatalf("read back: %d %v", n, err)
	}
}
