package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

const scheduleColumns = `id, org_id, team_id, workflow_id, name, cron_expression, timezone, input, environment,
	is_active, next_run_at, last_run_at, last_execution_id, created_by, created_at, updated_at, last_error`

func scanSchedule(row interface{ Scan(...any) error }) (*domain.Schedule, error) {
	var s domain.Schedule
	var env string
	err := row.Scan(&s.ID, &s.OrgID, strCol{&s.TeamID}, &s.WorkflowID, &s.Name, &s.CronExpression, &s.Timezone,
		rawJSON{&s.Input}, &env, &s.Active, nullTime{&s.NextRunAt}, nullTime{&s.LastRunAt}, &s.LastExecutionID,
		&s.CreatedBy, utcTime{&s.CreatedAt}, utcTime{&s.UpdatedAt}, &s.LastError)
	if err != nil {
		return nil, err
	}
	s.Environment = domain.Environment(env)
	return &s, nil
}

// inputJSON stores an absent input as JSON null (the column is NOT NULL).
func inputJSON(raw []byte) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// micro truncates an optional instant to the microseconds both databases keep,
// so that a value read back compares equal to the one written.
func micro(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (q *queries) CreateSchedule(s *domain.Schedule) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	s.OrgID, s.CreatedAt, s.UpdatedAt = org, q.now, q.now
	_, err = q.exec(`INSERT INTO scheduled_executions (`+scheduleColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		s.ID, s.OrgID, nullString(s.TeamID), s.WorkflowID, s.Name, s.CronExpression, s.Timezone, inputJSON(s.Input),
		string(s.Environment), s.Active, micro(s.NextRunAt), micro(s.LastRunAt), s.LastExecutionID, s.CreatedBy,
		s.CreatedAt, s.UpdatedAt, s.LastError)
	if err != nil {
		return fmt.Errorf("create schedule %s: %w", s.ID, err)
	}
	return nil
}

func (q *queries) GetSchedule(id string) (*domain.Schedule, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var a argList
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(id), q.teamVisible(&a, "team_id"))
	s, err := scanSchedule(q.queryRow(`SELECT `+scheduleColumns+` FROM scheduled_executions WHERE `+cond, a.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("schedule")
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get schedule %s: %w", id, err))
	}
	return s, nil
}

func (q *queries) ListSchedules(f domain.ScheduleFilter) ([]domain.Schedule, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p := f.Page.Normalize()
	var a argList
	conds := []string{"org_id = " + a.add(org), q.teamVisible(&a, "team_id")}
	if f.WorkflowID != "" {
		conds = append(conds, "workflow_id = "+a.add(f.WorkflowID))
	}
	if f.Active != nil {
		conds = append(conds, "is_active = "+a.add(*f.Active))
	}
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, "(created_at, id) > ("+a.add(ts)+", "+a.add(id)+")")
	}
	rows, err := q.query(`SELECT `+scheduleColumns+` FROM scheduled_executions WHERE `+andAll(conds...)+
		` ORDER BY created_at, id LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list schedules: %w", err)
	}
	out, err := q.collectSchedules(rows)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

func (q *queries) collectSchedules(rows *sql.Rows) ([]domain.Schedule, error) {
	defer rows.Close()
	var out []domain.Schedule
	for rows.Next() {
		s, err := scanSchedule(rows)
		if err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, *s)
	}
	return out, q.s.translate(rows.Err())
}

func (q *queries) UpdateSchedule(s *domain.Schedule) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	s.UpdatedAt = q.now
	var a argList
	set := fmt.Sprintf(`name = %s, cron_expression = %s, timezone = %s, input = %s, environment = %s, is_active = %s,
		next_run_at = %s, updated_at = %s`, a.add(s.Name), a.add(s.CronExpression), a.add(s.Timezone),
		a.add(inputJSON(s.Input)), a.add(string(s.Environment)), a.add(s.Active), a.add(micro(s.NextRunAt)), a.add(s.UpdatedAt))
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(s.ID), q.teamVisible(&a, "team_id"))
	return q.execOne("schedule", `UPDATE scheduled_executions SET `+set+` WHERE `+cond, a.args...)
}

func (q *queries) DeleteSchedule(id string) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	var a argList
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(id), q.teamVisible(&a, "team_id"))
	return q.execOne("schedule", `DELETE FROM scheduled_executions WHERE `+cond, a.args...)
}

func (q *queries) DueSchedules(now time.Time, limit int) ([]domain.Schedule, error) {
	if err := q.requireSystem("DueSchedules"); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > domain.MaxPageSize {
		limit = domain.MaxPageSize
	}
	rows, err := q.query(`SELECT `+scheduleColumnsQualified+` FROM scheduled_executions s
		JOIN organizations o ON o.id = s.org_id
		WHERE s.is_active AND s.next_run_at <= $1 AND o.is_active AND o.deleted_at IS NULL
		ORDER BY s.next_run_at, s.id LIMIT $2`, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due schedules: %w", err)
	}
	return q.collectSchedules(rows)
}

// scheduleColumnsQualified is scheduleColumns for a query aliasing the table as s.
const scheduleColumnsQualified = `s.id, s.org_id, s.team_id, s.workflow_id, s.name, s.cron_expression, s.timezone,
	s.input, s.environment, s.is_active, s.next_run_at, s.last_run_at, s.last_execution_id, s.created_by,
	s.created_at, s.updated_at, s.last_error`

func (q *queries) ClaimSchedule(id string, expectedNextRunAt, newNextRunAt, lastRunAt time.Time, executionID, lastError string) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	res, err := q.exec(`UPDATE scheduled_executions SET next_run_at = $4, last_run_at = $5, last_execution_id = $6,
		updated_at = $7, last_error = $8 WHERE org_id = $1 AND id = $2 AND is_active AND next_run_at = $3`,
		org, id, expectedNextRunAt.UTC().Truncate(time.Microsecond), micro(&newNextRunAt), micro(&lastRunAt),
		executionID, q.now, lastError)
	if err != nil {
		return false, fmt.Errorf("claim schedule %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, q.s.translate(err)
	}
	return n == 1, nil
}
