package domain

import (
	"encoding/json"
	"time"
)

// StepStatus is the state of one node in one execution.
type StepStatus string

// Step statuses. A step waits for its parents, is queued when its job is
// inserted, runs, and ends completed, failed, skipped or cancelled.
const (
	StepWaiting   StepStatus = "waiting"
	StepQueued    StepStatus = "queued"
	StepRunning   StepStatus = "running"
	StepCompleted StepStatus = "completed"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
	StepCancelled StepStatus = "cancelled"
)

// Final reports whether the step has ended.
func (s StepStatus) Final() bool {
	return s == StepCompleted || s == StepFailed || s == StepSkipped || s == StepCancelled
}

// Step is one node's record in one execution: the per-agent result.
type Step struct {
	ID             string
	OrgID          string
	ExecutionID    string
	NodeID         string
	NodeType       NodeType
	Status         StepStatus
	PendingParents int // incoming edges not yet resolved
	HoldingParents int // resolved incoming edges that hold
	// OwnerJob is the queue job that runs this step inline, right after its
	// parent, in the same worker (0: the step has or gets a job of its own).
	OwnerJob     int64
	Attempts     int
	Input        json.RawMessage
	Output       json.RawMessage
	Error        string
	ErrorKind    string
	Model        string
	TokensIn     int64
	TokensOut    int64
	TokensCached int64
	CostUSD      float64
	ToolCalls    json.RawMessage
	StartedAt    *time.Time
	FinishedAt   *time.Time
	DurationMS   *int64
}

// Execution event types, in the order they can occur.
const (
	EventExecutionStarted   = "execution.started"
	EventStepStarted        = "step.started"
	EventStepDelta          = "step.delta"
	EventStepRetrying       = "step.retrying"
	EventStepCompleted      = "step.completed"
	EventStepFailed         = "step.failed"
	EventStepSkipped        = "step.skipped"
	EventExecutionCompleted = "execution.completed"
	EventExecutionFailed    = "execution.failed"
	EventExecutionCancelled = "execution.cancelled"
)

// ExecutionEvent is one stored lifecycle event. Seq is per execution,
// taken under the execution's row lock, and is the SSE event id.
type ExecutionEvent struct {
	OrgID       string
	ExecutionID string
	Seq         int64
	Type        string
	NodeID      string
	Data        json.RawMessage
	CreatedAt   time.Time
}

