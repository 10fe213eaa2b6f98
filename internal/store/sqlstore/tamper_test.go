package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// TestAuditTamperDetection edits, deletes and reorders audit rows the way
// someone with direct database access could, and checks that verification
// names the first broken link each time.
func TestAuditTamperDetection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		tamper  []string // statements; $1 is the organization id
		wantSeq int64
		reason  string
	}{
		{"edited details", []string{`UPDATE audit_logs SET details = '{"i":99}' WHERE org_id = $1 AND seq = 3`}, 3, "changed"},
		{"edited action", []string{`UPDATE audit_logs SET action = 'nothing.happened' WHERE org_id = $1 AND seq = 2`}, 2, "changed"},
		{"deleted row", []string{`DELETE FROM audit_logs WHERE org_id = $1 AND seq = 3`}, 3, "missing"},
		{"deleted last row", []string{`DELETE FROM audit_logs WHERE org_id = $1 AND seq = 5`}, 5, "removed"},
		{"reordered rows", []string{
			`UPDATE audit_logs SET seq = 100 WHERE org_id = $1 AND seq = 2`,
			`UPDATE audit_logs SET seq = 2 WHERE org_id = $1 AND seq = 3`,
			`UPDATE audit_logs SET seq = 3 WHERE org_id = $1 AND seq = 100`}, 2, ""},
	}
	for _, kind := range dbtest.Kinds(t) {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				db := dbtest.New(t, kind)
				s := dbtest.Open(t, db)
				f := storetest.NewFixture(t, s, "tamper")
				for i := range 5 {
					if err := s.Write(context.Background(), domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
						tx.Audit(domain.AuditEvent{Action: "thing.done", Success: true, Details: map[string]any{"i": i}})
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				rep, err := audit.VerifyChain(context.Background(), s, domain.SystemScope(domain.SystemAuditCheck), f.Org.ID)
				if err != nil || !rep.OK() || rep.Checked != 5 {
					t.Fatalf("before tampering: %+v %v", rep, err)
				}
				asAttacker(t, db, f.Org.ID, tc.tamper)
				rep, err = audit.VerifyChain(context.Background(), s, domain.SystemScope(domain.SystemAuditCheck), f.Org.ID)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() || rep.Break.Seq != tc.wantSeq || !strings.Contains(rep.Break.Reason, tc.reason) {
					t.Errorf("after %s: %+v, want a break at seq %d mentioning %q", tc.name, rep.Break, tc.wantSeq, tc.reason)
				}
			})
		}
	}
}

// asAttacker runs statements with the database's owner powers: on SQLite
// the file itself (dropping the append-only trigger), on PostgreSQL the
// owning role inside the system scope.
func asAttacker(t *testing.T, db dbtest.DB, orgID string, stmts []string) {
	t.Helper()
	ctx := context.Background()
	var raw *sql.DB
	var err error
	if db.Kind == sqlstore.KindSQLite {
		raw, err = sql.Open("sqlite", sqlstore.SQLiteDSN(db.Path, false))
	} else {
		raw, err = sql.Open("pgx", db.OwnerDSN)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if db.Kind == sqlstore.KindSQLite {
		if _, err := tx.ExecContext(ctx, "DROP TRIGGER audit_logs_no_update"); err != nil {
			t.Fatal(err)
		}
	} else if _, err := tx.ExecContext(ctx, "SELECT set_config('app.system', 'on', true)"); err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s, orgID); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteAuditRowsRefuseUpdates: the append-only trigger stops the
// application itself from rewriting history on SQLite.
func TestSQLiteAuditRowsRefuseUpdates(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindSQLite)
	s := dbtest.Open(t, db)
	f := storetest.NewFixture(t, s, "trigger")
	_ = s.Write(context.Background(), domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
		tx.Audit(domain.AuditEvent{Action: "x", Success: true})
		return nil
	})
	err := s.Write(context.Background(), domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
		_, err := tx.SQL().ExecContext(context.Background(), "UPDATE audit_logs SET action = 'y'")
		return err
	})
	if err == nil || !strings.Contains(fmt.Sprint(err), "immutable") {
		t.Errorf("update of an audit row on SQLite: %v", err)
	}
}
