package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// TestExecutionStepsShowTheirInput: the per-node results of an execution
// show what each node received.
func TestExecutionStepsShowTheirInput(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("stepin")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("stepin", 0))
		var done struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Steps  []struct {
				NodeID string          `json:"node_id"`
				Input  json.RawMessage `json:"input"`
			} `json:"steps"`
		}
		e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", dev,
			map[string]any{"input": map[string]any{"word": "hello"}, "wait_seconds": 20}, 200, &done)
		if done.Status != "succeeded" {
			t.Fatalf("execution = %+v", done)
		}
		var fetched struct {
			Steps []struct {
				NodeID string          `json:"node_id"`
				Input  json.RawMessage `json:"input"`
			} `json:"steps"`
		}
		e.call(http.MethodGet, "/api/v1/executions/"+done.ID, f.token(domain.RoleViewer), nil, 200, &fetched)
		want := map[string]map[string]any{
			"shout": {"input": map[string]any{"word": "hello"}, "nodes": map[string]any{}},
			"echo": {"input": map[string]any{"word": "hello"}, "nodes": map[string]any{"shout": "HELLO"},
				"prompt": "HELLO and again"},
		}
		for name, steps := range map[string][]struct {
			NodeID string          `json:"node_id"`
			Input  json.RawMessage `json:"input"`
		}{"execute": done.Steps, "get": fetched.Steps} {
			if len(steps) != 2 {
				t.Fatalf("%s: %d steps", name, len(steps))
			}
			for _, s := range steps {
				var got map[string]any
				if err := json.Unmarshal(s.Input, &got); err != nil || !reflect.DeepEqual(got, want[s.NodeID]) {
					t.Errorf("%s: step %s input = %s, want %v", name, s.NodeID, s.Input, want[s.NodeID])
				}
			}
		}
	})
}

// TestStepTimeoutValidationMatchesTheEngine: one cap on step timeouts.
// Validation accepts exactly the timeouts the engine runs in full and
// refuses the first second it would cut, and the queue's backstop for a
// step's job stays below the rescue horizon — for the default
// RESCUE_AFTER (10 m: 540 s used to validate and then be cut at 450 s) and
// a short one.
func TestStepTimeoutValidationMatchesTheEngine(t *testing.T) {
	t.Parallel()
	for _, rescue := range []string{"", "90s"} {
		t.Run("RESCUE_AFTER="+rescue, func(t *testing.T) {
			t.Parallel()
			var settings []string
			if rescue != "" {
				settings = append(settings, "RESCUE_AFTER="+rescue)
			}
			e := newEnv(t, "sqlite", settings...)
			f := e.newOrg("timeouts")
			dev := f.token(domain.RoleDeveloper)
			horizon := e.cfg.RescueAfter
			engineCap := e.engine.MaxStepTimeout()
			if backstop := e.engine.Workers().Timeout(nil); backstop >= horizon || backstop <= engineCap {
				t.Errorf("job timeout %s for steps capped at %s under a rescue horizon of %s", backstop, engineCap, horizon)
			}
			longest := int(engineCap / time.Second)
			if horizon == 10*time.Minute && longest != 540 {
				t.Errorf("with RESCUE_AFTER=10m steps may run %d s, want 540", longest)
			}
			body := func(secs int) map[string]any {
				return map[string]any{"name": fmt.Sprintf("t%d", secs), "agents": []any{map[string]any{"id": "a", "type": "transform",
					"timeout_seconds": secs, "transform": map[string]any{"expression": "1"}}}}
			}
			createWorkflow(e, dev, body(longest))
			n := domain.Node{ID: "a", TimeoutSeconds: longest}
			if got := workflow.StepTimeout(&n, engineCap); got != time.Duration(longest)*time.Second {
				t.Errorf("a validated timeout of %d s runs for %s", longest, got)
			}
			res := e.do(http.MethodPost, "/api/v1/workflows", dev, body(longest+1))
			defer res.Body.Close()
			var p httpapi.Problem
			_ = json.NewDecoder(res.Body).Decode(&p)
			if res.StatusCode != 422 || !hasProblem(p, wantProblem{"/agents/0/timeout_seconds", fmt.Sprintf("between 1 and %d", longest)}) {
				t.Errorf("timeout %d s (the engine would cut it at %s) = %d %+v", longest+1, engineCap, res.StatusCode, p)
			}
		})
	}
}
