package workflow

import (
	"encoding/json"
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
)

func ptrTo[T any](v T) *T { return &v }

// validDefinition is a complex valid workflow: an http fetch, an llm with a
// schema and tools, a router with a route and a default, a fan-in transform
// by expression and a transform by template.
//
//	fetch → classify → route ─→ escalate ──→ merge → shape
//	                         └─→ summarize ─┘
func validDefinition() *domain.Definition {
	return &domain.Definition{
		Nodes: []domain.Node{
			{ID: "fetch", Type: domain.NodeHTTP, Name: "Fetch items", HTTP: &domain.HTTPConfig{
				Method:  "GET",
				URL:     "https://api.example.com/items?q={{.input.query}}",
				Headers: map[string]string{"Authorization": "Bearer {{.input.token}}", "X-Request-Id": "{{.execution_id}}-{{.node_id}}"},
			}},
			{ID: "classify", Type: domain.NodeLLM, LLM: &domain.LLMConfig{
				Model:        "openai:gpt-4o-mini",
				SystemPrompt: "You classify tickets.",
				Prompt:       "Classify: {{json .nodes.fetch.body}} for {{.input.query | upper}}",
				Temperature:  ptrTo(0.2),
				MaxTokens:    500,
				Tools:        []string{"http_request", "workflow:wf_abc123"},
				OutputFormat: "json",
				OutputSchema: json.RawMessage(`{"type":"object","properties":{"label":{"type":"string"}},"required":["label"]}`),
			}, Retry: &domain.RetryPolicy{MaxAttempts: 5, InitialBackoffMS: 500, MaxBackoffMS: 5000, Multiplier: 3}, TimeoutSeconds: 120},
			{ID: "route", Type: domain.NodeRouter, Router: &domain.RouterConfig{
				Routes:  []domain.RouterRoute{{Condition: `nodes.classify.label == "urgent"`, To: "escalate"}},
				Default: "summarize",
			}},
			{ID: "escalate", Type: domain.NodeHTTP, HTTP: &domain.HTTPConfig{
				Method: "POST", URL: "https://hooks.example.com/escalate",
				Body: `{"ticket": {{json (index .nodes "fetch")}}, "label": "{{.nodes.classify.label}}"}`,
			}},
			{ID: "summarize", Type: domain.NodeLLM, LLM: &domain.LLMConfig{
				Model:  "anthropic:claude-sonnet-4-5",
				Prompt: `Summarize {{range .input.items}}{{.nodes.not_a_ref}}{{end}}{{index .nodes "classify"}} {{$.nodes.fetch.body}}`,
				Mock:   &domain.MockOptions{Response: "ok", LatencyMS: 10},
			}},
			{ID: "merge", Type: domain.NodeTransform, Transform: &domain.TransformConfig{
				Expression: `{"escalated": nodes.escalate?.status, "summary": nodes.summarize ?? "", "label": nodes["classify"].label}`,
			}},
			{ID: "shape", Type: domain.NodeTransform, Description: "Final shape", Transform: &domain.TransformConfig{
				Template: `{"result": {{json .nodes.merge}}}`,
			}},
		},
		Edges: []domain.Edge{
			{From: "fetch", To: "classify", Condition: `nodes.fetch.status == 200 && output.status < 300`},
			{From: "classify", To: "route"},
			{From: "route", To: "escalate"},
			{From: "route", To: "summarize"},
			{From: "escalate", To: "merge"},
			{From: "summarize", To: "merge"},
			{From: "merge", To: "shape", Condition: "output != nil"},
		},
		OutputTemplate: `{{json .nodes.shape}} {{.nodes.fetch.status}}`,
		InputSchema:    json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","minLength":1},"items":{"type":"array"}},"required":["query"]}`),
	}
}

// node returns the node with the given id in def.
func node(def *domain.Definition, id string) *domain.Node {
	for i := range def.Nodes {
		if def.Nodes[i].ID == id {
			return &def.Nodes[i]
		}
	}
	panic("no node " + id)
}

// wantProblem is an expected FieldError: its exact pointer and a fragment
// of its message.
type wantProblem struct {
	pointer  string
	fragment string
}

func hasProblem(problems []domain.FieldError, w wantProblem) bool {
	for _, p := range problems {
		if p.Pointer == w.pointer && strings.Contains(p.Message, w.fragment) {
			return true
		}
	}
	return false
}
