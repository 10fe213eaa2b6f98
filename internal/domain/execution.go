package domain

import (
	"encoding/json"
	"time"
)

// ExecutionStatus is the state of one run of a workflow.
type ExecutionStatus string

// Execution statuses. Succeeded, failed and cancelled are final.
const (
	ExecutionPending   ExecutionStatus = "pending"
	ExecutionRunning   ExecutionStatus = "running"
	ExecutionSucceeded ExecutionStatus = "succeeded"
	ExecutionFailed    ExecutionStatus = "failed"
	ExecutionCancelled ExecutionStatus = "cancelled"
)

// ExecutionTrigger says what started an execution.
type ExecutionTrigger string

// Execution triggers.
const (
	TriggerManual   ExecutionTrigger = "manual"
	TriggerSchedule ExecutionTrigger = "schedule"
	TriggerWorkflow ExecutionTrigger = "workflow" // a workflow tool of another execution
)

// NewExecution is an execution to create with its steps and first events
// (CreateExecutionsWith).
type NewExecution struct {
	Execution *Execution
	Steps     []Step
	Events    []ExecutionEvent
}

// Execution is one run of one version of a workflow. This is the part of
// the record the workflow statistics and schedules rely on; the engine owns
// the rest of its lifecycle.
type Execution struct {
	ID                string
	OrgID             string
	TeamID            string
	WorkflowID        string
	WorkflowVersion   int
	Status            ExecutionStatus
	Trigger           ExecutionTrigger
	TriggeredBy       string // user id, empty for schedules
	APIKeyID          string
	ScheduleID        string
	ParentExecutionID string
	Input             json.RawMessage
	Output            json.RawMessage
	Error             string
	CreatedAt         time.Time
	StartedAt         *time.Time
	CompletedAt       *time.Time
	DurationMS        *int64

	// The engine's bookkeeping.
	ErrorKind         string
	TokensIn          int64
	TokensOut         int64
	TokensCached      int64
	CostUSD           float64
	NodesTotal        int
	NodesDone         int   // completed, skipped or failed
	EventSeq          int64 // last lifecycle event's sequence number
	DeadlineAt        *time.Time
	CancelRequestedAt *time.Time
	// Depth is 0 for an execution started by a person, a key or a
	// schedule, and its caller's depth + 1 for one a workflow tool started.
	Depth int
}

// Final reports whether the execution has ended.
func (e *Execution) Final() bool {
	return e.Status == ExecutionSucceeded || e.Status == ExecutionFailed || e.Status == ExecutionCancelled
}
