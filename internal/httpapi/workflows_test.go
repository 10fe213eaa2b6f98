package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
)

// wfBody is a valid workflow body: fetch → summarize, with an input schema.
func wfBody(name string) map[string]any {
	return map[string]any{
		"name": name, "description": "Summarize a page", "tags": []string{"demo"}, "category": "content",
		"agents": []any{
			map[string]any{"id": "fetch", "type": "http", "http": map[string]any{"method": "GET", "url": "https://example.com/{{.input.page}}"}},
			map[string]any{"id": "summarize", "type": "llm", "llm": map[string]any{"model": "mock:echo", "prompt": "Summarize {{.nodes.fetch.body}}"}},
		},
		"edges":        []any{map[string]any{"from": "fetch", "to": "summarize"}},
		"input_schema": map[string]any{"type": "object", "properties": map[string]any{"page": map[string]any{"type": "string"}}, "required": []string{"page"}},
	}
}

// workflowJSON is the part of a workflow answer the tests look at.
type workflowJSON struct {
	ID          string            `json:"id"`
	OrgID       string            `json:"org_id"`
	TeamID      string            `json:"team_id"`
	Name        string            `json:"name"`
	Status      string            `json:"status"`
	Version     int               `json:"version"`
	Tags        []string          `json:"tags"`
	Pins        map[string]int    `json:"pins"`
	Stats       map[string]any    `json:"stats"`
	ArchivedAt  *string           `json:"archived_at"`
	Agents      []json.RawMessage `json:"agents"`
	Edges       []json.RawMessage `json:"edges"`
	InputSchema json.RawMessage   `json:"input_schema"`
}

func (f *orgFixture) createWorkflow(role domain.Role, body map[string]any) workflowJSON {
	f.e.t.Helper()
	var w workflowJSON
	f.e.call(http.MethodPost, "/api/v1/workflows", f.token(role), body, http.StatusCreated, &w)
	return w
}

// problemOf sends a request that must fail with status and returns its problem.
func (e *env) problemOf(method, path, token string, body any, status int) httpapi.Problem {
	e.t.Helper()
	res := e.do(method, path, token, body)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		e.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, status, raw)
	}
	var p httpapi.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		e.t.Fatalf("decode problem %s: %v", raw, err)
	}
	return p
}

// auditCount counts the organization's audit rows with the action about the resource.
func (f *orgFixture) auditCount(action, resourceID string) int {
	f.e.t.Helper()
	var n int
	err := f.e.store.Read(context.Background(), domain.OrgScope(f.org.ID), func(q domain.Queries) error {
		rows, err := q.ListAudit(domain.AuditFilter{Action: action, ResourceID: resourceID, Limit: 500})
		n = len(rows)
		return err
	})
	if err != nil {
		f.e.t.Fatal(err)
	}
	return n
}

// setLimits changes the organization's plan limits.
func (f *orgFixture) setLimits(change func(l *domain.PlanLimits)) {
	f.e.t.Helper()
	err := f.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error {
		o, err := tx.GetOrganization(f.org.ID)
		if err != nil {
			return err
		}
		change(&o.Limits)
		return tx.UpdateOrganization(o)
	})
	if err != nil {
		f.e.t.Fatal(err)
	}
}

// newTeam adds a team to the organization.
func (f *orgFixture) newTeam(name string) *domain.Team {
	f.e.t.Helper()
	t := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: name}
	if err := f.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateTeam(t) }); err != nil {
		f.e.t.Fatal(err)
	}
	return t
}

