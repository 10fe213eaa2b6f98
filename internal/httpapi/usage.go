package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Usage report ranges.
const (
	defaultUsageRange = 30 * 24 * time.Hour
	maxUsageRange     = 366 * 24 * time.Hour
)

// UsageOut is a usage report over [since, until).
type UsageOut struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	domain.UsageReport
}

// parseUsageTime accepts an RFC 3339 instant or a date (midnight UTC).
func parseUsageTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func (r *llmRoutes) registerUsageRoutes() {
	s := r.s
	type usageIn struct {
		Since      string `query:"since" maxLength:"40" doc:"Start (inclusive), RFC 3339 or YYYY-MM-DD (UTC). Default: 30 days before until."`
		Until      string `query:"until" maxLength:"40" doc:"End (exclusive), RFC 3339 or YYYY-MM-DD (UTC). Default: now."`
		WorkflowID string `query:"workflow_id" maxLength:"64" doc:"Only this workflow's steps"`
	}
	type usageOut struct {
		Body UsageOut
	}
	register(s, huma.Operation{OperationID: "get-usage", Method: http.MethodGet, Path: "/api/v1/usage", Tags: []string{"Usage"},
		Summary: "Token and cost usage by day, workflow and model",
		Description: "Sums the tokens (input, output, cached input) and cost in USD of the steps that finished in the range, " +
			"in total, by UTC day, by workflow and by model. The range is at most 366 days. Non-admins see their team's and " +
			"organization-wide workflows.",
		Errors: []int{http.StatusUnprocessableEntity}}, Requires(domain.PermUsageRead),
		func(ctx context.Context, in *usageIn) (*usageOut, error) {
			until := time.Now().UTC().Truncate(time.Second)
			var fields []domain.FieldError
			if in.Until != "" {
				t, ok := parseUsageTime(in.Until)
				if !ok {
					fields = append(fields, domain.FieldError{Pointer: "query.until", Message: "not an RFC 3339 time or a YYYY-MM-DD date"})
				}
				until = t
			}
			since := until.Add(-defaultUsageRange)
			if in.Since != "" {
				t, ok := parseUsageTime(in.Since)
				if !ok {
					fields = append(fields, domain.FieldError{Pointer: "query.since", Message: "not an RFC 3339 time or a YYYY-MM-DD date"})
				}
				since = t
			}
			switch {
			case len(fields) > 0:
			case !since.Before(until):
				fields = append(fields, domain.FieldError{Pointer: "query.since", Message: "since must be before until"})
			case until.Sub(since) > maxUsageRange:
				fields = append(fields, domain.FieldError{Pointer: "query.since", Message: "the range may span at most 366 days"})
			}
			if in.WorkflowID != "" && !domain.ValidID(domain.PrefixWorkflow, in.WorkflowID) {
				fields = append(fields, domain.FieldError{Pointer: "query.workflow_id", Message: "not a workflow id"})
			}
			if len(fields) > 0 {
				return nil, domain.Invalid("invalid usage query", fields...)
			}
			out := &usageOut{Body: UsageOut{Since: since, Until: until}}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				rep, err := q.Usage(domain.UsageFilter{Since: since, Until: until, WorkflowID: in.WorkflowID})
				if err == nil {
					out.Body.UsageReport = *rep
				}
				return err
			})
			return out, err
		})
}
