package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
)

const executionColumns = `id, org_id, team_id, workflow_id, workflow_version, status, trigger, triggered_by, api_key_id,
	schedule_id, parent_execution_id, input, output, error, created_at, started_at, completed_at, duration_ms,
	error_kind, tokens_in, tokens_out, tokens_cached, cost_usd, nodes_total, nodes_done, event_seq, deadline_at,
	cancel_requested_at, depth`

// scanExecution scans executionColumns, then extra destinations.
func scanExecution(row interface{ Scan(...any) error }, extra ...any) (*domain.Execution, error) {
	var e domain.Execution
	var status, trigger string
	var duration sql.NullInt64
	err := row.Scan(append([]any{&e.ID, &e.OrgID, strCol{&e.TeamID}, &e.WorkflowID, &e.WorkflowVersion, &status, &trigger, &e.TriggeredBy,
		&e.APIKeyID, &e.ScheduleID, &e.ParentExecutionID, rawJSON{&e.Input}, rawJSON{&e.Output}, &e.Error,
		utcTime{&e.CreatedAt}, nullTime{&e.StartedAt}, nullTime{&e.CompletedAt}, &duration,
		&e.ErrorKind, &e.TokensIn, &e.TokensOut, &e.TokensCached, &e.CostUSD, &e.NodesTotal, &e.NodesDone, &e.EventSeq,
		nullTime{&e.DeadlineAt}, nullTime{&e.CancelRequestedAt}, &e.Depth}, extra...)...)
	if err != nil {
		return nil, err
	}
	e.Status, e.Trigger = domain.ExecutionStatus(status), domain.ExecutionTrigger(trigger)
	if duration.Valid {
		e.DurationMS = &duration.Int64
	}
	return &e, nil
}

func durationArg(d *int64) any {
	if d == nil {
		return nil
	}
	return *d
}

func (q *queries) CreateExecution(e *domain.Execution) error {
	return q.CreateExecutionsWith([]domain.NewExecution{{Execution: e}})
}

// maxStepsPerInsert bounds one INSERT of steps; more go in several.
const maxStepsPerInsert = 50

// maxStepsPerCreate bounds the steps of the executions created in one
// statement (CreateExecutionsWith on PostgreSQL): 8 arguments each.
const maxStepsPerCreate = 400

func (q *queries) CreateExecutionsWith(execs []domain.NewExecution) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	var a argList
	var values []string
	var steps []domain.Step
	var events []domain.ExecutionEvent
	for _, n := range execs {
		e := n.Execution
		e.OrgID = org
		if e.CreatedAt.IsZero() {
			e.CreatedAt = q.now
		}
		e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
		values = append(values, `(`+strings.Join([]string{
			a.add(e.ID), a.add(e.OrgID), a.add(nullString(e.TeamID)), a.add(e.WorkflowID), a.add(e.WorkflowVersion),
			a.add(string(e.Status)), a.add(string(e.Trigger)), a.add(e.TriggeredBy), a.add(e.APIKeyID), a.add(e.ScheduleID),
			a.add(e.ParentExecutionID), a.add(inputJSON(e.Input)), a.add(rawOrNull(e.Output)), a.add(e.Error), a.add(e.CreatedAt),
			a.add(micro(e.StartedAt)), a.add(micro(e.CompletedAt)), a.add(durationArg(e.DurationMS)), a.add(e.ErrorKind),
			a.add(e.TokensIn), a.add(e.TokensOut), a.add(e.TokensCached), a.add(e.CostUSD), a.add(e.NodesTotal), a.add(e.NodesDone),
			a.add(e.EventSeq), a.add(micro(e.DeadlineAt)), a.add(micro(e.CancelRequestedAt)), a.add(e.Depth)}, ", ")+`)`)
		steps = append(steps, n.Steps...)
		events = append(events, n.Events...)
	}
	if len(values) == 0 {
		return nil
	}
	insert := `INSERT INTO executions (` + executionColumns + `) VALUES ` + strings.Join(values, ", ")
	if q.d.name == KindPostgres && len(steps) <= maxStepsPerCreate {
		// One round trip: the steps and events go in through
		// data-modifying WITHs; their keys to the executions are checked
		// at the end of the statement, when their rows are there.
		var with []string
		if len(steps) > 0 {
			with = append(with, `s AS (`+stepsInsert(&a, org, steps)+`)`)
		}
		if len(events) > 0 {
			with = append(with, `v AS (`+eventsInsert(&a, org, events, q.now)+`)`)
		}
		if len(with) > 0 {
			insert = `WITH ` + strings.Join(with, ", ") + ` ` + insert
		}
		if _, err := q.exec(insert, a.args...); err != nil {
			return fmt.Errorf("create %s: %w", executionsNamed(execs), err)
		}
		return nil
	}
	if _, err := q.exec(insert, a.args...); err != nil {
		return fmt.Errorf("create %s: %w", executionsNamed(execs), err)
	}
	if err := q.CreateSteps(steps); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	return q.AppendEvents(events)
}

