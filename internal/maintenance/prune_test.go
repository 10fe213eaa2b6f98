package maintenance_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/maintenance"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

const retention = 365 * 24 * time.Hour

// clock is a settable store clock: audit rows get the timestamps a test
// chooses.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// openAt opens db as the application role with the store's clock at c.
func openAt(t *testing.T, db dbtest.DB, c *clock) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Kind: db.Kind, Path: db.Path, DSN: db.AppDSN, PoolSize: 10, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// history writes, for each organization, old rows (older than the
// retention at now) and recent ones, and returns the seqs of the recent
// rows per organization.
func history(t *testing.T, s domain.Store, c *clock, now time.Time, orgs []string, old, recent int) map[string][]int64 {
	t.Helper()
	kept := map[string][]int64{}
	write := func(org string, at time.Time, i int) {
		c.set(at)
		if err := s.Write(context.Background(), domain.OrgScope(org), func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{Action: "team.updated", ResourceType: "team", Success: true, Details: map[string]any{"i": i}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, org := range orgs {
		for i := range old {
			write(org, now.Add(-retention-time.Duration(old-i)*time.Hour), i)
		}
		for i := range recent {
			write(org, now.Add(-retention+time.Duration(i+1)*time.Hour), old+i)
		}
	}
	c.set(now)
	for _, org := range orgs {
		for _, r := range listAll(t, s, org) {
			if !r.CreatedAt.Before(now.Add(-retention)) {
				kept[org] = append(kept[org], r.Seq)
			}
		}
	}
	return kept
}

func listAll(t *testing.T, s domain.Store, org string) []domain.AuditEvent {
	t.Helper()
	var rows []domain.AuditEvent
	if err := s.Read(context.Background(), domain.OrgScope(org), func(q domain.Queries) error {
		var err error
		rows, err = q.ListAudit(domain.AuditFilter{Limit: 1000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkPruned asserts that only the rows within the retention remain and
// that the chain still verifies, starting from the retention checkpoint.
func checkPruned(t *testing.T, s domain.Store, org string, cutoff time.Time, kept []int64, old int) {
	t.Helper()
	rows := listAll(t, s, org)
	var seqs []int64
	for _, r := range rows {
		if r.CreatedAt.Before(cutoff) {
			t.Errorf("%s: row %d of %s survived the retention (cutoff %s)", org, r.Seq, r.CreatedAt, cutoff)
		}
		seqs = append(seqs, r.Seq)
	}
	if len(seqs) != len(kept) {
		t.Errorf("%s: %d rows remain %v, want the %d recent ones %v", org, len(seqs), seqs, len(kept), kept)
	}
	rep, err := audit.VerifyChain(context.Background(), s, domain.SystemScope(domain.SystemAuditCheck), org)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != int64(len(kept)) || rep.CheckpointSeq < int64(old) {
		t.Errorf("%s: verification after pruning: %+v (break %+v), want intact, %d rows checked from a checkpoint at seq >= %d",
			org, rep, rep.Break, len(kept), old)
	}
}

// TestPruneAuditWorker runs the retention job: rows older than the
// retention go, in every organization; recent ones stay; each chain
// still verifies from its checkpoint, also after new rows are appended
// and after a second run that has nothing to do.
func TestPruneAuditWorker(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		now := time.Now().UTC().Truncate(time.Second)
		c := &clock{t: now}
		s := openAt(t, db, c)
		a, b := storetest.NewFixture(t, s, "prunea"), storetest.NewFixture(t, s, "pruneb")
		orgs := []string{a.Org.ID, b.Org.ID}
		const old = 4
		kept := history(t, s, c, now, orgs, old, 3)

		w := &maintenance.PruneAuditWorker{Store: s, Retention: retention, Now: func() time.Time { return now }}
		if err := w.Work(context.Background(), &river.Job[maintenance.PruneAuditArgs]{}); err != nil {
			t.Fatal(err)
		}
		for _, org := range orgs {
			checkPruned(t, s, org, now.Add(-retention), kept[org], old)
		}

		// The chain goes on from the checkpoint; a second run changes nothing.
		if err := s.Write(context.Background(), domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{Action: "team.updated", Success: true})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := w.Work(context.Background(), &river.Job[maintenance.PruneAuditArgs]{}); err != nil {
			t.Fatal(err)
		}
		rows := listAll(t, s, a.Org.ID)
		checkPruned(t, s, a.Org.ID, now.Add(-retention), append([]int64{rows[0].Seq}, kept[a.Org.ID]...), old)
		checkPruned(t, s, b.Org.ID, now.Add(-retention), kept[b.Org.ID], old)
	})
}

// TestPruneAuditPeriodicJob runs the queue with the housekeeping periodic
// jobs, as `serve` does: the retention job runs at start and prunes.
func TestPruneAuditPeriodicJob(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		now := time.Now().UTC()
		c := &clock{t: now}
		s := openAt(t, db, c)
		f := storetest.NewFixture(t, s, "periodic")
		const old = 3
		kept := history(t, s, c, now, []string{f.Org.ID}, old, 2)

		workers := river.NewWorkers()
		river.AddWorker(workers, &maintenance.PruneAuditWorker{Store: s, Retention: retention})
		listener := ""
		if db.Kind == sqlstore.KindPostgres {
			listener = db.AppDSN
		}
		ctx := context.Background()
		q, err := queue.New(ctx, queue.Options{Kind: db.Kind, DB: s.DB(), ListenerDSN: listener, Workers: workers,
			PeriodicJobs: maintenance.PeriodicJobs(), RescueAfter: time.Minute, FetchPollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(stopCtx)
			q.Close()
		})
		deadline := time.Now().Add(60 * time.Second)
		for len(listAll(t, s, f.Org.ID)) != len(kept[f.Org.ID]) {
			if time.Now().After(deadline) {
				t.Fatalf("the periodic retention job did not prune within 60s: %d rows remain, want %d",
					len(listAll(t, s, f.Org.ID)), len(kept[f.Org.ID]))
			}
			time.Sleep(100 * time.Millisecond)
		}
		checkPruned(t, s, f.Org.ID, now.Add(-retention), kept[f.Org.ID], old)
	})
}

// TestAppRoleCannotWriteAuditCheckpoints: on PostgreSQL the application
// role can neither insert, change nor delete retention checkpoints (a
// planted checkpoint would make verification skip the rows before it),
// even with the system setting that row-level security honours; retention
// still writes them through audit_prune.
func TestAppRoleCannotWriteAuditCheckpoints(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindPostgres)
	ctx := context.Background()
	// Apply the grants of this build (a cached template database may
	// predate them): Migrate grants on every run.
	owner, err := sql.Open("pgx", db.OwnerDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := sqlstore.Migrate(ctx, sqlstore.KindPostgres, owner, sqlstore.MigrateOptions{AppRole: dbtest.AppRole}); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	c := &clock{t: now}
	s := openAt(t, db, c)
	f := storetest.NewFixture(t, s, "checkpoint")
	const old = 3
	kept := history(t, s, c, now, []string{f.Org.ID}, old, 2)
	w := &maintenance.PruneAuditWorker{Store: s, Retention: retention, Now: func() time.Time { return now }}
	if err := w.Work(ctx, &river.Job[maintenance.PruneAuditArgs]{}); err != nil {
		t.Fatalf("retention as the application role: %v", err)
	}
	checkPruned(t, s, f.Org.ID, now.Add(-retention), kept[f.Org.ID], old)

	raw, err := sql.Open("pgx", db.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{
		`INSERT INTO audit_checkpoints (org_id, seq, hash, pruned_at) VALUES ($1, 1000, 'planted', now())
			ON CONFLICT (org_id) DO UPDATE SET seq = 1000, hash = 'planted'`,
		`INSERT INTO audit_checkpoints (org_id, seq, hash, pruned_at) VALUES ($1 || '_new', 1000, 'planted', now())`,
		`UPDATE audit_checkpoints SET seq = 1000, hash = 'planted' WHERE org_id = $1`,
		`DELETE FROM audit_checkpoints WHERE org_id = $1`,
	} {
		for _, setting := range []string{"app.org_id", "app.system"} {
			func() {
				tx, err := raw.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				value := f.Org.ID
				if setting == "app.system" {
					value = "on"
				}
				if _, err := tx.ExecContext(ctx, "SELECT set_config($1, $2, true)", setting, value); err != nil {
					t.Fatal(err)
				}
				_, err = tx.ExecContext(ctx, stmt, f.Org.ID)
				if err == nil || !strings.Contains(err.Error(), "permission denied") {
					t.Errorf("with %s set, %s as the application role: %v, want permission denied", setting, strings.Fields(stmt)[0], err)
				}
			}()
		}
	}
	rep, err := audit.VerifyChain(ctx, s, domain.SystemScope(domain.SystemAuditCheck), f.Org.ID)
	if err != nil || !rep.OK() || rep.CheckpointSeq != int64(old) {
		t.Errorf("checkpoint after the attempts: %+v %v, want intact from seq %d", rep, err, old)
	}
}
