package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/schedule"
	"github.com/superagent-hq/superagent/internal/workflow"
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
		won, err := tx.ClaimSchedule(s.ID, dueAt, next, now, exeID, "")
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
			var de *domain.Error
			if !errors.As(err, &de) {
				err = &fireError{msg: fmt.Sprintf("version %d of the workflow cannot run: %v", ver.Version, err)}
			}
			return err
		}
		req := &ExecuteRequest{WorkflowID: wf.ID, Input: s.Input, Trigger: domain.TriggerSchedule, ScheduleID: s.ID,
			Environment: s.Environment}
		if len(req.Input) == 0 {
			req.Input = []byte("{}")
		}
		var input any
		if err := json.Unmarshal(req.Input, &input); err != nil {
			return &fireError{msg: "the schedule's input is not valid JSON"}
		}
		if errs := workflow.CheckInput(c.def.InputSchema, input); len(errs) > 0 {
			for i := range errs {
				errs[i].Pointer = "/input" + errs[i].Pointer
			}
			return &fireError{msg: fmt.Sprintf("the schedule's input does not match the input schema of version %d", ver.Version),
				fields: errs}
		}
		exe, err = e.createExecutionWithID(ctx, tx, p, wf, ver.Version, c, req, exeID)
		fired = err == nil
		return err
	})
	if err != nil {
		if !cannotFire(err) {
			return false, err // a passing failure (the database): the due time is tried again
		}
		// The due time cannot fire now: move the schedule on and say why, in
		// a transaction of its own (the failed start rolled back).
		if ferr := e.fireFailed(ctx, s, dueAt, next, now, err); ferr != nil {
			return false, errors.Join(err, ferr)
		}
		return false, err
	}
	if exe != nil {
		e.bus.EventsStored(exe.ID)
	}
	return fired, nil
}

// fireError is a reason a schedule's due time cannot start an execution
// found by fire itself.
type fireError struct {
	msg    string
	fields []domain.FieldError
}

func (e *fireError) Error() string { return e.msg }

// cannotFire reports whether a failure to fire is lasting — the plan's or
// the hourly limit, an input the schema refuses, a workflow archived,
// deleted or without the pinned version, a version that does not compile —
// rather than passing (the database unavailable, a concurrent change), which
// is retried at the next tick.
func cannotFire(err error) bool {
	var fe *fireError
	if errors.As(err, &fe) {
		return true
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		return false
	}
	switch de.Code {
	case domain.ECodeUnavailable, domain.ECodeInternal:
		return false
	case domain.ECodeConflict:
		return de.Err == nil // the database's "concurrent change, try again" wraps its error
	}
	return true
}

// maxScheduleErrorBytes bounds the reason kept on the schedule; the audit
// row keeps the details.
const maxScheduleErrorBytes = 500

// clipText cuts s to at most n bytes on a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// fireFailed moves a schedule past a due time that could not fire — its
// last run is then that time with no execution — and records why in the
// audit log (schedule.fire_failed), so it is not retried every tick and the
// failure is visible. Another process that already moved it on wins.
func (e *Engine) fireFailed(ctx context.Context, s *domain.Schedule, dueAt, next, now time.Time, cause error) error {
	details := map[string]any{"workflow_id": s.WorkflowID, "due_at": dueAt, "reason": cause.Error()}
	var fe *fireError
	var de *domain.Error
	switch {
	case errors.As(cause, &fe):
		details["reason"] = fe.msg
		if len(fe.fields) > 0 {
			details["problems"] = fe.fields[:min(len(fe.fields), 20)]
		}
	case errors.As(cause, &de):
		details["reason"], details["error_code"] = de.Message, string(de.Code)
		if de.Limit != "" {
			details["limit"], details["limit_value"] = de.Limit, de.LimitValue
		}
	}
	if s.Environment != "" {
		details["environment"] = string(s.Environment)
	}
	if !next.IsZero() {
		details["next_run_at"] = next
	}
	return e.store.Write(ctx, domain.OrgScope(s.OrgID), func(tx domain.Tx) error {
		won, err := tx.ClaimSchedule(s.ID, dueAt, next, now, "", clipText(fmt.Sprint(details["reason"]), maxScheduleErrorBytes))
		if err != nil || !won {
			return err
		}
		tx.Audit(domain.AuditEvent{Action: "schedule.fire_failed", ResourceType: "schedule", ResourceID: s.ID,
			Success: false, ErrorMessage: fmt.Sprint(details["reason"]), Details: details})
		return nil
	})
}

// Sweep fails executions past their deadline (steps waiting on retries or
// lost with a dead worker included), admits waiting executions of
// organizations below their concurrency limit, and drops expired
// idempotency keys and per-minute start counts older than two hours.
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
		if _, err = tx.DeleteExpiredIdempotencyKeys(now); err != nil {
			return err
		}
		_, err = tx.PruneExecutionStartMinutes(now.Add(-2 * time.Hour))
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

// WatchCancels stops running steps whose execution ended elsewhere even
// when the cancel signal never arrived (a lost notification, the listener
// reconnecting): every cancelWatchInterval it reads which executions with
// a step running here for longer than that have ended, and stops those
// steps. It runs until ctx ends.
func (e *Engine) WatchCancels(ctx context.Context) {
	t := time.NewTicker(cancelWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for org, ids := range e.bus.watched(time.Now().Add(-cancelWatchInterval)) {
			for len(ids) > 0 {
				n := min(len(ids), maxWatchBatch)
				var ended []string
				err := e.store.Read(ctx, domain.OrgScope(org), func(q domain.Queries) error {
					var err error
					ended, err = q.EndedExecutions(ids[:n])
					return err
				})
				if err != nil && ctx.Err() == nil {
					e.log.WarnContext(ctx, "cancel watch", "org_id", org, "error", err)
				}
				for _, id := range ended {
					e.bus.cancelHere(id)
				}
				ids = ids[n:]
			}
		}
	}
}