// with returns a copy of body with key set (or removed when v is nil).
func with(body map[string]any, key string, v any) map[string]any {
	out := map[string]any{}
	for k, val := range body {
		out[k] = val
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

func node(id, typ string, cfg map[string]any) map[string]any {
	n := map[string]any{"id": id, "type": typ}
	if cfg != nil {
		n[typ] = cfg
	}
	return n
}

func transform(id, expr string) map[string]any {
	return node(id, "transform", map[string]any{"expression": expr})
}

func edge(from, to string) map[string]any { return map[string]any{"from": from, "to": to} }

type wantProblem struct{ pointer, fragment string }

func hasProblem(p httpapi.Problem, w wantProblem) bool {
	for _, f := range p.Errors {
		if f.Pointer == w.pointer && strings.Contains(f.Message, w.fragment) {
			return true
		}
	}
	return false
}

func TestWorkflowValidationReportsEveryProblemWithAPointer(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Valid")
		tok := f.token(domain.RoleDeveloper)
		base := wfBody("Checked")
		long := strings.Repeat("x", 201)
		for _, tc := range []struct {
			name string
			body any
			want []wantProblem
		}{
			{"empty graph", with(with(base, "agents", []any{}), "edges", []any{}),
				[]wantProblem{{"/agents", "at least one agent"}}},
			{"missing graph", with(with(base, "agents", nil), "edges", nil),
				[]wantProblem{{"/agents", "at least one agent"}}},
			{"cycle named", with(with(base, "agents", []any{transform("a", "1"), transform("b", "2")}), "edges", []any{edge("a", "b"), edge("b", "a")}),
				[]wantProblem{{"/edges/1", "cycle: "}}},
			{"dangling edge", with(base, "edges", []any{edge("fetch", "summarize"), edge("fetch", "ghost")}),
				[]wantProblem{{"/edges/1/to", `unknown agent "ghost"`}}},
			{"duplicate ids", with(with(base, "agents", []any{transform("a", "1"), transform("a", "2")}), "edges", []any{}),
				[]wantProblem{{"/agents/1/id", `duplicate agent id "a"`}}},
			{"template does not parse", with(base, "agents", []any{base["agents"].([]any)[0],
				node("summarize", "llm", map[string]any{"model": "mock:echo", "prompt": "{{.nodes.fetch.body"})}),
				[]wantProblem{{"/agents/1/llm/prompt", "does not parse"}}},
			{"template reads an unknown node", with(base, "agents", []any{base["agents"].([]any)[0],
				node("summarize", "llm", map[string]any{"model": "mock:echo", "prompt": "{{.nodes.nowhere.body}}"})}),
				[]wantProblem{{"/agents/1/llm/prompt", `reads agent "nowhere", which does not exist`}}},
			{"template reads a node that is not upstream", with(with(base, "agents", []any{transform("a", "1"),
				node("b", "llm", map[string]any{"model": "mock:echo", "prompt": "{{.nodes.c}}"}), transform("c", "3")}), "edges", []any{edge("a", "b")}),
				[]wantProblem{{"/agents/1/llm/prompt", `reads agent "c", which does not run before "b"`}}},
			{"condition does not compile", with(base, "edges", []any{map[string]any{"from": "fetch", "to": "summarize", "condition": "output.status ==="}}),
				[]wantProblem{{"/edges/0/condition", "does not compile"}}},
			{"oversized field", with(base, "agents", []any{map[string]any{"id": "fetch", "type": "http", "name": long,
				"http": map[string]any{"method": "GET", "url": "https://example.com"}}, base["agents"].([]any)[1]}),
				[]wantProblem{{"/agents/0/name", "at most 200 characters"}}},
			{"missing configuration fields, all at once", with(with(base, "agents", []any{node("a", "llm", map[string]any{}),
				node("b", "http", map[string]any{"method": "FETCH"})}), "edges", []any{}),
				[]wantProblem{{"/agents/0/llm/model", "a model is required"}, {"/agents/0/llm/prompt", "a prompt is required"},
					{"/agents/1/http/method", "method must be one of"}, {"/agents/1/http/url", "a URL is required"}}},
			{"problems across the body", with(with(with(base, "name", "  "), "tags", []any{"a", "a"}), "edges", []any{edge("fetch", "summarize"), edge("summarize", "fetch")}),
				[]wantProblem{{"/name", "a name is required"}, {"/tags/1", "listed twice"}, {"/edges/1", "cycle"}}},
			{"unknown library agent", with(base, "agents", []any{base["agents"].([]any)[0],
				map[string]any{"id": "summarize", "agent_id": "agt_doesnotexist"}}),
				[]wantProblem{{"/agents/1/agent_id", `unknown library agent "agt_doesnotexist"`}}},
			{"unknown field in a node", with(base, "agents", []any{map[string]any{"id": "fetch", "type": "http", "bogus": true,
				"http": map[string]any{"method": "GET", "url": "https://example.com"}}, base["agents"].([]any)[1]}),
				[]wantProblem{{"/agents/0/bogus", "unexpected property"}}},
			{"wrong type", with(base, "agents", []any{map[string]any{"id": "fetch", "type": "http", "timeout_seconds": "soon",
				"http": map[string]any{"method": "GET", "url": "https://example.com"}}, base["agents"].([]any)[1]}),
				[]wantProblem{{"/agents/0/timeout_seconds", "expected integer"}}},
			{"id is not writable", with(base, "id", "wf_mine"), []wantProblem{{"/id", "unexpected property"}}},
			{"org_id is not writable", with(base, "org_id", f.org.ID), []wantProblem{{"/org_id", "unexpected property"}}},
			{"version is not writable on create", with(base, "version", 7), []wantProblem{{"/version", "unexpected property"}}},
			{"archived is not a status to set", with(base, "status", "archived"), []wantProblem{{"/status", "expected value to be one of"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.problemOf(http.MethodPost, "/api/v1/workflows", tok, tc.body, http.StatusUnprocessableEntity)
				if p.Code != string(domain.ECodeInvalid) {
					t.Errorf("code %q, want invalid", p.Code)
				}
				for _, w := range tc.want {
					if !hasProblem(p, w) {
						t.Errorf("no problem at %s containing %q; got %+v", w.pointer, w.fragment, p.Errors)
					}
				}
			})
		}
		var list struct {
			Workflows []workflowJSON `json:"workflows"`
		}
		e.call(http.MethodGet, "/api/v1/workflows?status=draft", tok, nil, http.StatusOK, &list)
		if len(list.Workflows) != 0 {
			t.Errorf("failed creations left %d workflows", len(list.Workflows))
		}
		if n := f.auditCount("workflow.created", ""); n != 0 {
			t.Errorf("failed creations wrote %d audit rows", n)
		}
	})
}

func TestWorkflowAgentsPerWorkflowLimit(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Sizes")
		tok := f.token(domain.RoleAdmin)
		three := with(with(wfBody("Three"), "agents", []any{transform("a", "1"), transform("b", "2"), transform("c", "3")}), "edges", []any{})
		// MAX_AGENTS_PER_WORKFLOW=2 is below the pro plan's 50.
		p := e.problemOf(http.MethodPost, "/api/v1/workflows", tok, three, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents", "at most 2 agents (MAX_AGENTS_PER_WORKFLOW)"}) {
			t.Errorf("installation limit: %+v", p.Errors)
		}
		// A plan limit below the setting wins and is named.
		f.setLimits(func(l *domain.PlanLimits) { l.MaxAgentsPerWorkflow = 1 })
		two := with(three, "agents", []any{transform("a", "1"), transform("b", "2")})
		p = e.problemOf(http.MethodPost, "/api/v1/workflows", tok, two, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/agents", "at most 1 agents (the pro plan)"}) {
			t.Errorf("plan limit: %+v", p.Errors)
		}
		one := with(three, "agents", []any{transform("a", "1")})
		f.createWorkflow(domain.RoleAdmin, one)
	}, "MAX_AGENTS_PER_WORKFLOW=2")
}

