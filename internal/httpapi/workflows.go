package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// Workflow routes: CRUD with optimistic concurrency, versions, diffs,
// rollback, environment pins, export and import. Definitions are checked by
// workflow.Validate after library agents are resolved, and every problem is
// reported at once with a JSON pointer into the request body.
//
// Decisions recorded here:
//   - PUT replaces the name, description, tags, category and definition;
//     status and team_id change only when given. Every change appends an
//     immutable version; a PUT that changes nothing returns the workflow
//     unchanged, without a version or an audit row.
//   - The concurrency token is the workflow's version, taken from If-Match
//     ("3", W/"3" or 3) or the body's "version"; one of them is required and
//     a stale one is 409.
//   - A version stores the definition as written and, resolved, the one
//     executions run: later edits or deletions of library agents change a
//     workflow only when it is next saved.
//   - Plan quotas (workflows and library agents per organization) answer
//     429 limit_exceeded with the limit's name and value, as errors.go maps
//     every plan limit; agents per workflow is a validation problem (422).
//   - Non-admins place workflows in their own team only and cannot move them.

// WorkflowIn is the writable part of a workflow: anything else in the body
// (id, org_id, version numbers, counters) is refused with 422.
type WorkflowIn struct {
	TeamID      *string               `json:"team_id,omitempty" maxLength:"64" doc:"The owning team; \"\" makes the workflow organization-wide. Default: your team. Only admins may choose another team or move a workflow."`
	Name        string                `json:"name" minLength:"1" maxLength:"200"`
	Description string                `json:"description,omitempty" maxLength:"4000"`
	Tags        []string              `json:"tags,omitempty" maxItems:"20" doc:"At most 20 tags of at most 50 characters"`
	Category    string                `json:"category,omitempty" maxLength:"100"`
	Status      domain.WorkflowStatus `json:"status,omitempty" enum:"draft,active" doc:"draft (default for new workflows) or active; deleting archives"`
	Message     string                `json:"message,omitempty" maxLength:"500" doc:"Message of the version this change creates"`
	domain.Definition
}

// TransformSchema leaves required fields of the definition to
// workflow.Validate, which reports all of them together with the rest.
func (WorkflowIn) TransformSchema(r huma.Registry, s *huma.Schema) *huma.Schema {
	return relaxDefinition(r, s)
}

// WorkflowUpdateIn is the body of PUT /api/v1/workflows/{id}.
type WorkflowUpdateIn struct {
	WorkflowIn
	Version int `json:"version,omitempty" minimum:"1" doc:"The version you edited (or send If-Match); a stale version is 409"`
}

// relaxDefinition drops "required" from the definition part of a body
// schema (agents, edges and every type inside them), keeping the types and
// the refusal of unknown fields.
func relaxDefinition(r huma.Registry, s *huma.Schema) *huma.Schema {
	definitionFields := []string{"agents", "edges", "output_template", "input_schema"}
	s.Required = slices.DeleteFunc(slices.Clone(s.Required), func(n string) bool { return slices.Contains(definitionFields, n) })
	seen := map[*huma.Schema]bool{}
	for _, name := range definitionFields {
		relaxRequired(r, s.Properties[name], seen)
	}
	return s
}

func relaxRequired(r huma.Registry, s *huma.Schema, seen map[*huma.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.Ref != "" {
		relaxRequired(r, r.SchemaFromRef(s.Ref), seen)
		return
	}
	if len(s.Required) > 0 {
		s.Required = nil
		s.PrecomputeMessages()
	}
	for _, p := range s.Properties {
		relaxRequired(r, p, seen)
	}
	relaxRequired(r, s.Items, seen)
	if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
		relaxRequired(r, ap, seen)
	}
}

// WorkflowOut is a workflow as the API shows it.
type WorkflowOut struct {
	ID          string                `json:"id"`
	OrgID       string                `json:"org_id"`
	TeamID      string                `json:"team_id" doc:"\"\" for organization-wide workflows"`
	CreatedBy   string                `json:"created_by"`
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Tags        []string              `json:"tags"`
	Category    string                `json:"category"`
	Status      domain.WorkflowStatus `json:"status"`
	Version     int                   `json:"version" doc:"The latest version; also the ETag"`
	Pins        map[string]int        `json:"pins" doc:"Versions pinned to dev, staging and prod"`
	Stats       domain.WorkflowStats  `json:"stats"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	ArchivedAt  *time.Time            `json:"archived_at,omitempty"`
	domain.Definition
}

// WorkflowSummary is a workflow in a list: without its definition.
type WorkflowSummary struct {
	ID          string                `json:"id"`
	TeamID      string                `json:"team_id"`
	CreatedBy   string                `json:"created_by"`
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Tags        []string              `json:"tags"`
	Category    string                `json:"category"`
	Status      domain.WorkflowStatus `json:"status"`
	Version     int                   `json:"version"`
	Pins        map[string]int        `json:"pins"`
	Stats       domain.WorkflowStats  `json:"stats"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	ArchivedAt  *time.Time            `json:"archived_at,omitempty"`
}

func pinsOut(p map[domain.Environment]int) map[string]int {
	out := make(map[string]int, len(p))
	for env, v := range p {
		out[string(env)] = v
	}
	return out
}

