package llm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

// harness adapts one provider to the conformance suite.
type harness struct {
	provider Provider
	// badKey is the same provider with credentials the backend refuses;
	// nil for the mock, which takes no credentials.
	badKey Provider
	model  string
	// script makes the calls made with req answer replies in order.
	script func(req *Request, replies ...llmtest.Reply)
	// requests returns what the backend received; nil for the mock.
	requests func() []llmtest.Request
	// checkAuth asserts the credentials headers of a recorded request.
	checkAuth func(t *testing.T, h http.Header)
	// mockLimits: the mock cannot script cached tokens and always says
	// "retry after 1s" when rate limited.
	mockLimits bool
}

type backend struct {
	name string
	new  func(t *testing.T) *harness
}

func conformanceBackends() []backend {
	serverHarness := func(srv *llmtest.Server, good, bad Provider, model string, checkAuth func(*testing.T, http.Header)) *harness {
		return &harness{
			provider:  good,
			badKey:    bad,
			model:     model,
			script:    func(_ *Request, replies ...llmtest.Reply) { srv.Push(replies...) },
			requests:  srv.Requests,
			checkAuth: checkAuth,
		}
	}
	return []backend{
		{name: "openai", new: func(t *testing.T) *harness {
			srv := llmtest.NewOpenAI(t)
			good := NewOpenAI("openai", Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}, nil)
			bad := NewOpenAI("openai", Credentials{APIKey: "sk-wrong-key-0123456789", BaseURL: srv.URL()}, nil)
			return serverHarness(srv, good, bad, "gpt-4o-mini", func(t *testing.T, h http.Header) {
				if got, want := h.Get("Authorization"), "Bearer "+srv.APIKey(); got != want {
					t.Errorf("Authorization = %q, want %q", got, want)
				}
			})
		}},
		{name: "anthropic", new: func(t *testing.T) *harness {
			srv := llmtest.NewAnthropic(t)
			good := NewAnthropic(Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}, nil)
			bad := NewAnthropic(Credentials{APIKey: "sk-ant-wrong-key-0123456789", BaseURL: srv.URL()}, nil)
			return serverHarness(srv, good, bad, "claude-haiku-4-5", func(t *testing.T, h http.Header) {
				if got := h.Get("X-Api-Key"); got != srv.APIKey() {
					t.Errorf("x-api-key = %q, want %q", got, srv.APIKey())
				}
				if h.Get("Anthropic-Version") == "" {
					t.Error("no anthropic-version header")
				}
			})
		}},
		{name: "mock", new: func(t *testing.T) *harness {
			return &harness{provider: NewMock(), model: "echo", script: scriptMock, mockLimits: true}
		}},
	}
}

// scriptMock translates replies into the mock's script: texts become
// Responses, the first reply's tool calls, usage, delay and error its
// options.
func scriptMock(req *Request, replies ...llmtest.Reply) {
	m := &domain.MockOptions{}
	for i, r := range replies {
		m.Responses = append(m.Responses, r.Text)
		if i > 0 {
			continue
		}
		for _, tc := range r.ToolCalls {
			m.ToolCalls = append(m.ToolCalls, domain.MockToolCall{Name: tc.Name, Arguments: json.RawMessage(tc.Arguments)})
		}
		m.InputTokens, m.OutputTokens = r.InputTokens, r.OutputTokens
		m.LatencyMS = int(r.Delay / time.Millisecond)
		m.StreamChunkChars = r.ChunkChars
		if r.Status != 0 && r.Status != http.StatusOK {
			m.FailFirst = 1
			m.FailWith = string(kindForStatus(r.Status))
		}
	}
	req.Mock = m
}

// TestProviderConformance runs the same behaviour checks against every
// provider: OpenAI and Anthropic through their fake servers, and the mock.
func TestProviderConformance(t *testing.T) {
	t.Parallel()
	for _, b := range conformanceBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, b.new)
		})
	}
}

