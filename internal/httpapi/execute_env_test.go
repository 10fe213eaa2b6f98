package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// versioned is a workflow body whose single agent answers which version it
// belongs to.
func versioned(tag string) map[string]any {
	return map[string]any{"name": "Versioned", "agents": []any{transform("which", fmt.Sprintf("%q", tag))}}
}

// ranVersion is what an execution says about the version it ran.
type ranVersion struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	WorkflowVersion int    `json:"workflow_version"`
	Output          any    `json:"output"`
}

// TestExecuteWithEnvironmentOrVersion: executing with an environment runs
// that environment's pin (409 when nothing is published there), with a
// version runs that version (404 when it does not exist), with neither runs
// the latest; the execution records the version it ran.
func TestExecuteWithEnvironmentOrVersion(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Pins")
		dev := f.token(domain.RoleDeveloper)
		op := f.token(domain.RoleOperator)
		w := f.createWorkflow(domain.RoleDeveloper, versioned("v1"))
		path := "/api/v1/workflows/" + w.ID
		for v := 2; v <= 3; v++ {
			e.call(http.MethodPut, path, dev, with(versioned(fmt.Sprint("v", v)), "version", v-1), http.StatusOK, &w)
		}
		if w.Version != 3 {
			t.Fatalf("workflow at version %d, want 3", w.Version)
		}
		e.call(http.MethodPost, path+"/publish", dev, map[string]any{"version": 1, "environment": "prod"}, http.StatusOK, nil)
		e.call(http.MethodPost, path+"/publish", dev, map[string]any{"version": 2, "environment": "staging"}, http.StatusOK, nil)

		execute := func(body map[string]any) ranVersion {
			t.Helper()
			body["input"] = map[string]any{}
			body["wait_seconds"] = 30
			var x ranVersion
			e.call(http.MethodPost, path+"/execute", op, body, http.StatusOK, &x)
			if x.Status != "succeeded" {
				t.Fatalf("execute %v = %+v", body, x)
			}
			return x
		}
		cases := []struct {
			name string
			body map[string]any
			want int
		}{
			{"neither: the latest", map[string]any{}, 3},
			{"prod pin", map[string]any{"environment": "prod"}, 1},
			{"staging pin", map[string]any{"environment": "staging"}, 2},
			{"explicit version", map[string]any{"version": 2}, 2},
			{"explicit old version", map[string]any{"version": 1}, 1},
		}
		ran := map[string]int{}
		for _, c := range cases {
			x := execute(c.body)
			if x.WorkflowVersion != c.want || x.Output != fmt.Sprint("v", c.want) {
				t.Errorf("%s: ran version %d with output %v, want version %d", c.name, x.WorkflowVersion, x.Output, c.want)
			}
			ran[x.ID] = c.want
		}

		// Nothing published to dev: 409, and no execution is recorded.
		p := e.problemOf(http.MethodPost, path+"/execute", op, map[string]any{"input": map[string]any{}, "environment": "dev"}, http.StatusConflict)
		if !strings.Contains(p.Detail, "dev") {
			t.Errorf("unpinned environment: %+v", p)
		}
		e.problemOf(http.MethodPost, path+"/execute", op, map[string]any{"input": map[string]any{}, "version": 9}, http.StatusNotFound)
		e.problemOf(http.MethodPost, path+"/execute", op, map[string]any{"input": map[string]any{}, "environment": "qa"}, http.StatusUnprocessableEntity)
		e.problemOf(http.MethodPost, path+"/execute", op, map[string]any{"input": map[string]any{}, "environment": "prod", "version": 2},
			http.StatusUnprocessableEntity)

		// Re-pinning prod moves what prod runs; a new version does not.
		e.call(http.MethodPut, path, dev, with(versioned("v4"), "version", 3), http.StatusOK, nil)
		if x := execute(map[string]any{"environment": "prod"}); x.WorkflowVersion != 1 {
			t.Errorf("prod after version 4 was saved ran version %d, want 1", x.WorkflowVersion)
		} else {
			ran[x.ID] = 1
		}
		e.call(http.MethodPost, path+"/publish", dev, map[string]any{"version": 3, "environment": "prod"}, http.StatusOK, nil)
		if x := execute(map[string]any{"environment": "prod"}); x.WorkflowVersion != 3 || x.Output != "v3" {
			t.Errorf("prod after publishing version 3 ran version %d (%v)", x.WorkflowVersion, x.Output)
		} else {
			ran[x.ID] = 3
		}
		if x := execute(map[string]any{}); x.WorkflowVersion != 4 {
			t.Errorf("no environment after version 4 ran version %d", x.WorkflowVersion)
		} else {
			ran[x.ID] = 4
		}

		// Reading the executions back gives the recorded versions, and the
		// failed requests recorded none.
		var list struct {
			Executions []ranVersion `json:"executions"`
		}
		e.call(http.MethodGet, "/api/v1/executions?workflow_id="+w.ID, dev, nil, http.StatusOK, &list)
		if len(list.Executions) != len(ran) {
			t.Errorf("%d executions listed, want %d", len(list.Executions), len(ran))
		}
		for _, x := range list.Executions {
			if want, ok := ran[x.ID]; !ok || x.WorkflowVersion != want {
				t.Errorf("listed %s with version %d, want %d (known %v)", x.ID, x.WorkflowVersion, want, ok)
			}
			var one ranVersion
			e.call(http.MethodGet, "/api/v1/executions/"+x.ID, dev, nil, http.StatusOK, &one)
			if one.WorkflowVersion != ran[x.ID] {
				t.Errorf("GET %s says version %d, want %d", x.ID, one.WorkflowVersion, ran[x.ID])
			}
		}
	})
}
