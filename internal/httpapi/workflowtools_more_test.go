package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
)

// agentCallerBody is a library llm agent whose tools call the workflows.
func agentCallerBody(name string, workflowIDs ...string) map[string]any {
	tools := []string{"json_extract"}
	for _, id := range workflowIDs {
		tools = append(tools, "workflow:"+id)
	}
	return map[string]any{"name": name, "type": "llm",
		"llm": map[string]any{"model": "mock:echo", "prompt": "Go", "tools": tools}}
}

// agentToolProblem is the message at /llm/tools/<k> of an agent body, with
// id replaced by "<id>" ("" when there is none).
func agentToolProblem(p httpapi.Problem, k, id string) string {
	for _, f := range p.Errors {
		if f.Pointer == "/llm/tools/"+k {
			return strings.ReplaceAll(f.Message, id, "<id>")
		}
	}
	return ""
}

// TestRollbackRechecksWorkflowTools: rolling back to a version whose
// workflow tools name a workflow the workflow's team may no longer call
// (moved to another team, archived, or the caller itself moved to the whole
// organization) is a 422 at the tool; versions whose tools are still
// callable are restored.
func TestRollbackRechecksWorkflowTools(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("RollbackTools")
		admin, dev := f.token(domain.RoleAdmin), f.token(domain.RoleDeveloper)
		other := f.newTeam("Research")
		missing := domain.NewID(domain.PrefixWorkflow)
		want := toolProblem(e.problemOf(http.MethodPost, "/api/v1/workflows", dev, callerBody("c", missing), http.StatusUnprocessableEntity), "1", missing)
		if !strings.Contains(want, "does not exist") {
			t.Fatalf("a missing workflow: %q", want)
		}
		rollback := func(id string, version, status int) httpapi.Problem {
			t.Helper()
			if status == http.StatusOK {
				var w workflowJSON
				e.call(http.MethodPost, "/api/v1/workflows/"+id+"/rollback", dev, map[string]any{"version": version}, status, &w)
				return httpapi.Problem{}
			}
			return e.problemOf(http.MethodPost, "/api/v1/workflows/"+id+"/rollback", dev, map[string]any{"version": version}, status)
		}

		// A called workflow moved to another team.
		target := f.createWorkflow(domain.RoleDeveloper, wfBody("target"))
		orgWide := f.createWorkflow(domain.RoleAdmin, with(wfBody("org-wide"), "team_id", ""))
		c := f.createWorkflow(domain.RoleDeveloper, callerBody("c", target.ID, orgWide.ID)) // v1
		e.call(http.MethodPut, "/api/v1/workflows/"+c.ID, dev, with(callerBody("c", orgWide.ID), "version", 1), http.StatusOK, nil)
		e.call(http.MethodPut, "/api/v1/workflows/"+c.ID, dev, with(callerBody("c"), "version", 2), http.StatusOK, nil)
		rollback(c.ID, 1, http.StatusOK) // v4: still callable
		e.call(http.MethodPut, "/api/v1/workflows/"+c.ID, dev, with(callerBody("c"), "version", 4), http.StatusOK, nil)
		e.call(http.MethodPut, "/api/v1/workflows/"+target.ID, admin,
			with(with(wfBody("target"), "version", target.Version), "team_id", other.ID), http.StatusOK, nil)
		p := rollback(c.ID, 1, http.StatusUnprocessableEntity)
		if got := toolProblem(p, "1", target.ID); got != want || toolProblem(p, "2", orgWide.ID) != "" || len(p.Errors) != 1 {
			t.Errorf("moved: %q (%+v), want %q", got, p.Errors, want)
		}
		rollback(c.ID, 2, http.StatusOK) // names only the organization-wide one

		// A called workflow archived.
		gone := f.createWorkflow(domain.RoleDeveloper, wfBody("gone"))
		d := f.createWorkflow(domain.RoleDeveloper, callerBody("d", gone.ID))
		e.call(http.MethodPut, "/api/v1/workflows/"+d.ID, dev, with(callerBody("d"), "version", 1), http.StatusOK, nil)
		e.call(http.MethodDelete, "/api/v1/workflows/"+gone.ID, dev, nil, http.StatusNoContent, nil)
		p = rollback(d.ID, 1, http.StatusUnprocessableEntity)
		if got := toolProblem(p, "1", gone.ID); got != want {
			t.Errorf("archived: %q (%+v), want %q", got, p.Errors, want)
		}

		// The caller moved to the whole organization: a version naming a
		// team's workflow may not come back.
		mine := f.createWorkflow(domain.RoleDeveloper, wfBody("mine"))
		g := f.createWorkflow(domain.RoleDeveloper, callerBody("g", mine.ID))
		e.call(http.MethodPut, "/api/v1/workflows/"+g.ID, admin, with(with(callerBody("g"), "version", 1), "team_id", ""), http.StatusOK, nil)
		var after workflowJSON
		e.call(http.MethodGet, "/api/v1/workflows/"+g.ID, admin, nil, http.StatusOK, &after)
		if after.TeamID != "" || after.Version != 2 {
			t.Fatalf("move to the organization: %+v", after)
		}
		p = e.problemOf(http.MethodPost, "/api/v1/workflows/"+g.ID+"/rollback", admin, map[string]any{"version": 1}, http.StatusUnprocessableEntity)
		if got := toolProblem(p, "1", mine.ID); got != want {
			t.Errorf("caller moved: %q (%+v), want %q", got, p.Errors, want)
		}
		e.call(http.MethodGet, "/api/v1/workflows/"+g.ID, admin, nil, http.StatusOK, &after)
		if after.Version != 2 {
			t.Errorf("a refused rollback saved version %d", after.Version)
		}
	})
}

