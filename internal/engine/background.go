package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/schedule"
)

// TickArgs fires due schedules.
type TickArgs struct{}

// Kind implements river.JobArgs.
func (TickArgs) Kind() string { return "superagent.scheduler_tick" }

// SweepArgs fails executions past their deadline, admits waiting ones and
// drops expired idempotency keys.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "superagent.engine_sweep" }

// TickWorker fires due schedules.
type TickWorker struct {
	river.WorkerDefaults[TickArgs]
	e *Engine
}

// SweepWorker runs the engine's sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	e *Engine
}

// Timeout implements river.Worker.
func (w *TickWorker) Timeout(*river.Job[TickArgs]) time.Duration { return time.Minute }

// Timeout implements river.Worker.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return time.Minute }

// Work implements river.Worker.
func (w *TickWorker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	_, err := w.e.FireDueSchedules(ctx)
	return err
}

// Work implements river.Worker.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error { return w.e.Sweep(ctx) }

// AddWorkers registers the engine's workers.
func (e *Engine) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, e.Workers())
	river.AddWorker(workers, &TickWorker{e: e})
	river.AddWorker(workers, &SweepWorker{e: e})
}

// TickInterval is how often due schedules are looked for (cron's
// resolution is a minute).
const TickInterval = 5 * time.Second

// PeriodicJobs are run by River's elected leader: one process fires
// schedules and sweeps, however many run.
func (e *Engine) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(TickInterval), func() (river.JobArgs, *river.InsertOpts) {
			return TickArgs{}, &river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(30*time.Second), func() (river.JobArgs, *river.InsertOpts) {
			return SweepArgs{}, &river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
	}
}

// missedGrace is how late a due time may be and still count as on time.
const missedGrace = 2 * time.Minute

// FireDueSchedules starts an execution for every schedule that is due. A
// due time is claimed in the same transaction that creates its execution
// and enqueues its steps, so it fires exactly once however many processes
// tick. Times missed while nothing ran are skipped, or run once
// (SCHEDULE_MISSED_RUNS=run_once).
func (e *Engine) FireDueSchedules(ctx context.Context) (int, error) {
	now := e.clock()
	var due []domain.Schedule
	if err := e.store.Read(ctx, domain.SystemScope(domain.SystemScheduler), func(q domain.Queries) error {
		var err error
		due, err = q.DueSchedules(now, 100)
		return err
	}); err != nil {
		return 0, err
	}
	fired := 0
	for i := range due {
		ok, err := e.fire(ctx, &due[i], now)
		if err != nil {
			e.log.WarnContext(ctx, "schedule not fired", "schedule_id", due[i].ID, "org_id", due[i].OrgID, "error", err)
			continue
		}
		if ok {
			fired++
		}
	}
	return fired, nil
}

func (e *Engine) fire(ctx context.Context, s *domain.Schedule, now time.Time) (bool, error) {
	cron, err := schedule.Parse(s.CronExpression, s.Timezone)
	if err != nil {
		return false, fmt.Errorf("parse %q: %w", s.CronExpression, err)
	}
	dueAt := *s.NextRunAt
	next := cron.Next(now)
	late := now.Sub(dueAt) > missedGrace
	run := !late || e.missedRuns == "run_once"
	scope := domain.OrgScope(s.OrgID)
	p := &domain.Principal{OrgID: s.OrgID, UserID: "", Role: domain.RoleAdmin}
	var exe *domain.Execution
	fired := false
	err = e.store.Write(ctx, scope, func(tx domain.Tx) error {
		exeID := ""
		if run {
			exeID = domain.NewID(domain.PrefixExecution)
		}
		won, err := tx.ClaimSchedule(s.ID, dueAt, next, now, exeID)
		if err != nil || !won {
			return err
		}
		if !run {
			return nil
		}
		wf, ver, err := tx.RunnableVersion(s.WorkflowID, s.Environment, 0)
		if err != nil {
			return err
		}
		c, err := e.definition(tx, wf.ID, ver.Version)
		if err != nil {
			return err
		}
		req := &ExecuteRequest{WorkflowID: wf.ID, Input: s.Input, Trigger: domain.TriggerSchedule, ScheduleID: s.ID,
			Environment: s.Environment}
		if len(req.Input) == 0 {
			req.Input = []byte("{}")
		}
		exe, err = e.createExecutionWithID(ctx, tx, p, wf, ver.Version, c, req, exeID)
		fired = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	if exe != nil {
		e.bus.EventsStored(exe.ID)
	}
	return fired, nil
}

// Sweep fails executions past their deadline (steps waiting on retries or
// lost with a dead worker included), admits waiting executions of
// organizations below their concurrency limit, and drops expired
// idempotency keys.
func (e *Engine) Sweep(ctx context.Context) error {
	now := e.clock()
	var overdue []domain.Execution
	var pendingOrgs []string
	err := e.store.Write(ctx, domain.SystemScope(domain.SystemRetention), func(tx domain.Tx) error {
		var err error
		if overdue, err = tx.OverdueExecutions(now, 200); err != nil {
			return err
		}
		if pendingOrgs, err = tx.OrgsWithPendingExecutions(200); err != nil {
			return err
		}
		_, err = tx.DeleteExpiredIdempotencyKeys(now)
		return err
	})
	if err != nil {
		return err
	}
	for _, x := range overdue {
		err := e.store.Write(ctx, domain.OrgScope(x.OrgID), func(tx domain.Tx) error {
			exe, err := tx.LockExecution(x.ID)
			if err != nil || exe.Final() {
				return err
			}
			return e.endExecution(ctx, tx, exe, domain.ExecutionFailed, "the execution ran past its timeout", "timeout", nil)
		})
		if err != nil {
			e.log.WarnContext(ctx, "overdue execution not failed", "execution_id", x.ID, "error", err)
			continue
		}
		e.afterEnd(x.ID)
	}
	for _, org := range pendingOrgs {
		if err := e.store.Write(ctx, domain.OrgScope(org), func(tx domain.Tx) error {
			return e.admitNext(ctx, tx, org)
		}); err != nil {
			e.log.WarnContext(ctx, "waiting executions not admitted", "org_id", org, "error", err)
		}
	}
	return nil
}
