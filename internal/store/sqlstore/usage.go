package sqlstore

import (
	"fmt"

	"github.com/superagent-hq/superagent/internal/domain"
)

// maxUsageGroups bounds the workflow and model lists of a usage report.
const maxUsageGroups = domain.MaxPageSize

// usageSums are the aggregate columns every usage grouping selects, in the
// order scanUsage reads them.
const usageSums = `COALESCE(SUM(s.tokens_in), 0), COALESCE(SUM(s.tokens_out), 0), COALESCE(SUM(s.tokens_cached), 0),
	COALESCE(SUM(s.cost_usd), 0), COUNT(*), COUNT(DISTINCT s.execution_id)`

func usageDest(u *domain.UsageTotals) []any {
	return []any{&u.TokensIn, &u.TokensOut, &u.TokensCached, &u.CostUSD, &u.Steps, &u.Executions}
}

// usageDay is the UTC calendar day of a step's finish. SQLite keeps
// timestamps as UTC text that starts with the date.
func (q *queries) usageDay() string {
	if q.d.name == KindPostgres {
		return `to_char(s.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	}
	return `substr(s.finished_at, 1, 10)`
}

func (q *queries) Usage(f domain.UsageFilter) (*domain.UsageReport, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var al argList
	where := andAll(
		"s.org_id = "+al.add(org),
		"s.finished_at IS NOT NULL",
		"s.finished_at >= "+al.add(f.Since.UTC()),
		"s.finished_at < "+al.add(f.Until.UTC()),
		q.teamVisible(&al, "e.team_id"),
	)
	if f.WorkflowID != "" {
		where = andAll(where, "e.workflow_id = "+al.add(f.WorkflowID))
	}
	from := ` FROM execution_steps s JOIN executions e ON e.org_id = s.org_id AND e.id = s.execution_id WHERE ` + where

	r := &domain.UsageReport{ByDay: []domain.UsageByDay{}, ByWorkflow: []domain.UsageByWorkflow{}, ByModel: []domain.UsageByModel{}}
	if err := q.queryRow(`SELECT `+usageSums+from, al.args...).Scan(usageDest(&r.Totals)...); err != nil {
		return nil, q.s.translate(fmt.Errorf("usage totals: %w", err))
	}

	day := q.usageDay()
	err = q.usageRows(`SELECT `+day+`, `+usageSums+from+` GROUP BY `+day+` ORDER BY 1`, al.args, func(scan func(...any) error) error {
		var row domain.UsageByDay
		if err := scan(append([]any{&row.Day}, usageDest(&row.UsageTotals)...)...); err != nil {
			return err
		}
		r.ByDay = append(r.ByDay, row)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage by day: %w", err)
	}

	err = q.usageRows(`SELECT e.workflow_id, COALESCE(MAX(w.name), ''), `+usageSums+
		` FROM execution_steps s JOIN executions e ON e.org_id = s.org_id AND e.id = s.execution_id
		LEFT JOIN workflows w ON w.org_id = e.org_id AND w.id = e.workflow_id WHERE `+where+
		fmt.Sprintf(` GROUP BY e.workflow_id ORDER BY 6 DESC, 1 LIMIT %d`, maxUsageGroups), al.args,
		func(scan func(...any) error) error {
			var row domain.UsageByWorkflow
			if err := scan(append([]any{&row.WorkflowID, &row.WorkflowName}, usageDest(&row.UsageTotals)...)...); err != nil {
				return err
			}
			r.ByWorkflow = append(r.ByWorkflow, row)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("usage by workflow: %w", err)
	}

	err = q.usageRows(`SELECT s.model, `+usageSums+from+` AND s.model <> ''`+
		fmt.Sprintf(` GROUP BY s.model ORDER BY 5 DESC, 1 LIMIT %d`, maxUsageGroups), al.args,
		func(scan func(...any) error) error {
			var row domain.UsageByModel
			if err := scan(append([]any{&row.Model}, usageDest(&row.UsageTotals)...)...); err != nil {
				return err
			}
			r.ByModel = append(r.ByModel, row)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("usage by model: %w", err)
	}
	return r, nil
}

// usageRows runs a grouped usage query and hands each row to fn.
func (q *queries) usageRows(query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := q.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return q.s.translate(err)
		}
	}
	return q.s.translate(rows.Err())
}