// executionsNamed names executions in an error: the id of one, the number
// of several.
func executionsNamed(execs []domain.NewExecution) string {
	if len(execs) == 1 {
		return "execution " + execs[0].Execution.ID
	}
	return fmt.Sprintf("%d executions", len(execs))
}

func (q *queries) getExecution(id string, lock bool) (*domain.Execution, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var a argList
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(id), q.teamVisible(&a, "team_id"))
	suffix := ""
	if lock {
		suffix = q.d.forUpdate
	}
	e, err := scanExecution(q.queryRow(`SELECT `+executionColumns+` FROM executions WHERE `+cond+suffix, a.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("execution")
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get execution %s: %w", id, err))
	}
	return e, nil
}

func (q *queries) GetExecution(id string) (*domain.Execution, error) {
	return q.getExecution(id, false)
}

func (q *queries) LockExecution(id string) (*domain.Execution, error) {
	return q.getExecution(id, true)
}

func (q *queries) UpdateExecution(e *domain.Execution) error { return q.SaveExecution(e, nil) }

// executionUpdate is the UPDATE of UpdateExecution, its arguments the
// first 17 of a (which must be empty).
func executionUpdate(a *argList, org string, e *domain.Execution) string {
	for _, v := range []any{org, e.ID, string(e.Status), rawOrNull(e.Output), e.Error, micro(e.StartedAt), micro(e.CompletedAt),
		durationArg(e.DurationMS), e.ErrorKind, e.TokensIn, e.TokensOut, e.TokensCached, e.CostUSD, e.NodesDone,
		e.EventSeq, micro(e.CancelRequestedAt), micro(e.DeadlineAt)} {
		a.add(v)
	}
	return `UPDATE executions SET status = $3, output = $4, error = $5, started_at = $6,
		completed_at = $7, duration_ms = $8, error_kind = $9, tokens_in = $10, tokens_out = $11, tokens_cached = $12,
		cost_usd = $13, nodes_done = $14, event_seq = $15, cancel_requested_at = $16, deadline_at = $17
		WHERE org_id = $1 AND id = $2`
}

func (q *queries) SaveExecution(e *domain.Execution, events []domain.ExecutionEvent) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	var a argList
	update := executionUpdate(&a, org, e)
	if len(events) == 0 {
		return q.execOne("execution", update, a.args...)
	}
	if q.d.name == KindPostgres {
		// One round trip: the events go in through a data-modifying WITH.
		insert := eventsInsert(&a, org, events, q.now)
		return q.execOne("execution", `WITH appended AS (`+insert+`) `+update, a.args...)
	}
	if err := q.execOne("execution", update, a.args...); err != nil {
		return err
	}
	var b argList
	_, err = q.exec(eventsInsert(&b, org, events, q.now), b.args...)
	return err
}

