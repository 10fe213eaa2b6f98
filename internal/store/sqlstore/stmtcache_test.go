package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
)

// TestStatementCache: statements are reused per connection, a query nested
// in the iteration of the same query gets its own statement, a failed
// statement is dropped, and a schema change is seen.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := openSQLite(SQLiteDSN(filepath.Join(t.TempDir(), "cache.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cached := func() int {
		var n int
		_ = conn.Raw(func(dc any) error {
			n = len(dc.(*stmtCachingConn).stmts)
			return nil
		})
		return n
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`)
	for i, name := range []string{"a", "b", "c"} {
		mustExec(`INSERT INTO t (id, name) VALUES ($1, $2)`, i+1, name)
	}
	if n := cached(); n != 2 {
		t.Errorf("%d statements cached after two distinct statements, want 2", n)
	}
	// The insert failing on the unique name is dropped from the cache, and
	// the next one prepares it again.
	if _, err := conn.ExecContext(ctx, `INSERT INTO t (id, name) VALUES ($1, $2)`, 9, "a"); err == nil {
		t.Fatal("duplicate name inserted")
	}
	mustExec(`INSERT INTO t (id, name) VALUES ($1, $2)`, 4, "d")

	const q = `SELECT id, name FROM t WHERE id >= $1 ORDER BY id`
	rows, err := conn.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var outer, inner int
	for rows.Next() {
		var id int
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		outer++
		// The same query while its statement's rows are open.
		var count int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`)`, id).Scan(&count); err != nil {
			t.Fatal(err)
		}
		nested, err := conn.QueryContext(ctx, q, id)
		if err != nil {
			t.Fatal(err)
		}
		for nested.Next() {
			inner++
		}
		if err := nested.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if outer != 4 || inner != 4+3+2+1 {
		t.Errorf("outer %d rows, nested %d, want 4 and 10", outer, inner)
	}
	// Run again: the cached statement starts from the top.
	var first int
	if err := conn.QueryRowContext(ctx, q, 2).Scan(&first, new(string)); err != nil || first != 2 {
		t.Errorf("reused statement: first id %d, %v", first, err)
	}
	mustExec(`ALTER TABLE t ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'`)
	cols, err := conn.QueryContext(ctx, `SELECT * FROM t WHERE id = $1`, 1)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := cols.Columns()
	cols.Close()
	if len(names) != 3 {
		t.Errorf("columns after ALTER TABLE = %v", names)
	}
}
