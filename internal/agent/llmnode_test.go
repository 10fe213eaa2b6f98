package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/llm/llmtest"
	"github.com/superagent-hq/superagent/internal/workflow"
)

func llmStep(cfg domain.LLMConfig, data workflow.Data) agent.StepInput {
	return agent.StepInput{OrgID: "org_1", ExecutionID: "exe_7", NodeID: "draft", Attempt: 1,
		Node: domain.Node{ID: "draft", Type: domain.NodeLLM, LLM: &cfg}, Data: data}
}

func withCreds(c staticCreds) func(*agent.Options) {
	return func(o *agent.Options) { o.Credentials = c }
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestLLMNodeOnRealWireFormats runs the same node against the fake OpenAI
// and Anthropic APIs and checks what each received and what the step
// reports.
func TestLLMNodeOnRealWireFormats(t *testing.T) {
	t.Parallel()
	temp := 0.2
	cfg := func(model string) domain.LLMConfig {
		return domain.LLMConfig{Model: model, SystemPrompt: "You triage tickets for {{.input.team}}.",
			Prompt: "Ticket: {{.input.subject}} ({{.nodes.fetch.status}})", Temperature: &temp, MaxTokens: 300}
	}
	data := workflow.Data{Input: map[string]any{"team": "Support", "subject": "Printer on fire"},
		Nodes: map[string]any{"fetch": map[string]any{"status": 200.0}}}
	tests := []struct {
		name     string
		srv      *llmtest.Server
		provider string
		model    string
		reply    llmtest.Reply
		cost     float64
		authOK   func(h http.Header, key string) bool
	}{
		{"openai", llmtest.NewOpenAI(t), "openai", "gpt-4o-mini",
			// A dated model is priced as its base: (600×0.15 + 400×0.075 + 200×0.60) / 1e6.
			llmtest.Reply{Text: "Escalate to facilities.", InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 200, Model: "gpt-4o-mini-2024-07-18"},
			0.00024, func(h http.Header, key string) bool { return h.Get("Authorization") == "Bearer "+key }},
		{"anthropic", llmtest.NewAnthropic(t), "anthropic", "claude-haiku-4-5",
			llmtest.Reply{Text: "Escalate to facilities.", InputTokens: 300, OutputTokens: 100},
			0.0008, func(h http.Header, key string) bool { return h.Get("X-Api-Key") == key }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := newRuntime(t, withCreds(staticCreds{tt.provider: {APIKey: tt.srv.APIKey(), BaseURL: tt.srv.URL()}}))
			tt.srv.Push(tt.reply)
			res, err := rt.Run(context.Background(), llmStep(cfg(tt.provider+":"+tt.model), data))
			if err != nil {
				t.Fatal(err)
			}
			if res.Output != "Escalate to facilities." || res.Model != tt.provider+":"+tt.model || res.ModelCalls != 1 {
				t.Errorf("result = %+v", res)
			}
			if res.Usage != (llm.Usage{InputTokens: tt.reply.InputTokens, OutputTokens: tt.reply.OutputTokens, CachedInputTokens: tt.reply.CachedInputTokens}) {
				t.Errorf("usage = %+v", res.Usage)
			}
			if !res.CostKnown || !approx(res.CostUSD, tt.cost) {
				t.Errorf("cost = %v (known %v), want %v", res.CostUSD, res.CostKnown, tt.cost)
			}
			got := tt.srv.LastRequest()
			if got.Model != tt.model || got.System != "You triage tickets for Support." || got.LastUserText() != "Ticket: Printer on fire (200)" ||
				got.MaxTokens != 300 || len(got.Tools) != 0 {
				t.Errorf("request = %+v", got)
			}
			if !tt.authOK(got.Header, tt.srv.APIKey()) {
				t.Errorf("request was not authenticated with the organization's key: %v", got.Header)
			}
			if k := got.Header.Get("Idempotency-Key"); k != "exe_7:draft:llm-1" {
				t.Errorf("Idempotency-Key = %q", k)
			}
		})
	}
}

