package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

const executionColumns = `id, org_id, team_id, workflow_id, workflow_version, status, trigger, triggered_by, api_key_id,
	schedule_id, parent_execution_id, input, output, error, created_at, started_at, completed_at, duration_ms`

func (q *queries) CreateExecution(e *domain.Execution) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	e.OrgID = org
	if e.CreatedAt.IsZero() {
		e.CreatedAt = q.now
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
	var duration any
	if e.DurationMS != nil {
		duration = *e.DurationMS
	}
	_, err = q.exec(`INSERT INTO executions (`+executionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		e.ID, e.OrgID, nullString(e.TeamID), e.WorkflowID, e.WorkflowVersion, string(e.Status), string(e.Trigger),
		e.TriggeredBy, e.APIKeyID, e.ScheduleID, e.ParentExecutionID, inputJSON(e.Input), rawOrNull(e.Output), e.Error,
		e.CreatedAt, micro(e.StartedAt), micro(e.CompletedAt), duration)
	if err != nil {
		return fmt.Errorf("create execution %s: %w", e.ID, err)
	}
	return nil
}

func (q *queries) GetExecution(id string) (*domain.Execution, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var a argList
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(id), q.teamVisible(&a, "team_id"))
	var e domain.Execution
	var status, trigger string
	var duration sql.NullInt64
	err = q.queryRow(`SELECT `+executionColumns+` FROM executions WHERE `+cond, a.args...).Scan(
		&e.ID, &e.OrgID, strCol{&e.TeamID}, &e.WorkflowID, &e.WorkflowVersion, &status, &trigger, &e.TriggeredBy,
		&e.APIKeyID, &e.ScheduleID, &e.ParentExecutionID, rawJSON{&e.Input}, rawJSON{&e.Output}, &e.Error,
		utcTime{&e.CreatedAt}, nullTime{&e.StartedAt}, nullTime{&e.CompletedAt}, &duration)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("execution")
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get execution %s: %w", id, err))
	}
	e.Status, e.Trigger = domain.ExecutionStatus(status), domain.ExecutionTrigger(trigger)
	if duration.Valid {
		e.DurationMS = &duration.Int64
	}
	return &e, nil
}
