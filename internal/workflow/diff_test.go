package workflow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	a := validDefinition()
	b := validDefinition()
	node(b, "classify").LLM.Prompt = "New prompt"
	node(b, "classify").Retry.MaxAttempts = 2
	node(b, "classify").LLM.Tools = []string{"http_request"}
	node(b, "fetch").HTTP.Headers["X-New"] = "1"
	node(b, "shape").Description = ""
	b.Nodes = append(b.Nodes, domain.Node{ID: "audit", Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: "1"}})
	b.Nodes = slicesDelete(b.Nodes, "summarize")
	b.Edges[6].Condition = "true"
	b.Edges = append(b.Edges, domain.Edge{From: "shape", To: "audit"})
	b.OutputTemplate = "{{.nodes.audit}}"
	b.InputSchema = json.RawMessage(`{"type": "object"}`)

	got := Diff(a, b)
	want := DiffResult{
		AgentsAdded:   []string{"audit"},
		AgentsRemoved: []string{"summarize"},
		AgentsChanged: []AgentChange{
			{ID: "fetch", Fields: []string{"http.headers.X-New"}},
			{ID: "classify", Fields: []string{"llm.prompt", "llm.tools", "retry.max_attempts"}},
			{ID: "shape", Fields: []string{"description"}},
		},
		EdgesAdded:            []domain.Edge{{From: "merge", To: "shape", Condition: "true"}, {From: "shape", To: "audit"}},
		EdgesRemoved:          []domain.Edge{{From: "merge", To: "shape", Condition: "output != nil"}},
		OutputTemplateChanged: true,
		InputSchemaChanged:    true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDiffNoChange(t *testing.T) {
	t.Parallel()
	a, b := validDefinition(), validDefinition()
	b.InputSchema = json.RawMessage(strings.ReplaceAll(string(b.InputSchema), ",", " ,\n ")) // same JSON value
	got := Diff(a, b)
	if !got.Empty() {
		t.Fatalf("Diff of equal definitions = %+v", got)
	}
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"agents_added":[],"agents_removed":[],"agents_changed":[],"edges_added":[],"edges_removed":[],"output_template_changed":false,"input_schema_changed":false}`
	if string(out) != wantJSON {
		t.Fatalf("JSON = %s", out)
	}
}

func TestDiffTypeChangeAndNil(t *testing.T) {
	t.Parallel()
	a := graphDef(nil, "x>y")
	b := graphDef(nil, "x>y")
	b.Nodes[1] = domain.Node{ID: "y", Type: domain.NodeLLM, LLM: &domain.LLMConfig{Model: "mock:echo", Prompt: "p"}}
	got := Diff(a, b)
	if len(got.AgentsChanged) != 1 || !reflect.DeepEqual(got.AgentsChanged[0].Fields, []string{"llm.model", "llm.prompt", "transform.template", "type"}) {
		t.Fatalf("changed = %+v", got.AgentsChanged)
	}
	if d := Diff(nil, a); len(d.AgentsAdded) != 2 || len(d.EdgesAdded) != 1 {
		t.Fatalf("Diff(nil, a) = %+v", d)
	}
}

func slicesDelete(nodes []domain.Node, id string) []domain.Node {
	var out []domain.Node
	for _, n := range nodes {
		if n.ID != id {
			out = append(out, n)
		}
	}
	return out
}
