package queue_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// TestRoundTrip inserts a job in the same transaction as a store change
// and waits for a worker to complete it, on both databases; a job inserted
// in a rolled-back transaction never runs.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		ctx := context.Background()
		s := dbtest.Open(t, db)
		workers := river.NewWorkers()
		river.AddWorker(workers, &queue.PingWorker{})
		q, err := queue.New(ctx, queue.Options{Kind: db.Kind, DB: s.DB(), ListenerDSN: db.AppDSN, Workers: workers,
			RescueAfter: time.Minute, FetchPollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		events, cancel := q.Client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
		defer cancel()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, c := context.WithTimeout(ctx, 10*time.Second)
			defer c()
			if err := q.Stop(stopCtx); err != nil {
				t.Errorf("stop: %v", err)
			}
		}()

		f := storetest.NewFixture(t, s, "queue")
		_ = s.Write(ctx, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
			if _, err := q.Client.InsertTx(ctx, tx.SQL(), queue.PingArgs{Note: "rolled back"}, nil); err != nil {
				t.Fatal(err)
			}
			return domain.Errorf(domain.ECodeConflict, "roll back")
		})
		var id int64
		err = s.Write(ctx, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
			res, err := q.Client.InsertTx(ctx, tx.SQL(), queue.PingArgs{Note: "committed"}, nil)
			if err != nil {
				return err
			}
			id = res.Job.ID
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted || ev.Job.ID != id {
				t.Fatalf("event %s for job %d, want completion of %d", ev.Kind, ev.Job.ID, id)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the ping job did not complete within 20s")
		}
		jobs, err := q.Client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable,
			rivertype.JobStateCompleted, rivertype.JobStateRunning, rivertype.JobStateDiscarded))
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs.Jobs) != 1 {
			t.Fatalf("jobs after one rolled-back and one committed insert: %d", len(jobs.Jobs))
		}
		var args queue.PingArgs
		if err := json.Unmarshal(jobs.Jobs[0].EncodedArgs, &args); err != nil || args.Note != "committed" {
			t.Errorf("remaining job = %s", jobs.Jobs[0].EncodedArgs)
		}
		cur, latest, err := queue.Status(ctx, db.Kind, s.DB())
		if err != nil || cur != latest || latest == 0 {
			t.Errorf("queue schema status = %d/%d, %v", cur, latest, err)
		}
	})
}

// TestStepFetchCooldown: every cooldown QUEUE_FETCH_COOLDOWN allows builds
// a client on both databases (River refuses a poll interval below the
// cooldown; SQLite's step queue polls at least as seldom as its cooldown).
func TestStepFetchCooldown(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		s := dbtest.Open(t, db)
		workers := river.NewWorkers()
		river.AddWorker(workers, &queue.PingWorker{})
		for _, d := range []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 200 * time.Millisecond, time.Second} {
			q, err := queue.New(context.Background(), queue.Options{Kind: db.Kind, DB: s.DB(), Workers: workers,
				RescueAfter: time.Minute, StepFetchCooldown: d})
			if err != nil {
				t.Errorf("cooldown %s: %v", d, err)
				continue
			}
			q.Close()
		}
	})
}
