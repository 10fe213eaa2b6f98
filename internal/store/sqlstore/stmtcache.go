package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// SQLite statements are kept prepared on their connection, by query text.
// The driver otherwise compiles every query anew, and parsing SQL was over
// a quarter of the CPU of an API read; a prepared statement is reset and
// run again instead (SQLite re-prepares it itself after a schema change).

// maxCachedStmts bounds the statements kept per connection; beyond it a
// query is prepared and finalized as before.
const maxCachedStmts = 256

// openSQLite opens a pool whose connections keep their statements.
func openSQLite(dsn string) (*sql.DB, error) {
	probe, err := sql.Open("sqlite", dsn) // the registered driver, unconnected
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	_ = probe.Close()
	return sql.OpenDB(stmtCachingConnector{dsn: dsn, drv: drv}), nil
}

type stmtCachingConnector struct {
	dsn string
	drv driver.Driver
}

func (c stmtCachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	if _, ok := conn.(driver.ConnPrepareContext); !ok {
		return conn, nil
	}
	return &stmtCachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c stmtCachingConnector) Driver() driver.Driver { return c.drv }

// stmtCachingConn is a driver connection with a statement cache.
// database/sql uses a connection from one goroutine at a time, so the
// cache needs no lock. A statement whose rows are still open is busy: a
// query nested inside that iteration gets a statement of its own.
type stmtCachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
	memo  principalMemo // principalmemo.go
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool
}

var (
	_ driver.QueryerContext     = (*stmtCachingConn)(nil)
	_ driver.ExecerContext      = (*stmtCachingConn)(nil)
	_ driver.ConnBeginTx        = (*stmtCachingConn)(nil)
	_ driver.ConnPrepareContext = (*stmtCachingConn)(nil)
	_ driver.Pinger             = (*stmtCachingConn)(nil)
	_ driver.SessionResetter    = (*stmtCachingConn)(nil)
	_ driver.Validator          = (*stmtCachingConn)(nil)
)

// lease returns a prepared statement for query and what to call when done
// with it; failed says the run failed, and a failed statement is not kept.
func (c *stmtCachingConn) lease(ctx context.Context, query string) (driver.Stmt, func(failed bool), error) {
	if e := c.stmts[query]; e != nil && !e.busy {
		e.busy = true
		return e.st, func(failed bool) {
			e.busy = false
			if failed {
				delete(c.stmts, query)
				_ = e.st.Close()
			}
		}, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if _, exists := c.stmts[query]; exists || len(c.stmts) >= maxCachedStmts {
		return st, func(bool) { _ = st.Close() }, nil
	}
	e := &cachedStmt{st: st, busy: true}
	c.stmts[query] = e
	return st, func(failed bool) {
		e.busy = false
		if failed {
			delete(c.stmts, query)
			_ = st.Close()
		}
	}, nil
}

func (c *stmtCachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, release, err := c.lease(ctx, query)
	if err != nil {
		return nil, err
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		release(true)
		return nil, errors.New("sqlite statement cannot query with a context")
	}
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		release(true)
		return nil, err
	}
	return &leasedRows{Rows: rows, release: release}, nil
}

func (c *stmtCachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, release, err := c.lease(ctx, query)
	if err != nil {
		return nil, err
	}
	x, ok := st.(driver.StmtExecContext)
	if !ok {
		release(true)
		return nil, errors.New("sqlite statement cannot exec with a context")
	}
	res, err := x.ExecContext(ctx, args)
	release(err != nil)
	return res, err
}

func (c *stmtCachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *stmtCachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return nil, errors.New("sqlite connection cannot begin with options")
}

func (c *stmtCachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *stmtCachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtCachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *stmtCachingConn) Close() error {
	for q, e := range c.stmts {
		_ = e.st.Close()
		delete(c.stmts, q)
	}
	return c.Conn.Close()
}

// leasedRows gives the statement back when the rows close.
type leasedRows struct {
	driver.Rows
	release func(failed bool)
	closed  bool
}

func (r *leasedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.release(err != nil)
	}
	return err
}
