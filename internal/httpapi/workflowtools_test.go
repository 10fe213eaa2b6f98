package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
)

// callerBody is a workflow whose llm node may call the workflows.
func callerBody(name string, workflowIDs ...string) map[string]any {
	tools := []string{"json_extract"}
	for _, id := range workflowIDs {
		tools = append(tools, "workflow:"+id)
	}
	return map[string]any{"name": name, "agents": []any{
		map[string]any{"id": "ask", "type": "llm", "llm": map[string]any{"model": "mock:echo", "prompt": "Go", "tools": tools}},
	}}
}

// toolProblem is the message at /agents/0/llm/tools/<k>, with id replaced
// by "<id>" ("" when there is none).
func toolProblem(p httpapi.Problem, k, id string) string {
	for _, f := range p.Errors {
		if f.Pointer == "/agents/0/llm/tools/"+k {
			return strings.ReplaceAll(f.Message, id, "<id>")
		}
	}
	return ""
}

// TestWorkflowToolsMustNameCallableWorkflows: a "workflow:<id>" tool must
// name a workflow of the saved workflow's team or an organization-wide one;
// anything else (another team's, archived, another organization's, missing)
// is one and the same 422 problem at the tool, for creation, update, a
// move to another team and import.
func TestWorkflowToolsMustNameCallableWorkflows(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		tf := newToolFixture(t, e, "WfTools")
		f, admin, dev, other, want := tf.f, tf.admin, tf.dev, tf.other, tf.want
		theirs, orgWide, mine, gone, foreign := tf.theirs, tf.orgWide, tf.mine, tf.gone, tf.foreign
		for _, c := range []struct {
			name, token string
			body        map[string]any
			id          string
		}{
			{"developer, another team's", dev, callerBody("c", theirs.ID), theirs.ID},
			{"admin, for their own team, another team's", admin, callerBody("c", theirs.ID), theirs.ID},
			{"admin, organization-wide, a team's", admin, with(callerBody("c", mine.ID), "team_id", ""), mine.ID},
			{"archived", dev, callerBody("c", gone.ID), gone.ID},
			{"another organization's", dev, callerBody("c", foreign.ID), foreign.ID},
		} {
			p := e.problemOf(http.MethodPost, "/api/v1/workflows", c.token, c.body, http.StatusUnprocessableEntity)
			if got := toolProblem(p, "1", c.id); got != want {
				t.Errorf("%s: %q (%+v), want %q as for a missing workflow", c.name, got, p.Errors, want)
			}
		}

		// Its own team's and organization-wide workflows may be called.
		ok := f.createWorkflow(domain.RoleDeveloper, callerBody("ok", mine.ID, orgWide.ID))
		e.call(http.MethodPost, "/api/v1/workflows", admin, with(callerBody("org", orgWide.ID), "team_id", ""), http.StatusCreated, nil)

		// Updating it to call another team's workflow, or moving it to a
		// team that may not call what it calls, is refused the same way.
		p := e.problemOf(http.MethodPut, "/api/v1/workflows/"+ok.ID, dev, with(callerBody("ok", mine.ID, theirs.ID), "version", ok.Version),
			http.StatusUnprocessableEntity)
		if got := toolProblem(p, "2", theirs.ID); got != want {
			t.Errorf("update: %q (%+v)", got, p.Errors)
		}
		p = e.problemOf(http.MethodPut, "/api/v1/workflows/"+ok.ID, admin,
			with(with(callerBody("ok", mine.ID, orgWide.ID), "version", ok.Version), "team_id", other.ID), http.StatusUnprocessableEntity)
		if got := toolProblem(p, "1", mine.ID); got != want || toolProblem(p, "2", orgWide.ID) != "" {
			t.Errorf("move: %+v", p.Errors)
		}

		// Import into the developer's team.
		imp := callerBody("imported", theirs.ID)
		p = e.problemOf(http.MethodPost, "/api/v1/workflows/import", dev, imp, http.StatusUnprocessableEntity)
		if got := toolProblem(p, "1", theirs.ID); got != want {
			t.Errorf("import: %q (%+v)", got, p.Errors)
		}
	})
}

// toolFixture is an organization with workflows a workflow tool may or may
// not name: another team's, an organization-wide one, the developer's
// team's, an archived one and another organization's; want is the 422
// problem naming a missing workflow, which every refusal must repeat.
type toolFixture struct {
	f                                    *orgFixture
	admin, dev                           string
	other                                *domain.Team
	theirs, orgWide, mine, gone, foreign workflowJSON
	missing, want                        string
}

func newToolFixture(t *testing.T, e *env, name string) *toolFixture {
	t.Helper()
	tf := &toolFixture{f: e.newOrg(name)}
	stranger := e.newOrg(name + "Stranger")
	f := tf.f
	tf.admin, tf.dev = f.token(domain.RoleAdmin), f.token(domain.RoleDeveloper)
	tf.other = f.newTeam("Research")
	tf.theirs = f.createWorkflow(domain.RoleAdmin, with(wfBody("theirs"), "team_id", tf.other.ID))
	tf.orgWide = f.createWorkflow(domain.RoleAdmin, with(wfBody("org-wide"), "team_id", ""))
	tf.mine = f.createWorkflow(domain.RoleDeveloper, wfBody("mine"))
	tf.gone = f.createWorkflow(domain.RoleDeveloper, wfBody("gone"))
	e.call(http.MethodDelete, "/api/v1/workflows/"+tf.gone.ID, tf.dev, nil, http.StatusNoContent, nil)
	tf.foreign = stranger.createWorkflow(domain.RoleAdmin, with(wfBody("foreign"), "team_id", ""))
	tf.missing = domain.NewID(domain.PrefixWorkflow)
	tf.want = toolProblem(e.problemOf(http.MethodPost, "/api/v1/workflows", tf.dev, callerBody("c", tf.missing),
		http.StatusUnprocessableEntity), "1", tf.missing)
	if !strings.Contains(tf.want, "does not exist") {
		t.Fatalf("a missing workflow: %q", tf.want)
	}
	return tf
}