func TestWorkflowVersionsDiffRollbackAndPublish(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Versions")
		dev := f.token(domain.RoleDeveloper)
		res := e.do(http.MethodPost, "/api/v1/workflows", dev, wfBody("Digest"))
		var w workflowJSON
		json.NewDecoder(res.Body).Decode(&w)
		res.Body.Close()
		if res.StatusCode != 201 || res.Header.Get("ETag") != `"1"` || w.Version != 1 || w.Status != "draft" || w.TeamID != f.team.ID || len(w.Agents) != 2 {
			t.Fatalf("create = %d, ETag %q, %+v", res.StatusCode, res.Header.Get("ETag"), w)
		}
		path := "/api/v1/workflows/" + w.ID

		// v2 through If-Match: a new prompt, a third agent, a new edge, a message.
		v2 := wfBody("Digest")
		v2["agents"] = []any{v2["agents"].([]any)[0],
			node("summarize", "llm", map[string]any{"model": "mock:echo", "prompt": "Briefly: {{.nodes.fetch.body}}"}),
			transform("shape", `{"summary": nodes.summarize}`)}
		v2["edges"] = []any{edge("fetch", "summarize"), edge("summarize", "shape")}
		v2["message"] = "Shorter summaries"
		req, _ := http.NewRequest(http.MethodPut, e.srv.URL+path, strings.NewReader(mustJSON(t, v2)))
		req.Header.Set("Authorization", "Bearer "+dev)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("If-Match", `"1"`)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&w)
		res.Body.Close()
		if res.StatusCode != 200 || w.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Fatalf("update = %d %+v", res.StatusCode, w)
		}

		// A stale version is refused; so is a missing one.
		p := e.problemOf(http.MethodPut, path, dev, with(wfBody("Stale"), "version", 1), http.StatusConflict)
		if !strings.Contains(p.Detail, "version 2") {
			t.Errorf("stale update: %+v", p)
		}
		p = e.problemOf(http.MethodPut, path, dev, wfBody("No version"), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/version", "version you edited"}) {
			t.Errorf("update without a version: %+v", p)
		}
		// Saving the same thing again changes nothing.
		e.call(http.MethodPut, path, dev, with(v2, "version", 2), http.StatusOK, &w)
		if w.Version != 2 {
			t.Errorf("a no-op update created version %d", w.Version)
		}

		var versions struct {
			Versions []struct {
				Version       int    `json:"version"`
				ParentVersion int    `json:"parent_version"`
				Message       string `json:"message"`
				AuthorID      string `json:"author_id"`
			} `json:"versions"`
		}
		e.call(http.MethodGet, path+"/versions", dev, nil, http.StatusOK, &versions)
		if len(versions.Versions) != 2 || versions.Versions[0].Version != 2 || versions.Versions[0].ParentVersion != 1 ||
			versions.Versions[0].Message != "Shorter summaries" || versions.Versions[1].Message != "Created" ||
			versions.Versions[0].AuthorID != f.users[domain.RoleDeveloper].ID {
			t.Errorf("versions = %+v", versions.Versions)
		}

		type diffJSON struct {
			AgentsAdded   []string `json:"agents_added"`
			AgentsRemoved []string `json:"agents_removed"`
			AgentsChanged []struct {
				ID     string   `json:"id"`
				Fields []string `json:"fields"`
			} `json:"agents_changed"`
			EdgesAdded   []map[string]string `json:"edges_added"`
			EdgesRemoved []map[string]string `json:"edges_removed"`
			NameChanged  bool                `json:"name_changed"`
		}
		var d diffJSON
		e.call(http.MethodGet, path+"/diff?from=1&to=2", dev, nil, http.StatusOK, &d)
		if fmt.Sprint(d.AgentsAdded) != "[shape]" || len(d.AgentsRemoved) != 0 || len(d.AgentsChanged) != 1 ||
			d.AgentsChanged[0].ID != "summarize" || fmt.Sprint(d.AgentsChanged[0].Fields) != "[llm.prompt]" ||
			len(d.EdgesAdded) != 1 || d.EdgesAdded[0]["to"] != "shape" || len(d.EdgesRemoved) != 0 || d.NameChanged {
			t.Errorf("diff 1→2 = %+v", d)
		}
		var latest diffJSON
		e.call(http.MethodGet, path+"/diff", dev, nil, http.StatusOK, &latest)
		if mustJSON(t, latest) != mustJSON(t, d) {
			t.Errorf("default diff %+v, want the latest against the one before: %+v", latest, d)
		}
		e.problemOf(http.MethodGet, path+"/diff?from=1&to=9", dev, nil, http.StatusNotFound)

		// Rollback appends version 3, equal to version 1.
		e.call(http.MethodPost, path+"/rollback", dev, map[string]any{"version": 1}, http.StatusOK, &w)
		if w.Version != 3 || len(w.Agents) != 2 {
			t.Fatalf("rollback = %+v", w)
		}
		e.call(http.MethodGet, path+"/diff?from=1&to=3", dev, nil, http.StatusOK, &d)
		if len(d.AgentsAdded)+len(d.AgentsRemoved)+len(d.AgentsChanged)+len(d.EdgesAdded)+len(d.EdgesRemoved) != 0 {
			t.Errorf("rollback differs from version 1: %+v", d)
		}
		var v3 struct {
			ParentVersion int    `json:"parent_version"`
			Message       string `json:"message"`
		}
		e.call(http.MethodGet, path+"/versions/3", dev, nil, http.StatusOK, &v3)
		if v3.ParentVersion != 1 || v3.Message != "Rolled back to version 1" {
			t.Errorf("version 3 = %+v", v3)
		}
		e.problemOf(http.MethodPost, path+"/rollback", dev, map[string]any{"version": 3}, http.StatusConflict)
		e.problemOf(http.MethodGet, path+"/versions/4", dev, nil, http.StatusNotFound)

		// Publishing pins a version per environment; operators may not publish.
		e.problemOf(http.MethodPost, path+"/publish", f.token(domain.RoleOperator), map[string]any{"version": 2, "environment": "prod"}, http.StatusForbidden)
		e.call(http.MethodPost, path+"/publish", dev, map[string]any{"version": 2, "environment": "prod"}, http.StatusOK, &w)
		var published workflowJSON
		e.call(http.MethodPost, path+"/publish", dev, map[string]any{"version": 3, "environment": "staging"}, http.StatusOK, &published)
		if published.Pins["prod"] != 2 || published.Pins["staging"] != 3 || len(published.Pins) != 2 || published.Version != 3 {
			t.Errorf("pins = %v", published.Pins)
		}
		e.problemOf(http.MethodPost, path+"/publish", dev, map[string]any{"version": 7, "environment": "dev"}, http.StatusNotFound)
		e.problemOf(http.MethodPost, path+"/publish", dev, map[string]any{"version": 1, "environment": "qa"}, http.StatusUnprocessableEntity)
		var list struct {
			Workflows []workflowJSON `json:"workflows"`
		}
		e.call(http.MethodGet, "/api/v1/workflows?environment=prod", dev, nil, http.StatusOK, &list)
		if len(list.Workflows) != 1 || list.Workflows[0].ID != w.ID || list.Workflows[0].Agents != nil {
			t.Errorf("pinned to prod: %+v", list.Workflows)
		}
		e.call(http.MethodGet, "/api/v1/workflows?environment=dev", dev, nil, http.StatusOK, &list)
		if len(list.Workflows) != 0 {
			t.Errorf("pinned to dev: %+v", list.Workflows)
		}

		// The engine's view: which version runs.
		err = e.store.Read(context.Background(), domain.OrgScope(f.org.ID), func(q domain.Queries) error {
			_, v, err := q.RunnableVersion(w.ID, domain.EnvProd, 0)
			if err != nil {
				return err
			}
			if v.Version != 2 || len(v.Resolved.Nodes) != 3 {
				t.Errorf("prod runs version %d", v.Version)
			}
			_, _, err = q.RunnableVersion(w.ID, domain.EnvDev, 0)
			if !domain.IsCode(err, domain.ECodeConflict) {
				t.Errorf("unpinned dev: %v, want conflict", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Deleting archives: still readable, frozen, hidden from the default list.
		e.call(http.MethodDelete, path, dev, nil, http.StatusNoContent, nil)
		e.call(http.MethodDelete, path, dev, nil, http.StatusNoContent, nil)
		var archived workflowJSON
		e.call(http.MethodGet, path, f.token(domain.RoleViewer), nil, http.StatusOK, &archived)
		if archived.Status != "archived" || archived.ArchivedAt == nil || archived.Version != 3 || archived.Pins["prod"] != 2 {
			t.Errorf("archived = %+v", archived)
		}
		e.problemOf(http.MethodPut, path, dev, with(wfBody("Too late"), "version", 3), http.StatusConflict)
		e.problemOf(http.MethodPost, path+"/publish", dev, map[string]any{"version": 3, "environment": "dev"}, http.StatusConflict)
		e.call(http.MethodGet, "/api/v1/workflows", dev, nil, http.StatusOK, &list)
		if len(list.Workflows) != 0 {
			t.Errorf("default list shows the archived workflow")
		}
		e.call(http.MethodGet, path+"/versions/2", dev, nil, http.StatusOK, nil)

		for action, want := range map[string]int{"workflow.created": 1, "workflow.updated": 1, "workflow.rolled_back": 1,
			"workflow.published": 2, "workflow.deleted": 1} {
			if n := f.auditCount(action, w.ID); n != want {
				t.Errorf("%d %s audit rows, want %d", n, action, want)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWorkflowConcurrentUpdatesOneWins(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Race")
		w := f.createWorkflow(domain.RoleDeveloper, wfBody("Racy"))
		tokens := []string{f.token(domain.RoleDeveloper), f.token(domain.RoleAdmin)}
		const writers = 4
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := with(with(wfBody("Racy"), "description", fmt.Sprintf("writer %d", i)), "version", 1)
				raw, _ := json.Marshal(body)
				req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/api/v1/workflows/"+w.ID, strings.NewReader(string(raw)))
				req.Header.Set("Authorization", "Bearer "+tokens[i%2])
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				statuses[i] = res.StatusCode
			}()
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusConflict:
			default:
				t.Errorf("concurrent update answered %d", s)
			}
		}
		if won != 1 {
			t.Errorf("statuses %v: %d updates of version 1 won, want exactly 1", statuses, won)
		}
		var got workflowJSON
		e.call(http.MethodGet, "/api/v1/workflows/"+w.ID, f.token(domain.RoleViewer), nil, http.StatusOK, &got)
		if got.Version != 2 {
			t.Errorf("version after the race = %d, want 2", got.Version)
		}
		if n := f.auditCount("workflow.updated", w.ID); n != 1 {
			t.Errorf("%d workflow.updated audit rows, want 1", n)
		}
	})
}

// keysIn collects every object key in a JSON document.
func keysIn(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			into[k] = true
			keysIn(val, into)
		}
	case []any:
		for _, val := range x {
			keysIn(val, into)
		}
	}
}

func TestWorkflowExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Exporter")
		other := e.newOrg("Importer")
		dev := f.token(domain.RoleDeveloper)
		var agent struct {
			ID string `json:"id"`
		}
		e.call(http.MethodPost, "/api/v1/agents", dev, map[string]any{"name": "Summarizer", "type": "llm",
			"llm": map[string]any{"model": "mock:echo", "prompt": "Summarize {{.input.page}}", "temperature": 0.2}}, http.StatusCreated, &agent)
		body := wfBody("Portable")
		body["agents"] = []any{body["agents"].([]any)[0],
			map[string]any{"id": "summarize", "agent_id": agent.ID, "llm": map[string]any{"prompt": "Summarize {{.nodes.fetch.body}}"}}}
		body["output_template"] = "{{.nodes.summarize}}"
		w := f.createWorkflow(domain.RoleDeveloper, body)

		var exported map[string]any
		e.call(http.MethodGet, "/api/v1/workflows/"+w.ID+"/export", dev, nil, http.StatusOK, &exported)
		keys := map[string]bool{}
		keysIn(exported, keys)
		for _, k := range []string{"id", "org_id", "team_id", "created_by", "agent_id", "version", "pins", "stats", "created_at"} {
			if k == "id" {
				continue // node ids are part of the graph
			}
			if keys[k] {
				t.Errorf("export carries %q: %v", k, exported)
			}
		}
		if exported["format"] != "superagent.workflow" || exported["name"] != "Portable" || exported["output_template"] != "{{.nodes.summarize}}" {
			t.Errorf("export = %v", exported)
		}
		nodes := exported["agents"].([]any)
		llm := nodes[1].(map[string]any)["llm"].(map[string]any)
		if llm["prompt"] != "Summarize {{.nodes.fetch.body}}" || llm["model"] != "mock:echo" || llm["temperature"] != 0.2 {
			t.Errorf("the library agent is not merged into the export: %v", llm)
		}

		// Import into another organization, then export again: the same document.
		var imported workflowJSON
		e.call(http.MethodPost, "/api/v1/workflows/import", other.token(domain.RoleDeveloper), exported, http.StatusCreated, &imported)
		if imported.ID == w.ID || imported.OrgID != other.org.ID || imported.Status != "draft" || imported.Version != 1 || imported.TeamID != other.team.ID {
			t.Errorf("imported = %+v", imported)
		}
		var again map[string]any
		e.call(http.MethodGet, "/api/v1/workflows/"+imported.ID+"/export", other.token(domain.RoleViewer), nil, http.StatusOK, &again)
		if a, b := mustJSON(t, exported), mustJSON(t, again); a != b {
			t.Errorf("round trip changed the document:\n%s\n%s", a, b)
		}
		if n := other.auditCount("workflow.imported", imported.ID); n != 1 {
			t.Errorf("%d workflow.imported audit rows", n)
		}
		// An import is checked like a creation.
		bad := with(exported, "edges", []any{edge("summarize", "fetch"), edge("fetch", "summarize")})
		p := e.problemOf(http.MethodPost, "/api/v1/workflows/import", dev, bad, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/edges/0", "cycle: fetch → summarize → fetch"}) {
			t.Errorf("bad import: %+v", p.Errors)
		}
		e.problemOf(http.MethodPost, "/api/v1/workflows/import", dev, with(exported, "org_id", f.org.ID), http.StatusUnprocessableEntity)
		e.problemOf(http.MethodGet, "/api/v1/workflows/"+w.ID+"/export", other.token(domain.RoleAdmin), nil, http.StatusNotFound)
	})
}

