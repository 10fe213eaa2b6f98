package agent_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

func TestTransform(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	data := workflow.Data{
		Input: map[string]any{"name": "Ada", "items": []any{1.0, 2.0, 3.0}},
		Nodes: map[string]any{"fetch": map[string]any{"status": 200.0, "body": map[string]any{"id": "t-1"}}},
	}
	tests := []struct {
		name string
		cfg  domain.TransformConfig
		want any
	}{
		{"template text", domain.TransformConfig{Template: "Hello {{.input.name}}"}, "Hello Ada"},
		{"template JSON object", domain.TransformConfig{Template: ` {"ticket": "{{.nodes.fetch.body.id}}", "n": {{len .input.items}}} `},
			map[string]any{"ticket": "t-1", "n": 3.0}},
		{"template JSON number", domain.TransformConfig{Template: "{{.nodes.fetch.status}}"}, 200.0},
		{"template reads node and execution ids", domain.TransformConfig{Template: "{{.node_id}}@{{.execution_id}}"}, "shape@exe_1"},
		{"expression", domain.TransformConfig{Expression: `{"total": sum(input.items), "upper": upper(input.name)}`},
			map[string]any{"total": 6.0, "upper": "ADA"}},
		{"expression integer becomes a JSON number", domain.TransformConfig{Expression: `len(input.items) * 2`}, 6.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			res, err := rt.Run(context.Background(), agent.StepInput{OrgID: "org_1", ExecutionID: "exe_1", NodeID: "shape",
				Node: domain.Node{ID: "shape", Type: domain.NodeTransform, Transform: &cfg}, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Output, tt.want) {
				t.Errorf("output = %#v, want %#v", res.Output, tt.want)
			}
			if res.CostUSD != 0 || res.Usage.InputTokens != 0 || res.Model != "" {
				t.Errorf("a transform reports usage: %+v", res)
			}
		})
	}

	_, err := rt.Run(context.Background(), agent.StepInput{NodeID: "bad",
		Node: domain.Node{ID: "bad", Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: `input.name + 1`}},
		Data: data})
	wantStepError(t, err, agent.KindBadRequest)
}

func TestRouter(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	router := &domain.RouterConfig{Routes: []domain.RouterRoute{
		{Condition: `nodes.classify.label == "urgent"`, To: "escalate"},
		{Condition: `nodes.classify.label in ["bug", "urgent"]`, To: "engineering"},
	}, Default: "archive"}
	run := func(label any, r *domain.RouterConfig) (*agent.StepResult, error) {
		return rt.Run(context.Background(), agent.StepInput{NodeID: "route",
			Node: domain.Node{ID: "route", Type: domain.NodeRouter, Router: r},
			Data: workflow.Data{Nodes: map[string]any{"classify": map[string]any{"label": label}}}})
	}
	for label, want := range map[string]string{"urgent": "escalate", "bug": "engineering", "question": "archive"} {
		res, err := run(label, router)
		if err != nil {
			t.Fatal(err)
		}
		if res.Route != want || !reflect.DeepEqual(res.Output, map[string]any{"route": want}) {
			t.Errorf("label %s: route %q output %v, want %s", label, res.Route, res.Output, want)
		}
	}

	noDefault := &domain.RouterConfig{Routes: router.Routes}
	_, err := run("question", noDefault)
	wantStepError(t, err, agent.KindNoRoute)

	// A condition that fails at run time is an error, not a false.
	broken := &domain.RouterConfig{Routes: []domain.RouterRoute{{Condition: `nodes.classify.label > 3`, To: "x"}}, Default: "y"}
	_, err = run("text", broken)
	wantStepError(t, err, agent.KindBadRequest)
}

func TestRunRefusesAMissingBlock(t *testing.T) {
	t.Parallel()
	_, err := newRuntime(t).Run(context.Background(), agent.StepInput{Node: domain.Node{ID: "x", Type: domain.NodeLLM}})
	wantStepError(t, err, agent.KindBadRequest)
}

func TestExtractPath(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"items": []any{map[string]any{"name": "a/b", "tags": []any{"x"}}}, "odd key": 1.0, "a/b": "slash"}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"", doc, true},
		{"$", doc, true},
		{"/items/0/name", "a/b", true},
		{"/a~1b", "slash", true},
		{"items[0].name", "a/b", true},
		{"items.0.tags[0]", "x", true},
		{`$.items[0]["tags"][0]`, "x", true},
		{`["odd key"]`, 1.0, true},
		{"items[1]", nil, false},
		{"items.name", nil, false},
		{"missing", nil, false},
		{"items[0].name.first", nil, false},
		{"items[0", nil, false},
	}
	for _, tt := range tests {
		got, err := agent.ExtractPath(doc, tt.path)
		if (err == nil) != tt.ok || (tt.ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ExtractPath(%q) = %#v, %v; want %#v (ok %v)", tt.path, got, err, tt.want, tt.ok)
		}
	}
}
