// Package engine runs workflows durably on the job queue. Every step is a
// River job whose arguments carry ids only; a step's result, the events it
// produced and the jobs of the steps it unblocks commit in one transaction
// under the execution's row lock, so a step's completion counts exactly
// once, fan-in is race-free, and nothing runs without a committed job. A
// worker that dies mid-step loses nothing: River hands the job to another
// worker after the rescue horizon and the step runs again; steps that
// completed never run again. See docs/adr/0005-durable-execution.md.
package engine

import (
	"container/list"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// StepRunner runs one attempt of one node (the agent runtime).
type StepRunner interface {
	Run(ctx context.Context, in agent.StepInput) (*agent.StepResult, error)
}

// Options configure an Engine.
type Options struct {
	Store  domain.Store
	Runner StepRunner
	Bus    *Bus
	Log    *slog.Logger
	// ExecutionTimeout bounds a whole execution (EXECUTION_TIMEOUT).
	ExecutionTimeout time.Duration
	// RescueAfter is when River retries a job whose worker vanished; step
	// timeouts are kept below it so a slow step never runs twice at once.
	RescueAfter time.Duration
	// MaxExecutionsPerHour is MAX_WORKFLOW_EXECUTIONS_PER_HOUR, per organization.
	MaxExecutionsPerHour int
	// MissedRuns is "skip" or "run_once" (SCHEDULE_MISSED_RUNS).
	MissedRuns string
	Now        func() time.Time
	// InlineBudget bounds how long one job runs the steps it owns before
	// handing the rest to jobs of their own (0: inlineBudget).
	InlineBudget time.Duration
}

// Engine executes workflows.
type Engine struct {
	store      domain.Store
	runner     StepRunner
	bus        *Bus
	log        *slog.Logger
	client     *river.Client[*sql.Tx]
	timeout    time.Duration
	horizon    time.Duration
	perHour    int
	missedRuns string
	now        func() time.Time
	// inlineBudget: see Options.InlineBudget.
	inlineBudget time.Duration

	defs    *defCache
	retryAt sync.Map // River job id → time of its next attempt
	commits *committer
	starts  starts
}

// New builds an engine. Call SetQueue before running workers or executing.
func New(o Options) *Engine {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Bus == nil {
		o.Bus = NewBus("", o.Log)
	}
	if o.ExecutionTimeout <= 0 {
		o.ExecutionTimeout = time.Hour
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = 10 * time.Minute
	}
	if o.MaxExecutionsPerHour <= 0 {
		o.MaxExecutionsPerHour = 1000
	}
	if o.InlineBudget <= 0 {
		o.InlineBudget = inlineBudget
	}
	return &Engine{store: o.Store, runner: o.Runner, bus: o.Bus, log: o.Log, timeout: o.ExecutionTimeout,
		horizon: o.RescueAfter, perHour: o.MaxExecutionsPerHour, missedRuns: o.MissedRuns, now: o.Now,
		defs: newDefCache(512), commits: newCommitter(o.Store), inlineBudget: o.InlineBudget}
}

// SetQueue gives the engine the River client it inserts jobs with. (The
// client needs the engine's workers first, hence the second step.)
func (e *Engine) SetQueue(c *river.Client[*sql.Tx]) { e.client = c }

// SetRunner sets the step runner (the agent runtime, which in turn calls
// the engine for workflow tools, hence the second step).
func (e *Engine) SetRunner(r StepRunner) { e.runner = r }

// Bus returns the engine's signal bus.
func (e *Engine) Bus() *Bus { return e.bus }

// MaxStepTimeout is the longest a step may run: agent.MaxStepTimeout of
// the rescue horizon, the same cap workflow validation applies, so River
// never hands a still-running step to another worker and a timeout that
// validates is never cut.
func (e *Engine) MaxStepTimeout() time.Duration {
	return agent.MaxStepTimeout(e.horizon)
}

func (e *Engine) clock() time.Time { return e.now().UTC().Truncate(time.Microsecond) }

// compiled is a version's definition prepared for running.
type compiled struct {
	def   *domain.Definition
	graph *workflow.Graph
	nodes map[string]*domain.Node
}

// defCache keeps compiled definitions by (workflow, version). Versions are
// immutable, so entries never go stale; ids are globally unique, so the
// cache cannot mix organizations.
type defCache struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[string]*list.Element
}

type defEntry struct {
	key string
	val *compiled
}

func newDefCache(n int) *defCache {
	return &defCache{max: n, order: list.New(), items: map[string]*list.Element{}}
}

func (c *defCache) get(key string) (*compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*defEntry).val, true
	}
	return nil, false
}