func TestWorkflowQuota(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Quota")
		f.setLimits(func(l *domain.PlanLimits) { l.MaxWorkflows = 2 })
		first := f.createWorkflow(domain.RoleDeveloper, wfBody("one"))
		f.createWorkflow(domain.RoleDeveloper, wfBody("two"))
		p := e.problemOf(http.MethodPost, "/api/v1/workflows", f.token(domain.RoleDeveloper), wfBody("three"), http.StatusTooManyRequests)
		if p.Code != string(domain.ECodeLimitExceeded) || p.Limit != "max_workflows" || p.LimitVal == nil || *p.LimitVal != 2 {
			t.Errorf("quota problem = %+v", p)
		}
		e.problemOf(http.MethodPost, "/api/v1/workflows/import", f.token(domain.RoleDeveloper), wfBody("three"), http.StatusTooManyRequests)
		// Archiving frees the slot.
		e.call(http.MethodDelete, "/api/v1/workflows/"+first.ID, f.token(domain.RoleDeveloper), nil, http.StatusNoContent, nil)
		f.createWorkflow(domain.RoleDeveloper, wfBody("three"))
	})
}

func TestWorkflowTeamScopingAndTenancy(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Teams")
		stranger := e.newOrg("Stranger")
		admin, dev := f.token(domain.RoleAdmin), f.token(domain.RoleDeveloper)
		other := f.newTeam("Research")

		theirs := f.createWorkflow(domain.RoleAdmin, with(wfBody("theirs"), "team_id", other.ID))
		orgWide := f.createWorkflow(domain.RoleAdmin, with(wfBody("org-wide"), "team_id", ""))
		mine := f.createWorkflow(domain.RoleDeveloper, wfBody("mine"))
		if theirs.TeamID != other.ID || orgWide.TeamID != "" || mine.TeamID != f.team.ID {
			t.Fatalf("teams: %q %q %q", theirs.TeamID, orgWide.TeamID, mine.TeamID)
		}
		var list struct {
			Workflows []workflowJSON `json:"workflows"`
		}
		e.call(http.MethodGet, "/api/v1/workflows", dev, nil, http.StatusOK, &list)
		if len(list.Workflows) != 2 || list.Workflows[0].Name != "org-wide" || list.Workflows[1].Name != "mine" {
			t.Errorf("developer sees %+v", list.Workflows)
		}
		e.call(http.MethodGet, "/api/v1/workflows", admin, nil, http.StatusOK, &list)
		if len(list.Workflows) != 3 {
			t.Errorf("admin sees %d workflows", len(list.Workflows))
		}
		e.call(http.MethodGet, "/api/v1/workflows?team_id="+other.ID, admin, nil, http.StatusOK, &list)
		if len(list.Workflows) != 1 || list.Workflows[0].ID != theirs.ID {
			t.Errorf("team filter: %+v", list.Workflows)
		}

		// Another team's workflow is answered like a missing one; so is another organization's.
		for _, who := range []struct {
			name, token, id string
		}{
			{"other team", dev, theirs.ID},
			{"other organization", stranger.token(domain.RoleAdmin), mine.ID},
		} {
			p := "/api/v1/workflows/" + who.id
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, p, nil},
				{http.MethodPut, p, with(wfBody("x"), "version", 1)},
				{http.MethodDelete, p, nil},
				{http.MethodGet, p + "/versions", nil},
				{http.MethodGet, p + "/versions/1", nil},
				{http.MethodGet, p + "/diff?from=1&to=1", nil},
				{http.MethodPost, p + "/rollback", map[string]any{"version": 1}},
				{http.MethodPost, p + "/publish", map[string]any{"version": 1, "environment": "dev"}},
				{http.MethodGet, p + "/export", nil},
			} {
				if pr := e.problemOf(c.method, c.path, who.token, c.body, http.StatusNotFound); pr.Detail != "workflow not found" {
					t.Errorf("%s: %s %s: %q", who.name, c.method, c.path, pr.Detail)
				}
			}
		}

		// Non-admins create in their own team only and cannot move workflows.
		p := e.problemOf(http.MethodPost, "/api/v1/workflows", dev, with(wfBody("x"), "team_id", other.ID), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/team_id", "your own team"}) {
			t.Errorf("developer choosing a team: %+v", p.Errors)
		}
		e.problemOf(http.MethodPost, "/api/v1/workflows", dev, with(wfBody("x"), "team_id", ""), http.StatusUnprocessableEntity)
		p = e.problemOf(http.MethodPut, "/api/v1/workflows/"+mine.ID, dev, with(with(wfBody("mine"), "team_id", ""), "version", 1), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/team_id", "only admins"}) {
			t.Errorf("developer moving a workflow: %+v", p.Errors)
		}
		p = e.problemOf(http.MethodPost, "/api/v1/workflows", admin, with(wfBody("x"), "team_id", "team_nosuchteam"), http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/team_id", "unknown team"}) {
			t.Errorf("admin naming a missing team: %+v", p.Errors)
		}
		// Admins move workflows between teams.
		var moved workflowJSON
		e.call(http.MethodPut, "/api/v1/workflows/"+mine.ID, admin, with(with(wfBody("mine"), "team_id", other.ID), "version", 1), http.StatusOK, &moved)
		if moved.TeamID != other.ID {
			t.Errorf("moved to %q", moved.TeamID)
		}
		e.problemOf(http.MethodGet, "/api/v1/workflows/"+mine.ID, dev, nil, http.StatusNotFound)
		// Viewers read but do not write.
		e.call(http.MethodGet, "/api/v1/workflows/"+orgWide.ID, f.token(domain.RoleViewer), nil, http.StatusOK, nil)
		e.problemOf(http.MethodPost, "/api/v1/workflows", f.token(domain.RoleViewer), wfBody("x"), http.StatusForbidden)
		e.problemOf(http.MethodDelete, "/api/v1/workflows/"+orgWide.ID, f.token(domain.RoleOperator), nil, http.StatusForbidden)
	})
}

