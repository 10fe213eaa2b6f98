package sqlstore

import (
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// teamVisible returns the scope's team-visibility rule on col ("" when the
// scope sees every team): a team's resources and organization-wide ones.
func (q *queries) teamVisible(a *argList, col string) string {
	if q.scope.AllTeams || q.scope.IsSystem() {
		return ""
	}
	if q.scope.TeamID == "" {
		return col + " IS NULL"
	}
	return "(" + col + " IS NULL OR " + col + " = " + a.add(q.scope.TeamID) + ")"
}

// andAll joins conditions, skipping empty ones.
func andAll(conds ...string) string {
	kept := conds[:0:0]
	for _, c := range conds {
		if c != "" {
			kept = append(kept, c)
		}
	}
	return strings.Join(kept, " AND ")
}

// reserveQuota serializes creations of one kind per organization and
// refuses one beyond max: it locks the organization row (PostgreSQL; a
// SQLite write transaction already holds the database's write lock) and
// counts the rows the limit applies to. table and countWhere are constants
// of this package, never user input.
func (q *queries) reserveQuota(org, table, countWhere, limit, noun string, max int) error {
	if max <= 0 {
		return nil
	}
	var id string
	if err := q.queryRow(`SELECT id FROM organizations WHERE id = $1`+q.d.forUpdate, org).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return domain.NotFound("organization")
		}
		return q.s.translate(err)
	}
	var n int
	if err := q.queryRow(`SELECT count(*) FROM `+table+` WHERE `+andAll("org_id = $1", countWhere), org).Scan(&n); err != nil {
		return q.s.translate(err)
	}
	if n >= max {
		return &domain.Error{Code: domain.ECodeLimitExceeded, Limit: limit, LimitValue: int64(max),
			Message: fmt.Sprintf("the organization's plan allows at most %d %s (%s); it has %d", max, noun, limit, n)}
	}
	return nil
}

const workflowListColumns = `id, org_id, team_id, created_by, name, description, tags, category, status, version,
	pin_dev, pin_staging, pin_prod, created_at, updated_at, archived_at`

const workflowColumns = workflowListColumns + `, definition`

// pinColumns maps environments to their pin columns.
var pinColumns = map[domain.Environment]string{
	domain.EnvDev:     "pin_dev",
	domain.EnvStaging: "pin_staging",
	domain.EnvProd:    "pin_prod",
}

func pinColumn(env domain.Environment) (string, error) {
	col, ok := pinColumns[env]
	if !ok {
		return "", domain.Invalid("unknown environment",
			domain.FieldError{Pointer: "/environment", Message: fmt.Sprintf("environment %q must be dev, staging or prod", env)})
	}
	return col, nil
}

func scanWorkflow(row interface{ Scan(...any) error }, withDefinition bool) (*domain.Workflow, error) {
	var w domain.Workflow
	var status string
	var pins [3]sql.NullInt64
	dest := []any{&w.ID, &w.OrgID, strCol{&w.TeamID}, &w.CreatedBy, &w.Name, &w.Description, jsonCol{&w.Tags},
		&w.Category, &status, &w.Version, &pins[0], &pins[1], &pins[2], utcTime{&w.CreatedAt}, utcTime{&w.UpdatedAt},
		nullTime{&w.ArchivedAt}}
	if withDefinition {
		dest = append(dest, jsonCol{&w.Definition})
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	w.Status = domain.WorkflowStatus(status)
	if w.Tags == nil {
		w.Tags = []string{}
	}
	w.Pins = map[domain.Environment]int{}
	for i, env := range domain.Environments {
		if pins[i].Valid {
			w.Pins[env] = int(pins[i].Int64)
		}
	}
	return &w, nil
}

func (q *queries) CreateWorkflow(w *domain.Workflow, v *domain.WorkflowVersion, maxWorkflows int) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	if err := q.reserveQuota(org, "workflows", "archived_at IS NULL", "max_workflows", "workflows", maxWorkflows); err != nil {
		return err
	}
	w.OrgID, w.Version, w.CreatedAt, w.UpdatedAt, w.ArchivedAt = org, 1, q.now, q.now, nil
	if w.Status == "" {
		w.Status = domain.WorkflowDraft
	}
	if w.Tags == nil {
		w.Tags = []string{}
	}
	w.Pins = map[domain.Environment]int{}
	_, err = q.exec(`INSERT INTO workflows (`+workflowColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, $11, $12, NULL, $13)`,
		w.ID, w.OrgID, nullString(w.TeamID), w.CreatedBy, w.Name, w.Description, toJSON(w.Tags), w.Category,
		string(w.Status), w.Version, w.CreatedAt, w.UpdatedAt, toJSON(w.Definition))
	if err != nil {
		return fmt.Errorf("create workflow %s: %w", w.ID, err)
	}
	v.ParentVersion = 0
	return q.insertVersion(w, v)
}

func (q *queries) insertVersion(w *domain.Workflow, v *domain.WorkflowVersion) error {
	if v.ID == "" {
		v.ID = domain.NewID(domain.PrefixVersion)
	}
	v.OrgID, v.WorkflowID, v.Version, v.CreatedAt = w.OrgID, w.ID, w.Version, q.now
	_, err := q.exec(`INSERT INTO workflow_versions (id, org_id, workflow_id, version, parent_version, name, description,
		definition, resolved, author_id, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		v.ID, v.OrgID, v.WorkflowID, v.Version, v.ParentVersion, v.Name, v.Description, toJSON(v.Definition),
		toJSON(v.Resolved), v.AuthorID, v.Message, v.CreatedAt)
	if domain.IsCode(err, domain.ECodeConflict) {
		return domain.Errorf(domain.ECodeConflict, "version %d of this workflow was saved concurrently; reload and try again", v.Version)
	}
	if err != nil {
		return fmt.Errorf("save version %d of workflow %s: %w", v.Version, w.ID, err)
	}
	return nil
}

