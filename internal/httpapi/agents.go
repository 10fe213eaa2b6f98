package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// AgentIn is a library agent: a reusable node definition that workflow
// nodes reference by agent_id, overriding any of its fields.
type AgentIn struct {
	TeamID         *string                 `json:"team_id,omitempty" maxLength:"64" doc:"The owning team; \"\" for the whole organization. Default: your team."`
	Name           string                  `json:"name" minLength:"1" maxLength:"200"`
	Description    string                  `json:"description,omitempty" maxLength:"4000"`
	Type           domain.NodeType         `json:"type" enum:"llm,http,transform,router"`
	LLM            *domain.LLMConfig       `json:"llm,omitempty"`
	HTTP           *domain.HTTPConfig      `json:"http,omitempty"`
	Transform      *domain.TransformConfig `json:"transform,omitempty"`
	Router         *domain.RouterConfig    `json:"router,omitempty"`
	Retry          *domain.RetryPolicy     `json:"retry,omitempty"`
	TimeoutSeconds int                     `json:"timeout_seconds,omitempty"`
}

// TransformSchema leaves the required fields of the node configuration to
// workflow.Validate, which reports them all at once.
func (AgentIn) TransformSchema(r huma.Registry, s *huma.Schema) *huma.Schema {
	seen := map[*huma.Schema]bool{}
	for _, name := range []string{"llm", "http", "transform", "router", "retry"} {
		relaxRequired(r, s.Properties[name], seen)
	}
	return s
}

func (a *AgentIn) node() domain.Node {
	return domain.Node{Type: a.Type, Name: strings.TrimSpace(a.Name), Description: a.Description, LLM: a.LLM, HTTP: a.HTTP,
		Transform: a.Transform, Router: a.Router, Retry: a.Retry, TimeoutSeconds: a.TimeoutSeconds}
}

// AgentOut is a library agent as the API shows it.
type AgentOut struct {
	ID             string                  `json:"id"`
	TeamID         string                  `json:"team_id" doc:"\"\" for organization-wide agents"`
	Name           string                  `json:"name"`
	Description    string                  `json:"description"`
	Type           domain.NodeType         `json:"type"`
	LLM            *domain.LLMConfig       `json:"llm,omitempty"`
	HTTP           *domain.HTTPConfig      `json:"http,omitempty"`
	Transform      *domain.TransformConfig `json:"transform,omitempty"`
	Router         *domain.RouterConfig    `json:"router,omitempty"`
	Retry          *domain.RetryPolicy     `json:"retry,omitempty"`
	TimeoutSeconds int                     `json:"timeout_seconds,omitempty"`
	CreatedBy      string                  `json:"created_by"`
	CreatedAt      time.Time               `json:"created_at"`
	UpdatedAt      time.Time               `json:"updated_at"`
}