// TestAgentWorkflowToolsMustNameCallableWorkflows: a library agent's
// "workflow:<id>" tools are checked when it is saved, at the agent's team:
// a team agent may name its team's and organization-wide workflows, an
// organization-wide agent only organization-wide ones. Anything else is the
// workflows' 422 problem, at /llm/tools/<k> of the agent body, on creation,
// update and a move to another team.
func TestAgentWorkflowToolsMustNameCallableWorkflows(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		tf := newToolFixture(t, e, "AgentTools")
		admin, dev, other, want, missing := tf.admin, tf.dev, tf.other, tf.want, tf.missing
		theirs, orgWide, mine, gone, foreign := tf.theirs, tf.orgWide, tf.mine, tf.gone, tf.foreign
		for _, c := range []struct {
			name, token string
			body        map[string]any
			id          string
		}{
			{"missing", dev, agentCallerBody("a", missing), missing},
			{"developer, another team's", dev, agentCallerBody("a", theirs.ID), theirs.ID},
			{"admin, for their own team, another team's", admin, agentCallerBody("a", theirs.ID), theirs.ID},
			{"admin, organization-wide, a team's", admin, with(agentCallerBody("a", mine.ID), "team_id", ""), mine.ID},
			{"archived", dev, agentCallerBody("a", gone.ID), gone.ID},
			{"another organization's", dev, agentCallerBody("a", foreign.ID), foreign.ID},
		} {
			p := e.problemOf(http.MethodPost, "/api/v1/agents", c.token, c.body, http.StatusUnprocessableEntity)
			if got := agentToolProblem(p, "1", c.id); got != want {
				t.Errorf("%s: %q (%+v), want %q", c.name, got, p.Errors, want)
			}
		}

		// Its own team's and organization-wide workflows may be named.
		var ok, everyone agentJSON
		e.call(http.MethodPost, "/api/v1/agents", dev, agentCallerBody("ok", mine.ID, orgWide.ID), http.StatusCreated, &ok)
		e.call(http.MethodPost, "/api/v1/agents", admin, with(agentCallerBody("everyone", orgWide.ID), "team_id", ""), http.StatusCreated, &everyone)
		if ok.TeamID == "" || everyone.TeamID != "" {
			t.Fatalf("teams: %q, %q", ok.TeamID, everyone.TeamID)
		}

		// Updating it to name another team's workflow, or moving it where
		// what it names may not be called, is refused the same way.
		path := "/api/v1/agents/" + ok.ID
		p := e.problemOf(http.MethodPut, path, dev, agentCallerBody("ok", mine.ID, theirs.ID), http.StatusUnprocessableEntity)
		if got := agentToolProblem(p, "2", theirs.ID); got != want || agentToolProblem(p, "1", mine.ID) != "" {
			t.Errorf("update: %q (%+v)", got, p.Errors)
		}
		for _, team := range []string{"", other.ID} {
			p = e.problemOf(http.MethodPut, path, admin, with(agentCallerBody("ok", mine.ID, orgWide.ID), "team_id", team), http.StatusUnprocessableEntity)
			if got := agentToolProblem(p, "1", mine.ID); got != want || agentToolProblem(p, "2", orgWide.ID) != "" {
				t.Errorf("move to %q: %+v", team, p.Errors)
			}
		}
		p = e.problemOf(http.MethodPut, "/api/v1/agents/"+everyone.ID, admin, agentCallerBody("everyone", orgWide.ID, mine.ID),
			http.StatusUnprocessableEntity)
		if got := agentToolProblem(p, "2", mine.ID); got != want {
			t.Errorf("organization-wide update: %q (%+v)", got, p.Errors)
		}

		// Valid updates and moves still go through; nothing refused was saved.
		var got agentJSON
		e.call(http.MethodGet, path, dev, nil, http.StatusOK, &got)
		if tools, _ := got.LLM["tools"].([]any); len(tools) != 3 || got.TeamID != ok.TeamID {
			t.Errorf("after refusals: %+v", got)
		}
		e.call(http.MethodPut, path, dev, agentCallerBody("ok", orgWide.ID), http.StatusOK, nil)
		e.call(http.MethodPut, path, admin, with(agentCallerBody("ok", orgWide.ID), "team_id", ""), http.StatusOK, &got)
		if got.TeamID != "" {
			t.Errorf("move to the organization: %+v", got)
		}
	})
}
