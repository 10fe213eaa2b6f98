package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// QueueSteps is the River queue steps run on.
const QueueSteps = "steps"

// StepArgs identifies one step. Ids only: River's tables carry no
// row-level security, so payloads stay in our tables.
type StepArgs struct {
	OrgID       string `json:"org_id"`
	ExecutionID string `json:"execution_id"`
	NodeID      string `json:"node_id"`
	// Priority is handed down to successors (see priorityFor).
	Priority int `json:"priority,omitempty"`
}

// Kind implements river.JobArgs.
func (StepArgs) Kind() string { return "superagent.step" }

// spareAttempts lets River rescue a step whose worker died a few times on
// top of the node's own retry policy; the engine itself decides when a
// step has failed for good.
const spareAttempts = 3

func stepJob(exe *domain.Execution, n *domain.Node, priority int) river.InsertManyParams {
	policy := workflow.EffectiveRetry(n.Retry)
	return river.InsertManyParams{
		Args: StepArgs{OrgID: exe.OrgID, ExecutionID: exe.ID, NodeID: n.ID, Priority: priority},
		InsertOpts: &river.InsertOpts{Queue: QueueSteps, Priority: max(priority, 1),
			MaxAttempts: policy.MaxAttempts + spareAttempts},
	}
}

// StepWorker runs steps.
type StepWorker struct {
	river.WorkerDefaults[StepArgs]
	e *Engine
}

// Workers returns the engine's job workers for registration.
func (e *Engine) Workers() *StepWorker { return &StepWorker{e: e} }

// Timeout is a backstop above any step's own timeout (which the engine
// enforces itself), still below the rescue horizon.
func (w *StepWorker) Timeout(*river.Job[StepArgs]) time.Duration {
	return w.e.MaxStepTimeout() + min(30*time.Second, w.e.horizon/8)
}

// NextRetry schedules a failed attempt's retry: the node's backoff with
// jitter, or later when the provider asked with Retry-After.
func (w *StepWorker) NextRetry(job *river.Job[StepArgs]) time.Time {
	if t, ok := w.e.retryAt.LoadAndDelete(job.ID); ok {
		return t.(time.Time)
	}
	return time.Now().Add(time.Second)
}

// Work runs one attempt of a step.
func (w *StepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	return w.e.runStep(ctx, job)
}

// stepState is what a step needs to run, read before it runs.
type stepState struct {
	exe   *domain.Execution
	c     *compiled
	node  *domain.Node
	step  *domain.Step
	input any
	nodes map[string]any // outputs of completed steps
}