func (c *defCache) add(key string, v *compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	c.items[key] = c.order.PushFront(&defEntry{key, v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*defEntry).key)
	}
}

func compile(def *domain.Definition) (*compiled, error) {
	g, err := workflow.NewGraph(def)
	if err != nil {
		return nil, err
	}
	c := &compiled{def: def, graph: g, nodes: make(map[string]*domain.Node, len(def.Nodes))}
	for i := range def.Nodes {
		c.nodes[def.Nodes[i].ID] = &def.Nodes[i]
	}
	return c, nil
}

func defKey(workflowID string, version int) string { return fmt.Sprintf("%s@%d", workflowID, version) }

// definition returns the compiled definition of a workflow version.
func (e *Engine) definition(q domain.Queries, workflowID string, version int) (*compiled, error) {
	key := defKey(workflowID, version)
	if c, ok := e.defs.get(key); ok {
		return c, nil
	}
	v, err := q.GetWorkflowVersion(workflowID, version)
	if domain.IsCode(err, domain.ECodeNotFound) {
		return nil, err // as RunnableVersion says it
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", key, err)
	}
	def := v.Resolved
	c, err := compile(&def)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", key, err)
	}
	e.defs.add(key, c)
	return c, nil
}

// runnable reads the workflow an execution would start (without its
// definition) and returns the version that runs and its compiled
// definition, read only when not cached: RunnableVersion's answer, in one
// read instead of two when the definition is cached.
func (e *Engine) runnable(q domain.Queries, workflowID string, env domain.Environment, version int) (*domain.Workflow, int, *compiled, error) {
	wf, err := q.GetWorkflowHead(workflowID)
	if err != nil {
		return nil, 0, nil, err
	}
	n, err := wf.RunnableVersion(env, version)
	if err != nil {
		return nil, 0, nil, err
	}
	c, err := e.definition(q, wf.ID, n)
	if err != nil {
		return nil, 0, nil, err
	}
	return wf, n, c, nil
}

// ExecuteRequest starts an execution.
type ExecuteRequest struct {
	WorkflowID string
	Input      json.RawMessage
	// Environment or Version chooses what runs; neither: the latest version.
	Environment       domain.Environment
	Version           int
	IdempotencyKey    string
	Trigger           domain.ExecutionTrigger
	ScheduleID        string
	ParentExecutionID string
	// Meta describes the HTTP request, for the audit row.
	Meta RequestMeta

	depth int // the new execution's depth in workflow calls
}

// RequestMeta describes the request an execution came from.
type RequestMeta struct {
	IP        string
	UserAgent string
	RequestID string
}

// Limits on requests.
const (
	MaxIdempotencyKeyLen = 255
	IdempotencyTTL       = 24 * time.Hour
	maxOutputBytes       = 1 << 20
	maxWorkflowDepth     = 5
)

// requestHash identifies what an idempotent request asked for.
func requestHash(r *ExecuteRequest) string {
	var input any
	_ = json.Unmarshal(r.Input, &input)
	canon, _ := json.Marshal(input)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00", r.WorkflowID, r.Environment, r.Version)
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// Execute records an execution and enqueues its first steps in one
// transaction. With an idempotency key, a repeat returns the execution the
// first request started (existing=true) and starts nothing; the same key
// with a different request is a 422.
func (e *Engine) Execute(ctx context.Context, p *domain.Principal, req ExecuteRequest) (exe *domain.Execution, existing bool, err error) {
	if len(req.IdempotencyKey) > MaxIdempotencyKeyLen {
		return nil, false, domain.Invalid("Idempotency-Key is too long", domain.FieldError{Pointer: "header.Idempotency-Key",
			Message: fmt.Sprintf("at most %d characters", MaxIdempotencyKeyLen)})
	}
	if len(req.Input) == 0 {
		req.Input = json.RawMessage("{}")
	}
	var input any
	if err := json.Unmarshal(req.Input, &input); err != nil {
		return nil, false, domain.Invalid("input is not valid JSON", domain.FieldError{Pointer: "/input", Message: "not valid JSON"})
	}
	if req.Trigger == "" {
		req.Trigger = domain.TriggerManual
	}
	hash := requestHash(&req)
	scope := p.Scope()
	if req.IdempotencyKey != "" {
		if exe, err := e.replay(ctx, scope, req.IdempotencyKey, hash); exe != nil || err != nil {
			return exe, exe != nil, err
		}
	}
	// Concurrent starts of one scope go into one transaction (starts.go);
	// an idempotent start, a workflow tool's child and a request whose
	// principal is still to be confirmed start on their own.
	start := e.startOne
	if req.IdempotencyKey == "" && req.ParentExecutionID == "" && domain.PrincipalCheckFrom(ctx) == nil {
		start = e.startBatched
	}
	exe, err = start(ctx, p, &req, input, hash)
	if req.IdempotencyKey != "" && domain.IsCode(err, domain.ECodeConflict) {
		// A concurrent request with the same key committed first: answer
		// with its execution.
		if exe, rerr := e.replay(ctx, scope, req.IdempotencyKey, hash); exe != nil || rerr != nil {
			return exe, exe != nil, rerr
		}
	}
	if err != nil {
		return nil, false, err
	}
	e.bus.EventsStored(exe.ID)
	return exe, false, nil
}

// startOne starts an execution in a transaction of its own. The workflow
// is read, and the input checked, in the transaction that starts the
// execution: one transaction instead of two.
func (e *Engine) startOne(ctx context.Context, p *domain.Principal, req *ExecuteRequest, input any, hash string) (exe *domain.Execution, err error) {
	err = e.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		wf, version, c, err := e.runnable(tx, req.WorkflowID, req.Environment, req.Version)
		if err != nil {
			return err
		}
		if err := checkInput(c, input); err != nil {
			return err
		}
		exe, err = e.createExecution(ctx, tx, p, wf, version, c, req, hash)
		return err
	})
	return exe, err
}

