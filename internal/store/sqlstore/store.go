// Package sqlstore implements domain.Store over SQLite (modernc.org/sqlite,
// pure Go) and PostgreSQL (pgx through database/sql) with one portable SQL
// text and a small dialect layer: both databases take $N placeholders, the
// same DDL types by name, and RETURNING; the few differences (row locks,
// JSON containment, the row-level-security setting) live in dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Kinds of database.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// Options configure Open.
type Options struct {
	Kind string // KindSQLite or KindPostgres
	// Path is the SQLite file; its directory is created when missing.
	Path string
	// DSN is the PostgreSQL connection string.
	DSN string
	// PoolSize and MaxOverflow size the PostgreSQL pool (open = size + overflow)
	// and the SQLite read pool.
	PoolSize    int
	MaxOverflow int
	Logger      *slog.Logger
	// AuditDisabled drops audit events instead of recording them
	// (ENABLE_AUDIT_LOGGING=false, refused in production).
	AuditDisabled bool
	// Now overrides the clock (tests).
	Now func() time.Time
}

// Store is the SQL implementation of domain.Store.
type Store struct {
	kind   string
	writer *sql.DB // SQLite: exactly one connection with immediate transactions
	reader *sql.DB // SQLite: a read-only pool; PostgreSQL: the same pool as writer
	d      dialect
	now    func() time.Time
	log    *slog.Logger
	// auditOff drops audit events (ENABLE_AUDIT_LOGGING=false).
	auditOff bool
	// memoHits counts principal checks a SQLite connection's memory
	// settled (principalmemo.go).
	memoHits atomic.Int64
}

var _ domain.Store = (*Store)(nil)

// Open connects to the database. It does not migrate.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 10
	}
	s := &Store{kind: o.Kind, now: o.Now, log: o.Logger, auditOff: o.AuditDisabled}
	switch o.Kind {
	case KindSQLite:
		if dir := filepath.Dir(o.Path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory %s: %w", dir, err)
			}
		}
		w, err := openSQLite(SQLiteDSN(o.Path, false))
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", o.Path, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		r, err := openSQLite(SQLiteDSN(o.Path, true))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", o.Path, err)
		}
		r.SetMaxOpenConns(o.PoolSize)
		r.SetMaxIdleConns(o.PoolSize)
		s.writer, s.reader, s.d = w, r, sqliteDialect
	case KindPostgres:
		db, err := sql.Open("pgx", o.DSN)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(o.PoolSize + o.MaxOverflow)
		db.SetMaxIdleConns(o.PoolSize)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s.writer, s.reader, s.d = db, db, postgresDialect
	default:
		return nil, fmt.Errorf("unknown database kind %q", o.Kind)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.writer.PingContext(pingCtx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s: %w", o.Kind, err)
	}
	return s, nil
}

// SQLiteDSN returns the modernc.org/sqlite DSN for path: WAL, foreign keys,
// a busy timeout and UTC timestamps; the writer takes the write lock when a
// transaction begins (so two writers queue instead of failing mid-way), and
// the reader pool is query-only.
func SQLiteDSN(path string, readOnly bool) string {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_time_format=sqlite"
	if readOnly {
		return dsn + "&_pragma=query_only(1)&_txlock=deferred"
	}
	return dsn + "&_txlock=immediate"
}

// DB is the read-write database handle; the job queue shares it so jobs
// commit in the same transactions as the rows they act on.
func (s *Store) DB() *sql.DB { return s.writer }

// Kind implements domain.Store.
func (s *Store) Kind() string { return s.kind }

// Ping implements domain.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: "database unreachable", Err: err}
	}
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: "database unreachable", Err: err}
	}
	return nil
}

