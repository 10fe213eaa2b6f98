package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/superagent-hq/superagent/internal/domain"
)

const orgColumns = `id, name, slug, plan, max_workflows, max_agents, max_teams, max_executions_per_month,
	max_concurrent_executions, max_agents_per_workflow, settings, require_mfa, is_active, created_at, updated_at, deleted_at`

func scanOrg(row interface{ Scan(...any) error }) (*domain.Organization, error) {
	var o domain.Organization
	var plan string
	err := row.Scan(&o.ID, &o.Name, &o.Slug, &plan, &o.Limits.MaxWorkflows, &o.Limits.MaxAgents, &o.Limits.MaxTeams,
		&o.Limits.MaxExecutionsPerMonth, &o.Limits.MaxConcurrentExecutions, &o.Limits.MaxAgentsPerWorkflow, jsonCol{&o.Settings}, &o.RequireMFA,
		&o.IsActive, utcTime{&o.CreatedAt}, utcTime{&o.UpdatedAt}, nullTime{&o.DeletedAt})
	if err != nil {
		return nil, err
	}
	o.Plan = domain.Plan(plan)
	if o.Settings == nil {
		o.Settings = map[string]any{}
	}
	return &o, nil
}

func (q *queries) CreateOrganization(o *domain.Organization) error {
	if !q.scope.IsSystem() && q.scope.OrgID != o.ID {
		return domain.Errorf(domain.ECodeInternal, "internal error")
	}
	if o.Settings == nil {
		o.Settings = map[string]any{}
	}
	o.CreatedAt, o.UpdatedAt = q.now, q.now
	_, err := q.exec(`INSERT INTO organizations (`+orgColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		o.ID, o.Name, o.Slug, string(o.Plan), o.Limits.MaxWorkflows, o.Limits.MaxAgents, o.Limits.MaxTeams,
		o.Limits.MaxExecutionsPerMonth, o.Limits.MaxConcurrentExecutions, o.Limits.MaxAgentsPerWorkflow, toJSON(o.Settings), o.RequireMFA,
		o.IsActive, o.CreatedAt, o.UpdatedAt, nullable(o.DeletedAt))
	if domain.IsCode(err, domain.ECodeConflict) {
		return domain.Errorf(domain.ECodeConflict, "an organization with this name already exists")
	}
	return err
}

func (q *queries) GetOrganization(id string) (*domain.Organization, error) {
	if !q.scope.IsSystem() && id != q.scope.OrgID {
		return nil, domain.NotFound("organization")
	}
	o, err := scanOrg(q.queryRow(`SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("organization")
	}
	return o, q.s.translate(err)
}

func (q *queries) GetOrganizationBySlug(slug string) (*domain.Organization, error) {
	if err := q.requireSystem("GetOrganizationBySlug"); err != nil {
		return nil, err
	}
	o, err := scanOrg(q.queryRow(`SELECT `+orgColumns+` FROM organizations WHERE slug = $1`, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("organization")
	}
	return o, q.s.translate(err)
}

func (q *queries) UpdateOrganization(o *domain.Organization) error {
	if !q.scope.IsSystem() && o.ID != q.scope.OrgID {
		return domain.NotFound("organization")
	}
	o.UpdatedAt = q.now
	return q.execOne("organization", `UPDATE organizations SET name = $2, plan = $3, max_workflows = $4, max_agents = $5,
		max_teams = $6, max_executions_per_month = $7, max_concurrent_executions = $8, max_agents_per_workflow = $9,
		settings = $10, require_mfa = $11, is_active = $12, updated_at = $13, deleted_at = $14 WHERE id = $1`,
		o.ID, o.Name, string(o.Plan), o.Limits.MaxWorkflows, o.Limits.MaxAgents, o.Limits.MaxTeams,
		o.Limits.MaxExecutionsPerMonth, o.Limits.MaxConcurrentExecutions, o.Limits.MaxAgentsPerWorkflow, toJSON(o.Settings), o.RequireMFA,
		o.IsActive, o.UpdatedAt, nullable(o.DeletedAt))
}

func (q *queries) ListOrganizations() ([]domain.Organization, error) {
	if err := q.requireSystem("ListOrganizations"); err != nil {
		return nil, err
	}
	rows, err := q.query(`SELECT ` + orgColumns + ` FROM organizations ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, *o)
	}
	return out, q.s.translate(rows.Err())
}

