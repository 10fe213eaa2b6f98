package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

func TestValidateValidDefinition(t *testing.T) {
	t.Parallel()
	if problems := Validate(validDefinition(), Limits{MaxAgents: 10}); len(problems) != 0 {
		t.Fatalf("valid definition has problems: %+v", problems)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	addNode := func(n domain.Node) func(*domain.Definition) {
		return func(d *domain.Definition) { d.Nodes = append(d.Nodes, n) }
	}
	addEdge := func(e domain.Edge) func(*domain.Definition) {
		return func(d *domain.Definition) { d.Edges = append(d.Edges, e) }
	}
	llm := func(f func(*domain.LLMConfig)) func(*domain.Definition) {
		return func(d *domain.Definition) { f(node(d, "classify").LLM) }
	}
	tmpl := func(s string) *domain.TransformConfig { return &domain.TransformConfig{Template: s} }

	tests := []struct {
		name   string
		mutate func(*domain.Definition)
		limits Limits
		want   []wantProblem // exactly these problems, in any order
	}{
		{"valid: edge condition reads its own source", func(d *domain.Definition) {
			d.Edges[1].Condition = `nodes.classify.label != "" && output.label != ""`
		}, Limits{}, nil},
		{"valid: output template reads any node", func(d *domain.Definition) {
			d.OutputTemplate = `{{.nodes.fetch}}{{index .nodes "route"}}`
		}, Limits{}, nil},
		{"valid: no input schema, null output schema", func(d *domain.Definition) {
			d.InputSchema = nil
			node(d, "summarize").LLM.OutputSchema = json.RawMessage("null")
		}, Limits{}, nil},

		{"empty graph", func(d *domain.Definition) {
			d.Nodes, d.Edges, d.OutputTemplate = nil, nil, ""
		}, Limits{}, []wantProblem{{"/agents", "at least one agent"}}},
		{"too many agents for the plan", nil, NewLimits(50, "free", 5, 0),
			[]wantProblem{{"/agents", "at most 5 agents (the free plan); this one has 7"}}},
		{"too many agents for the installation", nil, NewLimits(6, "enterprise", 200, 0),
			[]wantProblem{{"/agents", "at most 6 agents (MAX_AGENTS_PER_WORKFLOW)"}}},
		{"too many edges", func(d *domain.Definition) {
			d.Nodes, d.Edges, d.OutputTemplate = nil, nil, ""
			for i := range 64 {
				d.Nodes = append(d.Nodes, domain.Node{ID: fmt.Sprintf("n%d", i), Type: domain.NodeTransform, Transform: tmpl("x")})
				for j := range i {
					d.Edges = append(d.Edges, domain.Edge{From: fmt.Sprintf("n%d", j), To: fmt.Sprintf("n%d", i)})
				}
			}
		}, Limits{MaxAgents: 100}, []wantProblem{{"/edges", "at most 2000 edges; this one has 2016"}}},

		{"duplicate node id", addNode(domain.Node{ID: "fetch", Type: domain.NodeTransform, Transform: tmpl("x")}),
			Limits{}, []wantProblem{{"/agents/7/id", `duplicate agent id "fetch" (also /agents/0)`}}},
		{"node id not a slug", addNode(domain.Node{ID: "Bad ID", Type: domain.NodeTransform, Transform: tmpl("x")}),
			Limits{}, []wantProblem{{"/agents/7/id", "lower-case letters"}}},
		{"node id too long", addNode(domain.Node{ID: strings.Repeat("a", 65), Type: domain.NodeTransform, Transform: tmpl("x")}),
			Limits{}, []wantProblem{{"/agents/7/id", "1 to 64"}}},
		{"node id missing", addNode(domain.Node{Type: domain.NodeTransform, Transform: tmpl("x")}),
			Limits{}, []wantProblem{{"/agents/7/id", "id is required"}}},
		{"unknown type", addNode(domain.Node{ID: "x", Type: "python"}),
			Limits{}, []wantProblem{{"/agents/7/type", `unknown agent type "python"`}}},
		{"type missing", addNode(domain.Node{ID: "x", Transform: tmpl("x")}),
			Limits{}, []wantProblem{{"/agents/7/type", "type is required"}}},
		{"config block missing", addNode(domain.Node{ID: "x", Type: domain.NodeLLM}),
			Limits{}, []wantProblem{{"/agents/7/llm", `the "llm" block is required for llm agents`}}},
		{"block of another type", func(d *domain.Definition) { node(d, "fetch").Transform = tmpl("x") },
			Limits{}, []wantProblem{{"/agents/0/transform", `the "transform" block is only allowed on transform agents`}}},
		{"bad agent_id", func(d *domain.Definition) { node(d, "fetch").AgentID = "wf_123" },
			Limits{}, []wantProblem{{"/agents/0/agent_id", "not a library agent id"}}},
		{"name too long", func(d *domain.Definition) { node(d, "fetch").Name = strings.Repeat("é", 201) },
			Limits{}, []wantProblem{{"/agents/0/name", "at most 200 characters"}}},
		{"description too long", func(d *domain.Definition) { node(d, "shape").Description = strings.Repeat("x", 4001) },
			Limits{}, []wantProblem{{"/agents/6/description", "at most 4000 characters"}}},

		{"llm model without provider", llm(func(c *domain.LLMConfig) { c.Model = "gpt-4o" }),
			Limits{}, []wantProblem{{"/agents/1/llm/model", `"provider:model"`}}},
		{"llm model missing", llm(func(c *domain.LLMConfig) { c.Model = "" }),
			Limits{}, []wantProblem{{"/agents/1/llm/model", "model is required"}}},
		{"llm empty prompt", llm(func(c *domain.LLMConfig) { c.Prompt = "  " }),
			Limits{}, []wantProblem{{"/agents/1/llm/prompt", "prompt is required"}}},
		{"llm temperature above 2", llm(func(c *domain.LLMConfig) { c.Temperature = ptrTo(2.5) }),
			Limits{}, []wantProblem{{"/agents/1/llm/temperature", "between 0 and 2"}}},
		{"llm temperature negative", llm(func(c *domain.LLMConfig) { c.Temperature = ptrTo(-0.1) }),
			Limits{}, []wantProblem{{"/agents/1/llm/temperature", "between 0 and 2"}}},
		{"llm max_tokens negative", llm(func(c *domain.LLMConfig) { c.MaxTokens = -1 }),
			Limits{}, []wantProblem{{"/agents/1/llm/max_tokens", "between 1 and 200000"}}},
		{"llm max_tokens too high", llm(func(c *domain.LLMConfig) { c.MaxTokens = 200_001 }),
			Limits{}, []wantProblem{{"/agents/1/llm/max_tokens", "between 1 and 200000"}}},
		{"llm output format", func(d *domain.Definition) { node(d, "summarize").LLM.OutputFormat = "yaml" },
			Limits{}, []wantProblem{{"/agents/4/llm/output_format", `"text" or "json"`}}},
		{"llm output schema not a schema", llm(func(c *domain.LLMConfig) { c.OutputSchema = json.RawMessage(`{"type": 12}`) }),
			Limits{}, []wantProblem{{"/agents/1/llm/output_schema", "schema is invalid"}}},
		{"llm output schema not JSON", llm(func(c *domain.LLMConfig) { c.OutputSchema = json.RawMessage(`{"type":`) }),
			Limits{}, []wantProblem{{"/agents/1/llm/output_schema", "not JSON"}}},
		{"llm output schema with a remote ref", llm(func(c *domain.LLMConfig) { c.OutputSchema = json.RawMessage(`{"$ref": "file:///etc/passwd"}`) }),
			Limits{}, []wantProblem{{"/agents/1/llm/output_schema", "only references inside the schema"}}},
		{"llm output schema without json format", func(d *domain.Definition) {
			node(d, "summarize").LLM.OutputSchema = json.RawMessage(`{"type":"object"}`)
		}, Limits{}, []wantProblem{{"/agents/4/llm/output_schema", `needs output_format "json"`}}},
		{"llm unknown tool", llm(func(c *domain.LLMConfig) { c.Tools = append(c.Tools, "shell") }),
			Limits{}, []wantProblem{{"/agents/1/llm/tools/2", `unknown tool "shell"`}}},
		{"llm workflow tool without id", llm(func(c *domain.LLMConfig) { c.Tools = []string{"workflow:"} }),
			Limits{}, []wantProblem{{"/agents/1/llm/tools/0", "must name a workflow id"}}},
		{"llm duplicate tool", llm(func(c *domain.LLMConfig) { c.Tools = []string{"json_extract", "json_extract"} }),
			Limits{}, []wantProblem{{"/agents/1/llm/tools/1", "listed twice"}}},
		{"llm max_tool_rounds", llm(func(c *domain.LLMConfig) { c.MaxToolRounds = 21 }),
			Limits{}, []wantProblem{{"/agents/1/llm/max_tool_rounds", "between 1 and 20"}}},
		{"llm mock latency beyond the step timeout", func(d *domain.Definition) { node(d, "summarize").LLM.Mock.LatencyMS = -5 },
			Limits{}, []wantProblem{{"/agents/4/llm/mock/latency_ms", "between 0 and 1800000"}}},

		{"http method", func(d *domain.Definition) { node(d, "fetch").HTTP.Method = "TRACE" },
			Limits{}, []wantProblem{{"/agents/0/http/method", "GET, POST, PUT, PATCH, DELETE, HEAD"}}},
		{"http URL missing", func(d *domain.Definition) { node(d, "escalate").HTTP.URL = "" },
			Limits{}, []wantProblem{{"/agents/3/http/url", "URL is required"}}},
		{"http URL not http", func(d *domain.Definition) { node(d, "escalate").HTTP.URL = "ftp://example.com/x" },
			Limits{}, []wantProblem{{"/agents/3/http/url", "absolute http or https URL"}}},
		{"http header name", func(d *domain.Definition) { node(d, "fetch").HTTP.Headers["Bad Header/x"] = "v" },
			Limits{}, []wantProblem{{"/agents/0/http/headers/Bad Header~1x", "not a valid header name"}}},
		{"http header template reads an unknown node", func(d *domain.Definition) { node(d, "fetch").HTTP.Headers["X-A"] = "{{.nodes.ghost}}" },
			Limits{}, []wantProblem{{"/agents/0/http/headers/X-A", `agent "ghost", which does not exist`}}},
		{"http timeout", func(d *domain.Definition) { node(d, "fetch").HTTP.TimeoutSeconds = -1 },
			Limits{}, []wantProblem{{"/agents/0/http/timeout_seconds", "between 1 and 1800"}}},

		{"transform with both", func(d *domain.Definition) { node(d, "shape").Transform.Expression = "1" },
			Limits{}, []wantProblem{{"/agents/6/transform", "not both"}}},
		{"transform with neither", func(d *domain.Definition) { node(d, "shape").Transform.Template = "" },
			Limits{}, []wantProblem{{"/agents/6/transform", "needs a template or an expression"}}},
		{"transform expression does not compile", func(d *domain.Definition) { node(d, "merge").Transform.Expression = "{" },
			Limits{}, []wantProblem{{"/agents/5/transform/expression", "does not compile"}}},
		{"transform expression reads an unknown node", func(d *domain.Definition) { node(d, "merge").Transform.Expression = "nodes.ghost" },
			Limits{}, []wantProblem{{"/agents/5/transform/expression", `agent "ghost", which does not exist`}}},
		{"transform expression reads a downstream node", func(d *domain.Definition) { node(d, "merge").Transform.Expression = `nodes["shape"]` },
			Limits{}, []wantProblem{{"/agents/5/transform/expression", `"shape", which does not run before "merge"`}}},

		{"router without routes", func(d *domain.Definition) { node(d, "route").Router.Routes = nil },
			Limits{}, []wantProblem{{"/agents/2/router/routes", "at least one route"}, {"/edges/2/to", `router "route" never takes this edge`}}},
		{"router target not a successor", func(d *domain.Definition) {
			r := node(d, "route").Router
			r.Routes = append(r.Routes, domain.RouterRoute{Condition: "true", To: "merge"})
		}, Limits{}, []wantProblem{{"/agents/2/router/routes/1/to", `"merge" is not a direct successor of router "route"`}}},
		{"router target unknown", func(d *domain.Definition) {
			r := node(d, "route").Router
			r.Routes = append(r.Routes, domain.RouterRoute{Condition: "true", To: "ghost"})
		}, Limits{}, []wantProblem{{"/agents/2/router/routes/1/to", `unknown agent "ghost"`}}},
		{"router route without condition", func(d *domain.Definition) { node(d, "route").Router.Routes[0].Condition = "" },
			Limits{}, []wantProblem{{"/agents/2/router/routes/0/condition", "needs a condition"}}},
		{"router route condition not boolean", func(d *domain.Definition) { node(d, "route").Router.Routes[0].Condition = `"urgent"` },
			Limits{}, []wantProblem{{"/agents/2/router/routes/0/condition", "expected bool"}}},
		{"router condition reads the router's own output", func(d *domain.Definition) { node(d, "route").Router.Routes[0].Condition = `nodes.route.route == "x"` },
			Limits{}, []wantProblem{{"/agents/2/router/routes/0/condition", `its own agent "route"`}}},
		{"router default not a successor", func(d *domain.Definition) { node(d, "route").Router.Default = "shape" },
			Limits{}, []wantProblem{{"/agents/2/router/default", `"shape" is not a direct successor`}, {"/edges/3/to", `"summarize" is neither one of its routes nor its default`}}},
		{"router edge never taken", func(d *domain.Definition) {
			d.Nodes = append(d.Nodes, domain.Node{ID: "extra", Type: domain.NodeTransform, Transform: tmpl("x")})
			d.Edges = append(d.Edges, domain.Edge{From: "route", To: "extra"})
		}, Limits{}, []wantProblem{{"/edges/7/to", `router "route" never takes this edge`}}},

		{"edge to an unknown node", addEdge(domain.Edge{From: "fetch", To: "ghost"}),
			Limits{}, []wantProblem{{"/edges/7/to", `unknown agent "ghost"`}}},
		{"edge from an unknown node", addEdge(domain.Edge{From: "ghost", To: "fetch", Condition: "true"}),
			Limits{}, []wantProblem{{"/edges/7/from", `unknown agent "ghost"`}}},
		{"self-loop", addEdge(domain.Edge{From: "merge", To: "merge"}),
			Limits{}, []wantProblem{{"/edges/7", `from "merge" to itself`}}},
		{"duplicate edge", addEdge(domain.Edge{From: "fetch", To: "classify"}),
			Limits{}, []wantProblem{{"/edges/7", `duplicate edge from "fetch" to "classify" (also /edges/0)`}}},
		{"cycle", addEdge(domain.Edge{From: "shape", To: "fetch"}),
			Limits{}, []wantProblem{{"/edges/7", "cycle: fetch → classify → route → escalate → merge → shape → fetch"}}},
		{"two-node cycle", func(d *domain.Definition) {
			d.Edges = append(d.Edges, domain.Edge{From: "shape", To: "merge"})
		}, Limits{}, []wantProblem{{"/edges/7", "cycle: merge → shape → merge"}}},

		{"condition does not compile", func(d *domain.Definition) { d.Edges[6].Condition = "output ==" },
			Limits{}, []wantProblem{{"/edges/6/condition", "does not compile"}}},
		{"condition with an undefined variable", func(d *domain.Definition) { d.Edges[6].Condition = "foo == 1" },
			Limits{}, []wantProblem{{"/edges/6/condition", "unknown name foo"}}},
		{"condition not boolean", func(d *domain.Definition) { d.Edges[6].Condition = "1 + 2" },
			Limits{}, []wantProblem{{"/edges/6/condition", "expected bool"}}},
		{"condition reads a node that is not upstream", func(d *domain.Definition) { d.Edges[0].Condition = "nodes.shape != nil" },
			Limits{}, []wantProblem{{"/edges/0/condition", `"shape", which does not run before "fetch"`}}},
		{"condition too long", func(d *domain.Definition) { d.Edges[6].Condition = "true" + strings.Repeat(" ", 4096) },
			Limits{}, []wantProblem{{"/edges/6/condition", "at most 4096 bytes"}}},

		{"template does not parse", llm(func(c *domain.LLMConfig) { c.Prompt = "{{ .input.x " }),
			Limits{}, []wantProblem{{"/agents/1/llm/prompt", "does not parse"}}},
		{"template with define", llm(func(c *domain.LLMConfig) { c.Prompt = `{{define "x"}}y{{end}}z` }),
			Limits{}, []wantProblem{{"/agents/1/llm/prompt", "{{define}}"}}},
		{"template reads an unknown node", llm(func(c *domain.LLMConfig) { c.SystemPrompt = "{{.nodes.ghost.text}}" }),
			Limits{}, []wantProblem{{"/agents/1/llm/system_prompt", `agent "ghost", which does not exist`}}},
		{"template reads a downstream node", func(d *domain.Definition) { node(d, "fetch").HTTP.URL = "https://x.example/{{.nodes.shape.id}}" },
			Limits{}, []wantProblem{{"/agents/0/http/url", `"shape", which does not run before "fetch"`}}},
		{"template reads a sibling branch by index", func(d *domain.Definition) { node(d, "summarize").LLM.Prompt = `{{index .nodes "escalate"}}` },
			Limits{}, []wantProblem{{"/agents/4/llm/prompt", `"escalate", which does not run before "summarize"`}}},
		{"template reads a downstream node through $ inside range", llm(func(c *domain.LLMConfig) { c.Prompt = "{{range .input.items}}{{$.nodes.shape}}{{end}}" }),
			Limits{}, []wantProblem{{"/agents/1/llm/prompt", `"shape", which does not run before "classify"`}}},
		{"template reads its own node", llm(func(c *domain.LLMConfig) { c.Prompt = "{{with .nodes.classify}}x{{end}}" }),
			Limits{}, []wantProblem{{"/agents/1/llm/prompt", `its own agent "classify"`}}},
		{"http body reads a downstream node", func(d *domain.Definition) { node(d, "escalate").HTTP.Body = "{{.nodes.merge}}" },
			Limits{}, []wantProblem{{"/agents/3/http/body", `"merge", which does not run before "escalate"`}}},
		{"template too long", llm(func(c *domain.LLMConfig) { c.Prompt = strings.Repeat("x", domain.MaxTemplateLen+1) }),
			Limits{}, []wantProblem{{"/agents/1/llm/prompt", "at most 65536 bytes"}}},
		{"output template reads an unknown node", func(d *domain.Definition) { d.OutputTemplate = "{{.nodes.ghost}}" },
			Limits{}, []wantProblem{{"/output_template", `agent "ghost", which does not exist`}}},
		{"output template does not parse", func(d *domain.Definition) { d.OutputTemplate = "{{end}}" },
			Limits{}, []wantProblem{{"/output_template", "does not parse"}}},

		{"retry attempts", func(d *domain.Definition) { node(d, "classify").Retry.MaxAttempts = 11 },
			Limits{}, []wantProblem{{"/agents/1/retry/max_attempts", "between 1 and 10"}}},
		{"retry backoff order", func(d *domain.Definition) { node(d, "classify").Retry.InitialBackoffMS = 6000 },
			Limits{}, []wantProblem{{"/agents/1/retry/initial_backoff_ms", "must not exceed max_backoff_ms"}}},
		{"retry negative backoff", func(d *domain.Definition) { node(d, "classify").Retry.MaxBackoffMS = -1 },
			Limits{}, []wantProblem{{"/agents/1/retry/max_backoff_ms", "between 1 and 900000"}}},
		{"retry multiplier", func(d *domain.Definition) { node(d, "classify").Retry.Multiplier = 0.5 },
			Limits{}, []wantProblem{{"/agents/1/retry/multiplier", "between 1 and 10"}}},
		{"timeout above the domain bound", func(d *domain.Definition) { node(d, "classify").TimeoutSeconds = 1801 },
			Limits{}, []wantProblem{{"/agents/1/timeout_seconds", "between 1 and 1800"}}},
		{"timeout above the installation's horizon", nil, Limits{MaxStepTimeout: time.Minute},
			[]wantProblem{{"/agents/1/timeout_seconds", "between 1 and 60"}}},

		{"input schema invalid", func(d *domain.Definition) { d.InputSchema = json.RawMessage(`{"type":"objekt"}`) },
			Limits{}, []wantProblem{{"/input_schema", "schema is invalid"}}},
		{"input schema too big", func(d *domain.Definition) {
			d.InputSchema = json.RawMessage(`{"description":"` + strings.Repeat("x", domain.MaxSchemaBytes) + `"}`)
		}, Limits{}, []wantProblem{{"/input_schema", "at most 65536 bytes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def := validDefinition()
			if tt.mutate != nil {
				tt.mutate(def)
			}
			lim := tt.limits
			if lim.MaxAgents == 0 {
				lim.MaxAgents = 100
			}
			got := Validate(def, lim)
			for _, w := range tt.want {
				if !hasProblem(got, w) {
					t.Errorf("missing problem at %q containing %q", w.pointer, w.fragment)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d: %+v", len(got), len(tt.want), got)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	def := validDefinition()
	node(def, "fetch").HTTP.Method = "FETCH"
	node(def, "classify").LLM.Model = "nope"
	def.Edges = append(def.Edges, domain.Edge{From: "shape", To: "ghost"})
	def.OutputTemplate = "{{"
	got := Validate(def, Limits{})
	for _, w := range []wantProblem{
		{"/agents/0/http/method", "one of"},
		{"/agents/1/llm/model", "provider:model"},
		{"/edges/7/to", "unknown agent"},
		{"/output_template", "does not parse"},
	} {
		if !hasProblem(got, w) {
			t.Errorf("missing %+v in %+v", w, got)
		}
	}
}

func TestValidateNil(t *testing.T) {
	t.Parallel()
	if got := Validate(nil, Limits{}); len(got) != 1 {
		t.Fatalf("Validate(nil) = %+v, want one problem", got)
	}
}
