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
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// Roles the PostgreSQL tests use: migrations run as OwnerRole; the
// application connects as AppRole, which is neither superuser nor BYPASSRLS,
// so row-level security applies to it.
const (
	OwnerRole = "superagent_owner"
	AppRole   = "superagent_app"
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
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminDB, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer adminDB.Close()
	if err := adminDB.PingContext(ctx); err != nil {
		t.Fatalf("postgres at SUPERAGENT_TEST_DATABASE_URL is unreachable: %v", err)
	}
	tmpl, err := ensureTemplate(ctx, adminDB, admin)
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	name := "sa_t_" + randomSuffix()
	if err := withLock(ctx, adminDB, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", name, tmpl, OwnerRole))
		return err
	}); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	app := withUserAndDB(admin, AppRole, name)
	return DB{Kind: sqlstore.KindPostgres, AppDSN: app, OwnerDSN: withUserAndDB(admin, OwnerRole, name), URL: app}
}

// ensureTemplate creates (once per schema version) a migrated template
// database named after a hash of the migration files.
func ensureTemplate(ctx context.Context, adminDB *sql.DB, admin string) (string, error) {
	pgTemplate.mu.Lock()
	defer pgTemplate.mu.Unlock()
	if pgTemplate.name != "" {
		return pgTemplate.name, nil
	}
	name := "sa_tmpl_" + schemaHash()
	err := withLock(ctx, adminDB, func(conn *sql.Conn) error {
		if err := ensureRoles(ctx, conn); err != nil {
			return err
		}
		var exists bool
		if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		building := name + "_building"
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", building, OwnerRole)); err != nil {
			return err
		}
		ownerDB, err := sql.Open("pgx", withUserAndDB(admin, OwnerRole, building))
		if err != nil {
			return err
		}
		err = sqlstore.Migrate(ctx, sqlstore.KindPostgres, ownerDB, sqlstore.MigrateOptions{
			AppRole: AppRole,
			Also:    func(ctx context.Context) error { return queue.Migrate(ctx, sqlstore.KindPostgres, ownerDB) },
		})
		ownerDB.Close()
		if err != nil {
			return fmt.Errorf("migrate template: %w", err)
		}
		_, err = conn.ExecContext(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name))
		return err
	})
	if err != nil {
		return "", err
	}
	pgTemplate.name = name
	return name, nil
}

// EnsureRoles creates the owner and application roles when missing.
func ensureRoles(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+OwnerRole+`') THEN
			CREATE ROLE `+OwnerRole+` LOGIN NOSUPERUSER NOBYPASSRLS;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+AppRole+`') THEN
			CREATE ROLE `+AppRole+` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
		END IF;
	END $$`)
	return err
}

// withLock serialises template and database creation across test binaries
// (CREATE DATABASE … TEMPLATE fails while another session copies the template).
func withLock(ctx context.Context, db *sql.DB, fn func(*sql.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7305112640099)"); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(7305112640099)") //nolint:errcheck
	return fn(conn)
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
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func withUserAndDB(raw, user, dbname string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = url.User(user)
	u.Path = "/" + dbname
	return u.String()
}
