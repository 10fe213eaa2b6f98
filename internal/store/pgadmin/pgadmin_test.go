package pgadmin_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/pgadmin"
)

// TestCreateMigrateDrop prepares a database the way `superagent bench`
// does and checks that the application role sees a migrated schema under
// row-level security, then that the database is gone after the drop.
func TestCreateMigrateDrop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgadmin.Open(ctx, dbtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := pgadmin.RandomName("sa_t_")
	if err := admin.CreateDatabase(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.DropDatabase(context.Background(), name) })
	if err := admin.Migrate(ctx, name); err != nil {
		t.Fatal(err)
	}

	app, err := sql.Open("pgx", admin.DSN(pgadmin.AppRole, name))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var user string
	var super, bypass bool
	if err := app.QueryRowContext(ctx, "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").
		Scan(&user, &super, &bypass); err != nil {
		t.Fatal(err)
	}
	if user != pgadmin.AppRole || super || bypass {
		t.Fatalf("connected as %s (superuser %v, bypassrls %v); want %s subject to row-level security", user, super, bypass, pgadmin.AppRole)
	}
	var orgs, jobs int
	if err := app.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM river_job)").Scan(&orgs, &jobs); err != nil {
		t.Fatalf("the application role cannot read the migrated schema: %v", err)
	}
	app.Close()

	if err := admin.DropDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	if exists, err := pgadmin.DatabaseExists(ctx, admin.DB(), name); err != nil || exists {
		t.Fatalf("database still exists after drop (err %v)", err)
	}
}

func TestNamesAreCheckedBeforeDDL(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "Upper", "x; DROP DATABASE postgres", "1abc", "a-b"} {
		if err := pgadmin.CreateDatabase(context.Background(), nil, name, ""); err == nil {
			t.Errorf("CreateDatabase accepted %q", name)
		}
		if err := pgadmin.DropDatabase(context.Background(), nil, name); err == nil {
			t.Errorf("DropDatabase accepted %q", name)
		}
	}
}

func TestWithUserAndDB(t *testing.T) {
	t.Parallel()
	got := pgadmin.WithUserAndDB("postgres://postgres:secret@127.0.0.1:5432/postgres?sslmode=disable", "superagent_app", "sa_bench_1")
	if want := "postgres://superagent_app@127.0.0.1:5432/sa_bench_1?sslmode=disable"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