func (q *queries) GetWorkflow(id string) (*domain.Workflow, error) { return q.getWorkflow(id, true) }

func (q *queries) GetWorkflowHead(id string) (*domain.Workflow, error) {
	return q.getWorkflow(id, false)
}

func (q *queries) getWorkflow(id string, withDefinition bool) (*domain.Workflow, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	cols := workflowListColumns
	if withDefinition {
		cols = workflowColumns
	}
	var a argList
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(id), q.teamVisible(&a, "team_id"))
	w, err := scanWorkflow(q.queryRow(`SELECT `+cols+` FROM workflows WHERE `+cond, a.args...), withDefinition)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("workflow")
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get workflow %s: %w", id, err))
	}
	return w, nil
}

func (q *queries) ListWorkflows(f domain.WorkflowFilter) ([]domain.Workflow, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p := f.Page.Normalize()
	var a argList
	conds := []string{"org_id = " + a.add(org), q.teamVisible(&a, "team_id")}
	if f.TeamID != "" {
		conds = append(conds, "team_id = "+a.add(f.TeamID))
	}
	if f.Status != "" {
		conds = append(conds, "status = "+a.add(string(f.Status)))
	} else {
		conds = append(conds, "archived_at IS NULL")
	}
	if f.Tag != "" {
		conds = append(conds, q.d.jsonArrayContains("tags", a.add(f.Tag)))
	}
	if f.Category != "" {
		conds = append(conds, "category = "+a.add(f.Category))
	}
	if f.Environment != "" {
		col, err := pinColumn(f.Environment)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, col+" IS NOT NULL")
	}
	if f.Search != "" {
		conds = append(conds, `lower(name) LIKE `+a.add(likePattern(strings.ToLower(f.Search)))+` ESCAPE '\'`)
	}
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, "(created_at, id) > ("+a.add(ts)+", "+a.add(id)+")")
	}
	rows, err := q.query(`SELECT `+workflowListColumns+` FROM workflows WHERE `+andAll(conds...)+
		` ORDER BY created_at, id LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list workflows: %w", err)
	}
	defer rows.Close()
	var out []domain.Workflow
	for rows.Next() {
		w, err := scanWorkflow(rows, false)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *w)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

// staleWorkflow explains why a conditional change of a workflow matched no
// row: it is gone (or invisible), archived, or at another version.
func (q *queries) staleWorkflow(id string, expectedVersion int) error {
	cur, err := q.GetWorkflow(id)
	if err != nil {
		return err
	}
	if cur.ArchivedAt != nil {
		return domain.Errorf(domain.ECodeConflict, "the workflow is archived and can no longer change")
	}
	return domain.Errorf(domain.ECodeConflict,
		"the workflow changed since version %d: it is at version %d now; reload it and apply your change again", expectedVersion, cur.Version)
}

func (q *queries) UpdateWorkflow(w *domain.Workflow, expectedVersion int, v *domain.WorkflowVersion) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	if w.Tags == nil {
		w.Tags = []string{}
	}
	var a argList
	set := fmt.Sprintf(`team_id = %s, name = %s, description = %s, definition = %s, tags = %s, category = %s,
		status = %s, version = version + 1, updated_at = %s`,
		a.add(nullString(w.TeamID)), a.add(w.Name), a.add(w.Description), a.add(toJSON(w.Definition)),
		a.add(toJSON(w.Tags)), a.add(w.Category), a.add(string(w.Status)), a.add(q.now))
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(w.ID), "version = "+a.add(expectedVersion),
		"archived_at IS NULL", q.teamVisible(&a, "team_id"))
	res, err := q.exec(`UPDATE workflows SET `+set+` WHERE `+cond, a.args...)
	if err != nil {
		return fmt.Errorf("update workflow %s: %w", w.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return q.s.translate(err)
	} else if n == 0 {
		return q.staleWorkflow(w.ID, expectedVersion)
	}
	w.OrgID, w.Version, w.UpdatedAt = org, expectedVersion+1, q.now
	if _, err := q.exec(`UPDATE scheduled_executions SET team_id = $3, updated_at = $4
		WHERE org_id = $1 AND workflow_id = $2 AND team_id IS DISTINCT FROM $3`,
		org, w.ID, nullString(w.TeamID), q.now); err != nil {
		return fmt.Errorf("move schedules of workflow %s: %w", w.ID, err)
	}
	if v.ParentVersion == 0 {
		v.ParentVersion = expectedVersion
	}
	return q.insertVersion(w, v)
}

func (q *queries) ArchiveWorkflow(id string, expectedVersion int) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	var a argList
	set := fmt.Sprintf("status = %s, archived_at = %s, updated_at = %s",
		a.add(string(domain.WorkflowArchived)), a.add(q.now), a.add(q.now))
	conds := []string{"org_id = " + a.add(org), "id = " + a.add(id), "archived_at IS NULL", q.teamVisible(&a, "team_id")}
	if expectedVersion > 0 {
		conds = append(conds, "version = "+a.add(expectedVersion))
	}
	res, err := q.exec(`UPDATE workflows SET `+set+` WHERE `+andAll(conds...), a.args...)
	if err != nil {
		return false, fmt.Errorf("archive workflow %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, q.s.translate(err)
	} else if n == 0 {
		cur, err := q.GetWorkflow(id)
		if err != nil {
			return false, err
		}
		if cur.ArchivedAt != nil {
			return false, nil
		}
		return false, q.staleWorkflow(id, expectedVersion)
	}
	if _, err := q.exec(`UPDATE scheduled_executions SET is_active = $3, next_run_at = NULL, updated_at = $4
		WHERE org_id = $1 AND workflow_id = $2 AND is_active`, org, id, false, q.now); err != nil {
		return false, fmt.Errorf("stop schedules of workflow %s: %w", id, err)
	}
	return true, nil
}

func (q *queries) PinWorkflowVersion(id string, env domain.Environment, version int) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	col, err := pinColumn(env)
	if err != nil {
		return 0, err
	}
	var a argList
	cond := andAll("org_id = "+a.add(org), "id = "+a.add(id), q.teamVisible(&a, "team_id"))
	var prev sql.NullInt64
	var archived *time.Time
	err = q.queryRow(`SELECT `+col+`, archived_at FROM workflows WHERE `+cond+q.d.forUpdate, a.args...).
		Scan(&prev, nullTime{&archived})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, domain.NotFound("workflow")
	}
	if err != nil {
		return 0, q.s.translate(err)
	}
	if archived != nil {
		return 0, domain.Errorf(domain.ECodeConflict, "the workflow is archived and can no longer be published")
	}
	var one int
	err = q.queryRow(`SELECT 1 FROM workflow_versions WHERE org_id = $1 AND workflow_id = $2 AND version = $3`,
		org, id, version).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &domain.Error{Code: domain.ECodeNotFound, Message: fmt.Sprintf("the workflow has no version %d", version)}
	}
	if err != nil {
		return 0, q.s.translate(err)
	}
	if err := q.execOne("workflow", `UPDATE workflows SET `+col+` = $3, updated_at = $4 WHERE org_id = $1 AND id = $2`,
		org, id, version, q.now); err != nil {
		return 0, err
	}
	return int(prev.Int64), nil
}

const versionListColumns = `v.id, v.org_id, v.workflow_id, v.version, v.parent_version, v.name, v.description,
	v.author_id, v.message, v.created_at`

func scanVersion(row interface{ Scan(...any) error }, withDefinitions bool) (*domain.WorkflowVersion, error) {
	var v domain.WorkflowVersion
	dest := []any{&v.ID, &v.OrgID, &v.WorkflowID, &v.Version, &v.ParentVersion, &v.Name, &v.Description,
		&v.AuthorID, &v.Message, utcTime{&v.CreatedAt}}
	if withDefinitions {
		dest = append(dest, jsonCol{&v.Definition}, jsonCol{&v.Resolved})
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return &v, nil
}

func (q *queries) GetWorkflowVersion(workflowID string, version int) (*domain.WorkflowVersion, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var a argList
	cond := andAll("v.org_id = "+a.add(org), "v.workflow_id = "+a.add(workflowID), "v.version = "+a.add(version),
		q.teamVisible(&a, "w.team_id"))
	v, err := scanVersion(q.queryRow(`SELECT `+versionListColumns+`, v.definition, v.resolved
		FROM workflow_versions v JOIN workflows w ON w.org_id = v.org_id AND w.id = v.workflow_id WHERE `+cond, a.args...), true)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := q.GetWorkflow(workflowID); err != nil {
			return nil, err
		}
		return nil, &domain.Error{Code: domain.ECodeNotFound, Message: fmt.Sprintf("the workflow has no version %d", version)}
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get version %d of workflow %s: %w", version, workflowID, err))
	}
	return v, nil
}

// Version cursors are the number of the last version of a page.
func encodeVersionCursor(version int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v" + strconv.Itoa(version)))
}

func decodeVersionCursor(c string) (int, error) {
	bad := domain.Errorf(domain.ECodeBadRequest, "invalid page cursor")
	if len(c) > 40 {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, bad
	}
	rest, ok := strings.CutPrefix(string(b), "v")
	n, err := strconv.Atoi(rest)
	if !ok || err != nil || n < 1 {
		return 0, bad
	}
	return n, nil
}

func (q *queries) ListWorkflowVersions(workflowID string, p domain.Page) ([]domain.WorkflowVersion, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	if _, err := q.GetWorkflow(workflowID); err != nil {
		return nil, "", err
	}
	p = p.Normalize()
	var a argList
	conds := []string{"v.org_id = " + a.add(org), "v.workflow_id = " + a.add(workflowID)}
	if p.Cursor != "" {
		before, err := decodeVersionCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, "v.version < "+a.add(before))
	}
	rows, err := q.query(`SELECT `+versionListColumns+` FROM workflow_versions v WHERE `+andAll(conds...)+
		` ORDER BY v.version DESC LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list versions of workflow %s: %w", workflowID, err)
	}
	defer rows.Close()
	var out []domain.WorkflowVersion
	for rows.Next() {
		v, err := scanVersion(rows, false)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = encodeVersionCursor(out[len(out)-1].Version)
	}
	return out, next, nil
}