func TestLLMNodeStreamsDeltas(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t)
	srv.Push(llmtest.Reply{Text: "The quick brown fox jumps.", ChunkChars: 5, InputTokens: 9, OutputTokens: 5})
	rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
	var mu sync.Mutex
	var chunks []string
	in := llmStep(domain.LLMConfig{Model: "openai:gpt-4o-mini", Prompt: "Say it"}, workflow.Data{})
	in.OnDelta = func(s string) { mu.Lock(); chunks = append(chunks, s); mu.Unlock() }
	res, err := rt.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 || strings.Join(chunks, "") != "The quick brown fox jumps." || res.Output != "The quick brown fox jumps." {
		t.Errorf("chunks %q, output %q", chunks, res.Output)
	}
	if !srv.LastRequest().Stream || res.Usage.OutputTokens != 5 {
		t.Errorf("stream %v, usage %+v", srv.LastRequest().Stream, res.Usage)
	}
}

// fakeWorkflows records workflow tool calls and answers with the input's
// "n" doubled.
type fakeWorkflows struct {
	mu    sync.Mutex
	calls []agent.WorkflowCall
}

func (f *fakeWorkflows) CallWorkflow(_ context.Context, c agent.WorkflowCall) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	in, _ := c.Input.(map[string]any)
	n, _ := in["n"].(float64)
	if n < 0 {
		return nil, domain.Errorf(domain.ECodeInvalid, "the input does not match the workflow's input schema")
	}
	return map[string]any{"doubled": n * 2}, nil
}

