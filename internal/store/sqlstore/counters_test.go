package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// TestExecutionCountersMigration: on an installation upgraded to the
// counter tables, each organization's counts start at the executions it
// created this month and in the last hour, so the monthly and hourly
// limits hold across the upgrade.
func TestExecutionCountersMigration(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		ctx := context.Background()
		s := dbtest.Open(t, db)
		f := storetest.NewFixture(t, s, "upgrade")
		scope := domain.OrgScope(f.Org.ID)
		wf := storetest.NewWorkflow(t, s, scope, f.Admin.ID, "", "counted")
		now := time.Now().UTC()
		monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		created := []time.Time{monthStart.Add(-time.Hour), monthStart.Add(time.Second), now.Add(-time.Minute), now}
		err := s.Write(ctx, scope, func(tx domain.Tx) error {
			for _, at := range created {
				e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1,
					Status: domain.ExecutionSucceeded, Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, CreatedAt: at,
					Input: json.RawMessage(`{}`)}
				if err := tx.CreateExecution(e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		driver, dsn := "sqlite", db.Path
		if db.Kind == sqlstore.KindPostgres {
			driver, dsn = "pgx", db.OwnerDSN
		}
		owner, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer owner.Close()
		if err := sqlstore.MigrateDownTo(ctx, db.Kind, owner, 2); err != nil {
			t.Fatal(err)
		}
		if err := sqlstore.MigrateUp(ctx, db.Kind, owner); err != nil {
			t.Fatal(err)
		}
		if db.Kind == sqlstore.KindPostgres {
			// Migrate grants the application role what new tables need.
			if err := sqlstore.Migrate(ctx, db.Kind, owner, sqlstore.MigrateOptions{AppRole: dbtest.AppRole}); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		err = s.Write(ctx, scope, func(tx domain.Tx) error {
			var err error
			n, err = tx.CountExecutionStarts(now, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, at := range created {
			if !at.Before(monthStart) {
				want++
			}
		}
		if n != want {
			t.Errorf("after the upgrade this month's count = %d, want %d (executions created this month)", n, want)
		}
		// And the last hour's, from the per-minute counts.
		var hour int
		err = s.Read(ctx, scope, func(q domain.Queries) error {
			var err error
			hour, _, err = q.ExecutionCounts(now.Add(-time.Hour), now, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		wantHour := 0
		for _, at := range created {
			if at.After(now.Add(-time.Hour)) {
				wantHour++
			}
		}
		if hour != wantHour {
			t.Errorf("after the upgrade the last hour's count = %d, want %d (executions created in the hour)", hour, wantHour)
		}
	})
}