func tagsOut(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

func definitionOut(d domain.Definition) domain.Definition {
	if d.Nodes == nil {
		d.Nodes = []domain.Node{}
	}
	if d.Edges == nil {
		d.Edges = []domain.Edge{}
	}
	return d
}

func workflowOut(w *domain.Workflow) WorkflowOut {
	return WorkflowOut{ID: w.ID, OrgID: w.OrgID, TeamID: w.TeamID, CreatedBy: w.CreatedBy, Name: w.Name,
		Description: w.Description, Tags: tagsOut(w.Tags), Category: w.Category, Status: w.Status, Version: w.Version,
		Pins: pinsOut(w.Pins), Stats: w.Stats, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, ArchivedAt: w.ArchivedAt,
		Definition: definitionOut(w.Definition)}
}

func workflowSummary(w *domain.Workflow) WorkflowSummary {
	return WorkflowSummary{ID: w.ID, TeamID: w.TeamID, CreatedBy: w.CreatedBy, Name: w.Name, Description: w.Description,
		Tags: tagsOut(w.Tags), Category: w.Category, Status: w.Status, Version: w.Version, Pins: pinsOut(w.Pins),
		Stats: w.Stats, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, ArchivedAt: w.ArchivedAt}
}

// WorkflowVersionOut is one immutable version.
type WorkflowVersionOut struct {
	Version       int       `json:"version"`
	ParentVersion int       `json:"parent_version" doc:"The version this one was derived from (a rollback names its source); 0 for the first"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	AuthorID      string    `json:"author_id"`
	Message       string    `json:"message"`
	CreatedAt     time.Time `json:"created_at"`
}

// WorkflowVersionDetail is a version with its definitions.
type WorkflowVersionDetail struct {
	WorkflowVersionOut
	domain.Definition
	Resolved domain.Definition `json:"resolved" doc:"The definition with library agents merged in: what executions of this version run"`
}

func versionOut(v *domain.WorkflowVersion) WorkflowVersionOut {
	return WorkflowVersionOut{Version: v.Version, ParentVersion: v.ParentVersion, Name: v.Name, Description: v.Description,
		AuthorID: v.AuthorID, Message: v.Message, CreatedAt: v.CreatedAt}
}

// WorkflowExport is the portable form of a workflow: no ids, organization,
// team, author or counters. Library agents are merged into the nodes, so the
// document imports into any organization.
type WorkflowExport struct {
	Format        string   `json:"format,omitempty" enum:"superagent.workflow" doc:"Always superagent.workflow"`
	FormatVersion int      `json:"format_version,omitempty" enum:"1"`
	Name          string   `json:"name" minLength:"1" maxLength:"200"`
	Description   string   `json:"description,omitempty" maxLength:"4000"`
	Tags          []string `json:"tags,omitempty" maxItems:"20"`
	Category      string   `json:"category,omitempty" maxLength:"100"`
	domain.Definition
}

// TransformSchema: see WorkflowIn.
func (WorkflowExport) TransformSchema(r huma.Registry, s *huma.Schema) *huma.Schema {
	return relaxDefinition(r, s)
}

// WorkflowImportIn is an exported workflow plus where to put it.
type WorkflowImportIn struct {
	WorkflowExport
	TeamID  *string `json:"team_id,omitempty" maxLength:"64" doc:"As for creation"`
	Message string  `json:"message,omitempty" maxLength:"500"`
}

const (
	exportFormat        = "superagent.workflow"
	exportFormatVersion = 1
)

// stepTimeoutHorizon bounds node timeouts below the queue's rescue horizon,
// so a slow step finishes or fails before the queue hands it to another
// worker. It is the cap the engine and the agent runtime stop steps at:
// what validates is never cut.
func (s *Server) stepTimeoutHorizon() time.Duration { return s.cfg.MaxStepTimeout }

// definitionLimits are the validation limits for an organization.
func (s *Server) definitionLimits(org *domain.Organization) workflow.Limits {
	return workflow.NewLimits(s.cfg.MaxAgentsPerWorkflow, string(org.Plan), org.Limits.MaxAgentsPerWorkflow, s.stepTimeoutHorizon())
}

// workflowContext is what checking a workflow change needs from the
// store, read in one short transaction before the write.
type workflowContext struct {
	org    *domain.Organization
	agents map[string]*domain.LibraryAgent // nil value: missing or invisible
	teams  map[string]bool                 // team ids that exist
	// called holds the workflows "workflow:<id>" tools name (nil value:
	// missing or invisible), at most workflow.MaxCalledWorkflows of them.
	called map[string]*workflow.CalledWorkflow
}

func loadWorkflowContext(q domain.Queries, p *domain.Principal, def *domain.Definition, teamIDs ...string) (*workflowContext, error) {
	org, err := q.GetOrganization(p.OrgID)
	if err != nil {
		return nil, err
	}
	c := &workflowContext{org: org, agents: map[string]*domain.LibraryAgent{}, teams: map[string]bool{},
		called: map[string]*workflow.CalledWorkflow{}}
	if def != nil {
		for _, n := range def.Nodes {
			if n.AgentID == "" || !domain.ValidID(domain.PrefixAgent, n.AgentID) {
				continue
			}
			if _, done := c.agents[n.AgentID]; done {
				continue
			}
			a, err := q.GetAgent(n.AgentID)
			if err != nil && !domain.IsCode(err, domain.ECodeNotFound) {
				return nil, err
			}
			c.agents[n.AgentID] = a
		}
		if err := c.loadCalled(q, def); err != nil {
			return nil, err
		}
	}
	for _, id := range teamIDs {
		if id == "" || !domain.ValidID(domain.PrefixTeam, id) {
			continue
		}
		_, err := q.GetTeam(id)
		if err != nil && !domain.IsCode(err, domain.ECodeNotFound) {
			return nil, err
		}
		c.teams[id] = err == nil
	}
	return c, nil
}

// loadCalled looks up the workflows that def's workflow tools name, its
// library agents' included.
func (c *workflowContext) loadCalled(q domain.Queries, def *domain.Definition) error {
	ids := workflow.CalledWorkflowIDs(def)
	for _, a := range c.agents {
		if a != nil {
			ids = append(ids, workflow.CalledWorkflowIDs(&domain.Definition{Nodes: []domain.Node{a.Node}})...)
		}
	}
	for _, id := range ids {
		if _, done := c.called[id]; done || len(c.called) >= workflow.MaxCalledWorkflows {
			continue
		}
		w, err := q.GetWorkflow(id)
		switch {
		case domain.IsCode(err, domain.ECodeNotFound):
			c.called[id] = nil
		case err != nil:
			return err
		default:
			c.called[id] = &workflow.CalledWorkflow{TeamID: w.TeamID, Archived: w.ArchivedAt != nil}
		}
	}
	return nil
}

// checkDefinition resolves library agents into def and validates the
// result. It returns the resolved definition, or every problem found: a
// missing, invisible or other-team library agent and a type that differs
// from the library agent's are reported at the node, and the node's other
// problems (which would only repeat that one) are left out. A workflow tool
// naming a workflow this one may not call (workflow.CheckWorkflowTools) is
// reported at the tool.
func (s *Server) checkDefinition(c *workflowContext, teamID string, def *domain.Definition) (*domain.Definition, []domain.FieldError, error) {
	work := *def
	work.Nodes = slices.Clone(def.Nodes)
	var problems []domain.FieldError
	skip := map[string]bool{} // pointer prefixes of nodes not validated
	for i, n := range work.Nodes {
		if n.AgentID == "" {
			continue
		}
		base := fmt.Sprintf("/agents/%d", i)
		a := c.agents[n.AgentID]
		msg := ""
		switch {
		case a == nil:
			msg = fmt.Sprintf("unknown library agent %q", clipText(n.AgentID, 80))
		case a.TeamID != "" && a.TeamID != teamID:
			msg = fmt.Sprintf("library agent %q belongs to another team than this workflow", n.AgentID)
		case n.Type != "" && n.Type != a.Node.Type:
			problems = append(problems, domain.FieldError{Pointer: base + "/type",
				Message: fmt.Sprintf("library agent %q has type %s, not %s", n.AgentID, a.Node.Type, n.Type)})
		default:
			continue
		}
		if msg != "" {
			problems = append(problems, domain.FieldError{Pointer: base + "/agent_id", Message: msg})
		}
		work.Nodes[i].AgentID = ""
		skip[base] = true
	}
	resolved, err := workflow.Resolve(&work, func(id string) (*domain.Node, error) {
		if a := c.agents[id]; a != nil {
			n := a.Node
			return &n, nil
		}
		return nil, domain.NotFound("agent")
	})
	if err != nil {
		return nil, nil, err
	}
	checked := workflow.Validate(resolved, s.definitionLimits(c.org))
	checked = append(checked, workflow.CheckWorkflowTools(resolved, teamID, c.called)...)
	for _, p := range checked {
		if !skip[nodePointer(p.Pointer)] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	return resolved, nil, nil
}

// nodePointer returns the /agents/<i> prefix of a pointer ("" when it is
// not inside a node).
func nodePointer(ptr string) string {
	rest, ok := strings.CutPrefix(ptr, "/agents/")
	if !ok {
		return ""
	}
	i, _, _ := strings.Cut(rest, "/")
	return "/agents/" + i
}

func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// checkMetadata checks the workflow fields huma's schema cannot express.
func checkMetadata(name string, tags []string) []domain.FieldError {
	var problems []domain.FieldError
	if strings.TrimSpace(name) == "" {
		problems = append(problems, domain.FieldError{Pointer: "/name", Message: "a name is required"})
	}
	seen := map[string]bool{}
	for i, t := range tags {
		ptr := fmt.Sprintf("/tags/%d", i)
		switch {
		case strings.TrimSpace(t) == "":
			problems = append(problems, domain.FieldError{Pointer: ptr, Message: "a tag cannot be empty"})
		case utf8.RuneCountInString(t) > domain.MaxTagLen:
			problems = append(problems, domain.FieldError{Pointer: ptr, Message: fmt.Sprintf("a tag may have at most %d characters", domain.MaxTagLen)})
		case seen[t]:
			problems = append(problems, domain.FieldError{Pointer: ptr, Message: fmt.Sprintf("tag %q is listed twice", t)})
		}
		seen[t] = true
	}
	return problems
}

// chooseTeam decides the team of a new resource: the caller's by default;
// admins may name any team of the organization or "" (organization-wide),
// other roles only their own team.
func chooseTeam(p *domain.Principal, c *workflowContext, requested *string, kind string) (string, []domain.FieldError) {
	if requested == nil {
		return p.TeamID, nil
	}
	t := *requested
	switch {
	case p.Role != domain.RoleAdmin && t != p.TeamID:
		msg := fmt.Sprintf("you can only place %ss in your own team", kind)
		if p.TeamID == "" {
			msg = fmt.Sprintf("you belong to no team, so your %ss are organization-wide: leave team_id out", kind)
		}
		return "", []domain.FieldError{{Pointer: "/team_id", Message: msg}}
	case t != "" && !c.teams[t]:
		return "", []domain.FieldError{{Pointer: "/team_id", Message: fmt.Sprintf("unknown team %q", clipText(t, 80))}}
	}
	return t, nil
}

// moveTeam decides the team on an update: unchanged unless given; only
// admins may move a resource.
func moveTeam(p *domain.Principal, c *workflowContext, current string, requested *string, kind string) (string, []domain.FieldError) {
	if requested == nil || *requested == current {
		return current, nil
	}
	if p.Role != domain.RoleAdmin {
		return "", []domain.FieldError{{Pointer: "/team_id", Message: fmt.Sprintf("only admins can move a %s to another team", kind)}}
	}
	return chooseTeam(p, c, requested, kind)
}

// parseIfMatch reads a version from If-Match: "3", W/"3" or 3 (0: absent).
func parseIfMatch(h string) (int, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, domain.Errorf(domain.ECodeBadRequest, "If-Match must name a workflow version, such as \"3\"")
	}
	return n, nil
}

// expectedVersion combines If-Match and the body's version; required says
// whether one of them must be present.
func expectedVersion(ifMatch string, body int, required bool) (int, error) {
	h, err := parseIfMatch(ifMatch)
	if err != nil {
		return 0, err
	}
	switch {
	case h > 0 && body > 0 && h != body:
		return 0, domain.Invalid("conflicting versions", domain.FieldError{Pointer: "/version",
			Message: fmt.Sprintf("version %d and the If-Match header (%d) disagree", body, h)})
	case h > 0:
		return h, nil
	case body > 0:
		return body, nil
	case required:
		return 0, domain.Invalid("the version you edited is required", domain.FieldError{Pointer: "/version",
			Message: "send the version you edited, as \"version\" or in an If-Match header, so that concurrent changes are not overwritten"})
	}
	return 0, nil
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// invalidWorkflow wraps problems as the 422 answer.
func invalidWorkflow(problems []domain.FieldError) error {
	return domain.Invalid(fmt.Sprintf("the workflow has %d problem(s)", len(problems)), problems...)
}

// validWorkflowID answers 404 for ids that cannot exist, before any lookup.
func validWorkflowID(id string) error {
	if !domain.ValidID(domain.PrefixWorkflow, id) {
		return domain.NotFound("workflow")
	}
	return nil
}

type workflowOutput struct {
	ETag string `header:"ETag"`
	Body WorkflowOut
}

func newWorkflowOutput(w *domain.Workflow) *workflowOutput {
	return &workflowOutput{ETag: etag(w.Version), Body: workflowOut(w)}
}

// newWorkflowInput is what creating and importing share.
type newWorkflowInput struct {
	TeamID      *string
	Name        string
	Description string
	Tags        []string
	Category    string
	Status      domain.WorkflowStatus
	Message     string
	Definition  domain.Definition
	// Action is the audit action; DefaultMessage the version message when none is given.
	Action, DefaultMessage string
}

// createWorkflow checks and stores a new workflow with its first version.
func (s *Server) createWorkflow(ctx context.Context, in newWorkflowInput) (*domain.Workflow, error) {
	p := principal(ctx)
	scope := p.Scope()
	var c *workflowContext
	err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
		var team []string
		if in.TeamID != nil {
			team = append(team, *in.TeamID)
		}
		c, err = loadWorkflowContext(q, p, &in.Definition, team...)
		return err
	})
	if err != nil {
		return nil, err
	}
	problems := checkMetadata(in.Name, in.Tags)
	teamID, teamProblems := chooseTeam(p, c, in.TeamID, "workflow")
	problems = append(problems, teamProblems...)
	resolved, defProblems, err := s.checkDefinition(c, teamID, &in.Definition)
	if err != nil {
		return nil, err
	}
	if problems = append(problems, defProblems...); len(problems) > 0 {
		return nil, invalidWorkflow(problems)
	}
	if in.Status == "" {
		in.Status = domain.WorkflowDraft
	}
	w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), TeamID: teamID, CreatedBy: p.UserID,
		Name: strings.TrimSpace(in.Name), Description: in.Description, Definition: in.Definition, Tags: in.Tags,
		Category: in.Category, Status: in.Status}
	v := &domain.WorkflowVersion{Name: w.Name, Description: w.Description, Definition: in.Definition, Resolved: *resolved,
		AuthorID: p.UserID, Message: in.Message}
	if v.Message == "" {
		v.Message = in.DefaultMessage
	}
	err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
		if err := tx.CreateWorkflow(w, v, c.org.Limits.MaxWorkflows); err != nil {
			return err
		}
		tx.Audit(auditEvent(ctx, in.Action, "workflow", w.ID, map[string]any{"name": w.Name, "version": w.Version, "team_id": w.TeamID}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// sameDefinition reports whether two definitions are the same graph.
func sameDefinition(a, b *domain.Definition) bool {
	if !workflow.Diff(a, b).Empty() || len(a.Nodes) != len(b.Nodes) || len(a.Edges) != len(b.Edges) {
		return false
	}
	for i := range a.Nodes { // Diff ignores order; order is part of what users wrote
		if a.Nodes[i].ID != b.Nodes[i].ID {
			return false
		}
	}
	return true
}

// registerWorkflowRoutes adds the workflow, library agent and schedule routes.
func (s *Server) registerWorkflowRoutes() {
	tags := []string{"Workflows"}

	type workflowCreateIn struct {
		Body WorkflowIn
	}
	register(s, huma.Operation{OperationID: "create-workflow", Method: http.MethodPost, Path: "/api/v1/workflows", Tags: tags,
		Summary: "Create a workflow", DefaultStatus: http.StatusCreated,
		Description: "Creates the workflow and its version 1. Every problem of the definition is answered at once " +
			"(422, each with a JSON pointer). The plan's workflow quota answers 429 naming the limit.",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests}}, Requires(domain.PermWorkflowsCreate),
		func(ctx context.Context, in *workflowCreateIn) (*workflowOutput, error) {
			b := in.Body
			w, err := s.createWorkflow(ctx, newWorkflowInput{TeamID: b.TeamID, Name: b.Name, Description: b.Description,
				Tags: b.Tags, Category: b.Category, Status: b.Status, Message: b.Message, Definition: b.Definition,
				Action: "workflow.created", DefaultMessage: "Created"})
			if err != nil {
				return nil, err
			}
			return newWorkflowOutput(w), nil
		})

	type workflowListIn struct {
		TeamID      string `query:"team_id" maxLength:"64"`
		Tag         string `query:"tag" maxLength:"50"`
		Category    string `query:"category" maxLength:"100"`
		Status      string `query:"status" enum:"draft,active,archived" doc:"Default: draft and active"`
		Environment string `query:"environment" enum:"dev,staging,prod" doc:"Only workflows with a version pinned to it"`
		Search      string `query:"search" maxLength:"200" doc:"Case-insensitive part of the name"`
		Limit       int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor      string `query:"cursor" maxLength:"200"`
	}
	type workflowListOut struct {
		Body struct {
			Workflows  []WorkflowSummary `json:"workflows"`
			NextCursor string            `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-workflows", Method: http.MethodGet, Path: "/api/v1/workflows", Tags: tags,
		Summary: "List workflows", Description: "Non-admins see their team's and organization-wide workflows."},
		Requires(domain.PermWorkflowsRead),
		func(ctx context.Context, in *workflowListIn) (*workflowListOut, error) {
			out := &workflowListOut{}
			out.Body.Workflows = []WorkflowSummary{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				ws, next, err := q.ListWorkflows(domain.WorkflowFilter{TeamID: in.TeamID, Tag: in.Tag, Category: in.Category,
					Status: domain.WorkflowStatus(in.Status), Environment: domain.Environment(in.Environment), Search: in.Search,
					Page: domain.Page{Limit: in.Limit, Cursor: in.Cursor}})
				if err != nil {
					return err
				}
				ids := make([]string, len(ws))
				for i := range ws {
					ids[i] = ws[i].ID
				}
				stats, err := q.WorkflowStats(ids)
				if err != nil {
					return err
				}
				for i := range ws {
					ws[i].Stats = stats[ws[i].ID]
					out.Body.Workflows = append(out.Body.Workflows, workflowSummary(&ws[i]))
				}
				out.Body.NextCursor = next
				return nil
			})
			return out, err
		})

	type workflowIDIn struct {
		ID string `path:"id" maxLength:"64"`
	}
	register(s, huma.Operation{OperationID: "get-workflow", Method: http.MethodGet, Path: "/api/v1/workflows/{id}", Tags: tags,
		Summary: "Get a workflow with its definition, pins and execution statistics"}, Requires(domain.PermWorkflowsRead),
		func(ctx context.Context, in *workflowIDIn) (*workflowOutput, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			var w *domain.Workflow
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				if w, err = q.GetWorkflow(in.ID); err != nil {
					return err
				}
				stats, err := q.WorkflowStats([]string{w.ID})
				w.Stats = stats[w.ID]
				return err
			})
			if err != nil {
				return nil, err
			}
			return newWorkflowOutput(w), nil
		})

	type workflowUpdateIn struct {
		ID      string `path:"id" maxLength:"64"`
		IfMatch string `header:"If-Match" maxLength:"40" doc:"The version you edited, e.g. \"3\" (or send version in the body)"`
		Body    WorkflowUpdateIn
	}
	register(s, huma.Operation{OperationID: "update-workflow", Method: http.MethodPut, Path: "/api/v1/workflows/{id}", Tags: tags,
		Summary: "Change a workflow (creates a version)",
		Description: "Replaces name, description, tags, category and definition; status and team_id change only when given. " +
			"Needs the version you edited (If-Match or version); if someone saved since, the answer is 409 and nothing changes.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}, Requires(domain.PermWorkflowsUpdate),
		func(ctx context.Context, in *workflowUpdateIn) (*workflowOutput, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			expected, err := expectedVersion(in.IfMatch, in.Body.Version, true)
			if err != nil {
				return nil, err
			}
			return s.updateWorkflow(ctx, in.ID, expected, &in.Body.WorkflowIn)
		})

	type workflowDeleteIn struct {
		ID      string `path:"id" maxLength:"64"`
		IfMatch string `header:"If-Match" maxLength:"40" doc:"Optional: archive only if still at this version"`
	}
	register(s, huma.Operation{OperationID: "delete-workflow", Method: http.MethodDelete, Path: "/api/v1/workflows/{id}", Tags: tags,
		Summary: "Delete (archive) a workflow", DefaultStatus: http.StatusNoContent,
		Description: "Archives the workflow: it stays readable with its versions and executions, stops its schedules, " +
			"no longer counts against the plan, and can no longer change or run.",
		Errors: []int{http.StatusConflict}}, Requires(domain.PermWorkflowsDelete),
		func(ctx context.Context, in *workflowDeleteIn) (*struct{}, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			expected, err := expectedVersion(in.IfMatch, 0, false)
			if err != nil {
				return nil, err
			}
			return nil, s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				changed, err := tx.ArchiveWorkflow(in.ID, expected)
				if err != nil || !changed {
					return err
				}
				tx.Audit(auditEvent(ctx, "workflow.deleted", "workflow", in.ID, map[string]any{"archived": true}))
				return nil
			})
		})

	s.registerWorkflowVersionRoutes(tags)
	s.registerWorkflowPortabilityRoutes(tags)
	s.registerAgentRoutes()
	s.registerScheduleRoutes()
}