func (f *fakeWorkflows) DescribeWorkflow(_ context.Context, _, id string) (*agent.WorkflowTool, error) {
	return &agent.WorkflowTool{Name: "Doubler", Description: "Doubles n.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"number"}},"required":["n"]}`)}, nil
}

func TestLLMNodeToolLoop(t *testing.T) {
	t.Parallel()
	api := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"order": {"id": "o-1", "items": [{"sku": "A"}, {"sku": "B"}]}}`)
	})
	srv := llmtest.NewOpenAI(t)
	wfID := domain.NewID(domain.PrefixWorkflow)
	srv.Push(
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{
			{ID: "c1", Name: "http_request", Arguments: fmt.Sprintf(`{"url": %q, "headers": {"X-Trace": "t"}}`, api.URL+"/orders/o-1")},
			{ID: "c2", Name: "json_extract", Arguments: `{"json": "{\"a\": {\"b\": [10, 20]}}", "path": "a.b[1]"}`},
			{ID: "c3", Name: "http_request", Arguments: `{"url": "http://169.254.169.254/latest/meta-data/"}`},
		}, InputTokens: 100, OutputTokens: 10},
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{
			{ID: "c4", Name: "workflow_" + wfID, Arguments: `{"n": 21}`},
			{ID: "c5", Name: "delete_everything", Arguments: `{}`},
		}, InputTokens: 200, CachedInputTokens: 100, OutputTokens: 20},
		llmtest.Reply{Text: "Order o-1 has 2 items; doubled 42.", InputTokens: 300, OutputTokens: 30},
	)
	wfs := &fakeWorkflows{}
	rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}),
		func(o *agent.Options) { o.Workflows = wfs })
	res, err := rt.Run(context.Background(), llmStep(domain.LLMConfig{Model: "openai:gpt-4o-mini", Prompt: "Summarize order o-1",
		Tools: []string{"http_request", "json_extract", "workflow:" + wfID}}, workflow.Data{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "Order o-1 has 2 items; doubled 42." || res.ModelCalls != 3 {
		t.Fatalf("result = %+v", res)
	}

	// The tools offered, on every call.
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model calls", len(reqs))
	}
	var offered []string
	for _, tool := range reqs[0].Tools {
		offered = append(offered, tool.Name)
	}
	if !reflect.DeepEqual(offered, []string{"http_request", "json_extract", "workflow_" + wfID}) ||
		!strings.Contains(reqs[0].Tools[2].Description, "Doubler") || !strings.Contains(string(reqs[0].Tools[2].Parameters), `"required":["n"]`) {
		t.Errorf("tools offered = %+v", reqs[0].Tools)
	}

	// Every call's result went back to the model, answering its call id.
	results := map[string]string{}
	for _, m := range reqs[2].Messages {
		if m.Role == "tool" {
			results[m.ToolCallID] = m.Text
		}
	}
	if len(results) != 5 || !strings.Contains(results["c1"], `"sku":"B"`) || results["c2"] != "20" ||
		!strings.Contains(results["c3"], `"error"`) || results["c4"] != `{"doubled":42}` || !strings.Contains(results["c5"], "no tool called") {
		t.Errorf("tool results sent back = %v", results)
	}

	// The records.
	if len(res.ToolCalls) != 5 {
		t.Fatalf("tool calls = %+v", res.ToolCalls)
	}
	rec := res.ToolCalls
	if rec[0].Name != "http_request" || rec[0].Round != 1 || rec[0].Error != "" || rec[0].Result.(map[string]any)["status"] != 200.0 {
		t.Errorf("http record = %+v", rec[0])
	}
	if rec[1].Name != "json_extract" || rec[1].Result != 20.0 {
		t.Errorf("json_extract record = %+v", rec[1])
	}
	if rec[2].Error == "" || !strings.Contains(rec[2].Error, "blocked") || rec[2].Result != nil {
		t.Errorf("blocked record = %+v", rec[2])
	}
	if rec[3].Name != "workflow:"+wfID || rec[3].Round != 2 || !reflect.DeepEqual(rec[3].Result, map[string]any{"doubled": 42.0}) {
		t.Errorf("workflow record = %+v", rec[3])
	}
	if rec[4].Name != "delete_everything" || rec[4].Error == "" {
		t.Errorf("unknown tool record = %+v", rec[4])
	}
	if got := api.last(); got.Header.Get("X-Trace") != "t" || got.Header.Get("Idempotency-Key") != "exe_7:draft:1" {
		t.Errorf("http_request sent %v", got.Header)
	}
	if len(wfs.calls) != 1 || wfs.calls[0].IdempotencyKey != "exe_7:draft:4" || wfs.calls[0].WorkflowID != wfID ||
		wfs.calls[0].ParentExecutionID != "exe_7" || wfs.calls[0].OrgID != "org_1" {
		t.Errorf("workflow calls = %+v", wfs.calls)
	}

	// Usage and cost over the three rounds (gpt-4o-mini: 0.15 / 0.60, cached 0.075 per million):
	// (100×0.15 + 10×0.6) + (100×0.15 + 100×0.075 + 20×0.6) + (300×0.15 + 30×0.6) = 21 + 34.5 + 63 = 118.5 µUSD.
	if res.Usage != (llm.Usage{InputTokens: 600, OutputTokens: 60, CachedInputTokens: 100}) || !approx(res.CostUSD, 118.5e-6) {
		t.Errorf("usage %+v cost %v", res.Usage, res.CostUSD)
	}
}

func TestLLMNodeToolRoundsAreBounded(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t)
	srv.Handle(func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "c", Name: "json_extract", Arguments: `{"json": [1], "path": "0"}`}},
			InputTokens: 10, OutputTokens: 1}
	})
	rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
	_, err := rt.Run(context.Background(), llmStep(domain.LLMConfig{Model: "openai:gpt-4o-mini", Prompt: "loop",
		Tools: []string{"json_extract"}, MaxToolRounds: 2}, workflow.Data{}))
	se := wantStepError(t, err, agent.KindToolRounds)
	if len(srv.Requests()) != 3 || se.Partial == nil || se.Partial.ModelCalls != 3 || se.Partial.Usage.InputTokens != 30 ||
		len(se.Partial.ToolCalls) != 2 {
		t.Errorf("requests %d, partial %+v", len(srv.Requests()), se.Partial)
	}
}

const labelSchema = `{"type":"object","properties":{"label":{"type":"string","enum":["urgent","normal"]}},"required":["label"],"additionalProperties":false}`

func TestLLMNodeStructuredOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		replies []string
		want    any
		calls   int
		fails   bool
	}{
		{"valid at once", []string{`{"label": "urgent"}`}, map[string]any{"label": "urgent"}, 1, false},
		{"fenced", []string{"```json\n{\"label\": \"normal\"}\n```"}, map[string]any{"label": "normal"}, 1, false},
		{"text around it", []string{`Here you go: {"label": "normal"} Hope it helps.`}, map[string]any{"label": "normal"}, 1, false},
		{"repaired syntax", []string{`{"label": "urgent"`, `{"label": "urgent"}`}, map[string]any{"label": "urgent"}, 2, false},
		{"repaired schema", []string{`{"label": "URGENT!"}`, `{"label": "urgent"}`}, map[string]any{"label": "urgent"}, 2, false},
		{"still wrong after the repair", []string{`{"label": 3}`, `{"label": "spam", "extra": 1}`}, nil, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewOpenAI(t)
			for _, r := range tt.replies {
				srv.Push(llmtest.Reply{Text: r, InputTokens: 50, OutputTokens: 5})
			}
			rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
			res, err := rt.Run(context.Background(), llmStep(domain.LLMConfig{Model: "openai:gpt-4o-mini", Prompt: "Classify",
				OutputFormat: "json", OutputSchema: json.RawMessage(labelSchema)}, workflow.Data{}))
			reqs := srv.Requests()
			if len(reqs) != tt.calls {
				t.Fatalf("%d model calls, want %d", len(reqs), tt.calls)
			}
			if !reqs[0].JSONMode || !strings.Contains(string(reqs[0].JSONSchema), `"enum"`) {
				t.Errorf("the schema was not asked for: %+v", reqs[0])
			}
			if tt.calls == 2 {
				repair := reqs[1].Messages
				last := repair[len(repair)-1]
				if last.Role != "user" || !strings.Contains(last.Text, "cannot be used") || repair[len(repair)-2].Text != tt.replies[0] {
					t.Errorf("repair conversation = %+v", repair)
				}
			}
			if tt.fails {
				se := wantStepError(t, err, agent.KindInvalidOutput)
				if !strings.Contains(se.Message, "/label") || se.Partial == nil || se.Partial.Usage.InputTokens != 100 || se.Partial.ModelCalls != 2 {
					t.Errorf("error %q, partial %+v", se.Message, se.Partial)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Output, tt.want) || res.Usage.InputTokens != int64(50*tt.calls) {
				t.Errorf("output %#v usage %+v", res.Output, res.Usage)
			}
		})
	}
}

