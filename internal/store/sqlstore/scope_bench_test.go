package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/pgadmin"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// BenchmarkTenantScope measures what the per-transaction tenant setting
// costs an API read on PostgreSQL: the same read-only transaction reading
// one workflow row, as the application role with the scope set
// (set_config, then row-level security on the query) and as a superuser
// without either. "store" is the whole store path (Store.Read with
// GetWorkflow), for scale.
func BenchmarkTenantScope(b *testing.B) {
	db := dbtest.New(b, sqlstore.KindPostgres)
	s := dbtest.Open(b, db)
	f := storetest.NewFixture(&testing.T{}, s, "scope")
	scope := domain.OrgScope(f.Org.ID)
	wf := storetest.NewWorkflow(&testing.T{}, s, scope, f.Admin.ID, "", "read")
	ctx := context.Background()
	const query = `SELECT * FROM workflows WHERE org_id = $1 AND id = $2`

	app, err := sql.Open("pgx", db.AppDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	u, err := url.Parse(dbtest.AdminURL(b))
	if err != nil {
		b.Fatal(err)
	}
	dbname := strings.TrimPrefix(mustURL(b, db.AppDSN).Path, "/")
	super, err := sql.Open("pgx", pgadmin.WithUserAndDB(u.String(), u.User.Username(), dbname))
	if err != nil {
		b.Fatal(err)
	}
	defer super.Close()

	read := func(b *testing.B, pool *sql.DB, setScope bool) {
		b.Helper()
		tx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck
		if setScope {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.org_id', $1, true), set_config('app.system', '', true)", f.Org.ID); err != nil {
				b.Fatal(err)
			}
		}
		rows, err := tx.QueryContext(ctx, query, f.Org.ID, wf.ID)
		if err != nil {
			b.Fatal(err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			for i := range vals {
				vals[i] = new(sql.RawBytes)
			}
			if err := rows.Scan(vals...); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Close(); err != nil || n != 1 {
			b.Fatalf("read %d rows: %v", n, err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("scoped", func(b *testing.B) {
		for b.Loop() {
			read(b, app, true)
		}
	})
	b.Run("unscoped", func(b *testing.B) {
		for b.Loop() {
			read(b, super, false)
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if err := s.Read(ctx, scope, func(q domain.Queries) error {
				_, err := q.GetWorkflow(wf.ID)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustURL(b *testing.B, s string) *url.URL {
	b.Helper()
	u, err := url.Parse(s)
	if err != nil {
		b.Fatal(err)
	}
	return u
}