func (q *queries) ListExecutions(f domain.ExecutionFilter) ([]domain.Execution, string, error) {
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
	if f.Status != "" {
		conds = append(conds, "status = "+a.add(string(f.Status)))
	}
	if f.Trigger != "" {
		conds = append(conds, "trigger = "+a.add(string(f.Trigger)))
	}
	if f.Since != nil {
		conds = append(conds, "created_at >= "+a.add(f.Since.UTC()))
	}
	if f.Until != nil {
		conds = append(conds, "created_at < "+a.add(f.Until.UTC()))
	}
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, "(created_at, id) < ("+a.add(ts)+", "+a.add(id)+")")
	}
	rows, err := q.query(`SELECT `+executionColumns+` FROM executions WHERE `+andAll(conds...)+
		` ORDER BY created_at DESC, id DESC LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []domain.Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = encodeCursor(out[len(out)-1].CreatedAt, out[len(out)-1].ID)
	}
	return out, next, nil
}

func (q *queries) CountExecutionsSince(since time.Time) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`SELECT count(*) FROM executions WHERE org_id = $1 AND created_at >= $2`, org, since.UTC()).Scan(&n)
	return n, q.s.translate(err)
}

func (q *queries) CountRunningExecutions() (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`SELECT count(*) FROM executions WHERE org_id = $1 AND status = 'running'`, org).Scan(&n)
	return n, q.s.translate(err)
}

func (q *queries) OldestPendingExecution() (*domain.Execution, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	lock := ""
	if q.d.name == KindPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	e, err := scanExecution(q.queryRow(`SELECT `+executionColumns+` FROM executions WHERE org_id = $1 AND status = 'pending'
		ORDER BY created_at, id LIMIT 1`+lock, org))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("execution")
	}
	return e, q.s.translate(err)
}

func (q *queries) OverdueExecutions(now time.Time, limit int) ([]domain.Execution, error) {
	if err := q.requireSystem("OverdueExecutions"); err != nil {
		return nil, err
	}
	rows, err := q.query(`SELECT `+executionColumns+` FROM executions
		WHERE status IN ('pending', 'running') AND deadline_at IS NOT NULL AND deadline_at < $1
		ORDER BY deadline_at LIMIT $2`, now.UTC(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, *e)
	}
	return out, q.s.translate(rows.Err())
}

func (q *queries) OrgsWithPendingExecutions(limit int) ([]string, error) {
	if err := q.requireSystem("OrgsWithPendingExecutions"); err != nil {
		return nil, err
	}
	rows, err := q.query(`SELECT DISTINCT org_id FROM executions WHERE status = 'pending' ORDER BY org_id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return q.textColumn(rows)
}

const stepColumns = `id, org_id, execution_id, node_id, node_type, status, pending_parents, holding_parents, owner_job, attempts,
	input, output, error, error_kind, model, tokens_in, tokens_out, tokens_cached, cost_usd, tool_calls, started_at,
	finished_at, duration_ms`

func scanStep(row interface{ Scan(...any) error }) (*domain.Step, error) {
	var s domain.Step
	var typ, status string
	var duration sql.NullInt64
	err := row.Scan(&s.ID, &s.OrgID, &s.ExecutionID, &s.NodeID, &typ, &status, &s.PendingParents, &s.HoldingParents,
		&s.OwnerJob, &s.Attempts, rawJSON{&s.Input}, rawJSON{&s.Output}, &s.Error, &s.ErrorKind, &s.Model, &s.TokensIn, &s.TokensOut,
		&s.TokensCached, &s.CostUSD, rawJSON{&s.ToolCalls}, nullTime{&s.StartedAt}, nullTime{&s.FinishedAt}, &duration)
	if err != nil {
		return nil, err
	}
	s.NodeType, s.Status = domain.NodeType(typ), domain.StepStatus(status)
	if duration.Valid {
		s.DurationMS = &duration.Int64
	}
	return &s, nil
}

func (q *queries) CreateSteps(steps []domain.Step) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	// One multi-row INSERT per maxStepsPerInsert steps keeps round trips few.
	for start := 0; start < len(steps); start += maxStepsPerInsert {
		end := min(start+maxStepsPerInsert, len(steps))
		var a argList
		if _, err := q.exec(stepsInsert(&a, org, steps[start:end]), a.args...); err != nil {
			return fmt.Errorf("create steps: %w", err)
		}
	}
	return nil
}

// stepsInsert is the INSERT of new steps, their arguments added to a.
func stepsInsert(a *argList, org string, steps []domain.Step) string {
	var values []string
	for i := range steps {
		s := &steps[i]
		s.OrgID = org
		if s.ID == "" {
			s.ID = domain.NewID(domain.PrefixStep)
		}
		values = append(values, "("+strings.Join([]string{a.add(s.ID), a.add(org), a.add(s.ExecutionID), a.add(s.NodeID),
			a.add(string(s.NodeType)), a.add(string(s.Status)), a.add(s.PendingParents), a.add(s.HoldingParents)}, ", ")+")")
	}
	return `INSERT INTO execution_steps (id, org_id, execution_id, node_id, node_type, status,
		pending_parents, holding_parents) VALUES ` + strings.Join(values, ", ")
}