func TestWorkflowListPaging(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Pages")
		for i := range 5 {
			f.createWorkflow(domain.RoleAdmin, with(with(wfBody(fmt.Sprintf("Flow %d", i)), "tags", []string{fmt.Sprintf("t%d", i%2)}),
				"category", fmt.Sprintf("c%d", i%3)))
		}
		tok := f.token(domain.RoleViewer)
		var names []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			var page struct {
				Workflows  []workflowJSON `json:"workflows"`
				NextCursor string         `json:"next_cursor"`
			}
			e.call(http.MethodGet, "/api/v1/workflows?limit=2&cursor="+cursor, tok, nil, http.StatusOK, &page)
			if len(page.Workflows) > 2 {
				t.Fatalf("page of %d", len(page.Workflows))
			}
			for _, w := range page.Workflows {
				names = append(names, w.Name)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if fmt.Sprint(names) != "[Flow 0 Flow 1 Flow 2 Flow 3 Flow 4]" {
			t.Errorf("paged names = %v", names)
		}
		for _, tc := range []struct {
			query string
			want  int
		}{
			{"tag=t0", 3}, {"tag=t1", 2}, {"category=c0", 2}, {"search=FLOW%203", 1}, {"status=active", 0}, {"status=draft", 5},
		} {
			var page struct {
				Workflows []workflowJSON `json:"workflows"`
			}
			e.call(http.MethodGet, "/api/v1/workflows?"+tc.query, tok, nil, http.StatusOK, &page)
			if len(page.Workflows) != tc.want {
				t.Errorf("%s: %d workflows, want %d", tc.query, len(page.Workflows), tc.want)
			}
		}
		e.problemOf(http.MethodGet, "/api/v1/workflows?limit=201", tok, nil, http.StatusUnprocessableEntity)
		e.problemOf(http.MethodGet, "/api/v1/workflows?cursor=garbage", tok, nil, http.StatusBadRequest)
	})
}