func TestLLMNodeMockIsDeterministicAndScriptable(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, withCreds(nil)) // the mock needs no credentials
	cfg := domain.LLMConfig{Model: "mock:echo", Prompt: "Hello {{.input.name}}, how are you?"}
	in := llmStep(cfg, workflow.Data{Input: map[string]any{"name": "Ada"}})
	a, err := rt.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rt.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Output != "Hello Ada, how are you?" || !reflect.DeepEqual(a, b) || a.CostUSD != 0 || !a.CostKnown || a.Usage.InputTokens != 5 {
		t.Errorf("mock results %+v and %+v", a, b)
	}

	// Scripted failures count the step's attempts; JSON mode echoes an object.
	failing := cfg
	failing.Mock = &domain.MockOptions{FailFirst: 1, FailWith: "rate_limited"}
	data := workflow.Data{Input: map[string]any{"name": "Bo"}}
	se := wantStepError(t, runErr(rt, llmStep(failing, data)), agent.KindRateLimited)
	if se.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %s", se.RetryAfter)
	}
	second := llmStep(failing, data)
	second.Attempt = 2
	if _, err := rt.Run(context.Background(), second); err != nil {
		t.Errorf("attempt 2: %v", err)
	}
	jsonCfg := domain.LLMConfig{Model: "mock:echo", Prompt: "ping", OutputFormat: "json"}
	res, err := rt.Run(context.Background(), llmStep(jsonCfg, workflow.Data{}))
	if err != nil || !reflect.DeepEqual(res.Output, map[string]any{"prompt": "ping"}) {
		t.Errorf("json echo = %#v, %v", res, err)
	}
	// A scripted tool call runs like a real one.
	tooled := domain.LLMConfig{Model: "mock:echo", Prompt: "x", Tools: []string{"json_extract"}, Mock: &domain.MockOptions{
		ToolCalls: []domain.MockToolCall{{Name: "json_extract", Arguments: json.RawMessage(`{"json": {"k": "v"}, "path": "/k"}`)}},
		Responses: []string{"", "done"}, InputTokens: 3, OutputTokens: 2}}
	res, err = rt.Run(context.Background(), llmStep(tooled, workflow.Data{}))
	if err != nil || res.Output != "done" || len(res.ToolCalls) != 1 || res.ToolCalls[0].Result != "v" || res.Usage.InputTokens != 6 {
		t.Errorf("mock tool loop = %+v, %v", res, err)
	}
}