func (q *queries) ListSteps(executionID string) ([]domain.Step, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	rows, err := q.query(`SELECT `+stepColumns+` FROM execution_steps WHERE org_id = $1 AND execution_id = $2
		ORDER BY id`, org, executionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Step
	for rows.Next() {
		s, err := scanStep(rows)
		if err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, *s)
	}
	return out, q.s.translate(rows.Err())
}

func (q *queries) GetStep(executionID, nodeID string) (*domain.Step, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	s, err := scanStep(q.queryRow(`SELECT `+stepColumns+` FROM execution_steps WHERE org_id = $1 AND execution_id = $2
		AND node_id = $3`, org, executionID, nodeID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("step")
	}
	return s, q.s.translate(err)
}

func (q *queries) UpdateStep(s *domain.Step) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	return q.execOne("step", `UPDATE execution_steps SET status = $4, pending_parents = $5, holding_parents = $6,
		attempts = $7, input = $8, output = $9, error = $10, error_kind = $11, model = $12, tokens_in = $13,
		tokens_out = $14, tokens_cached = $15, cost_usd = $16, tool_calls = $17, started_at = $18, finished_at = $19,
		duration_ms = $20 WHERE org_id = $1 AND execution_id = $2 AND node_id = $3`,
		org, s.ExecutionID, s.NodeID, string(s.Status), s.PendingParents, s.HoldingParents, s.Attempts, rawOrNull(s.Input),
		rawOrNull(s.Output), s.Error, s.ErrorKind, s.Model, s.TokensIn, s.TokensOut, s.TokensCached, s.CostUSD,
		rawOrNull(s.ToolCalls), micro(s.StartedAt), micro(s.FinishedAt), durationArg(s.DurationMS))
}

func (q *queries) ResolveParentEdge(executionID, nodeID string, holds bool, ownerJob int64) (int, int, error) {
	org, err := q.org()
	if err != nil {
		return 0, 0, err
	}
	var a argList
	update := resolveEdge(&a, a.add(org), a.add(executionID), domain.EdgeResolution{NodeID: nodeID, Holds: holds, OwnerJob: ownerJob})
	var pending, holding int
	err = q.queryRow(update+` RETURNING pending_parents, holding_parents`, a.args...).Scan(&pending, &holding)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, noParentEdge(executionID, nodeID)
	}
	return pending, holding, q.s.translate(err)
}

// resolveEdge is ResolveParentEdge's UPDATE, with org and exe the
// placeholders of the organization and the execution in a.
func resolveEdge(a *argList, org, exe string, e domain.EdgeResolution) string {
	h := 0
	if e.Holds {
		h = 1
	}
	hold, owner := a.add(h), a.add(e.OwnerJob)
	readyNow := `pending_parents = 1 AND holding_parents + ` + hold + ` > 0`
	return `UPDATE execution_steps SET pending_parents = pending_parents - 1, holding_parents = holding_parents + ` + hold + `,
		status = CASE WHEN ` + readyNow + ` THEN 'queued' ELSE status END,
		owner_job = CASE WHEN ` + readyNow + ` THEN ` + owner + ` ELSE owner_job END
		WHERE org_id = ` + org + ` AND execution_id = ` + exe + ` AND node_id = ` + a.add(e.NodeID) + ` AND pending_parents > 0`
}

func noParentEdge(executionID, nodeID string) error {
	return domain.Errorf(domain.ECodeConflict, "step %s of %s has no unresolved parent edge", nodeID, executionID)
}

func (q *queries) MarkStepsQueued(executionID string, nodeIDs []string) error {
	if len(nodeIDs) == 0 {
		return nil
	}
	org, err := q.org()
	if err != nil {
		return err
	}
	var a argList
	var in []string
	for _, id := range nodeIDs {
		in = append(in, a.add(id))
	}
	_, err = q.exec(`UPDATE execution_steps SET status = 'queued' WHERE org_id = `+a.add(org)+` AND execution_id = `+
		a.add(executionID)+` AND node_id IN (`+strings.Join(in, ", ")+`)`, a.args...)
	return err
}

