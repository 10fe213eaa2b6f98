package domain

import (
	"encoding/json"
	"time"
)

// Schedule runs a workflow on a cron expression evaluated in an IANA time
// zone. Its team is its workflow's team, so it is visible exactly where the
// workflow is.
type Schedule struct {
	ID         string
	OrgID      string
	TeamID     string
	WorkflowID string
	Name       string
	// CronExpression is five cron fields or a descriptor such as "@hourly".
	CronExpression string
	// Timezone is the IANA zone the expression is evaluated in ("UTC" by default).
	Timezone string
	// Input is the execution input each run receives.
	Input json.RawMessage
	// Environment is the pin each run executes; empty runs the latest version.
	Environment Environment
	Active      bool
	// NextRunAt is the next due time; nil while the schedule is inactive.
	NextRunAt       *time.Time
	LastRunAt       *time.Time
	LastExecutionID string
	// LastError says why the last due time started no execution; empty
	// when it started one.
	LastError string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}