// updateWorkflow applies a PUT: read, check outside any transaction, then
// a conditional write that fails with 409 if anyone saved meanwhile.
func (s *Server) updateWorkflow(ctx context.Context, id string, expected int, b *WorkflowIn) (*workflowOutput, error) {
	p := principal(ctx)
	scope := p.Scope()
	var cur *domain.Workflow
	var c *workflowContext
	err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
		if cur, err = q.GetWorkflow(id); err != nil {
			return err
		}
		var team []string
		if b.TeamID != nil {
			team = append(team, *b.TeamID)
		}
		c, err = loadWorkflowContext(q, p, &b.Definition, team...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if cur.ArchivedAt != nil {
		return nil, domain.Errorf(domain.ECodeConflict, "the workflow is archived and can no longer change")
	}
	if cur.Version != expected {
		return nil, domain.Errorf(domain.ECodeConflict,
			"the workflow changed since version %d: it is at version %d now; reload it and apply your change again", expected, cur.Version)
	}
	problems := checkMetadata(b.Name, b.Tags)
	teamID, teamProblems := moveTeam(p, c, cur.TeamID, b.TeamID, "workflow")
	problems = append(problems, teamProblems...)
	resolved, defProblems, err := s.checkDefinition(c, teamID, &b.Definition)
	if err != nil {
		return nil, err
	}
	if problems = append(problems, defProblems...); len(problems) > 0 {
		return nil, invalidWorkflow(problems)
	}
	next := *cur
	next.TeamID, next.Name, next.Description, next.Definition = teamID, strings.TrimSpace(b.Name), b.Description, b.Definition
	next.Tags, next.Category = tagsOut(b.Tags), b.Category
	if b.Status != "" {
		next.Status = b.Status
	}
	if next.TeamID == cur.TeamID && next.Name == cur.Name && next.Description == cur.Description &&
		next.Category == cur.Category && next.Status == cur.Status && slices.Equal(next.Tags, tagsOut(cur.Tags)) &&
		sameDefinition(&cur.Definition, &next.Definition) {
		return s.readWorkflow(ctx, id)
	}
	v := &domain.WorkflowVersion{Name: next.Name, Description: next.Description, Definition: next.Definition,
		Resolved: *resolved, AuthorID: p.UserID, Message: b.Message}
	if v.Message == "" {
		v.Message = "Updated"
	}
	err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
		if err := tx.UpdateWorkflow(&next, expected, v); err != nil {
			return err
		}
		stats, err := tx.WorkflowStats([]string{next.ID})
		if err != nil {
			return err
		}
		next.Stats = stats[next.ID]
		tx.Audit(auditEvent(ctx, "workflow.updated", "workflow", next.ID, map[string]any{"version": next.Version,
			"previous_version": expected, "name": next.Name, "team_id": next.TeamID, "status": string(next.Status)}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newWorkflowOutput(&next), nil
}

func (s *Server) readWorkflow(ctx context.Context, id string) (*workflowOutput, error) {
	var w *domain.Workflow
	err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
		if w, err = q.GetWorkflow(id); err != nil {
			return err
		}
		stats, err := q.WorkflowStats([]string{id})
		w.Stats = stats[id]
		return err
	})
	if err != nil {
		return nil, err
	}
	return newWorkflowOutput(w), nil
}

func (s *Server) registerWorkflowVersionRoutes(tags []string) {
	type versionListIn struct {
		ID     string `path:"id" maxLength:"64"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor string `query:"cursor" maxLength:"200"`
	}
	type versionListOut struct {
		Body struct {
			Versions   []WorkflowVersionOut `json:"versions"`
			NextCursor string               `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-workflow-versions", Method: http.MethodGet, Path: "/api/v1/workflows/{id}/versions",
		Tags: tags, Summary: "List a workflow's versions, newest first"}, Requires(domain.PermWorkflowsRead),
		func(ctx context.Context, in *versionListIn) (*versionListOut, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			out := &versionListOut{}
			out.Body.Versions = []WorkflowVersionOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				vs, next, err := q.ListWorkflowVersions(in.ID, domain.Page{Limit: in.Limit, Cursor: in.Cursor})
				for i := range vs {
					out.Body.Versions = append(out.Body.Versions, versionOut(&vs[i]))
				}
				out.Body.NextCursor = next
				return err
			})
			return out, err
		})

	type versionGetIn struct {
		ID      string `path:"id" maxLength:"64"`
		Version int    `path:"version" minimum:"1"`
	}
	type versionGetOut struct {
		Body WorkflowVersionDetail
	}
	register(s, huma.Operation{OperationID: "get-workflow-version", Method: http.MethodGet, Path: "/api/v1/workflows/{id}/versions/{version}",
		Tags: tags, Summary: "Get one version with its definition as written and as resolved"}, Requires(domain.PermWorkflowsRead),
		func(ctx context.Context, in *versionGetIn) (*versionGetOut, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			var v *domain.WorkflowVersion
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				v, err = q.GetWorkflowVersion(in.ID, in.Version)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &versionGetOut{Body: WorkflowVersionDetail{WorkflowVersionOut: versionOut(v), Definition: definitionOut(v.Definition),
				Resolved: definitionOut(v.Resolved)}}, nil
		})

	type workflowDiffIn struct {
		ID       string `path:"id" maxLength:"64"`
		From     int    `query:"from" minimum:"1" doc:"Default: the version before to"`
		To       int    `query:"to" minimum:"1" doc:"Default: the latest version"`
		Resolved bool   `query:"resolved" doc:"Compare the resolved definitions (library agents merged in) instead of the written ones"`
	}
	type workflowDiffOut struct {
		Body struct {
			From               int  `json:"from"`
			To                 int  `json:"to"`
			NameChanged        bool `json:"name_changed"`
			DescriptionChanged bool `json:"description_changed"`
			workflow.DiffResult
		}
	}
	register(s, huma.Operation{OperationID: "diff-workflow-versions", Method: http.MethodGet, Path: "/api/v1/workflows/{id}/diff",
		Tags: tags, Summary: "Compare two versions (by default the latest with the one before)",
		Description: "Agents added, removed and changed (with the changed fields as dotted paths), edges added and removed."},
		Requires(domain.PermWorkflowsRead),
		func(ctx context.Context, in *workflowDiffIn) (*workflowDiffOut, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			var a, b *domain.WorkflowVersion
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				if in.To == 0 {
					w, err := q.GetWorkflow(in.ID)
					if err != nil {
						return err
					}
					in.To = w.Version
				}
				if in.From == 0 {
					in.From = max(in.To-1, 1)
				}
				if a, err = q.GetWorkflowVersion(in.ID, in.From); err != nil {
					return err
				}
				b, err = q.GetWorkflowVersion(in.ID, in.To)
				return err
			})
			if err != nil {
				return nil, err
			}
			da, db := &a.Definition, &b.Definition
			if in.Resolved {
				da, db = &a.Resolved, &b.Resolved
			}
			out := &workflowDiffOut{}
			out.Body.From, out.Body.To = in.From, in.To
			out.Body.NameChanged, out.Body.DescriptionChanged = a.Name != b.Name, a.Description != b.Description
			out.Body.DiffResult = workflow.Diff(da, db)
			return out, nil
		})

	type workflowRollbackIn struct {
		ID      string `path:"id" maxLength:"64"`
		IfMatch string `header:"If-Match" maxLength:"40" doc:"Optional: roll back only if the workflow is still at this version"`
		Body    struct {
			Version int    `json:"version" minimum:"1" doc:"The version to restore"`
			Message string `json:"message,omitempty" maxLength:"500"`
		}
	}
	register(s, huma.Operation{OperationID: "rollback-workflow", Method: http.MethodPost, Path: "/api/v1/workflows/{id}/rollback",
		Tags: tags, Summary: "Roll back: a new version equal to an old one",
		Description: "Appends a version whose name, description and definitions (as written and as resolved) equal the " +
			"chosen version's; its parent_version names that version. It must still pass validation under today's limits.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}, Requires(domain.PermWorkflowsUpdate),
		func(ctx context.Context, in *workflowRollbackIn) (*workflowOutput, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			expected, err := expectedVersion(in.IfMatch, 0, false)
			if err != nil {
				return nil, err
			}
			return s.rollbackWorkflow(ctx, in.ID, in.Body.Version, expected, in.Body.Message)
		})

	type workflowPublishIn struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			Version     int                `json:"version" minimum:"1"`
			Environment domain.Environment `json:"environment" enum:"dev,staging,prod"`
		}
	}
	register(s, huma.Operation{OperationID: "publish-workflow", Method: http.MethodPost, Path: "/api/v1/workflows/{id}/publish",
		Tags: tags, Summary: "Pin a version to dev, staging or prod",
		Description: "Executions and schedules that name the environment run the pinned version.",
		Errors:      []int{http.StatusConflict}}, Requires(domain.PermWorkflowsPublish),
		func(ctx context.Context, in *workflowPublishIn) (*workflowOutput, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			var w *domain.Workflow
			err := s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				prev, err := tx.PinWorkflowVersion(in.ID, in.Body.Environment, in.Body.Version)
				if err != nil {
					return err
				}
				if w, err = tx.GetWorkflow(in.ID); err != nil {
					return err
				}
				stats, err := tx.WorkflowStats([]string{w.ID})
				if err != nil {
					return err
				}
				w.Stats = stats[w.ID]
				tx.Audit(auditEvent(ctx, "workflow.published", "workflow", in.ID, map[string]any{
					"environment": string(in.Body.Environment), "version": in.Body.Version, "previous_version": prev}))
				return nil
			})
			if err != nil {
				return nil, err
			}
			return newWorkflowOutput(w), nil
		})
}

