package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
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
