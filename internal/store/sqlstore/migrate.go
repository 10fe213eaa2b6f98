package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations: two processes starting at once migrate one after the other.
const migrationLockKey = 7_305_112_640_001

// MigrateOptions configure Migrate.
type MigrateOptions struct {
	// AppRole is the PostgreSQL role the application connects as. When it
	// differs from the migrating (owning) role, Migrate grants it exactly
	// what it needs: DML on every table except UPDATE/DELETE on audit rows
	// and any write on audit checkpoints.
	AppRole string
	// Also runs after our migrations, under the same lock (River's schema).
	Also   func(ctx context.Context) error
	Logger *slog.Logger
}

func provider(kind string, db *sql.DB) (*goose.Provider, error) {
	dialect, dir := goose.DialectSQLite3, "migrations/sqlite"
	if kind == KindPostgres {
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
	}
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db, sub, goose.WithDisableGlobalRegistry(true))
}

// Migrate applies pending migrations to db (connected as the owning role).
func Migrate(ctx context.Context, kind string, db *sql.DB, o MigrateOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	unlock, err := lockMigrations(ctx, kind, db)
	if err != nil {
		return err
	}
	defer unlock()
	p, err := provider(kind, db)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		o.Logger.Info("migration applied", "migration", r.Source.Path, "duration", r.Duration)
	}
	if o.Also != nil {
		if err := o.Also(ctx); err != nil {
			return err
		}
	}
	if kind == KindPostgres {
		return grantAppRole(ctx, db, o.AppRole)
	}
	return nil
}

func lockMigrations(ctx context.Context, kind string, db *sql.DB) (func(), error) {
	if kind != KindPostgres {
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey)
		conn.Close()
	}, nil
}

// grantAppRole gives the application role its privileges. The audit log is
// append-only for it: no UPDATE or DELETE on audit rows, and no write at all
// on retention checkpoints, so it cannot plant one that makes verification
// skip earlier rows (retention runs through audit_prune, owned by the
// migration role).
func grantAppRole(ctx context.Context, db *sql.DB, appRole string) error {
	var owner string
	if err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&owner); err != nil {
		return fmt.Errorf("grant privileges: %w", err)
	}
	if appRole == "" || appRole == owner {
		return nil
	}
	var ident string
	if err := db.QueryRowContext(ctx, "SELECT quote_ident($1)", appRole).Scan(&ident); err != nil {
		return fmt.Errorf("grant privileges: %w", err)
	}
	stmts := appRoleGrants(ident)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("grant privileges (%s): %w", strings.SplitN(s, " TO ", 2)[0], err)
		}
	}
	return nil
}

// appRoleGrants are the statements granting ident (a quoted role name)
// the application's privileges.
func appRoleGrants(ident string) []string {
	return []string{
		"GRANT USAGE ON SCHEMA public TO " + ident,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + ident,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + ident,
		"REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM " + ident,
		"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_checkpoints FROM " + ident,
		"REVOKE ALL ON goose_db_version FROM " + ident,
		"GRANT SELECT ON goose_db_version TO " + ident,
		"GRANT EXECUTE ON FUNCTION audit_prune(timestamptz) TO " + ident,
		"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO " + ident,
		// What the owner creates later outside our migrations (a River
		// upgrade's tables, an operator's hotfix) is usable at once; the
		// next migration run applies the revocations above again.
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + ident,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO " + ident,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO " + ident,
	}
}

// GrantsTag identifies the application role's privileges, for caches of
// migrated databases (the test suite's templates) to notice a change.
func GrantsTag() string { return strings.Join(appRoleGrants("app"), ";") }

// MigrationStatus reports the applied and latest versions of our schema.
func MigrationStatus(ctx context.Context, kind string, db *sql.DB) (current, latest int64, err error) {
	p, err := provider(kind, db)
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, latest, nil
}

// MigrationFiles exposes the embedded migrations (tests hash them to name
// template databases).
func MigrationFiles() fs.FS { return migrationFiles }