// checkInput checks an execution's input against its workflow's schema.
func checkInput(c *compiled, input any) error {
	errs := workflow.CheckInput(c.def.InputSchema, input)
	if len(errs) == 0 {
		return nil
	}
	for i := range errs {
		errs[i].Pointer = "/input" + errs[i].Pointer
	}
	return domain.Invalid("the input does not match the workflow's input schema", errs...)
}

// replay answers a repeated idempotent request: the execution the key
// started, nil when the key is unknown, or 422 for a different request.
func (e *Engine) replay(ctx context.Context, scope domain.Scope, key, hash string) (*domain.Execution, error) {
	var exe *domain.Execution
	err := e.store.Read(ctx, scope, func(q domain.Queries) error {
		k, err := q.GetIdempotencyKey(key, e.clock())
		if err != nil {
			return err
		}
		if k.RequestHash != hash {
			return domain.Invalid("this Idempotency-Key was used for a different request",
				domain.FieldError{Pointer: "header.Idempotency-Key", Message: "reuse a key only to repeat the same request"})
		}
		exe, err = q.GetExecution(k.ExecutionID)
		return err
	})
	if domain.IsCode(err, domain.ECodeNotFound) {
		return nil, nil
	}
	return exe, err
}

// createExecution inserts the execution, its steps and its idempotency key,
// applies the organization's limits, and — unless the organization is at
// its concurrency limit, which leaves the execution pending — queues the
// root steps. It runs inside tx.
func (e *Engine) createExecution(ctx context.Context, tx domain.Tx, p *domain.Principal, wf *domain.Workflow, version int,
	c *compiled, req *ExecuteRequest, hash string) (*domain.Execution, error) {
	exe, err := e.createExecutionWithID(ctx, tx, p, wf, version, c, req, domain.NewID(domain.PrefixExecution))
	if err != nil {
		return nil, err
	}
	if req.IdempotencyKey != "" {
		if err := tx.CreateIdempotencyKey(&domain.IdempotencyKey{Key: req.IdempotencyKey, RequestHash: hash,
			ExecutionID: exe.ID, CreatedAt: tx.Now(), ExpiresAt: tx.Now().Add(IdempotencyTTL)}); err != nil {
			return nil, err
		}
	}
	return exe, nil
}

