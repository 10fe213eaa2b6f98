// Package dbtest gives tests fresh, migrated databases: a SQLite file in a
// temporary directory, and on PostgreSQL a new database cloned from a
// migrated template (so each test or package starts from a clean schema in
// milliseconds and can run queue workers and concurrent transactions, which
// a rolled-back transaction could not host).
//
// PostgreSQL tests run when SUPERAGENT_TEST_DATABASE_URL names a role that
// can create roles and databases. Under CI=true a missing or unreachable
// PostgreSQL fails the test instead of skipping it.
package dbtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/pgadmin"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// Roles the PostgreSQL tests use: migrations run as OwnerRole; the
// application connects as AppRole, which is neither superuser nor BYPASSRLS,
// so row-level security applies to it.
const (
	OwnerRole = pgadmin.OwnerRole
	AppRole   = pgadmin.AppRole
)

// DB describes a fresh test database.
type DB struct {
	Kind string
	// Path is the SQLite file.
	Path string
	// AppDSN connects as the application role; OwnerDSN as the owner (PostgreSQL).
	AppDSN   string
	OwnerDSN string
	// URL is the DATABASE_URL form (sqlite://… or postgres://… as the app role).
	URL string
}

// Kinds returns the database kinds tests should cover: always SQLite, and
// PostgreSQL when configured (or required under CI).
func Kinds(t testing.TB) []string {
	kinds := []string{sqlstore.KindSQLite}
	if os.Getenv("SUPERAGENT_TEST_DATABASE_URL") != "" || os.Getenv("CI") == "true" {
		kinds = append(kinds, sqlstore.KindPostgres)
	}
	return kinds
}

// Each runs fn as a subtest per database kind with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, db DB)) {
	for _, kind := range Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			fn(t, New(t, kind))
		})
	}
}

// New returns a fresh, migrated database of the given kind, removed when
// the test ends.
func New(t testing.TB, kind string) DB {
	t.Helper()
	switch kind {
	case sqlstore.KindSQLite:
		return newSQLite(t)
	case sqlstore.KindPostgres:
		return newPostgres(t)
	}
	t.Fatalf("unknown database kind %q", kind)
	return DB{}
}

// Open opens a store on db as the application role.
func Open(t testing.TB, db DB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Kind: db.Kind, Path: db.Path, DSN: db.AppDSN, PoolSize: 10})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var sqliteTemplate struct {
	once sync.Once
	path string
	err  error
}

func newSQLite(t testing.TB) DB {
	t.Helper()
	// Migrate one file per test binary and copy it: migrating every test's
	// database would dominate the suite's run time.
	sqliteTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "superagent-sqlite-template-")
		if err != nil {
			sqliteTemplate.err = err
			return
		}
		path := filepath.Join(dir, "template.db")
		sqliteTemplate.path, sqliteTemplate.err = path, migrateSQLite(path)
	})
	if sqliteTemplate.err != nil {
		t.Fatalf("sqlite template: %v", sqliteTemplate.err)
	}
	path := filepath.Join(t.TempDir(), "superagent.db")
	b, err := os.ReadFile(sqliteTemplate.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return DB{Kind: sqlstore.KindSQLite, Path: path, URL: "sqlite://" + path}
}

func migrateSQLite(path string) error {
	ctx := context.Background()
	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path, false))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := sqlstore.Migrate(ctx, sqlstore.KindSQLite, db, sqlstore.MigrateOptions{
		Also: func(ctx context.Context) error { return queue.Migrate(ctx, sqlstore.KindSQLite, db) },
	}); err != nil {
		return err
	}
	// Fold the WAL into the main file so a plain copy is complete.
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// AdminURL returns SUPERAGENT_TEST_DATABASE_URL, failing under CI when unset
// and skipping otherwise.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SUPERAGENT_TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but SUPERAGENT_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI")
		}
		t.Skip("SUPERAGENT_TEST_DATABASE_URL not set; skipping PostgreSQL")
	}
	return u
}

var pgTemplate struct {
	mu   sync.Mutex
	name string
}

func newPostgres(t testing.TB) DB {
	t.Helper()
	adminURL := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgadmin.Open(ctx, adminURL)
	if err != nil {
		t.Fatalf("SUPERAGENT_TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close()
	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	name := pgadmin.RandomName("sa_t_")
	if err := admin.CreateDatabase(ctx, name, tmpl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgadmin.Open(ctx, adminURL)
		if err != nil {
			return
		}
		defer admin.Close()
		_ = admin.DropDatabase(ctx, name)
	})
	app := admin.DSN(AppRole, name)
	return DB{Kind: sqlstore.KindPostgres, AppDSN: app, OwnerDSN: admin.DSN(OwnerRole, name), URL: app}
}

// ensureTemplate creates (once per schema version) a migrated template
// database named after a hash of the migration files.
func ensureTemplate(ctx context.Context, admin *pgadmin.Admin) (string, error) {
	pgTemplate.mu.Lock()
	defer pgTemplate.mu.Unlock()
	if pgTemplate.name != "" {
		return pgTemplate.name, nil
	}
	name := "sa_tmpl_" + schemaHash()
	err := admin.WithLock(ctx, func(conn *sql.Conn) error {
		if err := pgadmin.EnsureRoles(ctx, conn); err != nil {
			return err
		}
		if exists, err := pgadmin.DatabaseExists(ctx, conn, name); err != nil || exists {
			return err
		}
		building := name + "_building"
		if err := pgadmin.DropDatabase(ctx, conn, building); err != nil {
			return err
		}
		if err := pgadmin.CreateDatabase(ctx, conn, building, ""); err != nil {
			return err
		}
		if err := admin.Migrate(ctx, building); err != nil {
			return fmt.Errorf("migrate template: %w", err)
		}
		return pgadmin.RenameDatabase(ctx, conn, building, name)
	})
	if err != nil {
		return "", err
	}
	pgTemplate.name = name
	return name, nil
}

func schemaHash() string {
	h := sha256.New()
	_ = fs.WalkDir(sqlstore.MigrationFiles(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(sqlstore.MigrationFiles(), path)
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	h.Write([]byte(queue.SchemaTag()))
	h.Write([]byte(sqlstore.GrantsTag()))
	return hex.EncodeToString(h.Sum(nil))[:12]
}