func (q *queries) OwnedSteps(executionID string, ownerJob int64) ([]string, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	rows, err := q.query(`SELECT node_id FROM execution_steps WHERE org_id = $1 AND execution_id = $2 AND owner_job = $3
		AND status IN ('queued', 'running') ORDER BY node_id`, org, executionID, ownerJob)
	if err != nil {
		return nil, err
	}
	return q.textColumn(rows)
}

func (q *queries) ReleaseStep(executionID, nodeID string) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	_, err = q.exec(`UPDATE execution_steps SET owner_job = 0 WHERE org_id = $1 AND execution_id = $2 AND node_id = $3`,
		org, executionID, nodeID)
	return err
}

func (q *queries) FinishStep(s *domain.Step) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	var a argList
	return q.claimOnce(finishStep(&a, org, s), a.args...)
}

// finishStep is FinishStep's UPDATE, its arguments the first 18 of a
// (which must be empty); $1 is the organization and $2 the execution.
func finishStep(a *argList, org string, s *domain.Step) string {
	for _, v := range []any{org, s.ExecutionID, s.NodeID, string(s.Status), s.Attempts, rawOrNull(s.Output), s.Error, s.ErrorKind, s.Model,
		s.TokensIn, s.TokensOut, s.TokensCached, s.CostUSD, rawOrNull(s.ToolCalls), micro(s.StartedAt), micro(s.FinishedAt),
		durationArg(s.DurationMS), rawOrNull(s.Input)} {
		a.add(v)
	}
	return `UPDATE execution_steps SET status = $4, attempts = $5, output = $6, error = $7, error_kind = $8,
		model = $9, tokens_in = tokens_in + $10, tokens_out = tokens_out + $11, tokens_cached = tokens_cached + $12,
		cost_usd = cost_usd + $13, tool_calls = $14, started_at = COALESCE(started_at, $15), finished_at = $16,
		duration_ms = $17, input = COALESCE($18, input)
		WHERE org_id = $1 AND execution_id = $2 AND node_id = $3 AND status NOT IN ('completed', 'failed', 'skipped', 'cancelled')`
}