// createExecutionWithID is createExecution without the idempotency key.
//
// Admission takes the organization's counter row (CountExecutionStart),
// which serialises it per organization. When the organization looks under
// its concurrency limit the execution is written as started in a savepoint
// and the counter is taken last, so concurrent starts overlap all their
// inserts and queue only for the check and the commit; if the check then
// finds no room, the savepoint is rolled back and the execution written
// again under the lock, as pending or started.
func (e *Engine) createExecutionWithID(ctx context.Context, tx domain.Tx, p *domain.Principal, wf *domain.Workflow, version int,
	c *compiled, req *ExecuteRequest, id string) (*domain.Execution, error) {
	org, err := tx.GetOrganization(p.OrgID)
	if err != nil {
		return nil, err
	}
	if req.ParentExecutionID != "" {
		parent, err := tx.GetExecution(req.ParentExecutionID)
		if err != nil {
			return nil, err
		}
		req.depth = parent.Depth + 1
	}
	running, err := tx.CountRunningExecutions()
	if err != nil {
		return nil, err
	}
	// A workflow tool's child execution is admitted whatever the
	// concurrency limit: its caller (CallWorkflow, the only source of
	// ParentExecutionID) holds a slot while it waits, so queueing the child
	// could deadlock the organization. It still counts toward the hourly
	// and monthly limits.
	child := req.ParentExecutionID != ""
	var exe *domain.Execution
	if child || running < org.Limits.MaxConcurrentExecutions {
		err = tx.Savepoint(func() error {
			var err error
			if exe, err = e.insertExecution(ctx, tx, p, wf, version, c, req, id, true, running); err != nil {
				return err
			}
			admit, _, err := e.checkLimits(tx, org, 1)
			if err == nil && !admit && !child {
				err = errNoRoom
			}
			return err
		})
		if err != nil && !errors.Is(err, errNoRoom) {
			return nil, err
		}
	}
	if exe == nil || err != nil {
		admit, running, err := e.checkLimits(tx, org, 0)
		if err != nil {
			return nil, err
		}
		admit = admit || child
		if exe, err = e.insertExecution(ctx, tx, p, wf, version, c, req, id, admit, running); err != nil {
			return nil, err
		}
	}
	tx.Audit(startedAudit(p, exe, req))
	return exe, nil
}

// startedAudit is the audit row of a started (or pending) execution.
func startedAudit(p *domain.Principal, exe *domain.Execution, req *ExecuteRequest) domain.AuditEvent {
	return domain.AuditEvent{Action: "execution.started", ResourceType: "execution", ResourceID: exe.ID, Success: true,
		UserID: p.UserID, APIKeyID: p.APIKeyID, IPAddress: req.Meta.IP, UserAgent: req.Meta.UserAgent, RequestID: req.Meta.RequestID,
		Details: map[string]any{"workflow_id": exe.WorkflowID, "version": exe.WorkflowVersion, "trigger": string(req.Trigger),
			"status": string(exe.Status)}}
}

// errNoRoom: the organization reached its concurrency limit between the
// unlocked look and the admission lock.
var errNoRoom = errors.New("no room under the concurrency limit")

// checkLimits takes the organization's admission lock, counts the new
// execution against the month, and checks the hourly and monthly limits
// (an error) and the concurrency limit (admit false: the execution waits
// as pending; ending executions admit it, see admitNext). written is 1 when
// the new execution is already written as running (and so in the counts),
// 0 when it is not; running counts the other running executions.
func (e *Engine) checkLimits(tx domain.Tx, org *domain.Organization, written int) (admit bool, running int, err error) {
	now := tx.Now()
	thisMonth, lastHour, running, err := tx.CountExecutionStart(now.Add(-time.Hour), now, 1)
	if err != nil {
		return false, 0, err
	}
	if err := e.limitExceeded(org, thisMonth, lastHour, now); err != nil {
		return false, 0, err
	}
	// The start just counted is in running only when written.
	running -= written
	return running < org.Limits.MaxConcurrentExecutions, running, nil
}

// limitExceeded is the error of a start that exceeds the hourly or the
// monthly limit: the start's count this month and in the last hour
// include it.
func (e *Engine) limitExceeded(org *domain.Organization, thisMonth, lastHour int, now time.Time) error {
	if lastHour-1 >= e.perHour {
		return &domain.Error{Code: domain.ECodeLimitExceeded, Limit: "max_workflow_executions_per_hour",
			LimitValue: int64(e.perHour), RetryAfterSeconds: 60,
			Message: fmt.Sprintf("this organization started %d executions in the last hour, the most allowed (MAX_WORKFLOW_EXECUTIONS_PER_HOUR)", e.perHour)}
	}
	if thisMonth > org.Limits.MaxExecutionsPerMonth {
		monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		next := monthStart.AddDate(0, 1, 0)
		return &domain.Error{Code: domain.ECodeLimitExceeded, Limit: "max_executions_per_month",
			LimitValue: int64(org.Limits.MaxExecutionsPerMonth), RetryAfterSeconds: int(next.Sub(now).Seconds()) + 1,
			Message: fmt.Sprintf("the %s plan allows %d executions a month", org.Plan, org.Limits.MaxExecutionsPerMonth)}
	}
	return nil
}

