package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// QueueSteps is the River queue the steps of top-level executions run on
// (see queue.StepQueue for called workflows').
const QueueSteps = queue.QueueSteps

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
		InsertOpts: &river.InsertOpts{Queue: queue.StepQueue(exe.Depth), Priority: max(priority, 1),
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
	return w.e.MaxStepTimeout() + agent.StepTimeoutMargin(w.e.horizon)
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

// ticket is the step a worker is running and the queue job it holds. The
// step is the job's own, or a successor the job owns (owner_job): a fast
// step that became ready when its parent committed, run in the same worker
// instead of waiting for the queue. A job owns every fast step its steps
// make ready (all branches of a fan-out, a join whose last edge it
// resolved) and runs them one after another; it stays running until it
// owns nothing more, and is completed in the transaction of its last
// step. If the worker dies, the queue rescues the job and it resumes the
// steps it owns. So nothing runs without a committed job, and a step's
// result and the ownership of the steps it unblocks commit together.
type ticket struct {
	job     *river.Job[StepArgs]
	a       StepArgs
	attempt int
	// queue holds the other steps the job owns, to run after this one.
	queue []string
}

func jobTicket(job *river.Job[StepArgs]) *ticket {
	return &ticket{job: job, a: job.Args, attempt: job.Attempt}
}

// owned reports whether the step is a continuation rather than the job's own.
func (t *ticket) owned() bool { return t.a.NodeID != t.job.Args.NodeID }

// finish completes the job in tx: the chain it carried ends here.
func (t *ticket) finish(ctx context.Context, tx domain.Tx) error {
	_, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.SQL(), t.job)
	return err
}

// next is the continuation for the first step queued on t (nil when the
// queue is empty): it runs with exe as last locked, and nodes, the outputs
// of the completed steps it may read.
func (t *ticket) next(exe *domain.Execution, c *compiled, input any, nodes map[string]any) *continuation {
	if len(t.queue) == 0 {
		return nil
	}
	id := t.queue[0]
	return &continuation{
		t: &ticket{job: t.job, a: StepArgs{OrgID: t.a.OrgID, ExecutionID: t.a.ExecutionID, NodeID: id, Priority: t.a.Priority},
			attempt: 1, queue: t.queue[1:]},
		st: &stepState{exe: exe, c: c, node: c.nodes[id], input: input, nodes: nodes},
	}
}

// handOff gives owned steps jobs of their own (runnable at the given
// time), in tx; the caller then finishes the job or carries on with what
// it still owns.
func (e *Engine) handOff(ctx context.Context, tx domain.Tx, exe *domain.Execution, c *compiled, ids []string, priority int, at time.Time) error {
	jobs := make([]river.InsertManyParams, 0, len(ids))
	for _, id := range ids {
		if err := tx.ReleaseStep(exe.ID, id); err != nil {
			return err
		}
		j := stepJob(exe, c.nodes[id], priority)
		if at.After(time.Now()) {
			j.InsertOpts.ScheduledAt = at
		}
		jobs = append(jobs, j)
	}
	return e.insertJobs(ctx, tx, jobs)
}

// stepState is what a step needs to run, read before it runs.
type stepState struct {
	exe   *domain.Execution
	c     *compiled
	node  *domain.Node
	step  *domain.Step
	input any
	nodes map[string]any // outputs of completed steps
	// received is what the step is given, as recorded on it (stepInput),
	// set when an attempt starts.
	received json.RawMessage
}

// maxStepInputBytes bounds the input recorded on a step: the step's input
// repeats its upstream outputs (each up to maxOutputBytes), so a larger one
// is recorded as a clipped preview; the full values stay on the execution
// and the upstream steps.
const maxStepInputBytes = 64 << 10