func (q *queries) LockAndFinishStep(s *domain.Step, edges []domain.EdgeResolution, progress *domain.StepProgress) (*domain.Execution, bool, error) {
	if f := q.ahead; f != nil {
		q.ahead = nil
		if f.call.Step == s {
			return f.answer(edges, progress) // the batch's statement ran it
		}
		return nil, false, fmt.Errorf("a batch item's first completion is not the one it declared")
	}
	if q.d.name != KindPostgres || !distinctTargets(edges) {
		exe, err := q.LockExecution(s.ExecutionID)
		if err != nil || exe.Final() {
			return exe, false, err
		}
		won, err := q.FinishStep(s)
		if err != nil || !won {
			return exe, won, err
		}
		for i := range edges {
			e := &edges[i]
			if e.Pending, e.Holding, err = q.ResolveParentEdge(s.ExecutionID, e.NodeID, e.Holds, e.OwnerJob); err != nil {
				return nil, false, err
			}
		}
		if progress != nil {
			progress.Apply(exe)
			if err := q.SaveExecution(exe, progress.Events); err != nil {
				return nil, false, err
			}
		}
		return exe, true, nil
	}
	org, err := q.org()
	if err != nil {
		return nil, false, err
	}
	// One round trip: e locks the execution row (the main query reads it
	// first), f writes the step only while the execution runs on, and each
	// r<i> resolves an outgoing edge only when f wrote the step.
	var a argList
	finish := finishStep(&a, org, s)
	cond := andAll("org_id = $1", "id = $2", q.teamVisible(&a, "team_id"))
	query := `WITH e AS (SELECT ` + executionColumns + ` FROM executions WHERE ` + cond + ` FOR UPDATE),
		f AS (` + finish + ` AND EXISTS (SELECT 1 FROM e WHERE status NOT IN ('succeeded', 'failed', 'cancelled')) RETURNING 1)`
	sel := `SELECT e.*, EXISTS (SELECT 1 FROM f)`
	var won bool
	counts := make([]sql.NullInt64, 2*len(edges))
	extra := []any{&won}
	for i, ed := range edges {
		r := fmt.Sprintf("r%d", i)
		query += `,
		` + r + ` AS (` + resolveEdge(&a, "$1", "$2", ed) + ` AND EXISTS (SELECT 1 FROM f) RETURNING pending_parents, holding_parents)`
		sel += `, (SELECT pending_parents FROM ` + r + `), (SELECT holding_parents FROM ` + r + `)`
		extra = append(extra, &counts[2*i], &counts[2*i+1])
	}
	if progress != nil {
		query += `,
		u AS (UPDATE executions SET tokens_in = tokens_in + ` + a.add(progress.TokensIn) + `,
			tokens_out = tokens_out + ` + a.add(progress.TokensOut) + `, tokens_cached = tokens_cached + ` + a.add(progress.TokensCached) + `,
			cost_usd = cost_usd + ` + a.add(progress.CostUSD) + `, nodes_done = nodes_done + 1,
			event_seq = event_seq + ` + a.add(len(progress.Events)) + `
			WHERE org_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM f) RETURNING 1)`
		if len(progress.Events) > 0 {
			query += `,
		v AS (` + progressEvents(&a, org, progress.Events, q.now) + ` AND EXISTS (SELECT 1 FROM f) RETURNING 1)`
		}
	}
	exe, err := scanExecution(q.queryRow(query+`
		`+sel+` FROM e`, a.args...), extra...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, domain.NotFound("execution")
	}
	if err != nil {
		return nil, false, q.s.translate(fmt.Errorf("lock execution %s: %w", s.ExecutionID, err))
	}
	if !won {
		return exe, false, nil
	}
	for i := range edges {
		if !counts[2*i].Valid {
			return nil, false, noParentEdge(s.ExecutionID, edges[i].NodeID)
		}
		edges[i].Pending, edges[i].Holding = int(counts[2*i].Int64), int(counts[2*i+1].Int64)
	}
	if progress != nil {
		progress.Apply(exe) // what u and v wrote, numbered from the row e locked
	}
	return exe, true, nil
}

// progressEvents inserts a step's events numbered after the event_seq the
// statement's CTE e locked: the i-th gets e.event_seq + i, as
// StepProgress.Apply numbers them.
func progressEvents(a *argList, org string, events []domain.ExecutionEvent, now time.Time) string {
	stampEvents(org, events, now)
	var values []string
	for i := range events {
		ev := &events[i]
		values = append(values, "("+strings.Join([]string{a.add(i+1) + "::bigint", a.add(ev.ExecutionID), a.add(ev.Type),
			a.add(ev.NodeID), a.add(rawOrNull(ev.Data)) + "::jsonb", a.add(ev.CreatedAt.UTC()) + "::timestamptz"}, ", ")+")")
	}
	return `INSERT INTO execution_events (org_id, execution_id, seq, type, node_id, data, created_at)
		SELECT $1, x.execution_id, (SELECT event_seq FROM e) + x.i, x.type, x.node_id, x.data, x.created_at
		FROM (VALUES ` + strings.Join(values, ", ") + `) AS x(i, execution_id, type, node_id, data, created_at)
		WHERE true`
}

// distinctTargets reports whether no two edges share a target: one
// statement may change a row only once.
func distinctTargets(edges []domain.EdgeResolution) bool {
	for i := range edges {
		for j := range i {
			if edges[i].NodeID == edges[j].NodeID {
				return false
			}
		}
	}
	return true
}

