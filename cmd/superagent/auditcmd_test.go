package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// runBinary runs the built superagent with exactly env and returns its
// combined output and exit code.
func runBinary(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(superagentBinary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir}, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", -1
}

// tamperAsOwner changes audit rows with the database owner's powers: on
// SQLite the file itself (dropping the append-only trigger), on
// PostgreSQL the owning role inside the system scope.
func tamperAsOwner(t *testing.T, db dbtest.DB, stmt string, args ...any) {
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
		_, err = tx.ExecContext(ctx, "DROP TRIGGER IF EXISTS audit_logs_no_update")
	} else {
		_, err = tx.ExecContext(ctx, "SELECT set_config('app.system', 'on', true)")
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.ExecContext(ctx, stmt, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s changed %d rows", stmt, n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerifyCommand: `superagent audit verify [--org ID]` checks every
// chain (or one), prints one line per chain and exits 0 while they are
// intact; after a row is edited in the database it names the first broken
// link and exits non-zero, and only for the broken chain.
func TestAuditVerifyCommand(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		s := dbtest.Open(t, db)
		a, b := storetest.NewFixture(t, s, "verifya"), storetest.NewFixture(t, s, "verifyb")
		var bRows []domain.AuditEvent
		for _, org := range []string{a.Org.ID, b.Org.ID} {
			for i := range 4 {
				if err := s.Write(context.Background(), domain.OrgScope(org), func(tx domain.Tx) error {
					tx.Audit(domain.AuditEvent{Action: "team.updated", Success: true, Details: map[string]any{"i": i}})
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A failure that belongs to no organization: the installation chain.
		if err := s.Write(context.Background(), domain.SystemScope(domain.SystemLogin), func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{OrgID: domain.InstallationOrgID, Action: "auth.login_failed", ErrorMessage: "unknown user"})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Read(context.Background(), domain.OrgScope(b.Org.ID), func(q domain.Queries) error {
			var err error
			bRows, err = q.AuditChain(b.Org.ID, 0, 10)
			return err
		}); err != nil || len(bRows) != 4 {
			t.Fatalf("B's chain: %v %v", bRows, err)
		}
		env := []string{"DATABASE_URL=" + db.URL, "LOG_LEVEL=error"}
		okLine := func(org string) string { return fmt.Sprintf("ok      %s: 4 rows verified (from seq 1 to 4)\n", org) }

		out, code := runBinary(t, env, "audit", "verify")
		if code != 0 || !strings.Contains(out, okLine(a.Org.ID)) || !strings.Contains(out, okLine(b.Org.ID)) ||
			!strings.Contains(out, "ok      (installation): 1 rows verified (from seq 1 to 1)") || strings.Contains(out, "BROKEN") {
			t.Errorf("intact, all chains: exit %d:\n%s", code, out)
		}
		out, code = runBinary(t, env, "audit", "verify", "--org", a.Org.ID)
		if code != 0 || out != okLine(a.Org.ID) {
			t.Errorf("intact, --org A: exit %d:\n%s", code, out)
		}

		tamperAsOwner(t, db, `UPDATE audit_logs SET details = '{"i":99}' WHERE org_id = $1 AND seq = 2`, b.Org.ID)
		broken := fmt.Sprintf("BROKEN  %s: first broken link at seq 2 (row %s): ", b.Org.ID, bRows[1].ID)
		out, code = runBinary(t, env, "audit", "verify")
		if code == 0 || !strings.Contains(out, broken) || !strings.Contains(out, okLine(a.Org.ID)) ||
			!strings.Contains(out, "1 of 3 audit chains failed verification") {
			t.Errorf("B broken, all chains: exit %d, want non-zero and %q:\n%s", code, broken, out)
		}
		out, code = runBinary(t, env, "audit", "verify", "--org", b.Org.ID)
		if code == 0 || !strings.Contains(out, broken) || !strings.Contains(out, "1 of 1 audit chains failed verification") ||
			strings.Contains(out, a.Org.ID) {
			t.Errorf("B broken, --org B: exit %d:\n%s", code, out)
		}
		out, code = runBinary(t, env, "audit", "verify", "--org", a.Org.ID)
		if code != 0 || out != okLine(a.Org.ID) {
			t.Errorf("B broken, --org A: exit %d:\n%s", code, out)
		}
	})
}

// TestAuditLoggingOff: with ENABLE_AUDIT_LOGGING=false the server says so
// at start-up and records no audit row for a sign-up and a sign-in; with
// the default it records them.
func TestAuditLoggingOff(t *testing.T) {
	t.Parallel()
	for _, off := range []bool{true, false} {
		t.Run(fmt.Sprintf("off=%v", off), func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t, sqlstore.KindSQLite)
			env := []string{"DATABASE_URL=" + db.URL}
			if off {
				env = append(env, "ENABLE_AUDIT_LOGGING=false")
			}
			p := start(t, t.TempDir(), env, "serve", "--port", "0")
			post := func(path string, body any, want int) {
				raw, _ := json.Marshal(body)
				res, err := http.Post(p.base+path, "application/json", bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != want {
					t.Fatalf("POST %s = %d, want %d", path, res.StatusCode, want)
				}
			}
			post("/api/v1/auth/register", map[string]string{"email": "quiet@audit.example", "username": "quiet",
				"password": "a long enough passphrase", "organization_name": "Quiet"}, 201)
			post("/api/v1/auth/login", map[string]string{"username": "quiet@audit.example", "password": "a long enough passphrase"}, 200)
			post("/api/v1/auth/login", map[string]string{"username": "quiet@audit.example", "password": "wrong passphrase"}, 400) // invalid_grant
			p.stop(t)

			warned := strings.Contains(p.log(), "WARNING: ENABLE_AUDIT_LOGGING=false: no audit trail is recorded") &&
				strings.Contains(p.log(), "Audit logging:  OFF")
			if warned != off {
				t.Errorf("start-up warning shown=%v, want %v:\n%s", warned, off, p.log())
			}
			s := dbtest.Open(t, db)
			var rows int64
			if err := s.Read(context.Background(), domain.SystemScope(domain.SystemAuditCheck), func(q domain.Queries) error {
				orgs, err := q.AuditChainOrgs()
				for _, o := range orgs {
					seq, _, err := q.AuditHead(o)
					if err != nil {
						return err
					}
					rows += seq
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if off && rows != 0 {
				t.Errorf("ENABLE_AUDIT_LOGGING=false recorded %d audit rows", rows)
			}
			if !off && rows < 3 {
				t.Errorf("with audit logging on, sign-up and two sign-ins recorded %d rows, want at least 3", rows)
			}
		})
	}
}
