package main

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/pgadmin"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	out, err := runCommand(t, nil, "version")
	if err != nil || out != "superagent "+version+"\n" {
		t.Errorf("version = %q, %v; want %q", out, err, "superagent "+version+"\n")
	}
	if out, err := runCommand(t, nil, "version", "extra"); err == nil {
		t.Errorf("version with an argument: %q", out)
	}
}

var statusLine = regexp.MustCompile(`(?m)^(schema|job queue):\s+version (\d+) of (\d+) \((current|pending)\)$`)

// migrationStatus parses `migrate status|up` output into "schema" and
// "job queue" states, failing unless both lines are there.
func migrationStatus(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, m := range statusLine.FindAllStringSubmatch(out, -1) {
		state := m[4]
		if (m[2] == m[3]) != (state == "current") {
			t.Errorf("inconsistent status line %q", m[0])
		}
		got[m[1]] = state
	}
	if len(got) != 2 {
		t.Fatalf("status output lacks the schema or job queue line:\n%s", out)
	}
	return got
}

// TestMigrateUpAndStatus: on an empty database `migrate status` reports
// both schemas pending and applies nothing; `migrate up` applies ours and
// the job queue's, after which status reports both current; a second `up`
// is a no-op. On PostgreSQL migrations run as the owner
// (DATABASE_MIGRATE_URL) and the application role can then use the tables.
func TestMigrateUpAndStatus(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var env []string
			redacted := ""
			switch kind {
			case sqlstore.KindSQLite:
				path := filepath.Join(t.TempDir(), "fresh.db")
				env = []string{"DATABASE_URL=sqlite://" + path, "LOG_LEVEL=error"}
				redacted = path
			case sqlstore.KindPostgres:
				app, owner := emptyPostgres(t)
				env = []string{"DATABASE_URL=" + app, "DATABASE_MIGRATE_URL=" + owner, "LOG_LEVEL=error"}
				redacted = dbtest.OwnerRole + "@" // status reads as the migration role
			}
			out, err := runCommand(t, env, "migrate", "status")
			if err != nil {
				t.Fatalf("status on an empty database: %v\n%s", err, out)
			}
			if st := migrationStatus(t, out); st["schema"] != "pending" || st["job queue"] != "pending" {
				t.Errorf("status before up: %v\n%s", st, out)
			}
			if !strings.Contains(out, redacted) {
				t.Errorf("status does not name the database (%s):\n%s", redacted, out)
			}
			out, err = runCommand(t, env, "migrate", "status")
			if err != nil || migrationStatus(t, out)["schema"] != "pending" {
				t.Errorf("status applied migrations: %v\n%s", err, out)
			}

			for i := 0; i < 2; i++ {
				out, err = runCommand(t, env, "migrate", "up")
				if err != nil {
					t.Fatalf("migrate up #%d: %v\n%s", i+1, err, out)
				}
				if st := migrationStatus(t, out); st["schema"] != "current" || st["job queue"] != "current" {
					t.Errorf("after up #%d: %v\n%s", i+1, st, out)
				}
			}
			out, err = runCommand(t, env, "migrate", "status")
			if err != nil {
				t.Fatal(err)
			}
			if st := migrationStatus(t, out); st["schema"] != "current" || st["job queue"] != "current" {
				t.Errorf("status after up: %v\n%s", st, out)
			}
			// The migrated database serves operator commands.
			if out, err := runCommand(t, env, "org", "create", "Migrated Co"); err != nil {
				t.Errorf("org create after migrate up: %v\n%s", err, out)
			}
		})
	}
}

// emptyPostgres creates an empty database owned by the owner role and
// returns the application and owner DSNs.
func emptyPostgres(t *testing.T) (app, owner string) {
	t.Helper()
	ctx := context.Background()
	adminURL := dbtest.AdminURL(t)
	admin, err := pgadmin.Open(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	name := pgadmin.RandomName("sa_t_")
	if err := admin.CreateDatabase(ctx, name, ""); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.DropDatabase(context.Background(), name)
		admin.Close()
	})
	return admin.DSN(dbtest.AppRole, name), admin.DSN(dbtest.OwnerRole, name)
}

// TestProductionRefusesRoleThatBypassesRowLevelSecurity: in production,
// start-up refuses a PostgreSQL connection as a superuser or as a role
// with BYPASSRLS (either would skip row-level security), naming
// DATABASE_URL; the application role starts. Outside production the same
// superuser connection starts with a warning.
func TestProductionRefusesRoleThatBypassesRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t, sqlstore.KindPostgres)
	adminURL := dbtest.AdminURL(t)
	u, err := url.Parse(db.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var superUser string
	var isSuper bool
	if err := admin.QueryRowContext(ctx, `SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&superUser, &isSuper); err != nil {
		t.Fatal(err)
	}
	if !isSuper {
		t.Fatalf("SUPERAGENT_TEST_DATABASE_URL connects as %s, which is not a superuser", superUser)
	}
	bypass := pgadmin.RandomName("sa_bypass_")
	if _, err := admin.ExecContext(ctx, `CREATE ROLE `+bypass+` LOGIN NOSUPERUSER BYPASSRLS`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), `DROP ROLE IF EXISTS `+bypass) })

	production := []string{"ENVIRONMENT=production", "SECRET_KEY=" + strings.Repeat("s", 40), "ENCRYPTION_KEYS=k1:" + strings.Repeat("A", 43) + "=",
		"SMTP_HOST=mail.example.com", "DATABASE_MIGRATE_URL=" + db.OwnerDSN, "LOG_LEVEL=error"}
	open := func(dsn string, env []string) (string, error) {
		cfg, err := config.Load(append(env, "DATABASE_URL="+dsn), "")
		if err != nil {
			t.Fatalf("configuration: %v", err)
		}
		var logs syncBuffer
		a, err := openApp(ctx, cfg, &logs, role{})
		if err == nil {
			a.Close()
		}
		return logs.String(), err
	}
	for name, dsn := range map[string]string{
		"superuser": pgadmin.WithUserAndDB(adminURL, superUser, dbName),
		"bypassrls": pgadmin.WithUserAndDB(adminURL, bypass, dbName),
	} {
		_, err := open(dsn, production)
		var se *config.SettingError
		if !errorsAs(err, &se) || se.Setting != "DATABASE_URL" || !strings.Contains(se.Problem, "row-level security") {
			t.Errorf("production start as the %s role: %v, want a DATABASE_URL error about row-level security", name, err)
		}
	}
	if _, err := open(db.AppDSN, production); err != nil {
		t.Errorf("production start as the application role: %v", err)
	}
	logs, err := open(pgadmin.WithUserAndDB(adminURL, superUser, dbName), []string{"LOG_LEVEL=warn"})
	if err != nil || !strings.Contains(logs, "bypasses row-level security") {
		t.Errorf("development start as a superuser: %v, logs:\n%s", err, logs)
	}
}
