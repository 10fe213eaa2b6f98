package workflow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckInput(t *testing.T) {
	t.Parallel()
	schema := json.RawMessage(`{
		"type": "object",
		"properties": {
			"query": {"type": "string", "minLength": 1},
			"user": {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}},
			"tags": {"type": "array", "items": {"type": "string"}},
			"a/b": {"type": "boolean"}
		},
		"required": ["query"],
		"additionalProperties": false
	}`)
	type user struct {
		Age int `json:"age"`
	}
	tests := []struct {
		name   string
		schema json.RawMessage
		input  any
		want   []wantProblem
	}{
		{"no schema", nil, "anything", nil},
		{"null schema", json.RawMessage("null"), 42, nil},
		{"valid", schema, map[string]any{"query": "q", "user": map[string]any{"age": 3}, "tags": []any{"x"}}, nil},
		{"valid Go values", schema, map[string]any{"query": "q", "user": user{Age: 3}, "tags": []string{"x"}}, nil},
		{"missing required", schema, map[string]any{}, []wantProblem{{"", "missing property 'query'"}}},
		{"wrong type at the root", schema, []any{1}, []wantProblem{{"", "want object"}}},
		{"nested", schema, map[string]any{"query": "q", "user": map[string]any{"age": -1.5}}, []wantProblem{{"/user/age", "want integer"}}},
		{"array item", schema, map[string]any{"query": "q", "tags": []any{"x", 2}}, []wantProblem{{"/tags/1", "want string"}}},
		{"escaped pointer", schema, map[string]any{"query": "q", "a/b": "yes"}, []wantProblem{{"/a~1b", "want boolean"}}},
		{"several problems", schema, map[string]any{"query": "", "extra": 1}, []wantProblem{{"", "additional properties 'extra'"}, {"/query", "minLength"}}},
		{"invalid schema", json.RawMessage(`{"type": 1}`), map[string]any{}, []wantProblem{{"", "input schema is invalid"}}},
		{"input that is not JSON", schema, map[string]any{"query": make(chan int)}, []wantProblem{{"", "not representable as JSON"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CheckInput(tt.schema, tt.input)
			for _, w := range tt.want {
				if !hasProblem(got, w) {
					t.Errorf("missing problem at %q containing %q in %+v", w.pointer, w.fragment, got)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d: %+v", len(got), len(tt.want), got)
			}
		})
	}
}

func TestCompileSchemaRefusesExternalReferences(t *testing.T) {
	t.Parallel()
	for _, ref := range []string{"file:///etc/passwd", "http://169.254.169.254/latest", "other.json"} {
		_, err := compileSchema(json.RawMessage(`{"$ref": "` + ref + `"}`))
		if err == nil || !strings.Contains(err.Error(), "only references inside the schema") {
			t.Errorf("$ref %s: err = %v", ref, err)
		}
	}
	if _, err := compileSchema(json.RawMessage(`{"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"}`)); err != nil {
		t.Errorf("internal $ref: %v", err)
	}
}