func runConformance(t *testing.T, newHarness func(t *testing.T) *harness) {
	t.Run("plain completion", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		req := &Request{Model: h.model, Messages: []Message{{Role: RoleUser, Content: "Hi"}}, IdempotencyKey: "exe_1/node_a"}
		h.script(req, llmtest.Reply{Text: "Hello there, traveller.", InputTokens: 11, OutputTokens: 4})
		res, err := h.provider.Complete(context.Background(), req)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if res.Text != "Hello there, traveller." {
			t.Errorf("Text = %q", res.Text)
		}
		if res.Usage.InputTokens != 11 || res.Usage.OutputTokens != 4 {
			t.Errorf("Usage = %+v, want 11 in, 4 out", res.Usage)
		}
		if res.Model == "" || res.StopReason == "" {
			t.Errorf("Model = %q, StopReason = %q; want both set", res.Model, res.StopReason)
		}
		if len(res.ToolCalls) != 0 {
			t.Errorf("ToolCalls = %v, want none", res.ToolCalls)
		}
		if h.requests == nil {
			return
		}
		got := h.requests()
		if len(got) != 1 {
			t.Fatalf("server got %d requests, want 1", len(got))
		}
		if got[0].Model != h.model || got[0].Stream {
			t.Errorf("request model %q stream %v, want %q non-streaming", got[0].Model, got[0].Stream, h.model)
		}
		if len(got[0].Messages) != 1 || got[0].Messages[0].Role != "user" || got[0].Messages[0].Text != "Hi" {
			t.Errorf("request messages = %+v", got[0].Messages)
		}
		if k := got[0].Header.Get("Idempotency-Key"); k != "exe_1/node_a" {
			t.Errorf("Idempotency-Key = %q", k)
		}
		h.checkAuth(t, got[0].Header)
	})

	t.Run("streaming deltas concatenate to the text", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		const text = "The quick brown fox jumps over the lazy dog. Ünïcödé stays whole."
		var deltas []string
		req := &Request{Model: h.model, Messages: []Message{{Role: RoleUser, Content: "Tell me"}}, OnDelta: func(s string) { deltas = append(deltas, s) }}
		h.script(req, llmtest.Reply{Text: text, InputTokens: 3, OutputTokens: 13, ChunkChars: 5})
		res, err := h.provider.Complete(context.Background(), req)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if res.Text != text {
			t.Errorf("Text = %q, want %q", res.Text, text)
		}
		if len(deltas) < 2 {
			t.Errorf("got %d deltas, want the text in several chunks", len(deltas))
		}
		if joined := strings.Join(deltas, ""); joined != text {
			t.Errorf("deltas join to %q, want %q", joined, text)
		}
		if res.Usage.InputTokens != 3 || res.Usage.OutputTokens != 13 {
			t.Errorf("streamed Usage = %+v, want 3 in, 13 out", res.Usage)
		}
		if h.requests != nil {
			if got := h.requests()[0]; !got.Stream {
				t.Error("request was not a streaming request")
			}
		}
	})

	t.Run("system prompt placement", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		req := &Request{Model: h.model, System: "You are terse.", Messages: []Message{{Role: RoleUser, Content: "Hi there"}}}
		h.script(req, llmtest.Reply{Text: "Hi."})
		if _, err := h.provider.Complete(context.Background(), req); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if h.requests == nil {
			return
		}
		got := h.requests()[0]
		if got.System != "You are terse." {
			t.Errorf("System = %q", got.System)
		}
		if len(got.Messages) != 1 || got.Messages[0].Text != "Hi there" {
			t.Errorf("messages = %+v, want only the user message", got.Messages)
		}
	})

	for _, stream := range []bool{false, true} {
		name := "tool call round trip"
		if stream {
			name += " streamed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tools := []Tool{{
				Name:        "get_weather",
				Description: "Current weather of a city",
				Parameters:  json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
			}}
			req := &Request{Model: h.model, Tools: tools, Messages: []Message{{Role: RoleUser, Content: "Weather in Paris?"}}}
			if stream {
				req.OnDelta = func(string) {}
			}
			h.script(req,
				llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city": "Paris"}`}}, ChunkChars: 3},
				llmtest.Reply{Text: "It is sunny in Paris."},
			)
			res, err := h.provider.Complete(context.Background(), req)
			if err != nil {
				t.Fatalf("first Complete: %v", err)
			}
			if len(res.ToolCalls) != 1 {
				t.Fatalf("ToolCalls = %+v, want one", res.ToolCalls)
			}
			call := res.ToolCalls[0]
			if call.ID != "call_1" || call.Name != "get_weather" || !jsonEqual(call.Arguments, `{"city":"Paris"}`) {
				t.Errorf("tool call = %s %s %s", call.ID, call.Name, call.Arguments)
			}

			req.Messages = append(req.Messages,
				Message{Role: RoleAssistant, ToolCalls: res.ToolCalls},
				Message{Role: RoleTool, ToolCallID: call.ID, Content: `{"temp_c": 21, "sky": "clear"}`},
			)
			res, err = h.provider.Complete(context.Background(), req)
			if err != nil {
				t.Fatalf("second Complete: %v", err)
			}
			if res.Text != "It is sunny in Paris." || len(res.ToolCalls) != 0 {
				t.Errorf("answer = %q with %d tool calls", res.Text, len(res.ToolCalls))
			}

			if h.requests == nil {
				return
			}
			got := h.requests()
			if len(got) != 2 {
				t.Fatalf("server got %d requests, want 2", len(got))
			}
			if len(got[0].Tools) != 1 || got[0].Tools[0].Name != "get_weather" || got[0].Tools[0].Description != "Current weather of a city" ||
				!strings.Contains(string(got[0].Tools[0].Parameters), `"city"`) {
				t.Errorf("offered tools = %+v", got[0].Tools)
			}
			msgs := got[1].Messages
			if len(msgs) != 3 {
				t.Fatalf("second request has %d messages, want user, assistant, tool: %+v", len(msgs), msgs)
			}
			if a := msgs[1]; a.Role != "assistant" || len(a.ToolCalls) != 1 || a.ToolCalls[0].ID != "call_1" ||
				a.ToolCalls[0].Name != "get_weather" || !jsonEqual(json.RawMessage(a.ToolCalls[0].Arguments), `{"city":"Paris"}`) {
				t.Errorf("assistant turn = %+v", a)
			}
			if r := msgs[2]; r.Role != "tool" || r.ToolCallID != "call_1" || r.Text != `{"temp_c": 21, "sky": "clear"}` {
				t.Errorf("tool result turn = %+v", r)
			}
		})
	}

	t.Run("usage with cached input", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		req := &Request{Model: h.model, Messages: []Message{{Role: RoleUser, Content: "Summarise the manual"}}}
		h.script(req, llmtest.Reply{Text: "Done.", InputTokens: 1200, OutputTokens: 30, CachedInputTokens: 1000})
		res, err := h.provider.Complete(context.Background(), req)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		want := Usage{InputTokens: 1200, OutputTokens: 30, CachedInputTokens: 1000}
		if h.mockLimits {
			want.CachedInputTokens = 0
		}
		if res.Usage != want {
			t.Errorf("Usage = %+v, want %+v", res.Usage, want)
		}
	})

	t.Run("JSON mode", func(t *testing.T) {
		t.Parallel()
		for _, schema := range []string{"", `{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}`} {
			h := newHarness(t)
			req := &Request{Model: h.model, JSON: true, JSONSchema: json.RawMessage(schema), Messages: []Message{{Role: RoleUser, Content: "What is six times seven?"}}}
			h.script(req, llmtest.Reply{Text: `{"answer": 42}`})
			res, err := h.provider.Complete(context.Background(), req)
			if err != nil {
				t.Fatalf("Complete (schema %q): %v", schema, err)
			}
			if !jsonEqual(json.RawMessage(res.Text), `{"answer":42}`) {
				t.Errorf("Text = %q, want the JSON answer", res.Text)
			}
			if h.requests == nil {
				continue
			}
			got := h.requests()[0]
			if schema != "" && (!got.JSONMode || !jsonEqual(got.JSONSchema, schema)) {
				t.Errorf("request JSON mode %v schema %s, want schema %s", got.JSONMode, got.JSONSchema, schema)
			}
		}
	})

	errorCases := []struct {
		name       string
		reply      llmtest.Reply
		kind       Kind
		retryAfter time.Duration
	}{
		{"429 is rate_limited with Retry-After", llmtest.Reply{Status: 429, RetryAfter: "7", ErrorMessage: "Rate limit reached"}, KindRateLimited, 7 * time.Second},
		{"500 is unavailable", llmtest.Reply{Status: 500, ErrorMessage: "The server had an error"}, KindUnavailable, 0},
		{"503 is unavailable", llmtest.Reply{Status: 503}, KindUnavailable, 0},
		{"400 is bad_request", llmtest.Reply{Status: 400, ErrorMessage: "messages: too long"}, KindBadRequest, 0},
		{"404 is bad_request", llmtest.Reply{Status: 404, ErrorMessage: "model not found"}, KindBadRequest, 0},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			req := &Request{Model: h.model, Messages: []Message{{Role: RoleUser, Content: "Hi"}}}
			h.script(req, tc.reply)
			_, err := h.provider.Complete(context.Background(), req)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Kind != tc.kind || e.Provider != h.provider.Name() {
				t.Errorf("Kind = %q, Provider = %q; want %q, %q (%v)", e.Kind, e.Provider, tc.kind, h.provider.Name(), err)
			}
			wantRetry := tc.retryAfter
			if h.mockLimits && tc.kind == KindRateLimited {
				wantRetry = time.Second
			}
			if e.RetryAfter != wantRetry {
				t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, wantRetry)
			}
			if !h.mockLimits {
				if e.Status != tc.reply.Status {
					t.Errorf("Status = %d, want %d", e.Status, tc.reply.Status)
				}
				if tc.reply.ErrorMessage != "" && !strings.Contains(e.Error(), tc.reply.ErrorMessage) {
					t.Errorf("error %q does not carry the provider's message %q", e.Error(), tc.reply.ErrorMessage)
				}
			}
		})
	}

	t.Run("bad key is auth_failed and not echoed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		p := h.badKey
		req := &Request{Model: h.model, Messages: []Message{{Role: RoleUser, Content: "Hi"}}}
		if p == nil {
			p = h.provider
			h.script(req, llmtest.Reply{Status: 401})
		}
		_, err := p.Complete(context.Background(), req)
		if KindOf(err) != KindAuthFailed {
			t.Fatalf("err = %v, want auth_failed", err)
		}
		if strings.Contains(err.Error(), "wrong-key") {
			t.Errorf("error message contains the API key: %q", err.Error())
		}
	})

	for _, deadline := range []bool{false, true} {
		name := "cancellation ends the call promptly"
		if deadline {
			name = "deadline ends the call promptly"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			req := &Request{Model: h.model, Messages: []Message{{Role: RoleUser, Content: "Hi"}}}
			h.script(req, llmtest.Reply{Text: "too late", Delay: 30 * time.Second})
			var ctx context.Context
			var cancel context.CancelFunc
			if deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			defer cancel()
			start := time.Now()
			_, err := h.provider.Complete(ctx, req)
			if KindOf(err) != KindTimeout {
				t.Fatalf("err = %v, want timeout", err)
			}
			want := context.Canceled
			if deadline {
				want = context.DeadlineExceeded
			}
			if !errors.Is(err, want) {
				t.Errorf("err = %v, want it to wrap %v", err, want)
			}
			// Generous bound: the call must not wait for the 30 s reply.
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("call took %s after cancellation", elapsed)
			}
		})
	}
}

func jsonEqual(got json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