func (q *queries) RunnableVersion(workflowID string, env domain.Environment, version int) (*domain.Workflow, *domain.WorkflowVersion, error) {
	w, err := q.GetWorkflow(workflowID)
	if err != nil {
		return nil, nil, err
	}
	n, err := w.RunnableVersion(env, version)
	if err != nil {
		return nil, nil, err
	}
	v, err := q.GetWorkflowVersion(workflowID, n)
	if err != nil {
		return nil, nil, err
	}
	return w, v, nil
}

func (q *queries) WorkflowStats(workflowIDs []string) (map[string]domain.WorkflowStats, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	out := make(map[string]domain.WorkflowStats, len(workflowIDs))
	if len(workflowIDs) == 0 {
		return out, nil
	}
	var a argList
	orgArg := a.add(org)
	marks := make([]string, len(workflowIDs))
	for i, id := range workflowIDs {
		marks[i] = a.add(id)
		out[id] = domain.WorkflowStats{}
	}
	// Sums are cast to bigint: PostgreSQL's sum of bigint is numeric.
	rows, err := q.query(`SELECT workflow_id, count(*),
			CAST(COALESCE(sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0) AS bigint),
			CAST(COALESCE(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS bigint),
			max(created_at), count(duration_ms), CAST(COALESCE(sum(duration_ms), 0) AS bigint)
		FROM executions WHERE org_id = `+orgArg+` AND workflow_id IN (`+strings.Join(marks, ", ")+`)
		GROUP BY workflow_id`, a.args...)
	if err != nil {
		return nil, fmt.Errorf("workflow statistics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var st domain.WorkflowStats
		var timed, totalMS int64
		if err := rows.Scan(&id, &st.Total, &st.Succeeded, &st.Failed, anyTime{&st.LastRunAt}, &timed, &totalMS); err != nil {
			return nil, q.s.translate(err)
		}
		if timed > 0 {
			st.AverageDurationMS = (totalMS + timed/2) / timed
		}
		out[id] = st
	}
	return out, q.s.translate(rows.Err())
}

// anyTime scans a nullable timestamp that may arrive as text: SQLite
// returns aggregates such as max(created_at) without their column type.
type anyTime struct{ t **time.Time }

func (a anyTime) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		*a.t = nil
		return nil
	case time.Time:
		u := v.UTC()
		*a.t = &u
		return nil
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return fmt.Errorf("timestamp: unexpected %T", src)
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			u := t.UTC()
			*a.t = &u
			return nil
		}
	}
	return fmt.Errorf("timestamp: cannot parse %q", s)
}
