package domain

import "time"

// UsageFilter selects the steps whose tokens and cost a usage report sums:
// those that finished in [Since, Until), optionally of one workflow.
type UsageFilter struct {
	Since, Until time.Time
	WorkflowID   string
}

// UsageTotals are summed tokens and cost.
type UsageTotals struct {
	TokensIn     int64   `json:"tokens_in"`
	TokensOut    int64   `json:"tokens_out"`
	TokensCached int64   `json:"tokens_cached"`
	CostUSD      float64 `json:"cost_usd"`
	// Steps counts finished steps; Executions the distinct executions they belong to.
	Steps      int64 `json:"steps"`
	Executions int64 `json:"executions"`
}

// UsageByDay is one UTC day of a usage report.
type UsageByDay struct {
	Day string `json:"day"` // YYYY-MM-DD, UTC
	UsageTotals
}

// UsageByWorkflow is one workflow of a usage report.
type UsageByWorkflow struct {
	WorkflowID   string `json:"workflow_id"`
	WorkflowName string `json:"workflow_name"`
	UsageTotals
}

// UsageByModel is one model ("provider:model") of a usage report. Steps
// without a model (http, transform, router) are left out.
type UsageByModel struct {
	Model string `json:"model"`
	UsageTotals
}

// UsageReport is an organization's token and cost usage over a time range.
type UsageReport struct {
	Totals     UsageTotals       `json:"totals"`
	ByDay      []UsageByDay      `json:"by_day"`
	ByWorkflow []UsageByWorkflow `json:"by_workflow"`
	ByModel    []UsageByModel    `json:"by_model"`
}

// UsageQueries report token and cost usage from recorded execution steps.
type UsageQueries interface {
	// Usage sums the tokens and cost of the organization's steps that
	// finished in the filter's range, in total, by UTC day (ascending), by
	// workflow and by model (both by cost, highest first). Team visibility
	// applies through the steps' executions.
	Usage(f UsageFilter) (*UsageReport, error)
}