// Close implements domain.Store.
func (s *Store) Close() error {
	var err error
	if s.reader != nil && s.reader != s.writer {
		err = s.reader.Close()
	}
	if s.writer != nil {
		err = errors.Join(err, s.writer.Close())
	}
	return err
}

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Read implements domain.Store.
func (s *Store) Read(ctx context.Context, scope domain.Scope, fn func(domain.Queries) error) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	opts := &sql.TxOptions{ReadOnly: s.kind == KindPostgres}
	var sqlTx *sql.Tx
	var err error
	var conn *sql.Conn
	if c := domain.PrincipalCheckFrom(ctx); c != nil && s.kind == KindSQLite && c.OrgID == scope.OrgID {
		// A principal check may be settled from the connection's memory
		// (principalmemo.go), which takes the connection itself.
		if conn, err = s.reader.Conn(ctx); err != nil {
			return s.translate(fmt.Errorf("begin read: %w", err))
		}
		defer conn.Close()
		sqlTx, err = conn.BeginTx(ctx, opts)
	} else {
		sqlTx, err = s.reader.BeginTx(ctx, opts)
	}
	if err != nil {
		return s.translate(fmt.Errorf("begin read: %w", err))
	}
	defer sqlTx.Rollback() //nolint:errcheck // a read has nothing to keep
	q := &queries{ctx: ctx, db: sqlTx, d: s.d, scope: scope, now: s.clock(), s: s}
	if err := s.applyScope(ctx, sqlTx, conn, scope); err != nil {
		return err
	}
	if err := fn(q); err != nil {
		return err
	}
	return s.translate(sqlTx.Commit())
}

