package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
)

const agentColumns = `id, org_id, team_id, name, description, type, definition, created_by, created_at, updated_at`

func scanAgent(row interface{ Scan(...any) error }) (*domain.LibraryAgent, error) {
	var a domain.LibraryAgent
	var typ string
	err := row.Scan(&a.ID, &a.OrgID, strCol{&a.TeamID}, &a.Name, &a.Description, &typ, jsonCol{&a.Node},
		&a.CreatedBy, utcTime{&a.CreatedAt}, utcTime{&a.UpdatedAt})
	if err != nil {
		return nil, err
	}
	a.Node.Type = domain.NodeType(typ)
	return &a, nil
}

// agentNode is the node as stored: without an id or library reference,
// which belong to the workflow node that uses it.
func agentNode(a *domain.LibraryAgent) domain.Node {
	n := a.Node
	n.ID, n.AgentID = "", ""
	return n
}

func (q *queries) CreateAgent(a *domain.LibraryAgent, maxAgents int) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	if err := q.reserveQuota(org, "agents", "", "max_agents", "library agents", maxAgents); err != nil {
		return err
	}
	a.OrgID, a.CreatedAt, a.UpdatedAt = org, q.now, q.now
	a.Node = agentNode(a)
	_, err = q.exec(`INSERT INTO agents (`+agentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.OrgID, nullString(a.TeamID), a.Name, a.Description, string(a.Node.Type), toJSON(a.Node),
		a.CreatedBy, a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create agent %s: %w", a.ID, err)
	}
	return nil
}

func (q *queries) GetAgent(id string) (*domain.LibraryAgent, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	var al argList
	cond := andAll("org_id = "+al.add(org), "id = "+al.add(id), q.teamVisible(&al, "team_id"))
	a, err := scanAgent(q.queryRow(`SELECT `+agentColumns+` FROM agents WHERE `+cond, al.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("agent")
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get agent %s: %w", id, err))
	}
	return a, nil
}

func (q *queries) ListAgents(f domain.AgentFilter) ([]domain.LibraryAgent, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p := f.Page.Normalize()
	var al argList
	conds := []string{"org_id = " + al.add(org), q.teamVisible(&al, "team_id")}
	if f.TeamID != "" {
		conds = append(conds, "team_id = "+al.add(f.TeamID))
	}
	if f.Type != "" {
		conds = append(conds, "type = "+al.add(string(f.Type)))
	}
	if f.Search != "" {
		conds = append(conds, `lower(name) LIKE `+al.add(likePattern(strings.ToLower(f.Search)))+` ESCAPE '\'`)
	}
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, "(created_at, id) > ("+al.add(ts)+", "+al.add(id)+")")
	}
	rows, err := q.query(`SELECT `+agentColumns+` FROM agents WHERE `+andAll(conds...)+
		` ORDER BY created_at, id LIMIT `+al.add(p.Limit+1), al.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []domain.LibraryAgent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *a)
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

func (q *queries) UpdateAgent(a *domain.LibraryAgent) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	a.UpdatedAt = q.now
	a.Node = agentNode(a)
	var al argList
	set := fmt.Sprintf("team_id = %s, name = %s, description = %s, type = %s, definition = %s, updated_at = %s",
		al.add(nullString(a.TeamID)), al.add(a.Name), al.add(a.Description), al.add(string(a.Node.Type)),
		al.add(toJSON(a.Node)), al.add(a.UpdatedAt))
	cond := andAll("org_id = "+al.add(org), "id = "+al.add(a.ID), q.teamVisible(&al, "team_id"))
	return q.execOne("agent", `UPDATE agents SET `+set+` WHERE `+cond, al.args...)
}

func (q *queries) DeleteAgent(id string) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	var al argList
	cond := andAll("org_id = "+al.add(org), "id = "+al.add(id), q.teamVisible(&al, "team_id"))
	return q.execOne("agent", `DELETE FROM agents WHERE `+cond, al.args...)
}
