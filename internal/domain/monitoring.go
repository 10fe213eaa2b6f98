package domain

import "time"

// OperationalCounts are installation-wide figures for monitoring: what the
// metrics endpoint reports about executions and the job queue. They hold
// counts only, never tenant data.
type OperationalCounts struct {
	// ExecutionsByStatus counts the executions created since the given time.
	ExecutionsByStatus map[ExecutionStatus]int64
	// StepsByStatus counts the steps of those same executions.
	StepsByStatus map[StepStatus]int64
	// Jobs counts the job queue's rows by queue and state (River's states:
	// available, scheduled, running, retryable, completed, discarded,
	// cancelled, pending).
	Jobs []QueueJobCount
}

// QueueJobCount is the number of jobs of one queue in one state.
type QueueJobCount struct {
	Queue string
	State string
	Count int64
}

// MonitoringQueries read figures across every organization (system scope,
// reason SystemMetrics).
type MonitoringQueries interface {
	// OperationalCounts counts executions created at or after since and
	// their steps by status, and the job queue's jobs by queue and state.
	OperationalCounts(since time.Time) (*OperationalCounts, error)
}
