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
}