func agentOut(a *domain.LibraryAgent) AgentOut {
	n := a.Node
	return AgentOut{ID: a.ID, TeamID: a.TeamID, Name: a.Name, Description: a.Description, Type: n.Type, LLM: n.LLM, HTTP: n.HTTP,
		Transform: n.Transform, Router: n.Router, Retry: n.Retry, TimeoutSeconds: n.TimeoutSeconds, CreatedBy: a.CreatedBy,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// libraryNodeID stands in for the id of the node a library agent becomes.
const libraryNodeID = "library-agent"

// checkAgent validates a library agent as a one-node workflow. Problems that
// only a workflow can settle (which agents a template reads, where a router
// leads) are left to the workflows that use it, where they are checked after
// resolution. Pointers are into the agent body.
func (s *Server) checkAgent(org *domain.Organization, n domain.Node) []domain.FieldError {
	n.ID = libraryNodeID
	def := &domain.Definition{Nodes: []domain.Node{n}}
	var out []domain.FieldError
	for _, p := range workflow.Validate(def, s.definitionLimits(org)) {
		ptr, ok := strings.CutPrefix(p.Pointer, "/agents/0")
		if !ok || contextProblem(ptr, p.Message) {
			continue
		}
		out = append(out, domain.FieldError{Pointer: ptr, Message: p.Message})
	}
	if strings.TrimSpace(n.Name) == "" {
		out = append(out, domain.FieldError{Pointer: "/name", Message: "a name is required"})
	}
	return out
}

// agentDefinition is a library agent as a one-node workflow.
func agentDefinition(n domain.Node) *domain.Definition {
	n.ID = libraryNodeID
	return &domain.Definition{Nodes: []domain.Node{n}}
}

// checkAgentTools reports the agent's workflow tools that name a workflow
// an agent of team teamID may not call (workflow.CheckWorkflowTools): one
// of another team, or, for an organization-wide agent, any team's. The
// workflows named are in c.called. Pointers are into the agent body.
func checkAgentTools(c *workflowContext, teamID string, n domain.Node) []domain.FieldError {
	var out []domain.FieldError
	for _, p := range workflow.CheckWorkflowTools(agentDefinition(n), teamID, c.called) {
		if ptr, ok := strings.CutPrefix(p.Pointer, "/agents/0"); ok {
			out = append(out, domain.FieldError{Pointer: ptr, Message: p.Message})
		}
	}
	return out
}

// contextProblem reports whether a problem depends on the workflow a
// library agent is used in.
func contextProblem(ptr, msg string) bool {
	if strings.HasPrefix(ptr, "/router/routes/") && strings.HasSuffix(ptr, "/to") || ptr == "/router/default" {
		return true
	}
	return strings.HasPrefix(msg, "reads agent ")
}

func validAgentID(id string) error {
	if !domain.ValidID(domain.PrefixAgent, id) {
		return domain.NotFound("agent")
	}
	return nil
}

func invalidAgent(problems []domain.FieldError) error {
	return domain.Invalid(fmt.Sprintf("the agent has %d problem(s)", len(problems)), problems...)
}

func (s *Server) registerAgentRoutes() {
	tags := []string{"Agents"}
	type agentOutput struct {
		Body AgentOut
	}

	type agentCreateIn struct {
		Body AgentIn
	}
	register(s, huma.Operation{OperationID: "create-agent", Method: http.MethodPost, Path: "/api/v1/agents", Tags: tags,
		Summary: "Create a library agent", DefaultStatus: http.StatusCreated,
		Description: "Workflow nodes use it with agent_id; their own fields override the agent's. The plan's agent quota answers 429.",
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests}}, Requires(domain.PermAgentsCreate),
		func(ctx context.Context, in *agentCreateIn) (*agentOutput, error) {
			p := principal(ctx)
			scope := p.Scope()
			var c *workflowContext
			err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
				var team []string
				if in.Body.TeamID != nil {
					team = append(team, *in.Body.TeamID)
				}
				if c, err = loadWorkflowContext(q, p, nil, team...); err != nil {
					return err
				}
				return c.loadCalled(q, agentDefinition(in.Body.node()))
			})
			if err != nil {
				return nil, err
			}
			node := in.Body.node()
			teamID, problems := chooseTeam(p, c, in.Body.TeamID, "agent")
			if len(problems) == 0 {
				problems = checkAgentTools(c, teamID, node)
			}
			if problems = append(problems, s.checkAgent(c.org, node)...); len(problems) > 0 {
				return nil, invalidAgent(problems)
			}
			a := &domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), TeamID: teamID, Name: node.Name,
				Description: node.Description, Node: node, CreatedBy: p.UserID}
			err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
				if err := tx.CreateAgent(a, c.org.Limits.MaxAgents); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "agent.created", "agent", a.ID, map[string]any{"name": a.Name, "type": string(node.Type), "team_id": teamID}))
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &agentOutput{Body: agentOut(a)}, nil
		})

	type agentListIn struct {
		TeamID string `query:"team_id" maxLength:"64"`
		Type   string `query:"type" enum:"llm,http,transform,router"`
		Search string `query:"search" maxLength:"200"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor string `query:"cursor" maxLength:"200"`
	}
	type agentListOut struct {
		Body struct {
			Agents     []AgentOut `json:"agents"`
			NextCursor string     `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/api/v1/agents", Tags: tags,
		Summary: "List library agents", Description: "Non-admins see their team's and organization-wide agents."},
		Requires(domain.PermAgentsRead),
		func(ctx context.Context, in *agentListIn) (*agentListOut, error) {
			out := &agentListOut{}
			out.Body.Agents = []AgentOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				as, next, err := q.ListAgents(domain.AgentFilter{TeamID: in.TeamID, Type: domain.NodeType(in.Type), Search: in.Search,
					Page: domain.Page{Limit: in.Limit, Cursor: in.Cursor}})
				for i := range as {
					out.Body.Agents = append(out.Body.Agents, agentOut(&as[i]))
				}
				out.Body.NextCursor = next
				return err
			})
			return out, err
		})

	type agentIDIn struct {
		ID string `path:"id" maxLength:"64"`
	}
	register(s, huma.Operation{OperationID: "get-agent", Method: http.MethodGet, Path: "/api/v1/agents/{id}", Tags: tags,
		Summary: "Get a library agent"}, Requires(domain.PermAgentsRead),
		func(ctx context.Context, in *agentIDIn) (*agentOutput, error) {
			if err := validAgentID(in.ID); err != nil {
				return nil, err
			}
			var a *domain.LibraryAgent
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				a, err = q.GetAgent(in.ID)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &agentOutput{Body: agentOut(a)}, nil
		})

	type agentUpdateIn struct {
		ID   string `path:"id" maxLength:"64"`
		Body AgentIn
	}
	register(s, huma.Operation{OperationID: "update-agent", Method: http.MethodPut, Path: "/api/v1/agents/{id}", Tags: tags,
		Summary: "Replace a library agent",
		Description: "Workflows that use the agent pick up the change when they are next saved; their saved versions " +
			"keep running what they resolved.", Errors: []int{http.StatusUnprocessableEntity}}, Requires(domain.PermAgentsUpdate),
		func(ctx context.Context, in *agentUpdateIn) (*agentOutput, error) {
			if err := validAgentID(in.ID); err != nil {
				return nil, err
			}
			p := principal(ctx)
			scope := p.Scope()
			var cur *domain.LibraryAgent
			var c *workflowContext
			err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
				if cur, err = q.GetAgent(in.ID); err != nil {
					return err
				}
				var team []string
				if in.Body.TeamID != nil {
					team = append(team, *in.Body.TeamID)
				}
				if c, err = loadWorkflowContext(q, p, nil, team...); err != nil {
					return err
				}
				return c.loadCalled(q, agentDefinition(in.Body.node()))
			})
			if err != nil {
				return nil, err
			}
			node := in.Body.node()
			teamID, problems := moveTeam(p, c, cur.TeamID, in.Body.TeamID, "agent")
			if len(problems) == 0 {
				problems = checkAgentTools(c, teamID, node)
			}
			if problems = append(problems, s.checkAgent(c.org, node)...); len(problems) > 0 {
				return nil, invalidAgent(problems)
			}
			next := *cur
			next.TeamID, next.Name, next.Description, next.Node = teamID, node.Name, node.Description, node
			err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
				if err := tx.UpdateAgent(&next); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "agent.updated", "agent", next.ID, map[string]any{"name": next.Name, "type": string(node.Type), "team_id": teamID}))
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &agentOutput{Body: agentOut(&next)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-agent", Method: http.MethodDelete, Path: "/api/v1/agents/{id}", Tags: tags,
		Summary: "Delete a library agent", DefaultStatus: http.StatusNoContent,
		Description: "Saved workflow versions keep running; a workflow that still names the agent fails validation when next changed."},
		Requires(domain.PermAgentsDelete),
		func(ctx context.Context, in *agentIDIn) (*struct{}, error) {
			if err := validAgentID(in.ID); err != nil {
				return nil, err
			}
			return nil, s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				if err := tx.DeleteAgent(in.ID); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "agent.deleted", "agent", in.ID, nil))
				return nil
			})
		})
}
