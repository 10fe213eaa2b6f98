package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// maxEventOutputBytes bounds the output copied into a step.completed event;
// larger outputs are read from the execution record.
const maxEventOutputBytes = 16 << 10

// complete commits a step's result: the step row, its events, the
// resolution of its outgoing edges (queueing children whose edges are all
// resolved with at least one holding, skipping — transitively — those whose
// edges all failed), and, when it was the last step, the execution's
// output. All of it, and the job's completion when it owns no other step,
// in one transaction under the execution's row lock.
func (e *Engine) complete(ctx context.Context, t *ticket, st *stepState, res *agent.StepResult,
	started, finished time.Time, recordedStart bool) (*continuation, error) {
	a := t.a
	attempt := t.attempt
	nodes := make(map[string]any, len(st.nodes)+1)
	for k, v := range st.nodes {
		nodes[k] = v
	}
	nodes[a.NodeID] = res.Output
	env := workflow.Env{Input: st.input, Nodes: nodes, Output: res.Output}
	var outcomes []domain.EdgeResolution
	for _, ed := range st.c.graph.Outgoing(a.NodeID) {
		holds := true
		if st.node.Type == domain.NodeRouter {
			holds = ed.To == res.Route
		}
		if holds && ed.Condition != "" {
			ok, err := workflow.EvalCondition(ed.Condition, env)
			if err != nil {
				return nil, e.failExecution(ctx, t, "invalid_condition",
					fmt.Sprintf("the condition on the edge %s → %s failed: %v", ed.From, ed.To, err))
			}
			holds = ok
		}
		outcomes = append(outcomes, domain.EdgeResolution{NodeID: ed.To, Holds: holds, OwnerJob: e.ownerFor(st.c, ed.To, t.job.ID)})
	}
	output, _ := json.Marshal(res.Output)
	var toolCalls json.RawMessage
	if len(res.ToolCalls) > 0 {
		toolCalls, _ = json.Marshal(res.ToolCalls)
	}
	d := finished.Sub(started).Milliseconds()
	s := &domain.Step{ExecutionID: a.ExecutionID, NodeID: a.NodeID, Status: domain.StepCompleted, Attempts: attempt, Output: output,
		Model: res.Model, ToolCalls: toolCalls, TokensIn: res.Usage.InputTokens, TokensOut: res.Usage.OutputTokens,
		TokensCached: res.Usage.CachedInputTokens, CostUSD: res.CostUSD, StartedAt: &started, FinishedAt: &finished, DurationMS: &d}
	if !recordedStart { // a slow step's input was written with its start
		s.Input = st.received
	}
	// The step's own edges and what it adds to the execution (usage, one
	// node done, its events) go in the same statement, which the batch may
	// share with other executions' completions.
	var stepEvents []domain.ExecutionEvent
	if !recordedStart {
		stepEvents = append(stepEvents, domain.ExecutionEvent{ExecutionID: a.ExecutionID, Type: domain.EventStepStarted, NodeID: a.NodeID,
			CreatedAt: started, Data: mustJSON(map[string]any{"attempt": attempt})})
	}
	done := map[string]any{"attempt": attempt, "duration_ms": d, "tokens_in": res.Usage.InputTokens,
		"tokens_out": res.Usage.OutputTokens, "cost_usd": res.CostUSD}
	if res.Model != "" {
		done["model"] = res.Model
	}
	if len(output) <= maxEventOutputBytes {
		done["output"] = json.RawMessage(output)
	}
	stepEvents = append(stepEvents, domain.ExecutionEvent{ExecutionID: a.ExecutionID, Type: domain.EventStepCompleted, NodeID: a.NodeID,
		CreatedAt: finished, Data: mustJSON(done)})
	progress := &domain.StepProgress{TokensIn: res.Usage.InputTokens, TokensOut: res.Usage.OutputTokens,
		TokensCached: res.Usage.CachedInputTokens, CostUSD: res.CostUSD, Events: stepEvents}
	// LockAndFinishStep sets the edges' counts each time the batch runs
	// this write, before anything reads them.
	edges := outcomes
	finish := &domain.FinishCall{Step: s, Edges: edges, Progress: progress}
	ended := false
	var next *continuation
	err := e.commits.write(ctx, a.ExecutionID, domain.OrgScope(a.OrgID), finish, func(tx domain.Tx) error {
		ended, next = false, nil // the batch may run this again
		exe, won, err := tx.LockAndFinishStep(s, edges, progress)
		if err != nil {
			return err
		}
		if exe.Final() {
			// Ending cancelled every unfinished step, those this job owns too.
			if _, err := tx.FinishStep(&domain.Step{ExecutionID: exe.ID, NodeID: a.NodeID, Status: domain.StepCancelled}); err != nil {
				return err
			}
			return t.finish(ctx, tx)
		}
		if !won { // a duplicate delivery: the step already ended
			if next = t.next(exe, st.c, st.input, nodes); next != nil {
				return nil
			}
			return t.finish(ctx, tx)
		}
		var events []domain.ExecutionEvent // written after the step's own
		ready, skipped, err := e.resolveEdges(tx, exe, st.c, edges, t.job.ID)
		if err != nil {
			return err
		}
		for _, id := range skipped {
			events = append(events, domain.ExecutionEvent{ExecutionID: exe.ID, Type: domain.EventStepSkipped, NodeID: id, CreatedAt: tx.Now()})
		}
		// Fast steps made ready here are this job's to run (resolveEdges
		// claimed them); the others get jobs of their own.
		owned := &ticket{job: t.job, a: a, queue: append([]string(nil), t.queue...)}
		nextNodes, fresh := nodes, false
		jobs := make([]river.InsertManyParams, 0, len(ready))
		for _, id := range ready {
			if !fastKind(st.c.nodes[id]) {
				jobs = append(jobs, stepJob(exe, st.c.nodes[id], a.Priority))
				continue
			}
			owned.queue = append(owned.queue, id)
			if len(st.c.graph.Incoming(id)) > 1 && !fresh {
				// A join reads every parent's output, some written by
				// other jobs.
				if nextNodes, err = completedOutputs(tx, exe.ID); err != nil {
					return err
				}
				fresh = true
			}
		}
		if err := e.insertJobs(ctx, tx, jobs); err != nil {
			return err
		}
		if exe.NodesDone >= exe.NodesTotal {
			ended = true
			out, err := e.executionOutput(tx, exe, st)
			if err != nil {
				if err := e.endBatched(tx, exe, domain.ExecutionFailed, err.Error(), "invalid_output", events); err != nil {
					return err
				}
			} else {
				exe.Output = out
				if err := e.endBatched(tx, exe, domain.ExecutionSucceeded, "", "", events); err != nil {
					return err
				}
			}
		} else if len(skipped) > 0 {
			for i := range events {
				exe.EventSeq++
				events[i].Seq = exe.EventSeq
			}
			if err := tx.SaveExecution(exe, events); err != nil {
				return err
			}
		}
		if !ended {
			if next = owned.next(exe, st.c, st.input, nextNodes); next != nil {
				return nil // the job carries on with a step it owns
			}
		}
		return t.finish(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	e.bus.StepEnded(a.ExecutionID, a.NodeID)
	if ended {
		e.bus.Finished(a.ExecutionID)
		return nil, nil
	}
	e.bus.EventsStored(a.ExecutionID)
	return next, nil
}

// resolveEdges goes on from edges a step's completion resolved
// (LockAndFinishStep). A target whose incoming edges are all resolved is
// ready when one holds, and is skipped otherwise — and a skipped node
// resolves its own outgoing edges as not holding, so skip propagates. It
// returns ready and skipped node ids.
//
// The job claims every fast target: the store records it as the owner
// when the edge makes the target ready (its only parent's, or a join's
// last), in the same statement.
func (e *Engine) resolveEdges(tx domain.Tx, exe *domain.Execution, c *compiled, edges []domain.EdgeResolution, jobID int64) (ready, skipped []string, err error) {
	var more []domain.EdgeResolution // edges of skipped nodes, not resolved yet
	for len(edges) > 0 || len(more) > 0 {
		var ed domain.EdgeResolution
		if len(edges) > 0 {
			ed, edges = edges[0], edges[1:]
		} else {
			ed, more = more[0], more[1:]
			if ed.Pending, ed.Holding, err = tx.ResolveParentEdge(exe.ID, ed.NodeID, ed.Holds, ed.OwnerJob); err != nil {
				return nil, nil, err
			}
		}
		if ed.Pending > 0 {
			continue
		}
		if ed.Holding > 0 {
			ready = append(ready, ed.NodeID)
			continue
		}
		now := tx.Now()
		if _, err := tx.FinishStep(&domain.Step{ExecutionID: exe.ID, NodeID: ed.NodeID, Status: domain.StepSkipped, FinishedAt: &now}); err != nil {
			return nil, nil, err
		}
		exe.NodesDone++
		skipped = append(skipped, ed.NodeID)
		for _, out := range c.graph.Outgoing(ed.NodeID) {
			more = append(more, domain.EdgeResolution{NodeID: out.To, OwnerJob: e.ownerFor(c, out.To, jobID)})
		}
	}
	return ready, skipped, nil
}

// ownerFor is the job that claims a target when an edge makes it ready:
// this job for a fast step, none (0) for a step that gets its own job.
func (e *Engine) ownerFor(c *compiled, nodeID string, jobID int64) int64 {
	if fastKind(c.nodes[nodeID]) {
		return jobID
	}
	return 0
}

// completedOutputs reads the outputs of an execution's completed steps.
func completedOutputs(tx domain.Tx, execID string) (map[string]any, error) {
	steps, err := tx.ListSteps(execID)
	if err != nil {
		return nil, err
	}
	nodes := map[string]any{}
	for _, s := range steps {
		if s.Status == domain.StepCompleted {
			var v any
			_ = json.Unmarshal(s.Output, &v)
			nodes[s.NodeID] = v
		}
	}
	return nodes, nil
}

// executionOutput shapes the execution's output: the output template
// rendered over the input and every completed node's output (parsed as
// JSON when it is JSON); without a template, the output of the single
// completed sink, or an object of the completed sinks' outputs by node id.
func (e *Engine) executionOutput(tx domain.Tx, exe *domain.Execution, st *stepState) (json.RawMessage, error) {
	nodes, err := completedOutputs(tx, exe.ID)
	if err != nil {
		return nil, err
	}
	if tmpl := st.c.def.OutputTemplate; tmpl != "" {
		text, err := workflow.RenderTemplate(tmpl, workflow.Data{Input: st.input, Nodes: nodes, ExecutionID: exe.ID})
		if err != nil {
			return nil, fmt.Errorf("the output template failed: %v", err)
		}
		var v any
		if json.Unmarshal([]byte(text), &v) == nil {
			return json.RawMessage(text), nil
		}
		return mustJSON(text), nil
	}
	sinks := map[string]any{}
	for _, id := range st.c.graph.Sinks() {
		if v, ok := nodes[id]; ok {
			sinks[id] = v
		}
	}
	if len(sinks) == 1 {
		for _, v := range sinks {
			return mustJSON(v), nil
		}
	}
	return mustJSON(sinks), nil
}

// failExecution fails the execution of a step that could not run (the
// execution's deadline passed, or an edge condition failed).
func (e *Engine) failExecution(ctx context.Context, t *ticket, kind, msg string) error {
	a := t.a
	err := e.store.Write(ctx, domain.OrgScope(a.OrgID), func(tx domain.Tx) error {
		exe, err := tx.LockExecution(a.ExecutionID)
		if err != nil {
			return err
		}
		if !exe.Final() {
			if err := e.endExecution(ctx, tx, exe, domain.ExecutionFailed, msg, kind, nil); err != nil {
				return err
			}
		}
		return t.finish(ctx, tx)
	})
	if err != nil {
		return err
	}
	e.afterEnd(a.ExecutionID)
	return nil
}

// Cancel stops an execution: it becomes cancelled, steps that have not
// run never start, and running steps are told to stop (within a second, in
// any process; within a few seconds when the signal is lost, see
// WatchCancels).
func (e *Engine) Cancel(ctx context.Context, p *domain.Principal, id string, meta RequestMeta) (*domain.Execution, error) {
	var exe *domain.Execution
	err := e.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		var err error
		if exe, err = tx.LockExecution(id); err != nil {
			return err
		}
		if exe.Final() {
			return domain.Errorf(domain.ECodeConflict, "the execution already ended (%s)", exe.Status)
		}
		now := tx.Now()
		exe.CancelRequestedAt = &now
		if err := e.endExecution(ctx, tx, exe, domain.ExecutionCancelled, "cancelled", "cancelled", nil); err != nil {
			return err
		}
		tx.Audit(domain.AuditEvent{Action: "execution.cancelled", ResourceType: "execution", ResourceID: id, Success: true,
			UserID: p.UserID, APIKeyID: p.APIKeyID, IPAddress: meta.IP, UserAgent: meta.UserAgent, RequestID: meta.RequestID,
			Details: map[string]any{"workflow_id": exe.WorkflowID}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.afterEnd(id)
	return exe, nil
}

// Wait blocks until the execution ends or wait passes, and returns its
// latest state.
func (e *Engine) Wait(ctx context.Context, scope domain.Scope, id string, wait time.Duration) (*domain.Execution, error) {
	sub := e.bus.Subscribe(id)
	defer sub.Close()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// Poll slowly too: a wake-up lost with a dropped connection costs at most this.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var exe *domain.Execution
		err := e.store.Read(ctx, scope, func(q domain.Queries) error {
			var err error
			exe, err = q.GetExecution(id)
			return err
		})
		if err != nil || exe.Final() {
			return exe, err
		}
		select {
		case <-ctx.Done():
			return exe, nil
		case <-timer.C:
			return exe, nil
		case <-sub.Wake:
		case <-tick.C:
		}
	}
}
