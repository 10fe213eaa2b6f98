package sqlstore

import (
	"fmt"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// The monitoring counts. The step count starts from the recent executions
// and reaches their steps through the (execution_id, node_id) unique index;
// the job count reads River's table, which has no organization column.
const (
	recentExecutionsByStatus = `SELECT status, count(*) FROM executions WHERE created_at >= $1 GROUP BY status`
	recentStepsByStatus      = `SELECT s.status, count(*) FROM executions e
		JOIN execution_steps s ON s.execution_id = e.id AND s.org_id = e.org_id
		WHERE e.created_at >= $1 GROUP BY s.status`
	jobsByQueueAndState = `SELECT queue, state, count(*) FROM river_job GROUP BY queue, state ORDER BY queue, state`
)

func (q *queries) OperationalCounts(since time.Time) (*domain.OperationalCounts, error) {
	if err := q.requireSystem("OperationalCounts"); err != nil {
		return nil, err
	}
	c := &domain.OperationalCounts{ExecutionsByStatus: map[domain.ExecutionStatus]int64{}, StepsByStatus: map[domain.StepStatus]int64{}}
	err := q.usageRows(recentExecutionsByStatus, []any{since.UTC()}, func(scan func(...any) error) error {
		var status string
		var n int64
		if err := scan(&status, &n); err != nil {
			return err
		}
		c.ExecutionsByStatus[domain.ExecutionStatus(status)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count executions: %w", err)
	}
	err = q.usageRows(recentStepsByStatus, []any{since.UTC()}, func(scan func(...any) error) error {
		var status string
		var n int64
		if err := scan(&status, &n); err != nil {
			return err
		}
		c.StepsByStatus[domain.StepStatus(status)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count steps: %w", err)
	}
	err = q.usageRows(jobsByQueueAndState, nil, func(scan func(...any) error) error {
		var j domain.QueueJobCount
		if err := scan(&j.Queue, &j.State, &j.Count); err != nil {
			return err
		}
		c.Jobs = append(c.Jobs, j)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count queue jobs: %w", err)
	}
	return c, nil
}