func (q *queries) DeleteOrganization(id string) error {
	if err := q.requireSystem("DeleteOrganization"); err != nil {
		return err
	}
	// Tables whose foreign keys do not cascade from the organization are
	// cleared first, children before parents.
	for _, table := range []string{"execution_events", "execution_steps", "idempotency_keys", "scheduled_executions",
		"executions", "workflow_versions", "workflows", "agents", "provider_credentials", "api_keys",
		"one_time_tokens", "mfa_recovery_codes", "refresh_tokens", "sessions", "users", "teams"} {
		if _, err := q.exec(`DELETE FROM `+table+` WHERE org_id = $1`, id); err != nil {
			return fmt.Errorf("purge %s: %w", table, err)
		}
	}
	return q.execOne("organization", `DELETE FROM organizations WHERE id = $1`, id)
}

const teamColumns = `id, org_id, name, description, created_at, updated_at`

func scanTeam(row interface{ Scan(...any) error }) (*domain.Team, error) {
	var t domain.Team
	err := row.Scan(&t.ID, &t.OrgID, &t.Name, &t.Description, utcTime{&t.CreatedAt}, utcTime{&t.UpdatedAt})
	return &t, err
}

func (q *queries) CreateTeam(t *domain.Team) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	t.OrgID, t.CreatedAt, t.UpdatedAt = org, q.now, q.now
	_, err = q.exec(`INSERT INTO teams (`+teamColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.OrgID, t.Name, t.Description, t.CreatedAt, t.UpdatedAt)
	if domain.IsCode(err, domain.ECodeConflict) {
		return domain.Errorf(domain.ECodeConflict, "a team named %q already exists", t.Name)
	}
	return err
}

func (q *queries) GetTeam(id string) (*domain.Team, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	t, err := scanTeam(q.queryRow(`SELECT `+teamColumns+` FROM teams WHERE org_id = $1 AND id = $2`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("team")
	}
	return t, q.s.translate(err)
}

func (q *queries) ListTeams(p domain.Page) ([]domain.Team, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p = p.Normalize()
	var a argList
	where := "org_id = " + a.add(org)
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		where += fmt.Sprintf(" AND (created_at, id) > (%s, %s)", a.add(ts), a.add(id))
	}
	rows, err := q.query(`SELECT `+teamColumns+` FROM teams WHERE `+where+
		` ORDER BY created_at, id LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []domain.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *t)
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

func (q *queries) UpdateTeam(t *domain.Team) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	t.UpdatedAt = q.now
	err = q.execOne("team", `UPDATE teams SET name = $3, description = $4, updated_at = $5 WHERE org_id = $1 AND id = $2`,
		org, t.ID, t.Name, t.Description, t.UpdatedAt)
	if domain.IsCode(err, domain.ECodeConflict) {
		return domain.Errorf(domain.ECodeConflict, "a team named %q already exists", t.Name)
	}
	return err
}

func (q *queries) DeleteTeam(id string) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	for _, table := range []string{"users", "workflows", "agents", "executions", "scheduled_executions"} {
		if _, err := q.exec(`UPDATE `+table+` SET team_id = NULL WHERE org_id = $1 AND team_id = $2`, org, id); err != nil {
			return err
		}
	}
	return q.execOne("team", `DELETE FROM teams WHERE org_id = $1 AND id = $2`, org, id)
}

func (q *queries) CountTeams() (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`SELECT count(*) FROM teams WHERE org_id = $1`, org).Scan(&n)
	return n, q.s.translate(err)
}