func (e *Engine) load(ctx context.Context, a StepArgs) (*stepState, error) {
	st := &stepState{nodes: map[string]any{}}
	err := e.store.Read(ctx, domain.OrgScope(a.OrgID), func(q domain.Queries) error {
		var err error
		if st.exe, err = q.GetExecution(a.ExecutionID); err != nil {
			return err
		}
		if st.c, err = e.definition(q, st.exe.WorkflowID, st.exe.WorkflowVersion); err != nil {
			return err
		}
		steps, err := q.ListSteps(a.ExecutionID)
		if err != nil {
			return err
		}
		for i := range steps {
			s := &steps[i]
			if s.NodeID == a.NodeID {
				st.step = s
			}
			if s.Status == domain.StepCompleted {
				var out any
				_ = json.Unmarshal(s.Output, &out)
				st.nodes[s.NodeID] = out
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.node = st.c.nodes[a.NodeID]
	if st.node == nil || st.step == nil {
		return nil, fmt.Errorf("step %s of %s not found in its definition", a.NodeID, a.ExecutionID)
	}
	_ = json.Unmarshal(st.exe.Input, &st.input)
	return st, nil
}

// slowKinds record their start at once (a commit that is small next to
// their latency); in-process kinds record start and finish together.
func slowKind(t domain.NodeType) bool { return t == domain.NodeLLM || t == domain.NodeHTTP }

func (e *Engine) runStep(ctx context.Context, job *river.Job[StepArgs]) error {
	a := job.Args
	st, err := e.load(ctx, a)
	if domain.IsCode(err, domain.ECodeNotFound) {
		return river.JobCancel(err) // the organization or execution is gone (purged)
	}
	if err != nil {
		return err
	}
	if st.step.Status.Final() {
		return nil // already done: a duplicate delivery never runs a step twice
	}
	if st.exe.Final() {
		return e.closeAfterEnd(ctx, job)
	}
	now := e.clock()
	if st.exe.DeadlineAt != nil && now.After(*st.exe.DeadlineAt) {
		return e.failExecution(ctx, job, a, "timeout", "the execution ran past its timeout")
	}
	started := now
	recordedStart := false
	if slowKind(st.node.Type) {
		if err := e.markStarted(ctx, a, job.Attempt, started); err != nil {
			if errors.Is(err, errExecutionEnded) {
				return e.closeAfterEnd(ctx, job)
			}
			return err
		}
		recordedStart = true
	}

	timeout := workflow.StepTimeout(st.node, e.MaxStepTimeout())
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	if st.exe.DeadlineAt != nil {
		runCtx, cancel = context.WithDeadline(runCtx, *st.exe.DeadlineAt)
	}
	var cancelled atomic.Bool
	unregister := e.bus.registerCancel(a.ExecutionID, func() { cancelled.Store(true); cancel() })
	res, runErr := e.runner.Run(runCtx, agent.StepInput{OrgID: a.OrgID, ExecutionID: a.ExecutionID, NodeID: a.NodeID,
		Attempt: job.Attempt, Node: *st.node, Data: workflow.Data{Input: st.input, Nodes: st.nodes},
		OnDelta: func(text string) { e.bus.StepDelta(a.ExecutionID, a.NodeID, text) }})
	unregister()
	cancel()
	finished := e.clock()

	if cancelled.Load() {
		return e.closeAfterEnd(ctx, job)
	}
	if ctx.Err() != nil {
		// The process is stopping: hand the step back to be retried.
		return ctx.Err()
	}
	if runErr == nil {
		if b, _ := json.Marshal(res.Output); len(b) > maxOutputBytes {
			runErr = &agent.StepError{Kind: "invalid_output", Message: fmt.Sprintf("the output is larger than %d bytes", maxOutputBytes)}
		}
	}
	if runErr != nil {
		return e.stepFailed(ctx, job, st, runErr, started, finished, recordedStart)
	}
	return e.complete(ctx, job, st, res, started, finished, recordedStart)
}

var errExecutionEnded = errors.New("execution ended")

// markStarted records a slow step's start: status running, attempts and a
// step.started event.
func (e *Engine) markStarted(ctx context.Context, a StepArgs, attempt int, at time.Time) error {
	err := e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
		exe, err := tx.LockExecution(a.ExecutionID)
		if err != nil {
			return err
		}
		if exe.Final() {
			return errExecutionEnded
		}
		s, err := tx.GetStep(a.ExecutionID, a.NodeID)
		if err != nil {
			return err
		}
		if s.Status.Final() {
			return errExecutionEnded
		}
		s.Status, s.Attempts, s.StartedAt = domain.StepRunning, attempt, &at
		if err := tx.UpdateStep(s); err != nil {
			return err
		}
		exe.EventSeq++
		if err := tx.AppendEvents([]domain.ExecutionEvent{{ExecutionID: exe.ID, Seq: exe.EventSeq, Type: domain.EventStepStarted,
			NodeID: a.NodeID, Data: mustJSON(map[string]any{"attempt": attempt}), CreatedAt: at}}); err != nil {
			return err
		}
		return tx.UpdateExecution(exe)
	})
	if err == nil {
		e.bus.EventsStored(a.ExecutionID)
	}
	return err
}

// closeAfterEnd finishes the job of a step whose execution already ended
// (cancelled, failed or timed out): the step is marked cancelled unless it
// ended, and nothing runs after it.
func (e *Engine) closeAfterEnd(ctx context.Context, job *river.Job[StepArgs]) error {
	a := job.Args
	return e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
		if _, err := tx.LockExecution(a.ExecutionID); err != nil {
			return err
		}
		s, err := tx.GetStep(a.ExecutionID, a.NodeID)
		if err != nil {
			return err
		}
		if !s.Status.Final() {
			s.Status = domain.StepCancelled
			if err := tx.UpdateStep(s); err != nil {
				return err
			}
		}
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.SQL(), job)
		return err
	})
}