func (q *queries) ExecutionCounts(hourStart, at time.Time, add int) (int, int, error) {
	org, err := q.org()
	if err != nil {
		return 0, 0, err
	}
	counts := `SELECT
		(SELECT COALESCE(SUM(started), 0) FROM execution_start_minutes WHERE org_id = $1 AND minute >= $2),
		(SELECT count(*) FROM executions WHERE org_id = $1 AND status = 'running')`
	upsert := `INSERT INTO execution_start_minutes (org_id, minute, started) VALUES ($1, $3, $4)
		ON CONFLICT (org_id, minute) DO UPDATE SET started = execution_start_minutes.started + excluded.started`
	var hour, running int
	switch {
	case add == 0:
		err = q.queryRow(counts, org, startMinute(hourStart)).Scan(&hour, &running)
	case q.d.name == KindPostgres:
		// One round trip under the admission lock. The statement's
		// snapshot does not see its own upsert, so the current minute is
		// summed from what the upsert returns.
		err = q.queryRow(`WITH added AS (`+upsert+` RETURNING started) SELECT
			(SELECT COALESCE(SUM(started), 0) FROM execution_start_minutes WHERE org_id = $1 AND minute >= $2 AND minute <> $3)
				+ (SELECT started FROM added),
			(SELECT count(*) FROM executions WHERE org_id = $1 AND status = 'running')`,
			org, startMinute(hourStart), startMinute(at), add).Scan(&hour, &running)
	default:
		if _, err = q.exec(upsert, org, startMinute(hourStart), startMinute(at), add); err == nil {
			err = q.queryRow(counts, org, startMinute(hourStart)).Scan(&hour, &running)
		}
	}
	return hour, running, q.s.translate(err)
}

// startMinute is the key of at's minute in execution_start_minutes.
func startMinute(at time.Time) string { return at.UTC().Format("2006-01-02 15:04") }

func (q *queries) CountExecutionStarts(at time.Time, add int) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	// A newer month starts the count again; a process whose clock is a
	// moment behind at the turn of a month adds to the newer one.
	var n int
	err = q.queryRow(`INSERT INTO execution_counters (org_id, month, started) VALUES ($1, $2, $3)
		ON CONFLICT (org_id) DO UPDATE SET
			started = CASE WHEN excluded.month > execution_counters.month THEN excluded.started
				ELSE execution_counters.started + excluded.started END,
			month = CASE WHEN excluded.month > execution_counters.month THEN excluded.month
				ELSE execution_counters.month END
		RETURNING started`, org, at.UTC().Format("2006-01"), add).Scan(&n)
	return n, q.s.translate(err)
}

func (q *queries) CountExecutionStart(hourStart, at time.Time, n int) (month, lastHour, running int, err error) {
	if n < 1 {
		return 0, 0, 0, fmt.Errorf("count %d execution starts: at least one", n)
	}
	if q.d.name != KindPostgres {
		if month, err = q.CountExecutionStarts(at, n); err != nil {
			return 0, 0, 0, err
		}
		lastHour, running, err = q.ExecutionCounts(hourStart, at, n)
		return month, lastHour, running, err
	}
	org, err := q.org()
	if err != nil {
		return 0, 0, 0, err
	}
	// The function also takes the audit-chain head the starts' audit rows
	// will chain to (migrations 00009, 00010): the append then finds it
	// locked.
	var head chainHead
	err = q.queryRow(`SELECT month_started, hour_started, running, audit_seq, audit_hash
		FROM count_execution_starts($1, $2, $3, $4, $5, $6)`,
		org, n, at.UTC().Format("2006-01"), startMinute(at), startMinute(hourStart), audit.GenesisHash).
		Scan(&month, &lastHour, &running, &head.seq, &head.hash)
	if err != nil {
		return 0, 0, 0, q.s.translate(err)
	}
	if q.heads == nil {
		q.heads = map[string]chainHead{}
	}
	q.heads[org] = head
	return month, lastHour, running, nil
}

func (q *queries) EndedExecutions(ids []string) ([]string, error) {
	org, err := q.org()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var a argList
	orgArg := a.add(org)
	var in []string
	for _, id := range ids {
		in = append(in, a.add(id))
	}
	rows, err := q.query(`SELECT id FROM executions WHERE org_id = `+orgArg+` AND id IN (`+strings.Join(in, ", ")+
		`) AND status IN ('succeeded', 'failed', 'cancelled')`, a.args...)
	if err != nil {
		return nil, err
	}
	return q.textColumn(rows)
}

