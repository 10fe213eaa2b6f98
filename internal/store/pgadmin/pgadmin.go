// Package pgadmin prepares PostgreSQL databases for Super Agent from a
// connection of a role that may create roles and databases: it creates the
// owner and application roles, creates databases owned by the owner (empty
// or cloned from a template), migrates them as the owner, and drops them.
// Tests (internal/store/dbtest) and `superagent bench` use it; production
// databases are set up as the README describes.
package pgadmin

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// Roles Super Agent's prepared databases use: migrations run as OwnerRole;
// the application connects as AppRole, which is neither superuser nor
// BYPASSRLS, so row-level security applies to it.
const (
	OwnerRole = "superagent_owner"
	AppRole   = "superagent_app"
)

// createLockKey is the advisory lock that serialises database creation
// across processes: CREATE DATABASE … TEMPLATE fails while another session
// copies the same template.
const createLockKey = 7305112640099

// Execer is what the statements here run on: a *sql.DB or a *sql.Conn.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Admin is a connection of the administrative role.
type Admin struct {
	url string
	db  *sql.DB
}

// Open connects to adminURL and checks that the server answers.
func Open(ctx context.Context, adminURL string) (*Admin, error) {
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres admin connection: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres at %s is unreachable: %w", Redact(adminURL), err)
	}
	return &Admin{url: adminURL, db: db}, nil
}

// Close releases the connection pool.
func (a *Admin) Close() error { return a.db.Close() }

// DB is the administrative connection pool (for statistics queries).
func (a *Admin) DB() *sql.DB { return a.db }

// DSN connects as user to the database dbname on the admin URL's server.
func (a *Admin) DSN(user, dbname string) string { return WithUserAndDB(a.url, user, dbname) }

// WithLock runs fn on one connection while holding the database-creation
// lock.
func (a *Admin) WithLock(ctx context.Context, fn func(conn *sql.Conn) error) error {
	conn, err := a.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", createLockKey); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", createLockKey) //nolint:errcheck
	return fn(conn)
}

// CreateDatabase creates the roles when missing and then the database name
// owned by OwnerRole, cloned from template unless template is "", under
// the creation lock.
func (a *Admin) CreateDatabase(ctx context.Context, name, template string) error {
	return a.WithLock(ctx, func(conn *sql.Conn) error {
		if err := EnsureRoles(ctx, conn); err != nil {
			return err
		}
		return CreateDatabase(ctx, conn, name, template)
	})
}

// DropDatabase drops name, ending its sessions first.
func (a *Admin) DropDatabase(ctx context.Context, name string) error {
	return DropDatabase(ctx, a.db, name)
}

// Migrate applies our and River's migrations to the database name as
// OwnerRole, granting AppRole what the application needs.
func (a *Admin) Migrate(ctx context.Context, name string) error {
	db, err := sql.Open("pgx", a.DSN(OwnerRole, name))
	if err != nil {
		return err
	}
	defer db.Close()
	err = sqlstore.Migrate(ctx, sqlstore.KindPostgres, db, sqlstore.MigrateOptions{
		AppRole: AppRole,
		Also:    func(ctx context.Context) error { return queue.Migrate(ctx, sqlstore.KindPostgres, db) },
	})
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	return nil
}

// EnsureRoles creates the owner and application roles when missing.
func EnsureRoles(ctx context.Context, e Execer) error {
	_, err := e.ExecContext(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+OwnerRole+`') THEN
			CREATE ROLE `+OwnerRole+` LOGIN NOSUPERUSER NOBYPASSRLS;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+AppRole+`') THEN
			CREATE ROLE `+AppRole+` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
		END IF;
	END $$`)
	if err != nil {
		return fmt.Errorf("create roles: %w", err)
	}
	return nil
}

// identifier accepts the plain lower-case names this package builds; names
// go into DDL, which takes no bind parameters.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func checkName(name string) error {
	if !identifier.MatchString(name) {
		return fmt.Errorf("database name %q is not a plain lower-case identifier", name)
	}
	return nil
}

// CreateDatabase creates name owned by OwnerRole, cloned from template
// unless template is "". Hold the creation lock (Admin.WithLock) when
// cloning.
func CreateDatabase(ctx context.Context, e Execer, name, template string) error {
	if err := checkName(name); err != nil {
		return err
	}
	stmt := fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, OwnerRole)
	if template != "" {
		if err := checkName(template); err != nil {
			return err
		}
		stmt = fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s", name, template, OwnerRole)
	}
	if _, err := e.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops name if it exists, ending its sessions first.
func DropDatabase(ctx context.Context, e Execer, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := e.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// RenameDatabase renames from to to.
func RenameDatabase(ctx context.Context, e Execer, from, to string) error {
	if err := checkName(from); err != nil {
		return err
	}
	if err := checkName(to); err != nil {
		return err
	}
	if _, err := e.ExecContext(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", from, to)); err != nil {
		return fmt.Errorf("rename database %s: %w", from, err)
	}
	return nil
}

// DatabaseExists reports whether the database name exists.
func DatabaseExists(ctx context.Context, e Execer, name string) (bool, error) {
	var exists bool
	err := e.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	return exists, err
}

// RandomName returns prefix followed by 16 random hex digits.
func RandomName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// WithUserAndDB returns the connection URL raw with its user replaced by
// user (and no password) and its database by dbname.
func WithUserAndDB(raw, user, dbname string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = url.User(user)
	u.Path = "/" + dbname
	return u.String()
}

// Redact returns the URL without its password.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