// stepFailed retries a retryable failure while attempts remain, and
// otherwise fails the step and with it the execution.
func (e *Engine) stepFailed(ctx context.Context, job *river.Job[StepArgs], st *stepState, runErr error,
	started, finished time.Time, recordedStart bool) error {
	a := job.Args
	se := asStepError(runErr)
	policy := workflow.EffectiveRetry(st.node.Retry)
	if se.Retryable && job.Attempt < policy.MaxAttempts {
		next := workflow.Backoff(policy, job.Attempt)
		if se.RetryAfter > next {
			next = se.RetryAfter
		}
		if remaining := time.Until(*st.exe.DeadlineAt); st.exe.DeadlineAt != nil && next > remaining {
			next = remaining
		}
		err := e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
			exe, err := tx.LockExecution(a.ExecutionID)
			if err != nil {
				return err
			}
			if exe.Final() {
				return errExecutionEnded
			}
			s, err := tx.GetStep(a.ExecutionID, a.NodeID)
			if err != nil {
				return err
			}
			s.Status, s.Attempts, s.Error, s.ErrorKind = domain.StepQueued, job.Attempt, se.Message, string(se.Kind)
			if s.StartedAt == nil {
				s.StartedAt = &started
			}
			chargePartial(exe, s, se)
			if err := tx.UpdateStep(s); err != nil {
				return err
			}
			exe.EventSeq++
			if err := tx.AppendEvents([]domain.ExecutionEvent{{ExecutionID: exe.ID, Seq: exe.EventSeq, Type: domain.EventStepRetrying,
				NodeID: a.NodeID, CreatedAt: finished, Data: mustJSON(map[string]any{"attempt": job.Attempt,
					"error": se.Message, "error_kind": se.Kind, "retry_in_ms": next.Milliseconds()})}}); err != nil {
				return err
			}
			return tx.UpdateExecution(exe)
		})
		if errors.Is(err, errExecutionEnded) {
			return e.closeAfterEnd(ctx, job)
		}
		if err != nil {
			return err
		}
		e.bus.EventsStored(a.ExecutionID)
		e.retryAt.Store(job.ID, time.Now().Add(next))
		return fmt.Errorf("attempt %d of %d: %w", job.Attempt, policy.MaxAttempts, runErr)
	}
	return e.finalFailure(ctx, job, st, se, started, finished)
}

// chargePartial records what a failed attempt already spent (tokens of
// model calls made before the failure) on the step and the execution, so
// failed work shows in usage and cost too.
func chargePartial(exe *domain.Execution, s *domain.Step, se *agent.StepError) {
	if se.Partial == nil {
		return
	}
	u := se.Partial.Usage
	s.TokensIn += u.InputTokens
	s.TokensOut += u.OutputTokens
	s.TokensCached += u.CachedInputTokens
	s.CostUSD += se.Partial.CostUSD
	if se.Partial.Model != "" {
		s.Model = se.Partial.Model
	}
	exe.TokensIn += u.InputTokens
	exe.TokensOut += u.OutputTokens
	exe.TokensCached += u.CachedInputTokens
	exe.CostUSD += se.Partial.CostUSD
}

// asStepError gives any runtime error a kind and a message safe to show.
func asStepError(err error) *agent.StepError {
	var se *agent.StepError
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &agent.StepError{Kind: "timeout", Message: "the step ran past its timeout", Retryable: true, Err: err}
	}
	return &agent.StepError{Kind: "internal", Message: "the step failed unexpectedly", Err: err}
}