// insertExecution writes the execution and its steps: started (running,
// root steps queued with their jobs, the started event) when admit,
// pending otherwise. running is the number of the organization's other
// running executions, for the jobs' priority.
func (e *Engine) insertExecution(ctx context.Context, tx domain.Tx, p *domain.Principal, wf *domain.Workflow, version int,
	c *compiled, req *ExecuteRequest, id string, admit bool, running int) (*domain.Execution, error) {
	n := e.newExecution(tx.Now(), p, wf, version, c, req, id, admit)
	if err := tx.CreateExecutionsWith([]domain.NewExecution{n}); err != nil {
		return nil, err
	}
	if !admit {
		return n.Execution, nil
	}
	return n.Execution, e.insertJobs(ctx, tx, rootJobs(n.Execution, c, priorityFor(running)))
}

// rootJobs are the jobs of an admitted execution's root steps.
func rootJobs(exe *domain.Execution, c *compiled, priority int) []river.InsertManyParams {
	var jobs []river.InsertManyParams
	for _, id := range c.graph.Roots() {
		jobs = append(jobs, stepJob(exe, c.nodes[id], priority))
	}
	return jobs
}

// newExecution is a new execution with its steps: running, its root steps
// queued and its started event, when admit; pending otherwise.
func (e *Engine) newExecution(now time.Time, p *domain.Principal, wf *domain.Workflow, version int,
	c *compiled, req *ExecuteRequest, id string, admit bool) domain.NewExecution {
	deadline := now.Add(e.timeout)
	exe := &domain.Execution{ID: id, TeamID: wf.TeamID, WorkflowID: wf.ID,
		WorkflowVersion: version, Status: domain.ExecutionPending, Trigger: req.Trigger, TriggeredBy: p.UserID,
		APIKeyID: p.APIKeyID, ScheduleID: req.ScheduleID, ParentExecutionID: req.ParentExecutionID, Input: req.Input,
		CreatedAt: now, NodesTotal: len(c.def.Nodes), DeadlineAt: &deadline, Depth: req.depth}
	roots := map[string]bool{}
	if admit {
		exe.Status, exe.StartedAt, exe.EventSeq = domain.ExecutionRunning, &now, 1
		for _, r := range c.graph.Roots() {
			roots[r] = true
		}
	}
	steps := make([]domain.Step, 0, len(c.def.Nodes))
	for _, id := range c.graph.Order() {
		st := domain.StepWaiting
		if roots[id] {
			st = domain.StepQueued
		}
		steps = append(steps, domain.Step{ExecutionID: exe.ID, NodeID: id, NodeType: c.nodes[id].Type,
			Status: st, PendingParents: len(c.graph.Incoming(id))})
	}
	var events []domain.ExecutionEvent
	if admit {
		events = append(events, startedEvent(exe, now))
	}
	return domain.NewExecution{Execution: exe, Steps: steps, Events: events}
}

func startedEvent(exe *domain.Execution, at time.Time) domain.ExecutionEvent {
	return domain.ExecutionEvent{ExecutionID: exe.ID, Seq: exe.EventSeq, Type: domain.EventExecutionStarted, CreatedAt: at,
		Data: mustJSON(map[string]any{"workflow_id": exe.WorkflowID, "version": exe.WorkflowVersion})}
}

// priorityFor spreads work fairly: an organization with few running
// executions gets River's highest priority, a flooding one the lowest, so
// one tenant's backlog does not starve another's work.
func priorityFor(running int) int {
	switch {
	case running <= 1:
		return 1
	case running <= 4:
		return 2
	case running <= 16:
		return 3
	}
	return 4
}

// start moves an execution to running and queues its root steps, in tx.
func (e *Engine) start(ctx context.Context, tx domain.Tx, exe *domain.Execution, c *compiled, priority int) error {
	now := tx.Now()
	exe.Status, exe.StartedAt = domain.ExecutionRunning, &now
	exe.EventSeq++
	events := []domain.ExecutionEvent{startedEvent(exe, now)}
	if err := tx.MarkStepsQueued(exe.ID, c.graph.Roots()); err != nil {
		return err
	}
	if err := tx.SaveExecution(exe, events); err != nil {
		return err
	}
	return e.insertJobs(ctx, tx, rootJobs(exe, c, priority))
}

func (e *Engine) insertJobs(ctx context.Context, tx domain.Tx, jobs []river.InsertManyParams) error {
	_, err := e.insertJobsResults(ctx, tx, jobs)
	return err
}

// insertJobsResults inserts jobs in tx and returns their ids, in order.
func (e *Engine) insertJobsResults(ctx context.Context, tx domain.Tx, jobs []river.InsertManyParams) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	if e.client == nil {
		return nil, errors.New("engine has no job queue")
	}
	res, err := e.client.InsertManyTx(ctx, tx.SQL(), jobs)
	if err != nil {
		return nil, fmt.Errorf("enqueue steps: %w", err)
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.Job.ID
	}
	return ids, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}
