package workflow

import (
	"encoding/json"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// FuzzValidate checks that Validate never panics, whatever the definition,
// and that a definition it accepts always yields a graph the engine can
// walk.
func FuzzValidate(f *testing.F) {
	valid, err := json.Marshal(validDefinition())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, seed := range []string{
		`{}`,
		`{"agents":[{"id":"a","type":"router","router":{"routes":[{"condition":"1 +","to":"a"}]}}],"edges":[{"from":"a","to":"a"}]}`,
		`{"agents":[{"id":"a","type":"transform","transform":{"template":"{{range .input}}{{.nodes.b}}{{end}}"}},{"id":"b","type":"llm","llm":{"model":"x:y","prompt":"{{index .nodes \"a\"}}","output_schema":{"type":"nope"}}}],"edges":[{"from":"a","to":"b"},{"from":"b","to":"a"}]}`,
		`{"agents":[{"id":"a","type":"http","http":{"method":"GET","url":"{{","headers":{"":"x"}},"retry":{"max_attempts":-1,"multiplier":1e308}}],"input_schema":{"$ref":"#/nope"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var def domain.Definition
		if json.Unmarshal(data, &def) != nil {
			return
		}
		problems := Validate(&def, Limits{MaxAgents: 20})
		for _, p := range problems {
			if p.Message == "" || (p.Pointer != "" && p.Pointer[0] != '/') {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		if len(problems) > 0 {
			return
		}
		g, err := NewGraph(&def)
		if err != nil {
			t.Fatalf("Validate accepted a definition NewGraph refuses: %v", err)
		}
		if len(g.Order()) != len(def.Nodes) {
			t.Fatalf("Order has %d nodes, definition %d", len(g.Order()), len(def.Nodes))
		}
	})
}
