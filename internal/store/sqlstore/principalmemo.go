package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/superagent-hq/superagent/internal/domain"
)

// On SQLite, a read confirms its request's principal (domain.PrincipalCheck)
// from its connection's memory when the database has not changed since the
// connection last read that principal's rows.
//
// PRAGMA data_version, run first in the read transaction, opens its
// snapshot and returns the connection's data version, which changes
// whenever another connection, of this process or any other, committed
// since the connection's previous snapshot; reader connections are
// query-only and commit nothing themselves. An unchanged version therefore
// means the principal's rows in this snapshot are the rows the memory
// holds, and the check is settled with them without running the principal
// statement, a three-table join that was the largest part of an
// authenticated read. Any commit anywhere in the database empties the
// memory of each connection at its next read, so under writes the
// statement runs as before, one cheap pragma later.

// maxMemoPrincipals bounds the principals a connection remembers.
const maxMemoPrincipals = 256

type principalKey struct{ org, user, session string }

type principalRows struct {
	user    domain.User
	session domain.Session
	org     domain.Organization
}

// principalMemo is a reader connection's memory of principals, valid for
// one data version.
type principalMemo struct {
	version int64
	rows    map[principalKey]principalRows
}

// errNoMemo: the connection keeps no memory (not a SQLite connection of
// this store).
var errNoMemo = errors.New("connection keeps no principal memory")

// memoLookup opens the transaction's snapshot on conn and returns the
// principal's rows when the connection holds them for this snapshot's data
// version; version is that data version, for memoKeep. ok is false when
// the memory cannot be used (the connection keeps none, or the pragma
// failed): the principal statement runs, and reports any real error.
func memoLookup(ctx context.Context, conn *sql.Conn, c *domain.PrincipalCheck) (rows *principalRows, version int64, ok bool) {
	err := conn.Raw(func(dc any) error {
		mc, ok := dc.(*stmtCachingConn)
		if !ok {
			return errNoMemo
		}
		v, err := mc.dataVersion(ctx)
		if err != nil {
			return err
		}
		version = v
		if mc.memo.rows == nil || mc.memo.version != version {
			mc.memo = principalMemo{version: version}
			return nil
		}
		if r, ok := mc.memo.rows[principalKey{c.OrgID, c.UserID, c.SessionID}]; ok {
			r.user.Permissions = slices.Clone(r.user.Permissions)
			rows = &r
		}
		return nil
	})
	return rows, version, err == nil
}

// memoKeep remembers the principal's rows read in a snapshot of version.
func memoKeep(conn *sql.Conn, c *domain.PrincipalCheck, version int64, u *domain.User, sess *domain.Session, o *domain.Organization) {
	_ = conn.Raw(func(dc any) error {
		mc, ok := dc.(*stmtCachingConn)
		if !ok || mc.memo.version != version {
			return nil
		}
		if mc.memo.rows == nil || len(mc.memo.rows) >= maxMemoPrincipals {
			mc.memo.rows = make(map[principalKey]principalRows)
		}
		r := principalRows{user: *u, session: *sess, org: *o}
		r.user.Permissions = slices.Clone(u.Permissions)
		mc.memo.rows[principalKey{c.OrgID, c.UserID, c.SessionID}] = r
		return nil
	})
}

// dataVersion runs PRAGMA data_version in the connection's transaction.
func (c *stmtCachingConn) dataVersion(ctx context.Context) (int64, error) {
	const query = "PRAGMA data_version"
	st, release, err := c.lease(ctx, query)
	if err != nil {
		return 0, err
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		release(true)
		return 0, errNoMemo
	}
	// The pragma returns at once: no context to watch while it runs.
	rows, err := q.QueryContext(context.Background(), nil)
	if err != nil {
		release(true)
		return 0, err
	}
	dest := make([]driver.Value, 1)
	err = rows.Next(dest)
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	release(err != nil)
	if errors.Is(err, io.EOF) {
		err = errors.New("no data version")
	}
	if err != nil {
		return 0, fmt.Errorf("data version: %w", err)
	}
	v, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("data version: unexpected %T", dest[0])
	}
	return v, nil
}