// Write implements domain.Store.
func (s *Store) Write(ctx context.Context, scope domain.Scope, fn func(domain.Tx) error) (err error) {
	if err := checkScope(scope); err != nil {
		return err
	}
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return s.translate(fmt.Errorf("begin write: %w", err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	t := &tx{queries: queries{ctx: ctx, db: sqlTx, d: s.d, scope: scope, now: s.clock(), s: s}, sqlTx: sqlTx}
	if err := s.applyScope(ctx, sqlTx, nil, scope); err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.appendAudit(); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return s.translate(fmt.Errorf("commit: %w", err))
	}
	committed = true
	for _, f := range t.afterCommit {
		f()
	}
	return nil
}

// WriteBatch implements domain.Store. Items rarely fail, and a savepoint
// costs an item two round trips, so the batch first runs without them; if
// an item fails, that transaction is rolled back and the batch runs again
// with a savepoint per item, so the failure rolls back alone.
func (s *Store) WriteBatch(ctx context.Context, items []domain.BatchItem) error {
	failed, err := s.writeBatch(ctx, items, false)
	if err != nil || !failed || len(items) == 1 {
		return err
	}
	for i := range items {
		items[i].Err = nil
	}
	_, err = s.writeBatch(ctx, items, true)
	return err
}

// writeBatch runs items in one transaction. Without savepoints, the first
// item that fails rolls the transaction back and failed is true (that
// item's Err says why); with them, a failed item rolls back alone.
func (s *Store) writeBatch(ctx context.Context, items []domain.BatchItem, savepoints bool) (failed bool, err error) {
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, s.translate(fmt.Errorf("begin batch: %w", err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	now := s.clock()
	txs := make([]*tx, len(items))
	// The row-level-security keys are set outside the items' savepoints,
	// and only when the scope changes, so consecutive items of one
	// organization share one set_config and an item rolled back to its
	// savepoint does not take the setting with it.
	var current *domain.Scope
	var ahead map[int]*finished
	for i := range items {
		it := &items[i]
		if it.Err = checkScope(it.Scope); it.Err != nil {
			continue // nothing ran
		}
		if current == nil || *current != it.Scope {
			if err := s.applyScope(ctx, sqlTx, nil, it.Scope); err != nil {
				return false, err
			}
			current = &it.Scope
			if !savepoints {
				// The completions of this scope's run of items, in one
				// statement; should it fail, the batch runs again with
				// savepoints and each item's own statements.
				end := i + 1
				for end < len(items) && items[end].Scope == it.Scope {
					end++
				}
				q := &queries{ctx: ctx, db: sqlTx, d: s.d, scope: it.Scope, now: now, s: s}
				if ahead, err = s.finishAhead(q, items[i:end], i); err != nil {
					it.Err = err
					return true, nil
				}
			}
		}
		if savepoints {
			if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT batch_item"); err != nil {
				return false, s.translate(fmt.Errorf("batch savepoint: %w", err))
			}
		}
		t := &tx{queries: queries{ctx: ctx, db: sqlTx, d: s.d, scope: it.Scope, now: now, s: s, ahead: ahead[i]}, sqlTx: sqlTx}
		it.Err = it.Fn(t)
		if it.Err == nil {
			it.Err = t.appendAudit()
		}
		if it.Err != nil {
			if !savepoints {
				return true, nil // the deferred rollback undoes the batch
			}
			if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT batch_item"); err != nil {
				return false, s.translate(fmt.Errorf("batch rollback to savepoint: %w", err))
			}
			continue
		}
		if savepoints {
			if _, err := sqlTx.ExecContext(ctx, "RELEASE SAVEPOINT batch_item"); err != nil {
				return false, s.translate(fmt.Errorf("batch release savepoint: %w", err))
			}
		}
		txs[i] = t
	}
	if err := sqlTx.Commit(); err != nil {
		err = s.translate(fmt.Errorf("commit batch: %w", err))
		for i := range items {
			if items[i].Err == nil {
				items[i].Err = err
			}
		}
		return false, err
	}
	committed = true
	for _, t := range txs {
		if t != nil {
			for _, f := range t.afterCommit {
				f()
			}
		}
	}
	return false, nil
}

// applyScope sets the row-level-security keys for this transaction on
// PostgreSQL. set_config(…, true) lasts until the transaction ends, so a
// pooled connection never carries one request's organization into another.
//
// The same statement makes the transaction's prepared statements run on
// their generic plans. The store's statements find rows by indexed keys
// (the organization, an id, a bounded range), so a plan made without the
// values serves them all, and PostgreSQL would otherwise plan anew, on
// every call, each statement whose array parameters make the generic
// plan's estimate look worse than a custom one (the batched completions,
// the step loads). With many executions in flight on two cores that was
// 9–13 % more steps a second (docs/benchmarks.md).
//
// conn, when not nil, is the SQLite reader connection sqlTx runs on, whose
// memory may settle a principal check (principalmemo.go).
func (s *Store) applyScope(ctx context.Context, sqlTx *sql.Tx, conn *sql.Conn, scope domain.Scope) error {
	if c := domain.PrincipalCheckFrom(ctx); c != nil && !scope.IsSystem() && c.Take(scope.OrgID) {
		return s.settlePrincipal(ctx, sqlTx, conn, c)
	}
	if s.kind != KindPostgres {
		return nil
	}
	system := ""
	if scope.IsSystem() {
		system = "on"
	}
	if _, err := sqlTx.ExecContext(ctx, "SELECT set_config('app.org_id', $1, true), set_config('app.system', $2, true), set_config('plan_cache_mode', 'force_generic_plan', true)",
		scope.OrgID, system); err != nil {
		return s.translate(fmt.Errorf("set scope: %w", err))
	}
	return nil
}

// settlePrincipal sets the scope of a transaction in the check's
// organization and settles the request's principal check in the same
// statement, before the transaction runs anything else (domain.PrincipalCheck).
func (s *Store) settlePrincipal(ctx context.Context, sqlTx *sql.Tx, conn *sql.Conn, c *domain.PrincipalCheck) error {
	query := principalInScope
	if s.kind != KindPostgres {
		query = principalSQLite
	}
	var version int64
	memo := false
	if conn != nil {
		var rows *principalRows
		if rows, version, memo = memoLookup(ctx, conn, c); rows != nil {
			s.memoHits.Add(1)
			return c.Settle(&rows.user, &rows.session, &rows.org)
		}
	}
	u, sess, o, err := scanPrincipal(sqlTx.QueryRowContext(ctx, query, c.OrgID, c.UserID, c.SessionID), c.OrgID)
	if err != nil {
		c.Release()
		return s.translate(fmt.Errorf("set scope: %w", err))
	}
	if memo && u != nil {
		memoKeep(conn, c, version, u, sess, o)
	}
	return c.Settle(u, sess, o)
}

func checkScope(scope domain.Scope) error {
	if !scope.IsSystem() && scope.OrgID == "" {
		return &domain.Error{Code: domain.ECodeInternal, Message: "internal error",
			Err: errors.New("store used without an organization scope")}
	}
	return nil
}

// tx is a read-write transaction.
type tx struct {
	queries
	sqlTx       *sql.Tx
	audits      []domain.AuditEvent
	afterCommit []func()
	savepoints  int
}

func (t *tx) Audit(ev domain.AuditEvent) { t.audits = append(t.audits, ev) }
func (t *tx) SQL() *sql.Tx               { return t.sqlTx }
func (t *tx) AfterCommit(fn func())      { t.afterCommit = append(t.afterCommit, fn) }
func (t *tx) Now() time.Time             { return t.now }

// Savepoint implements domain.Tx. A savepoint that succeeds is left to the
// commit rather than released: one round trip fewer.
func (t *tx) Savepoint(fn func() error) error {
	t.savepoints++
	name := fmt.Sprintf("nested_%d", t.savepoints)
	if _, err := t.sqlTx.ExecContext(t.ctx, "SAVEPOINT "+name); err != nil {
		return t.s.translate(fmt.Errorf("savepoint: %w", err))
	}
	audits, after := len(t.audits), len(t.afterCommit)
	err := fn()
	if err == nil {
		return nil
	}
	// The rollback releases row locks taken since the savepoint: a head
	// locked in it must be locked again before the append.
	t.audits, t.afterCommit, t.heads = t.audits[:audits], t.afterCommit[:after], nil
	if _, rerr := t.sqlTx.ExecContext(t.ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
		return t.s.translate(fmt.Errorf("rollback to savepoint: %w", rerr))
	}
	return err
}

// execer is what queries run on: a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements domain.Queries inside one transaction.
type queries struct {
	ctx   context.Context
	db    execer
	d     dialect
	scope domain.Scope
	now   time.Time
	s     *Store
	// ahead is what a batch's completion statement did for this item's
	// LockAndFinishStep (see finishAhead), used by its first call.
	ahead *finished
	// heads are audit-chain heads this transaction locked ahead of its
	// audit append (CountExecutionStart), by organization.
	heads map[string]chainHead
}

// chainHead is where an organization's audit chain ends.
type chainHead struct {
	seq  int64
	hash string
}

// org returns the scope's organization for tenant queries. The system scope
// has none, so tenant methods refuse it: a cross-tenant read is only ever
// one of the named system methods.
func (q *queries) org() (string, error) {
	if q.scope.OrgID == "" {
		return "", &domain.Error{Code: domain.ECodeInternal, Message: "internal error",
			Err: errors.New("tenant query outside an organization scope")}
	}
	return q.scope.OrgID, nil
}

func (q *queries) requireSystem(what string) error {
	if !q.scope.IsSystem() {
		return &domain.Error{Code: domain.ECodeInternal, Message: "internal error",
			Err: fmt.Errorf("%s needs the system scope", what)}
	}
	return nil
}

func (q *queries) exec(query string, args ...any) (sql.Result, error) {
	res, err := q.db.ExecContext(q.ctx, query, args...)
	return res, q.s.translate(err)
}

func (q *queries) queryRow(query string, args ...any) *sql.Row {
	return q.db.QueryRowContext(q.ctx, query, args...)
}

func (q *queries) query(query string, args ...any) (*sql.Rows, error) {
	rows, err := q.db.QueryContext(q.ctx, query, args...)
	return rows, q.s.translate(err)
}

// execOne runs a statement that must change exactly one row; zero rows is
// notFound.
func (q *queries) execOne(notFound string, query string, args ...any) error {
	res, err := q.exec(query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return q.s.translate(err)
	}
	if n == 0 {
		return domain.NotFound(notFound)
	}
	return nil
}

// translate turns driver errors into domain errors at the boundary:
// constraint violations become conflicts, lost connections unavailable;
// handlers never see a driver error.
func (s *Store) translate(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return domain.ErrNotFound
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: "request cancelled or timed out", Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &domain.Error{Code: domain.ECodeConflict, Message: "already exists", Err: err}
		case "23503":
			return &domain.Error{Code: domain.ECodeInvalid, Message: "refers to something that does not exist", Err: err}
		case "23514", "23502", "22001", "22P02":
			return &domain.Error{Code: domain.ECodeInvalid, Message: "invalid value", Err: err}
		case "40001", "40P01", "55P03":
			return &domain.Error{Code: domain.ECodeConflict, Message: "concurrent change, try again", Err: err}
		case "57P01", "57P02", "57P03", "53300":
			return &domain.Error{Code: domain.ECodeUnavailable, Message: "database unavailable", Err: err}
		}
		return &domain.Error{Code: domain.ECodeInternal, Message: "internal error", Err: err}
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &domain.Error{Code: domain.ECodeConflict, Message: "already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &domain.Error{Code: domain.ECodeInvalid, Message: "refers to something that does not exist", Err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &domain.Error{Code: domain.ECodeUnavailable, Message: "database busy, try again", Err: err}
		}
		return &domain.Error{Code: domain.ECodeInternal, Message: "internal error", Err: err}
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || errors.Is(err, sql.ErrConnDone) || pgconn.SafeToRetry(err) {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: "database unavailable", Err: err}
	}
	return &domain.Error{Code: domain.ECodeInternal, Message: "internal error", Err: err}
}
