package domain

import "time"

// Team visibility applies to every method below: in a tenant scope that does
// not see all teams, a workflow, library agent, schedule or execution of
// another team is ECodeNotFound, exactly like a missing one, and lists leave
// it out.

// WorkflowFilter selects workflows for listing.
type WorkflowFilter struct {
	TeamID   string // only this team's workflows (still within the scope's visibility)
	Tag      string
	Category string
	// Status selects one status; "" lists draft and active workflows, so
	// archived ones appear only when asked for.
	Status WorkflowStatus
	// Environment keeps workflows that have a version pinned to it.
	Environment Environment
	Search      string // case-insensitive substring of the name
	Page        Page
}

// WorkflowQueries manage workflows and their versions.
type WorkflowQueries interface {
	// CreateWorkflow inserts w and its first version v (both numbered 1).
	// When maxWorkflows > 0 and the organization already has that many
	// workflows that are not archived, it returns an ECodeLimitExceeded
	// error with Limit "max_workflows". Counting and inserting are
	// serialized per organization, so concurrent creations cannot overshoot.
	CreateWorkflow(w *Workflow, v *WorkflowVersion, maxWorkflows int) error
	// GetWorkflow returns a workflow, archived ones included. Stats are not
	// filled in (see WorkflowStats).
	GetWorkflow(id string) (*Workflow, error)
	// GetWorkflowHead is GetWorkflow without the definition, for what only
	// needs its versions, pins and status (starting an execution).
	GetWorkflowHead(id string) (*Workflow, error)
	// ListWorkflows returns one page in creation order and the cursor of
	// the next page ("" on the last). Definitions are not loaded, so a page
	// stays small whatever the size of the graphs.
	ListWorkflows(f WorkflowFilter) ([]Workflow, string, error)
	// UpdateWorkflow writes w's mutable fields (team, name, description,
	// definition, tags, category, status) and appends v as the next version,
	// only if the stored version is still expectedVersion. A stale
	// expectedVersion or an archived workflow is ECodeConflict. On success
	// w.Version and v.Version are expectedVersion+1; v.ParentVersion is kept
	// when set (a rollback names its source) and is expectedVersion
	// otherwise. Moving the workflow to another team moves its schedules.
	UpdateWorkflow(w *Workflow, expectedVersion int, v *WorkflowVersion) error
	// ArchiveWorkflow marks the workflow archived and deactivates its
	// schedules; versions and executions stay readable. expectedVersion > 0
	// makes it conditional like UpdateWorkflow. It reports false, changing
	// nothing, when the workflow was already archived.
	ArchiveWorkflow(id string, expectedVersion int) (bool, error)
	// PinWorkflowVersion pins an existing version to env and returns the
	// version pinned before (0: none). A missing version is ECodeNotFound,
	// an archived workflow ECodeConflict.
	PinWorkflowVersion(id string, env Environment, version int) (int, error)
	// GetWorkflowVersion returns one version with both definitions.
	GetWorkflowVersion(workflowID string, version int) (*WorkflowVersion, error)
	// ListWorkflowVersions returns one page of versions, newest first,
	// without their definitions.
	ListWorkflowVersions(workflowID string, p Page) ([]WorkflowVersion, string, error)
	// RunnableVersion answers "which version runs": the given version when
	// version > 0; else the version pinned to env when env is set
	// (ECodeConflict when that pin is unset); else the latest. An archived
	// workflow is ECodeConflict. Executions run the version's Resolved
	// definition and record its number.
	RunnableVersion(workflowID string, env Environment, version int) (*Workflow, *WorkflowVersion, error)
	// WorkflowStats derives execution statistics of the given workflows from
	// their executions (one query); workflows without executions get zero
	// statistics.
	WorkflowStats(workflowIDs []string) (map[string]WorkflowStats, error)
}

// AgentFilter selects library agents for listing.
type AgentFilter struct {
	TeamID string
	Type   NodeType
	Search string // case-insensitive substring of the name
	Page   Page
}

// AgentQueries manage the library of reusable agents.
type AgentQueries interface {
	// CreateAgent inserts a. When maxAgents > 0 and the organization already
	// has that many library agents, it returns an ECodeLimitExceeded error
	// with Limit "max_agents", serialized per organization like
	// CreateWorkflow.
	CreateAgent(a *LibraryAgent, maxAgents int) error
	GetAgent(id string) (*LibraryAgent, error)
	// ListAgents returns one page in creation order and the next cursor.
	ListAgents(f AgentFilter) ([]LibraryAgent, string, error)
	// UpdateAgent writes a's team, name, description and node.
	UpdateAgent(a *LibraryAgent) error
	// DeleteAgent removes the agent. Saved workflow versions keep running
	// (they hold the resolved definition); the next change of a workflow
	// that still names it fails validation.
	DeleteAgent(id string) error
}

// ScheduleFilter selects schedules for listing.
type ScheduleFilter struct {
	WorkflowID string
	Active     *bool
	Page       Page
}

// ScheduleQueries manage cron schedules and let the scheduler claim due runs.
type ScheduleQueries interface {
	CreateSchedule(s *Schedule) error
	GetSchedule(id string) (*Schedule, error)
	// ListSchedules returns one page in creation order and the next cursor.
	ListSchedules(f ScheduleFilter) ([]Schedule, string, error)
	// UpdateSchedule writes s's name, cron expression, time zone, input,
	// environment, active flag and next run.
	UpdateSchedule(s *Schedule) error
	DeleteSchedule(id string) error
	// DueSchedules returns up to limit active schedules of active
	// organizations whose next run is at or before now, earliest first
	// (system scope: the scheduler scans every organization).
	DueSchedules(now time.Time, limit int) ([]Schedule, error)
	// ClaimSchedule moves an active schedule whose next run is still
	// expectedNextRunAt on to newNextRunAt (zero: none) and records
	// lastRunAt and executionID. It reports false, changing nothing, when
	// another process already claimed that due time or the schedule was
	// changed, deactivated or deleted meanwhile. It runs in the tenant scope
	// of the schedule's organization, in the same transaction that creates
	// the execution and enqueues its job, so each due time fires once.
	ClaimSchedule(id string, expectedNextRunAt, newNextRunAt, lastRunAt time.Time, executionID, lastError string) (bool, error)
}

// ExecutionQueries record executions. This is the minimal part the
// workflow statistics and schedules need; the engine extends it.
type ExecutionQueries interface {
	// CreateExecution inserts e as given: status, timestamps and duration
	// included. CreatedAt defaults to the transaction's clock.
	CreateExecution(e *Execution) error
	// CreateExecutionsWith is CreateExecution, CreateSteps and AppendEvents
	// for each of execs, all or none: one statement on PostgreSQL (up to
	// 400 steps in all).
	CreateExecutionsWith(execs []NewExecution) error
	GetExecution(id string) (*Execution, error)
}