// stepInput is what a node receives, recorded as the step's input: the
// execution's input and the outputs of the completed nodes upstream of it
// (what its templates and expressions can read; a skipped node is absent
// and reads as empty), and for an llm node the prompts as rendered. Above
// maxStepInputBytes it becomes {"truncated": true, "bytes": n, "preview":
// the first part of the JSON text}.
func stepInput(st *stepState, executionID string) json.RawMessage {
	n := st.node
	upstream := map[string]any{}
	for _, id := range st.c.graph.Ancestors(n.ID) {
		if v, ok := st.nodes[id]; ok {
			upstream[id] = v
		}
	}
	rec := map[string]any{"input": st.input, "nodes": upstream}
	if n.Type == domain.NodeLLM && n.LLM != nil {
		d := workflow.Data{Input: st.input, Nodes: st.nodes, ExecutionID: executionID, NodeID: n.ID}
		if p, err := workflow.RenderTemplate(n.LLM.Prompt, d); err == nil {
			rec["prompt"] = p
		}
		if n.LLM.SystemPrompt != "" {
			if p, err := workflow.RenderTemplate(n.LLM.SystemPrompt, d); err == nil {
				rec["system_prompt"] = p
			}
		}
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil
	}
	if len(raw) <= maxStepInputBytes {
		return raw
	}
	preview := raw[:maxStepInputBytes/2]
	for len(preview) > 0 && !utf8.Valid(preview) {
		preview = preview[:len(preview)-1]
	}
	return mustJSON(map[string]any{"truncated": true, "bytes": len(raw), "preview": string(preview)})
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

// inlineBudget bounds how long one job runs owned steps before handing
// the rest to the queue, so a long chain does not hold a worker.
// It counts commit waits too, and under load a short budget feeds on
// itself: each hand-off is a job to insert, fetch and complete, which
// slows the next commits and brings more hand-offs (at one second, a
// PostgreSQL run of 1,000 ten-step chains handed off so often that it cost
// 1.3 commits a step and ran at 336 steps/s; at five, 0.57 and 507).
const inlineBudget = 5 * time.Second

// fastKind reports whether a node runs in-process in microseconds:
// transforms, routers and the mock provider without latency, failures or tools.
func fastKind(n *domain.Node) bool {
	switch n.Type {
	case domain.NodeTransform, domain.NodeRouter:
		return true
	case domain.NodeLLM:
		m := n.LLM.Mock
		return strings.HasPrefix(n.LLM.Model, "mock:") && len(n.LLM.Tools) == 0 &&
			(m == nil || (m.LatencyMS == 0 && m.FailFirst == 0 && len(m.ToolCalls) == 0))
	}
	return false
}

func (e *Engine) runStep(ctx context.Context, job *river.Job[StepArgs]) error {
	st, err := e.load(ctx, job.Args)
	if domain.IsCode(err, domain.ECodeNotFound) {
		return river.JobCancel(err) // the organization or execution is gone (purged)
	}
	if err != nil {
		return err
	}
	t := jobTicket(job)
	if st.step.Status.Final() {
		// A duplicate delivery never runs a step twice; a rescued job
		// resumes the steps it owned when its worker died.
		next, err := e.resume(ctx, t)
		if err != nil || next == nil {
			return err
		}
		t, st = next.t, next.st
	}
	began := time.Now()
	for {
		next, err := e.attempt(ctx, t, st)
		if err != nil || next == nil {
			return err
		}
		if ctx.Err() != nil || time.Since(began) > e.inlineBudget {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return e.store.Write(hctx, domain.OrgScope(next.t.a.OrgID), func(tx domain.Tx) error {
				ids := append([]string{next.t.a.NodeID}, next.t.queue...)
				if err := e.handOff(hctx, tx, next.st.exe, next.st.c, ids, next.t.a.Priority, time.Time{}); err != nil {
					return err
				}
				return next.t.finish(hctx, tx)
			})
		}
		t, st = next.t, next.st
	}
}

// resume continues the unfinished steps a rescued job owned.
func (e *Engine) resume(ctx context.Context, t *ticket) (*continuation, error) {
	var owned []string
	if err := e.store.Read(ctx, domain.OrgScope(t.a.OrgID), func(q domain.Queries) error {
		var err error
		owned, err = q.OwnedSteps(t.a.ExecutionID, t.job.ID)
		return err
	}); err != nil || len(owned) == 0 {
		return nil, err
	}
	a := t.a
	a.NodeID = owned[0]
	st, err := e.load(ctx, a)
	if err != nil {
		return nil, err
	}
	return &continuation{t: &ticket{job: t.job, a: a, attempt: st.step.Attempts + 1, queue: owned[1:]}, st: st}, nil
}

// continuation is an owned successor to run next.
type continuation struct {
	t  *ticket
	st *stepState
}

// attempt runs one attempt of the step in st under ticket t.
func (e *Engine) attempt(ctx context.Context, t *ticket, st *stepState) (*continuation, error) {
	a := t.a
	if st.exe.Final() {
		return nil, e.closeAfterEnd(ctx, t)
	}
	now := e.clock()
	if st.exe.DeadlineAt != nil && now.After(*st.exe.DeadlineAt) {
		return nil, e.failExecution(ctx, t, "timeout", "the execution ran past its timeout")
	}
	started := now
	recordedStart := false
	st.received = stepInput(st, a.ExecutionID)
	if slowKind(st.node.Type) && !fastKind(st.node) {
		if err := e.markStarted(ctx, a, t.attempt, started, st.received); err != nil {
			if errors.Is(err, errExecutionEnded) {
				return nil, e.closeAfterEnd(ctx, t)
			}
			return nil, err
		}
		recordedStart = true
	}

	timeout := workflow.StepTimeout(st.node, e.MaxStepTimeout())
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	if st.exe.DeadlineAt != nil {
		runCtx, cancel = context.WithDeadline(runCtx, *st.exe.DeadlineAt)
	}
	var cancelled atomic.Bool
	unregister := e.bus.registerCancel(a.OrgID, a.ExecutionID, func() { cancelled.Store(true); cancel() })
	res, runErr := e.runner.Run(runCtx, agent.StepInput{OrgID: a.OrgID, ExecutionID: a.ExecutionID, NodeID: a.NodeID,
		Attempt: t.attempt, Node: *st.node, Data: workflow.Data{Input: st.input, Nodes: st.nodes},
		OnDelta: func(text string) { e.bus.StepDelta(a.ExecutionID, a.NodeID, text) }})
	unregister()
	cancel()
	finished := e.clock()

	if cancelled.Load() {
		return nil, e.closeAfterEnd(ctx, t)
	}
	if ctx.Err() != nil {
		// The process is stopping: hand the job back to be retried; it
		// resumes the steps it owns.
		return nil, ctx.Err()
	}
	if runErr == nil {
		if b, _ := json.Marshal(res.Output); len(b) > maxOutputBytes {
			runErr = &agent.StepError{Kind: "invalid_output", Message: fmt.Sprintf("the output is larger than %d bytes", maxOutputBytes)}
		}
	}
	if runErr != nil {
		return e.stepFailed(ctx, t, st, runErr, started, finished)
	}
	return e.complete(ctx, t, st, res, started, finished, recordedStart)
}

var errExecutionEnded = errors.New("execution ended")

// markStarted records a slow step's start: status running, attempts, its
// input and a step.started event.
func (e *Engine) markStarted(ctx context.Context, a StepArgs, attempt int, at time.Time, input json.RawMessage) error {
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
		if len(input) > 0 {
			s.Input = input
		}
		if err := tx.UpdateStep(s); err != nil {
			return err
		}
		exe.EventSeq++
		return tx.SaveExecution(exe, []domain.ExecutionEvent{{ExecutionID: exe.ID, Seq: exe.EventSeq, Type: domain.EventStepStarted,
			NodeID: a.NodeID, Data: mustJSON(map[string]any{"attempt": attempt}), CreatedAt: at}})
	})
	if err == nil {
		e.bus.EventsStored(a.ExecutionID)
	}
	return err
}