func runErr(rt *agent.Runtime, in agent.StepInput) error {
	_, err := rt.Run(context.Background(), in)
	return err
}

func TestLLMNodeErrors(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t)
	good := staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}
	step := func(model string) agent.StepInput {
		return llmStep(domain.LLMConfig{Model: model, Prompt: "hi"}, workflow.Data{})
	}

	t.Run("rate limited with Retry-After", func(t *testing.T) {
		srv := llmtest.NewOpenAI(t)
		srv.Push(llmtest.Reply{Status: 429, RetryAfter: "3", ErrorMessage: "Rate limit reached"})
		rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
		se := wantStepError(t, runErr(rt, step("openai:gpt-4o-mini")), agent.KindRateLimited)
		if se.RetryAfter != 3*time.Second || !strings.Contains(se.Message, "Rate limit reached") {
			t.Errorf("error = %+v", se)
		}
	})
	t.Run("refused key", func(t *testing.T) {
		rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: "sk-wrong-0123456789abcdef", BaseURL: srv.URL()}}))
		se := wantStepError(t, runErr(rt, step("openai:gpt-4o-mini")), agent.KindAuthFailed)
		if strings.Contains(se.Message, "sk-wrong") {
			t.Errorf("message quotes the key: %q", se.Message)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		rt := newRuntime(t, withCreds(staticCreds{}))
		se := wantStepError(t, runErr(rt, step("anthropic:claude-sonnet-4-5")), agent.KindAuthFailed)
		if !strings.Contains(se.Message, "PUT /api/v1/providers/anthropic") {
			t.Errorf("message %q does not say what to configure", se.Message)
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		rt := newRuntime(t, withCreds(good))
		se := wantStepError(t, runErr(rt, step("ollama:llama3.1:8b")), agent.KindBadRequest)
		if !strings.Contains(se.Message, "base_url") {
			t.Errorf("message %q", se.Message)
		}
	})
	t.Run("malformed model", func(t *testing.T) {
		wantStepError(t, runErr(newRuntime(t), step("gpt-4o")), agent.KindBadRequest)
	})
	t.Run("a provider of the organization's own", func(t *testing.T) {
		local := llmtest.NewOpenAI(t, llmtest.WithAPIKey(""))
		local.Push(llmtest.Reply{Text: "local answer"})
		rt := newRuntime(t, withCreds(staticCreds{"ollama": {BaseURL: local.URL()}}))
		res, err := rt.Run(context.Background(), step("ollama:llama3.1:8b"))
		if err != nil || res.Output != "local answer" || local.LastRequest().Model != "llama3.1:8b" || res.CostKnown {
			t.Errorf("result %+v, %v; request %+v", res, err, local.LastRequest())
		}
		if h := local.LastRequest().Header.Get("Authorization"); h != "" {
			t.Errorf("a keyless provider got Authorization %q", h)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := llmtest.NewOpenAI(t)
		srv.Push(llmtest.Reply{Text: "late", Delay: 5 * time.Second})
		rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
		in := step("openai:gpt-4o-mini")
		in.Node.TimeoutSeconds = 1
		start := time.Now()
		wantStepError(t, runErr(rt, in), agent.KindTimeout)
		if time.Since(start) > 4*time.Second {
			t.Errorf("timeout took %s", time.Since(start))
		}
	})
	t.Run("server error then success inside one attempt", func(t *testing.T) {
		srv := llmtest.NewOpenAI(t)
		srv.Push(llmtest.Reply{Status: 500, ErrorMessage: "boom"}, llmtest.Reply{Text: "recovered", InputTokens: 4, OutputTokens: 1})
		rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}), func(o *agent.Options) {
			o.Resilient = llm.NewResilient(llm.ResilienceConfig{MaxAttempts: 3, InitialDelay: time.Millisecond})
		})
		res, err := rt.Run(context.Background(), step("openai:gpt-4o-mini"))
		if err != nil || res.Output != "recovered" || len(srv.Requests()) != 2 {
			t.Errorf("result %+v, %v after %d requests", res, err, len(srv.Requests()))
		}
	})
	t.Run("server error", func(t *testing.T) {
		srv := llmtest.NewOpenAI(t)
		srv.Push(llmtest.Reply{Status: 503, ErrorMessage: "overloaded", RetryAfter: "4"})
		rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
		se := wantStepError(t, runErr(rt, step("openai:gpt-4o-mini")), agent.KindUnavailable)
		if se.RetryAfter != 4*time.Second || se.Partial != nil {
			t.Errorf("error = %+v", se)
		}
	})
}