func (q *queries) PruneExecutionStartMinutes(before time.Time) (int64, error) {
	if err := q.requireSystem("PruneExecutionStartMinutes"); err != nil {
		return 0, err
	}
	res, err := q.exec(`DELETE FROM execution_start_minutes WHERE minute < $1`, startMinute(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return n, q.s.translate(err)
}

func (q *queries) SetStepStatuses(executionID string, from []domain.StepStatus, to domain.StepStatus) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var a argList
	var in []string
	for _, s := range from {
		in = append(in, a.add(string(s)))
	}
	res, err := q.exec(`UPDATE execution_steps SET status = `+a.add(string(to))+` WHERE org_id = `+a.add(org)+
		` AND execution_id = `+a.add(executionID)+` AND status IN (`+strings.Join(in, ", ")+`)`, a.args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), q.s.translate(err)
}

func (q *queries) AppendEvents(events []domain.ExecutionEvent) error {
	if len(events) == 0 {
		return nil
	}
	org, err := q.org()
	if err != nil {
		return err
	}
	var a argList
	_, err = q.exec(eventsInsert(&a, org, events, q.now), a.args...)
	return err
}

// stampEvents sets the organization of events and the time of those
// that have none.
func stampEvents(org string, events []domain.ExecutionEvent, now time.Time) {
	for i := range events {
		events[i].OrgID = org
		if events[i].CreatedAt.IsZero() {
			events[i].CreatedAt = now
		}
	}
}

// eventsInsert is the INSERT of events, its arguments added to a.
func eventsInsert(a *argList, org string, events []domain.ExecutionEvent, now time.Time) string {
	stampEvents(org, events, now)
	var values []string
	for i := range events {
		ev := &events[i]
		values = append(values, "("+strings.Join([]string{a.add(org), a.add(ev.ExecutionID), a.add(ev.Seq), a.add(ev.Type),
			a.add(ev.NodeID), a.add(rawOrNull(ev.Data)), a.add(ev.CreatedAt.UTC())}, ", ")+")")
	}
	return `INSERT INTO execution_events (org_id, execution_id, seq, type, node_id, data, created_at) VALUES ` +
		strings.Join(values, ", ")
}

func (q *queries) ListEvents(executionID string, afterSeq int64, limit int) ([]domain.ExecutionEvent, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := q.query(`SELECT org_id, execution_id, seq, type, node_id, data, created_at FROM execution_events
		WHERE org_id = $1 AND execution_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`, org, executionID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.ExecutionEvent
	for rows.Next() {
		var ev domain.ExecutionEvent
		if err := rows.Scan(&ev.OrgID, &ev.ExecutionID, &ev.Seq, &ev.Type, &ev.NodeID, rawJSON{&ev.Data}, utcTime{&ev.CreatedAt}); err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, ev)
	}
	return out, q.s.translate(rows.Err())
}

func (q *queries) GetIdempotencyKey(key string, now time.Time) (*domain.IdempotencyKey, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var k domain.IdempotencyKey
	err = q.queryRow(`SELECT org_id, key, request_hash, execution_id, created_at, expires_at FROM idempotency_keys
		WHERE org_id = $1 AND key = $2 AND expires_at > $3`, org, key, now.UTC()).Scan(
		&k.OrgID, &k.Key, &k.RequestHash, &k.ExecutionID, utcTime{&k.CreatedAt}, utcTime{&k.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("idempotency key")
	}
	return &k, q.s.translate(err)
}

func (q *queries) CreateIdempotencyKey(k *domain.IdempotencyKey) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	k.OrgID = org
	if k.CreatedAt.IsZero() {
		k.CreatedAt = q.now
	}
	// An expired key of the same name gives way; a live one is a conflict.
	if _, err := q.exec(`DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2 AND expires_at <= $3`,
		org, k.Key, k.CreatedAt.UTC()); err != nil {
		return err
	}
	_, err = q.exec(`INSERT INTO idempotency_keys (org_id, key, request_hash, execution_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, org, k.Key, k.RequestHash, k.ExecutionID, k.CreatedAt.UTC(), k.ExpiresAt.UTC())
	return err
}

func (q *queries) DeleteExpiredIdempotencyKeys(now time.Time) (int64, error) {
	if err := q.requireSystem("DeleteExpiredIdempotencyKeys"); err != nil {
		return 0, err
	}
	res, err := q.exec(`DELETE FROM idempotency_keys WHERE expires_at <= $1`, now.UTC())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return n, q.s.translate(err)
}