// closeAfterEnd finishes the job of a step whose execution already ended
// (cancelled, failed or timed out): the step is marked cancelled unless it
// ended, and nothing runs after it.
func (e *Engine) closeAfterEnd(ctx context.Context, t *ticket) error {
	a := t.a
	return e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
		if _, err := tx.LockExecution(a.ExecutionID); err != nil {
			return err
		}
		if _, err := tx.FinishStep(&domain.Step{ExecutionID: a.ExecutionID, NodeID: a.NodeID, Status: domain.StepCancelled}); err != nil {
			return err
		}
		return t.finish(ctx, tx)
	})
}

// stepFailed retries a retryable failure while attempts remain, and
// otherwise fails the step and with it the execution. An owned step
// retries under a job of its own while this job goes on with the rest it
// owns (the continuation).
func (e *Engine) stepFailed(ctx context.Context, t *ticket, st *stepState, runErr error, started, finished time.Time) (*continuation, error) {
	a := t.a
	attempt := t.attempt
	se := asStepError(runErr)
	policy := workflow.EffectiveRetry(st.node.Retry)
	if se.Retryable && attempt < policy.MaxAttempts {
		next := workflow.Backoff(policy, attempt)
		if se.RetryAfter > next {
			next = se.RetryAfter
		}
		if st.exe.DeadlineAt != nil {
			next = min(next, time.Until(*st.exe.DeadlineAt))
		}
		var cont *continuation
		err := e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
			cont = nil
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
			s.Status, s.Attempts, s.Error, s.ErrorKind = domain.StepQueued, attempt, se.Message, string(se.Kind)
			if len(st.received) > 0 {
				s.Input = st.received
			}
			if s.StartedAt == nil {
				s.StartedAt = &started
			}
			chargePartial(exe, s, se)
			if err := tx.UpdateStep(s); err != nil {
				return err
			}
			exe.EventSeq++
			if err := tx.SaveExecution(exe, []domain.ExecutionEvent{{ExecutionID: exe.ID, Seq: exe.EventSeq, Type: domain.EventStepRetrying,
				NodeID: a.NodeID, CreatedAt: finished, Data: mustJSON(map[string]any{"attempt": attempt,
					"error": se.Message, "error_kind": se.Kind, "retry_in_ms": next.Milliseconds()})}}); err != nil {
				return err
			}
			if !t.owned() {
				return nil
			}
			if err := e.handOff(ctx, tx, exe, st.c, []string{a.NodeID}, a.Priority, time.Now().Add(next)); err != nil {
				return err
			}
			if cont = t.next(exe, st.c, st.input, st.nodes); cont != nil {
				return nil
			}
			return t.finish(ctx, tx)
		})
		if errors.Is(err, errExecutionEnded) {
			return nil, e.closeAfterEnd(ctx, t)
		}
		if err != nil {
			return nil, err
		}
		e.bus.EventsStored(a.ExecutionID)
		if t.owned() {
			return cont, nil
		}
		e.retryAt.Store(t.job.ID, time.Now().Add(next))
		return nil, fmt.Errorf("attempt %d of %d: %w", attempt, policy.MaxAttempts, runErr)
	}
	return nil, e.finalFailure(ctx, t, st, se, started, finished)
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
	s.CostUSD += se.Partial.CostUSD // FinishStep adds these to what earlier attempts spent
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
func (e *Engine) finalFailure(ctx context.Context, t *ticket, st *stepState, se *agent.StepError, started, finished time.Time) error {
	a := t.a
	attempt := t.attempt
	err := e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
		exe, err := tx.LockExecution(a.ExecutionID)
		if err != nil {
			return err
		}
		if exe.Final() {
			return errExecutionEnded
		}
		d := finished.Sub(started).Milliseconds()
		s := &domain.Step{ExecutionID: exe.ID, NodeID: a.NodeID, Status: domain.StepFailed, Attempts: attempt, Error: se.Message,
			ErrorKind: string(se.Kind), StartedAt: &started, FinishedAt: &finished, DurationMS: &d}
		chargePartial(exe, s, se)
		s.Input = st.received
		won, err := tx.FinishStep(s)
		if err != nil {
			return err
		}
		if !won {
			return t.finish(ctx, tx)
		}
		exe.NodesDone++
		events := []domain.ExecutionEvent{
			{ExecutionID: exe.ID, Type: domain.EventStepFailed, NodeID: a.NodeID, CreatedAt: finished,
				Data: mustJSON(map[string]any{"attempt": attempt, "error": se.Message, "error_kind": se.Kind})},
		}
		msg := fmt.Sprintf("agent %q failed: %s", a.NodeID, se.Message)
		if err := e.endExecution(ctx, tx, exe, domain.ExecutionFailed, msg, string(se.Kind), events); err != nil {
			return err
		}
		return t.finish(ctx, tx)
	})
	if errors.Is(err, errExecutionEnded) {
		return e.closeAfterEnd(ctx, t)
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
	if err := e.closeExecution(tx, exe, status, msg, kind, events); err != nil {
		return err
	}
	return e.admitNext(ctx, tx, exe.OrgID)
}