func TestWorkflowConcurrencyTokens(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Tokens")
		tok := f.token(domain.RoleDeveloper)
		w := f.createWorkflow(domain.RoleDeveloper, wfBody("Tokens"))
		put := func(ifMatch string, body map[string]any) (int, httpapi.Problem, string) {
			req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/api/v1/workflows/"+w.ID, strings.NewReader(mustJSON(t, body)))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			if ifMatch != "" {
				req.Header.Set("If-Match", ifMatch)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var p httpapi.Problem
			json.NewDecoder(res.Body).Decode(&p)
			return res.StatusCode, p, res.Header.Get("ETag")
		}
		for _, tc := range []struct {
			name    string
			ifMatch string
			version any
			status  int
			etag    string
		}{
			{"weak ETag", `W/"1"`, nil, http.StatusOK, `"2"`},
			{"bare number", "2", nil, http.StatusOK, `"3"`},
			{"header and body agree", `"3"`, 3, http.StatusOK, `"4"`},
			{"header and body disagree", `"4"`, 3, http.StatusUnprocessableEntity, ""},
			{"not a version", `"abc"`, nil, http.StatusBadRequest, ""},
			{"stale header", `"1"`, nil, http.StatusConflict, ""},
			{"version zero", "", 0, http.StatusUnprocessableEntity, ""},
		} {
			body := with(wfBody("Tokens"), "description", tc.name)
			if tc.version != nil {
				body["version"] = tc.version
			}
			status, p, tag := put(tc.ifMatch, body)
			if status != tc.status || tag != tc.etag {
				t.Errorf("%s: %d ETag %q, want %d %q: %+v", tc.name, status, tag, tc.status, tc.etag, p)
			}
		}
	})
}