func TestLLMNodeCostWithPriceOverrides(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t)
	srv.Push(llmtest.Reply{Text: "a", InputTokens: 1_000_000, OutputTokens: 500_000},
		llmtest.Reply{Text: "b", InputTokens: 1_000_000, OutputTokens: 500_000})
	prices, err := llm.NewPriceTable(`{"openai:gpt-4o-mini": {"input": 1, "output": 3}}`)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, withCreds(staticCreds{"openai": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}),
		func(o *agent.Options) { o.Prices = prices })
	res, err := rt.Run(context.Background(), llmStep(domain.LLMConfig{Model: "openai:gpt-4o-mini", Prompt: "x"}, workflow.Data{}))
	if err != nil || !approx(res.CostUSD, 2.5) {
		t.Errorf("cost = %v, %v; want 1 + 1.5", res, err)
	}
	// An unpriced model costs 0 and says so.
	res, err = rt.Run(context.Background(), llmStep(domain.LLMConfig{Model: "openai:my-fine-tune", Prompt: "x"}, workflow.Data{}))
	if err != nil || res.CostKnown || res.CostUSD != 0 || res.Usage.InputTokens != 1_000_000 {
		t.Errorf("unpriced = %+v, %v", res, err)
	}
}

// TestLLMNodeToolLoopOnAnthropic runs a tool round trip in Anthropic's
// wire format (tool_use and tool_result blocks), streamed.
func TestLLMNodeToolLoopOnAnthropic(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewAnthropic(t)
	srv.Push(
		llmtest.Reply{Text: "Let me look.", ToolCalls: []llmtest.ToolCall{{ID: "toolu_1", Name: "json_extract",
			Arguments: `{"json": {"city": {"temp": 21.5}}, "path": "/city/temp"}`}}, InputTokens: 40, OutputTokens: 12},
		llmtest.Reply{Text: "It is 21.5 degrees.", InputTokens: 60, OutputTokens: 8},
	)
	rt := newRuntime(t, withCreds(staticCreds{"anthropic": {APIKey: srv.APIKey(), BaseURL: srv.URL()}}))
	var deltas strings.Builder
	in := llmStep(domain.LLMConfig{Model: "anthropic:claude-haiku-4-5", Prompt: "Temperature?", Tools: []string{"json_extract"}}, workflow.Data{})
	in.OnDelta = func(s string) { deltas.WriteString(s) }
	res, err := rt.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "It is 21.5 degrees." || len(res.ToolCalls) != 1 || res.ToolCalls[0].Result != 21.5 || res.ToolCalls[0].ID != "toolu_1" {
		t.Errorf("result = %+v", res)
	}
	if deltas.String() != "Let me look.It is 21.5 degrees." {
		t.Errorf("streamed %q", deltas.String())
	}
	// claude-haiku-4-5 at 1 / 5 USD per million: (100×1 + 20×5) / 1e6.
	if res.Usage.InputTokens != 100 || res.Usage.OutputTokens != 20 || !approx(res.CostUSD, 200e-6) {
		t.Errorf("usage %+v cost %v", res.Usage, res.CostUSD)
	}
	second := srv.Requests()[1]
	var result llmtest.Message
	for _, m := range second.Messages {
		if m.Role == "tool" {
			result = m
		}
	}
	if result.ToolCallID != "toolu_1" || result.Text != "21.5" {
		t.Errorf("tool result sent = %+v (messages %+v)", result, second.Messages)
	}
}