// endBatched is endExecution for a group-committed completion: admitting
// the next waiting execution takes the organization's admission lock, and
// a batch holding one organization's lock while another batch holds a
// second's (each ending executions of both) would deadlock, so admission
// runs in a transaction of its own after the batch commits (and, should
// the process stop first, in the sweeper).
func (e *Engine) endBatched(tx domain.Tx, exe *domain.Execution, status domain.ExecutionStatus,
	msg, kind string, events []domain.ExecutionEvent) error {
	if err := e.closeExecution(tx, exe, status, msg, kind, events); err != nil {
		return err
	}
	// A look that never waits (SKIP LOCKED): is anything waiting?
	if _, err := tx.OldestPendingExecution(); domain.IsCode(err, domain.ECodeNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	org := exe.OrgID
	tx.AfterCommit(func() { go e.admitLater(org) })
	return nil
}

// admitLater admits an organization's waiting executions in a transaction
// of its own.
func (e *Engine) admitLater(orgID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.Write(ctx, domain.OrgScope(orgID), func(tx domain.Tx) error {
		return e.admitNext(ctx, tx, orgID)
	}); err != nil {
		e.log.WarnContext(ctx, "waiting executions not admitted (the sweeper retries)", "org_id", orgID, "error", err)
	}
}

// closeExecution is endExecution without admission.
func (e *Engine) closeExecution(tx domain.Tx, exe *domain.Execution, status domain.ExecutionStatus,
	msg, kind string, events []domain.ExecutionEvent) error {
	now := tx.Now()
	// Every node done (completed, failed or skipped) leaves no step to cancel.
	if exe.NodesDone < exe.NodesTotal {
		if _, err := tx.SetStepStatuses(exe.ID, []domain.StepStatus{domain.StepWaiting, domain.StepQueued, domain.StepRunning},
			domain.StepCancelled); err != nil {
			return err
		}
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
	return tx.SaveExecution(exe, events)
}

// afterEnd tells this and other processes that an execution ended: its
// running steps stop and listeners wake.
func (e *Engine) afterEnd(execID string) {
	e.bus.Cancel(execID)
}

// admitNext starts the organization's oldest waiting execution when it is
// under its concurrency limit. It runs in the transaction that ended an
// execution (and in the sweeper), under the organization's admission lock.
func (e *Engine) admitNext(ctx context.Context, tx domain.Tx, orgID string) error {
	for {
		pending, err := tx.OldestPendingExecution()
		if domain.IsCode(err, domain.ECodeNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		org, err := tx.GetOrganization(orgID)
		if err != nil {
			return err
		}
		if _, err := tx.CountExecutionStarts(tx.Now(), 0); err != nil { // the admission lock
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
