package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/schedule"
)

// TestScheduleMissedRuns: SCHEDULE_MISSED_RUNS decides what happens to a
// schedule whose due time passed while nothing ran (here three days of
// hourly runs). skip starts nothing and moves to the next time after now;
// run_once starts one execution (trigger=schedule) and then moves on. A
// due time within the grace period fires under either setting.
func TestScheduleMissedRuns(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("missed")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "input.n + 1")}})
		now := time.Now().UTC().Truncate(time.Second)
		cron, err := schedule.Parse("0 * * * *", "UTC")
		if err != nil {
			t.Fatal(err)
		}
		nextAfterNow := cron.Next(now)
		longAgo := now.Add(-72 * time.Hour).Truncate(time.Hour)
		// engineWith is another engine on the same database and queue (the
		// harness's workers run the steps it enqueues), with the setting and
		// a fixed clock.
		engineWith := func(missed string) *engine.Engine {
			e := engine.New(engine.Options{Store: h.store, Log: discard(), RescueAfter: time.Minute, MissedRuns: missed,
				Now: func() time.Time { return now }})
			e.SetQueue(h.queue.Client)
			return e
		}
		newSchedule := func(name string, due time.Time) string {
			sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), WorkflowID: wf, Name: name, CronExpression: "0 * * * *",
				Timezone: "UTC", Active: true, NextRunAt: &due, CreatedBy: h.fx.Admin.ID, Input: json.RawMessage(`{"n": 41}`)}
			if err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error { return tx.CreateSchedule(sc) }); err != nil {
				t.Fatal(err)
			}
			return sc.ID
		}
		get := func(id string) (*domain.Schedule, []domain.Execution) {
			var sc *domain.Schedule
			var exes []domain.Execution
			err := h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
				var err error
				if sc, err = q.GetSchedule(id); err != nil {
					return err
				}
				all, _, err := q.ListExecutions(domain.ExecutionFilter{WorkflowID: wf, Page: domain.Page{Limit: 200}})
				for _, x := range all {
					if x.ScheduleID == id {
						exes = append(exes, x)
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return sc, exes
		}
		fire := func(e *engine.Engine) int {
			t.Helper()
			n, err := e.FireDueSchedules(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		// skip: the missed schedule starts nothing and moves past now.
		skipped := newSchedule("skipped", longAgo)
		skip := engineWith("skip")
		if n := fire(skip); n != 0 {
			t.Errorf("skip fired %d executions for a schedule due three days ago", n)
		}
		sc, exes := get(skipped)
		if len(exes) != 0 || sc.LastExecutionID != "" {
			t.Errorf("skip started %d executions (last %q)", len(exes), sc.LastExecutionID)
		}
		if sc.NextRunAt == nil || !sc.NextRunAt.Equal(nextAfterNow) {
			t.Errorf("after skipping, next run at %v, want %v", sc.NextRunAt, nextAfterNow)
		}
		if n := fire(skip); n != 0 {
			t.Errorf("a second tick fired %d", n)
		}
		// A due time within the grace period is on time and fires under skip.
		onTime := newSchedule("on time", now.Add(-time.Minute))
		if n := fire(skip); n != 1 {
			t.Errorf("skip fired %d executions for a schedule due a minute ago, want 1", n)
		}
		if sc, exes := get(onTime); len(exes) != 1 || sc.LastExecutionID != exes[0].ID {
			t.Errorf("on time under skip: %d executions, last %q", len(exes), sc.LastExecutionID)
		}

		// run_once: one execution for all the missed times, then the next time after now.
		once := newSchedule("once", longAgo)
		runOnce := engineWith("run_once")
		if n := fire(runOnce); n != 1 {
			t.Errorf("run_once fired %d executions, want 1", n)
		}
		if n := fire(runOnce); n != 0 {
			t.Errorf("a second run_once tick fired %d more", n)
		}
		sc, exes = get(once)
		if len(exes) != 1 {
			t.Fatalf("run_once started %d executions, want 1", len(exes))
		}
		x := exes[0]
		if x.Trigger != domain.TriggerSchedule || sc.LastExecutionID != x.ID || sc.NextRunAt == nil || !sc.NextRunAt.Equal(nextAfterNow) {
			t.Errorf("after run_once: execution trigger %s, schedule last %q next %v (want %s and %v)", x.Trigger, sc.LastExecutionID,
				sc.NextRunAt, x.ID, nextAfterNow)
		}
		if done := h.wait(x.ID); done.Status != domain.ExecutionSucceeded || outputOf(t, done) != 42.0 {
			t.Errorf("the missed run = %s %s: %s", done.Status, done.Output, done.Error)
		}
		// The skipped schedule stayed untouched by run_once's ticks: its next time is in the future.
		if _, exes := get(skipped); len(exes) != 0 {
			t.Errorf("the skipped schedule ran %d times later", len(exes))
		}
	})
}