// finalFailure fails the step and its execution in one transaction: every
// other unfinished step is cancelled and running ones are told to stop.
func (e *Engine) finalFailure(ctx context.Context, job *river.Job[StepArgs], st *stepState, se *agent.StepError, started, finished time.Time) error {
	a := job.Args
	err := e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
		exe, err := tx.LockExecution(a.ExecutionID)
		if err != nil {
			return err
		}
		if exe.Final() {
			return errExecutionEnded
		}
		s, err := tx.GetStep(a.ExecutionID, a.NodeID)
		if err != nil {
			return err
		}
		if s.Status.Final() {
			_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.SQL(), job)
			return err
		}
		d := finished.Sub(started).Milliseconds()
		s.Status, s.Attempts, s.Error, s.ErrorKind, s.FinishedAt, s.DurationMS = domain.StepFailed, job.Attempt, se.Message, string(se.Kind), &finished, &d
		if s.StartedAt == nil {
			s.StartedAt = &started
		}
		chargePartial(exe, s, se)
		if err := tx.UpdateStep(s); err != nil {
			return err
		}
		exe.NodesDone++
		events := []domain.ExecutionEvent{
			{ExecutionID: exe.ID, Type: domain.EventStepFailed, NodeID: a.NodeID, CreatedAt: finished,
				Data: mustJSON(map[string]any{"attempt": job.Attempt, "error": se.Message, "error_kind": se.Kind})},
		}
		msg := fmt.Sprintf("agent %q failed: %s", a.NodeID, se.Message)
		if err := e.endExecution(ctx, tx, exe, domain.ExecutionFailed, msg, string(se.Kind), events); err != nil {
			return err
		}
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.SQL(), job)
		return err
	})
	if errors.Is(err, errExecutionEnded) {
		return e.closeAfterEnd(ctx, job)
	}
	if err != nil {
		return err
	}
	e.afterEnd(a.ExecutionID)
	return nil
}

// endExecution moves exe to a final status with its closing events (plus
// any given first), cancels unfinished steps, and admits the
// organization's next waiting execution. It runs in tx under the lock.
func (e *Engine) endExecution(ctx context.Context, tx domain.Tx, exe *domain.Execution, status domain.ExecutionStatus,
	msg, kind string, events []domain.ExecutionEvent) error {
	now := tx.Now()
	if _, err := tx.SetStepStatuses(exe.ID, []domain.StepStatus{domain.StepWaiting, domain.StepQueued, domain.StepRunning},
		domain.StepCancelled); err != nil {
		return err
	}
	exe.Status, exe.Error, exe.ErrorKind, exe.CompletedAt = status, msg, kind, &now
	if exe.StartedAt != nil {
		d := now.Sub(*exe.StartedAt).Milliseconds()
		exe.DurationMS = &d
	}
	typ := map[domain.ExecutionStatus]string{domain.ExecutionSucceeded: domain.EventExecutionCompleted,
		domain.ExecutionFailed: domain.EventExecutionFailed, domain.ExecutionCancelled: domain.EventExecutionCancelled}[status]
	data := map[string]any{"status": string(status)}
	if msg != "" {
		data["error"] = msg
	}
	if kind != "" {
		data["error_kind"] = kind
	}
	if status == domain.ExecutionSucceeded {
		var out any
		_ = json.Unmarshal(exe.Output, &out)
		data["output"] = out
	}
	data["tokens_in"], data["tokens_out"], data["cost_usd"] = exe.TokensIn, exe.TokensOut, exe.CostUSD
	events = append(events, domain.ExecutionEvent{ExecutionID: exe.ID, Type: typ, CreatedAt: now, Data: mustJSON(data)})
	for i := range events {
		exe.EventSeq++
		events[i].Seq = exe.EventSeq
	}
	if err := tx.AppendEvents(events); err != nil {
		return err
	}
	if err := tx.UpdateExecution(exe); err != nil {
		return err
	}
	return e.admitNext(ctx, tx, exe.OrgID)
}

// afterEnd tells this and other processes that an execution ended: its
// running steps stop and listeners wake.
func (e *Engine) afterEnd(execID string) {
	e.bus.Cancel(execID)
}

// admitNext starts the organization's oldest waiting execution when it is
// under its concurrency limit. It runs in the transaction that ended an
// execution (and in the sweeper), under the organization's row lock.
func (e *Engine) admitNext(ctx context.Context, tx domain.Tx, orgID string) error {
	for {
		pending, err := tx.OldestPendingExecution()
		if domain.IsCode(err, domain.ECodeNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		org, err := tx.LockOrganization(orgID)
		if err != nil {
			return err
		}
		running, err := tx.CountRunningExecutions()
		if err != nil || running >= org.Limits.MaxConcurrentExecutions {
			return err
		}
		c, err := e.definition(tx, pending.WorkflowID, pending.WorkflowVersion)
		if err != nil {
			return err
		}
		if err := e.start(ctx, tx, pending, c, priorityFor(running)); err != nil {
			return err
		}
		tx.AfterCommit(func() { e.bus.EventsStored(pending.ID) })
	}
}