func (s *Server) rollbackWorkflow(ctx context.Context, id string, target, expected int, message string) (*workflowOutput, error) {
	p := principal(ctx)
	scope := p.Scope()
	var cur *domain.Workflow
	var old *domain.WorkflowVersion
	var org *domain.Organization
	// called: the workflows the old version's workflow tools name, as
	// they are now, so that a rollback cannot restore a call this
	// workflow's team may no longer make.
	called := &workflowContext{called: map[string]*workflow.CalledWorkflow{}}
	err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
		if cur, err = q.GetWorkflow(id); err != nil {
			return err
		}
		if old, err = q.GetWorkflowVersion(id, target); err != nil {
			return err
		}
		if err = called.loadCalled(q, &old.Resolved); err != nil {
			return err
		}
		org, err = q.GetOrganization(p.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if expected == 0 {
		expected = cur.Version
	}
	switch {
	case cur.ArchivedAt != nil:
		return nil, domain.Errorf(domain.ECodeConflict, "the workflow is archived and can no longer change")
	case cur.Version != expected:
		return nil, domain.Errorf(domain.ECodeConflict,
			"the workflow changed since version %d: it is at version %d now", expected, cur.Version)
	case target == cur.Version:
		return nil, domain.Errorf(domain.ECodeConflict, "version %d is already the latest version", target)
	}
	problems := workflow.Validate(&old.Resolved, s.definitionLimits(org))
	problems = append(problems, workflow.CheckWorkflowTools(&old.Resolved, cur.TeamID, called.called)...)
	if len(problems) > 0 {
		return nil, domain.Invalid(fmt.Sprintf("version %d cannot be restored: it no longer passes validation (pointers are into that version's definition)", target), problems...)
	}
	next := *cur
	next.Name, next.Description, next.Definition = old.Name, old.Description, old.Definition
	v := &domain.WorkflowVersion{Name: old.Name, Description: old.Description, Definition: old.Definition,
		Resolved: old.Resolved, AuthorID: p.UserID, ParentVersion: target, Message: message}
	if v.Message == "" {
		v.Message = fmt.Sprintf("Rolled back to version %d", target)
	}
	err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
		if err := tx.UpdateWorkflow(&next, expected, v); err != nil {
			return err
		}
		stats, err := tx.WorkflowStats([]string{next.ID})
		if err != nil {
			return err
		}
		next.Stats = stats[next.ID]
		tx.Audit(auditEvent(ctx, "workflow.rolled_back", "workflow", next.ID, map[string]any{
			"version": next.Version, "restored_version": target, "previous_version": expected}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newWorkflowOutput(&next), nil
}

// exportDefinition strips library references from a resolved definition:
// the agents are already merged into the nodes, and agent ids mean nothing
// in another organization.
func exportDefinition(d domain.Definition) domain.Definition {
	d = definitionOut(d)
	d.Nodes = slices.Clone(d.Nodes)
	for i := range d.Nodes {
		d.Nodes[i].AgentID = ""
	}
	return d
}

func (s *Server) registerWorkflowPortabilityRoutes(tags []string) {
	type workflowExportIn struct {
		ID      string `path:"id" maxLength:"64"`
		Version int    `query:"version" minimum:"1" doc:"Default: the latest version"`
	}
	type workflowExportOut struct {
		Body WorkflowExport
	}
	register(s, huma.Operation{OperationID: "export-workflow", Method: http.MethodGet, Path: "/api/v1/workflows/{id}/export",
		Tags: tags, Summary: "Export a workflow as portable JSON",
		Description: "Name, description, tags, category and the definition with library agents merged in; no ids, " +
			"organization, team, author or counters. POST it to /api/v1/workflows/import, here or in another organization."},
		Requires(domain.PermWorkflowsRead),
		func(ctx context.Context, in *workflowExportIn) (*workflowExportOut, error) {
			if err := validWorkflowID(in.ID); err != nil {
				return nil, err
			}
			var w *domain.Workflow
			var v *domain.WorkflowVersion
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				if w, err = q.GetWorkflow(in.ID); err != nil {
					return err
				}
				n := in.Version
				if n == 0 {
					n = w.Version
				}
				v, err = q.GetWorkflowVersion(in.ID, n)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &workflowExportOut{Body: WorkflowExport{Format: exportFormat, FormatVersion: exportFormatVersion, Name: v.Name,
				Description: v.Description, Tags: tagsOut(w.Tags), Category: w.Category, Definition: exportDefinition(v.Resolved)}}, nil
		})

	type workflowImportIn struct {
		Body WorkflowImportIn
	}
	register(s, huma.Operation{OperationID: "import-workflow", Method: http.MethodPost, Path: "/api/v1/workflows/import",
		Tags: tags, Summary: "Import an exported workflow as a new draft", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests}}, Requires(domain.PermWorkflowsCreate),
		func(ctx context.Context, in *workflowImportIn) (*workflowOutput, error) {
			b := in.Body
			w, err := s.createWorkflow(ctx, newWorkflowInput{TeamID: b.TeamID, Name: b.Name, Description: b.Description,
				Tags: b.Tags, Category: b.Category, Status: domain.WorkflowDraft, Message: b.Message,
				Definition: b.Definition, Action: "workflow.imported", DefaultMessage: "Imported"})
			if err != nil {
				return nil, err
			}
			return newWorkflowOutput(w), nil
		})
}
