package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"
	"time"

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
// GetWorkflow), for scale; "principal" sets the scope with the statement
// that also confirms a GET's principal.
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

	sess := &domain.Session{ID: domain.NewID("ses"), UserID: f.Admin.ID, CreatedAt: time.Now(), LastUsedAt: time.Now(),
		ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.Write(ctx, scope, func(tx domain.Tx) error { return tx.CreateSession(sess) }); err != nil {
		b.Fatal(err)
	}
	const (
		setScope = "SELECT set_config('app.org_id', $1, true), set_config('app.system', '', true)"
		// What a GET's first transaction runs instead (sqlstore's
		// principalInScope): the scope and the principal in one statement.
		principalScope = `SELECT p.* FROM
			(SELECT set_config('app.org_id', $1, true) AS org, set_config('app.system', '', true) OFFSET 0) scope,
			LATERAL (SELECT u.id, u.org_id, u.team_id, u.email, u.username, u.full_name, u.role, u.permissions,
				u.is_active, u.email_verified_at, u.mfa_enabled, u.deleted_at, u.password_hash <> '',
				s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
				o.id, o.plan, o.require_mfa, o.is_active
				FROM users u JOIN sessions s ON s.org_id = u.org_id AND s.user_id = u.id
				JOIN organizations o ON o.id = u.org_id
				WHERE u.org_id = scope.org AND u.id = $2 AND s.id = $3) p`
	)
	read := func(b *testing.B, pool *sql.DB, scopeStmt string) {
		b.Helper()
		tx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck
		switch scopeStmt {
		case setScope:
			if _, err := tx.ExecContext(ctx, setScope, f.Org.ID); err != nil {
				b.Fatal(err)
			}
		case principalScope:
			rows, err := tx.QueryContext(ctx, principalScope, f.Org.ID, f.Admin.ID, sess.ID)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Close(); err != nil || n != 1 {
				b.Fatalf("principal: %d rows, %v", n, err)
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
			read(b, app, setScope)
		}
	})
	b.Run("principal", func(b *testing.B) {
		for b.Loop() {
			read(b, app, principalScope)
		}
	})
	b.Run("unscoped", func(b *testing.B) {
		for b.Loop() {
			read(b, super, "")
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