// IdempotencyKey remembers which execution a client's Idempotency-Key started.
type IdempotencyKey struct {
	OrgID       string
	Key         string
	RequestHash string
	ExecutionID string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// ExecutionFilter selects executions for listing.
type ExecutionFilter struct {
	WorkflowID string
	Status     ExecutionStatus
	Trigger    ExecutionTrigger
	Since      *time.Time
	Until      *time.Time
	Page       Page
}

// EngineQueries are what the orchestration engine reads and writes.
type EngineQueries interface {
	// CountExecutionStarts takes the organization's admission lock — its
	// counter row, held until the transaction ends, which serialises
	// starting executions and checking the plan's limits per organization —
	// adds add to the executions started in at's calendar month
	// (UTC), and returns the month's count after the change. Taking it as
	// the last step before commit keeps concurrent starts of one
	// organization overlapping everything but the check.
	CountExecutionStarts(at time.Time, add int) (int, error)
	// ListExecutions returns one page, newest first, and the next cursor.
	ListExecutions(f ExecutionFilter) ([]Execution, string, error)
	// LockExecution reads an execution and holds its row until the
	// transaction ends (FOR UPDATE on PostgreSQL; SQLite's writer is
	// already exclusive). Every change to an execution's steps, events and
	// counters happens under this lock, so fan-in and event order are
	// race-free.
	LockExecution(id string) (*Execution, error)
	// UpdateExecution writes the execution's status, output, error, totals,
	// counters, event sequence and timestamps.
	UpdateExecution(e *Execution) error
	// SaveExecution is UpdateExecution and AppendEvents together, in one
	// statement on PostgreSQL (a step's completion writes both).
	SaveExecution(e *Execution, events []ExecutionEvent) error
	// CreateSteps inserts the steps of a new execution.
	CreateSteps(steps []Step) error
	// ListSteps returns an execution's steps in creation order.
	ListSteps(executionID string) ([]Step, error)
	// GetStep returns one step.
	GetStep(executionID, nodeID string) (*Step, error)
	// UpdateStep writes every mutable field of a step.
	UpdateStep(s *Step) error
	// ResolveParentEdge counts one incoming edge of a waiting step as
	// resolved (holding or not) and returns the counts after the change;
	// a step whose last edge resolves with one holding becomes queued in
	// the same statement.
	// ownerJob, when not 0, is recorded as the step's OwnerJob if it becomes queued.
	ResolveParentEdge(executionID, nodeID string, holds bool, ownerJob int64) (pending, holding int, err error)
	// OwnedSteps lists the unfinished steps of an execution owned by a job.
	OwnedSteps(executionID string, ownerJob int64) ([]string, error)
	// ReleaseStep clears a step's owner (its own job takes over).
	ReleaseStep(executionID, nodeID string) error
	// FinishStep writes a step's result (status, output, error, usage,
	// timings, and its input when set) unless the step already ended; false
	// means it had (a duplicate delivery) and nothing changed. A recorded
	// start and a recorded input are kept when not given.
	FinishStep(s *Step) (bool, error)
	// LockAndFinishStep is LockExecution then, unless the execution has
	// ended, FinishStep, and when that wrote the step, ResolveParentEdge
	// for each of edges, recording the counts in them, and the progress
	// (when not nil) added to the execution: one statement on PostgreSQL.
	// The execution returned carries the progress. won is false when the
	// execution ended or the step already had; edges and the execution
	// are then left alone.
	LockAndFinishStep(s *Step, edges []EdgeResolution, progress *StepProgress) (exe *Execution, won bool, err error)
	// ExecutionCounts adds add to the organization's starts in
	// at's minute and counts, in one statement on PostgreSQL, its starts
	// since hourStart's minute (per-minute counts, so the window is up to a
	// minute longer than asked; add included) and its running executions
	// (bounded by the concurrency limit). Call it after CountExecutionStarts,
	// under the admission lock.
	ExecutionCounts(hourStart, at time.Time, add int) (lastHour, running int, err error)
	// CountExecutionStart counts n (≥ 1) starts at at:
	// CountExecutionStarts(at, n) then ExecutionCounts(hourStart, at, n),
	// in one round trip on PostgreSQL, with the counts read after the
	// admission lock is held.
	CountExecutionStart(hourStart, at time.Time, n int) (month, lastHour, running int, err error)
	// EndedExecutions returns which of the given executions have ended.
	EndedExecutions(ids []string) ([]string, error)
	// PruneExecutionStartMinutes drops the per-minute start counts older
	// than before (system scope).
	PruneExecutionStartMinutes(before time.Time) (int64, error)
	// MarkStepsQueued marks the given steps queued (their jobs are inserted in the same transaction).
	MarkStepsQueued(executionID string, nodeIDs []string) error
	// SetStepStatuses moves every step of the execution in one of from to status.
	SetStepStatuses(executionID string, from []StepStatus, to StepStatus) (int, error)
	// AppendEvents inserts lifecycle events (their Seq already taken under the lock).
	AppendEvents(events []ExecutionEvent) error
	// ListEvents returns events with seq > afterSeq, in order.
	ListEvents(executionID string, afterSeq int64, limit int) ([]ExecutionEvent, error)
	// CountExecutionsSince counts the organization's executions created at or after since.
	CountExecutionsSince(since time.Time) (int, error)
	// CountRunningExecutions counts the organization's running executions.
	CountRunningExecutions() (int, error)
	// OldestPendingExecution returns the organization's oldest execution
	// waiting for admission, locked (ErrNotFound when none; on PostgreSQL
	// rows locked by another admitter are skipped).
	OldestPendingExecution() (*Execution, error)
	// GetIdempotencyKey returns an unexpired key (ErrNotFound when none).
	GetIdempotencyKey(key string, now time.Time) (*IdempotencyKey, error)
	// CreateIdempotencyKey stores a key; a live duplicate is ECodeConflict.
	// An expired key of the same name is replaced.
	CreateIdempotencyKey(k *IdempotencyKey) error

	// OverdueExecutions lists running or pending executions past their
	// deadline, across organizations (system scope).
	OverdueExecutions(now time.Time, limit int) ([]Execution, error)
	// OrgsWithPendingExecutions lists organizations with executions
	// waiting for admission (system scope).
	OrgsWithPendingExecutions(limit int) ([]string, error)
	// DeleteExpiredIdempotencyKeys removes expired keys (system scope).
	DeleteExpiredIdempotencyKeys(now time.Time) (int64, error)
}

// EdgeResolution is an outgoing edge of a finished step, resolved against
// its target (Tx.ResolveParentEdge).
type EdgeResolution struct {
	NodeID   string // the edge's target
	Holds    bool
	OwnerJob int64
	// Pending and Holding are the target's counts after the change.
	Pending, Holding int
}

// StepProgress is what a finished step adds to its execution: its usage,
// one node done, and its events, appended after the execution's last
// (their Seq is set when they are written).
type StepProgress struct {
	TokensIn, TokensOut, TokensCached int64
	CostUSD                           float64
	Events                            []ExecutionEvent
}

// Apply adds the progress to e and numbers the events after e's last.
func (p *StepProgress) Apply(e *Execution) {
	e.TokensIn += p.TokensIn
	e.TokensOut += p.TokensOut
	e.TokensCached += p.TokensCached
	e.CostUSD += p.CostUSD
	e.NodesDone++
	for i := range p.Events {
		e.EventSeq++
		p.Events[i].Seq = e.EventSeq
	}
}
