package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

type agentJSON struct {
	ID     string         `json:"id"`
	TeamID string         `json:"team_id"`
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	LLM    map[string]any `json:"llm"`
}

func summarizerBody(name string) map[string]any {
	return map[string]any{"name": name, "type": "llm",
		"llm": map[string]any{"model": "mock:echo", "system_prompt": "You are terse.", "prompt": "Summarize {{.input.text}}", "max_tokens": 200}}
}

func TestAgentsLibrary(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Library")
		dev := f.token(domain.RoleDeveloper)
		var a agentJSON
		e.call(http.MethodPost, "/api/v1/agents", dev, summarizerBody("Summarizer"), http.StatusCreated, &a)
		if a.Type != "llm" || a.TeamID != f.team.ID || a.LLM["prompt"] != "Summarize {{.input.text}}" {
			t.Fatalf("created = %+v", a)
		}
		path := "/api/v1/agents/" + a.ID

		for _, tc := range []struct {
			name string
			body any
			want []wantProblem
		}{
			{"missing configuration", map[string]any{"name": "x", "type": "llm", "llm": map[string]any{"temperature": 3}},
				[]wantProblem{{"/llm/model", "a model is required"}, {"/llm/prompt", "a prompt is required"}, {"/llm/temperature", "between 0 and 2"}}},
			{"wrong block", map[string]any{"name": "x", "type": "http", "llm": map[string]any{"model": "mock:echo", "prompt": "p"}},
				[]wantProblem{{"/http", "required for http agents"}, {"/llm", "only allowed on llm agents"}}},
			{"template does not parse", map[string]any{"name": "x", "type": "transform", "transform": map[string]any{"template": "{{.input"}},
				[]wantProblem{{"/transform/template", "does not parse"}}},
			{"unknown type", map[string]any{"name": "x", "type": "robot"}, []wantProblem{{"/type", "expected value to be one of"}}},
			{"library references are not writable", with(summarizerBody("x"), "agent_id", "agt_other"), []wantProblem{{"/agent_id", "unexpected property"}}},
			{"ids are not writable", with(summarizerBody("x"), "id", "agt_mine"), []wantProblem{{"/id", "unexpected property"}}},
			{"blank name", summarizerBody("   "), []wantProblem{{"/name", "a name is required"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.problemOf(http.MethodPost, "/api/v1/agents", dev, tc.body, http.StatusUnprocessableEntity)
				for _, w := range tc.want {
					if !hasProblem(p, w) {
						t.Errorf("no problem at %s containing %q; got %+v", w.pointer, w.fragment, p.Errors)
					}
				}
			})
		}
		// What only a workflow can settle (the agents a template reads) is left to the workflow.
		var reader agentJSON
		e.call(http.MethodPost, "/api/v1/agents", dev, map[string]any{"name": "Reader", "type": "transform",
			"transform": map[string]any{"template": "{{.nodes.fetch.body}}"}}, http.StatusCreated, &reader)

		// A workflow node overrides the library agent; the version keeps what it resolved.
		body := wfBody("Uses the library")
		body["agents"] = []any{body["agents"].([]any)[0],
			map[string]any{"id": "summarize", "agent_id": a.ID, "llm": map[string]any{"prompt": "Summarize {{.nodes.fetch.body}}"}}}
		w := f.createWorkflow(domain.RoleDeveloper, body)
		var v1 struct {
			Agents   []domain.Node     `json:"agents"`
			Resolved domain.Definition `json:"resolved"`
		}
		e.call(http.MethodGet, "/api/v1/workflows/"+w.ID+"/versions/1", dev, nil, http.StatusOK, &v1)
		got := v1.Resolved.Nodes[1]
		if v1.Agents[1].LLM.Model != "" || got.AgentID != a.ID || got.LLM.Model != "mock:echo" || got.LLM.SystemPrompt != "You are terse." ||
			got.LLM.Prompt != "Summarize {{.nodes.fetch.body}}" || got.LLM.MaxTokens != 200 {
			t.Errorf("written %+v, resolved %+v", v1.Agents[1].LLM, got.LLM)
		}
		// A type that contradicts the library agent is a problem at the node.
		bad := wfBody("Wrong type")
		bad["agents"] = []any{bad["agents"].([]any)[0], map[string]any{"id": "summarize", "agent_id": a.ID, "type": "http"}}
		p := e.problemOf(http.MethodPost, "/api/v1/workflows", dev, bad, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents/1/type", "has type llm, not http"}) || len(p.Errors) != 1 {
			t.Errorf("type mismatch: %+v", p.Errors)
		}

		// Update and list.
		var updated agentJSON
		e.call(http.MethodPut, path, dev, with(summarizerBody("Summarizer 2"), "description", "shorter"), http.StatusOK, &updated)
		if updated.Name != "Summarizer 2" || updated.ID != a.ID {
			t.Errorf("updated = %+v", updated)
		}
		var list struct {
			Agents []agentJSON `json:"agents"`
		}
		e.call(http.MethodGet, "/api/v1/agents?type=llm", f.token(domain.RoleViewer), nil, http.StatusOK, &list)
		if len(list.Agents) != 1 || list.Agents[0].Name != "Summarizer 2" {
			t.Errorf("llm agents = %+v", list.Agents)
		}
		e.call(http.MethodGet, "/api/v1/agents?search=read", f.token(domain.RoleViewer), nil, http.StatusOK, &list)
		if len(list.Agents) != 1 || list.Agents[0].ID != reader.ID {
			t.Errorf("search = %+v", list.Agents)
		}

		// Deleting the agent: the saved version still runs what it resolved, and
		// the next change that still names the agent is refused at the node.
		e.call(http.MethodDelete, path, dev, nil, http.StatusNoContent, nil)
		e.problemOf(http.MethodGet, path, dev, nil, http.StatusNotFound)
		err := e.store.Read(context.Background(), domain.OrgScope(f.org.ID), func(q domain.Queries) error {
			_, v, err := q.RunnableVersion(w.ID, "", 0)
			if err == nil && v.Resolved.Nodes[1].LLM.SystemPrompt != "You are terse." {
				t.Errorf("the saved version lost its resolved agent: %+v", v.Resolved.Nodes[1])
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		p = e.problemOf(http.MethodPut, "/api/v1/workflows/"+w.ID, dev, with(with(body, "description", "changed"), "version", 1), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents/1/agent_id", "unknown library agent"}) || len(p.Errors) != 1 {
			t.Errorf("deleted agent: %+v", p.Errors)
		}

		for action, want := range map[string]int{"agent.created": 1, "agent.updated": 1, "agent.deleted": 1} {
			if n := f.auditCount(action, a.ID); n != want {
				t.Errorf("%d %s audit rows, want %d", n, action, want)
			}
		}
	})
}

func TestAgentsTeamScopingAndQuota(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("AgentTeams")
		stranger := e.newOrg("AgentStranger")
		admin, dev := f.token(domain.RoleAdmin), f.token(domain.RoleDeveloper)
		research := f.newTeam("Research")
		var theirs, orgWide agentJSON
		e.call(http.MethodPost, "/api/v1/agents", admin, with(summarizerBody("Theirs"), "team_id", research.ID), http.StatusCreated, &theirs)
		e.call(http.MethodPost, "/api/v1/agents", admin, with(summarizerBody("Everyone's"), "team_id", ""), http.StatusCreated, &orgWide)
		var list struct {
			Agents []agentJSON `json:"agents"`
		}
		e.call(http.MethodGet, "/api/v1/agents", dev, nil, http.StatusOK, &list)
		if len(list.Agents) != 1 || list.Agents[0].ID != orgWide.ID {
			t.Errorf("developer sees %+v", list.Agents)
		}
		for _, c := range []struct{ method, token, id string }{
			{http.MethodGet, dev, theirs.ID}, {http.MethodPut, dev, theirs.ID}, {http.MethodDelete, dev, theirs.ID},
			{http.MethodGet, stranger.token(domain.RoleAdmin), orgWide.ID}, {http.MethodPut, stranger.token(domain.RoleAdmin), orgWide.ID},
			{http.MethodDelete, stranger.token(domain.RoleAdmin), orgWide.ID},
		} {
			var body any
			if c.method == http.MethodPut {
				body = summarizerBody("hijack")
			}
			e.problemOf(c.method, "/api/v1/agents/"+c.id, c.token, body, http.StatusNotFound)
		}
		// Referencing an invisible agent, or one of another team than the workflow's, is a problem at the node.
		ref := func(agentID string) map[string]any {
			b := wfBody("ref")
			b["agents"] = []any{b["agents"].([]any)[0], map[string]any{"id": "summarize", "agent_id": agentID}}
			return b
		}
		p := e.problemOf(http.MethodPost, "/api/v1/workflows", dev, ref(theirs.ID), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents/1/agent_id", "unknown library agent"}) {
			t.Errorf("invisible agent: %+v", p.Errors)
		}
		p = e.problemOf(http.MethodPost, "/api/v1/workflows", admin, ref(theirs.ID), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents/1/agent_id", "belongs to another team"}) {
			t.Errorf("other team's agent: %+v", p.Errors)
		}
		e.call(http.MethodPost, "/api/v1/workflows", dev, ref(orgWide.ID), http.StatusCreated, nil)
		p = e.problemOf(http.MethodPost, "/api/v1/workflows", stranger.token(domain.RoleAdmin), ref(orgWide.ID), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents/1/agent_id", "unknown library agent"}) {
			t.Errorf("another organization's agent: %+v", p.Errors)
		}

		// The plan's agent quota.
		f.setLimits(func(l *domain.PlanLimits) { l.MaxAgents = 3 })
		e.call(http.MethodPost, "/api/v1/agents", dev, summarizerBody("third"), http.StatusCreated, nil)
		p = e.problemOf(http.MethodPost, "/api/v1/agents", dev, summarizerBody("fourth"), http.StatusTooManyRequests)
		if p.Limit != "max_agents" || p.LimitVal == nil || *p.LimitVal != 3 {
			t.Errorf("agent quota: %+v", p)
		}
		e.problemOf(http.MethodPost, "/api/v1/agents", f.token(domain.RoleViewer), summarizerBody("x"), http.StatusForbidden)
	})
}
