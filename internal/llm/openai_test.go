package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

// wireBody decodes a recorded request body for wire-level assertions.
func wireBody(t *testing.T, r llmtest.Request) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("request body is not JSON: %v", err)
	}
	return body
}

func TestOpenAIWireFormat(t *testing.T) {
	t.Parallel()
	temp := 0.2
	tests := []struct {
		name     string
		provider string
		req      Request
		check    func(t *testing.T, got llmtest.Request, body map[string]any)
	}{
		{
			name:     "system prompt is the first message",
			provider: "openai",
			req:      Request{System: "Be brief.", Messages: []Message{{Role: RoleUser, Content: "Hi"}}},
			check: func(t *testing.T, _ llmtest.Request, body map[string]any) {
				msgs, _ := body["messages"].([]any)
				first, _ := msgs[0].(map[string]any)
				if len(msgs) != 2 || first["role"] != "system" || first["content"] != "Be brief." {
					t.Errorf("messages = %v, want the system prompt first", msgs)
				}
			},
		},
		{
			name:     "OpenAI gets max_completion_tokens and temperature",
			provider: "openai",
			req:      Request{MaxTokens: 300, Temperature: &temp, Messages: []Message{{Role: RoleUser, Content: "Hi"}}},
			check: func(t *testing.T, got llmtest.Request, body map[string]any) {
				if body["max_completion_tokens"] != 300.0 || body["max_tokens"] != nil {
					t.Errorf("max_completion_tokens = %v, max_tokens = %v", body["max_completion_tokens"], body["max_tokens"])
				}
				if got.Temperature == nil || *got.Temperature != 0.2 {
					t.Errorf("temperature = %v", got.Temperature)
				}
			},
		},
		{
			name:     "compatible servers get max_tokens",
			provider: "ollama",
			req:      Request{MaxTokens: 300, Messages: []Message{{Role: RoleUser, Content: "Hi"}}},
			check: func(t *testing.T, _ llmtest.Request, body map[string]any) {
				if body["max_tokens"] != 300.0 || body["max_completion_tokens"] != nil {
					t.Errorf("max_tokens = %v, max_completion_tokens = %v", body["max_tokens"], body["max_completion_tokens"])
				}
			},
		},
		{
			name:     "JSON mode without a schema is json_object",
			provider: "openai",
			req:      Request{JSON: true, Messages: []Message{{Role: RoleUser, Content: "Give JSON"}}},
			check: func(t *testing.T, _ llmtest.Request, body map[string]any) {
				rf, _ := body["response_format"].(map[string]any)
				if rf["type"] != "json_object" {
					t.Errorf("response_format = %v", body["response_format"])
				}
			},
		},
		{
			name:     "JSON schema is json_schema",
			provider: "openai",
			req:      Request{JSON: true, JSONSchema: json.RawMessage(`{"type":"object"}`), Messages: []Message{{Role: RoleUser, Content: "Give JSON"}}},
			check: func(t *testing.T, _ llmtest.Request, body map[string]any) {
				rf, _ := body["response_format"].(map[string]any)
				js, _ := rf["json_schema"].(map[string]any)
				if rf["type"] != "json_schema" || js["name"] == "" || js["schema"] == nil {
					t.Errorf("response_format = %v", body["response_format"])
				}
			},
		},
		{
			name:     "streaming asks for usage",
			provider: "openai",
			req:      Request{OnDelta: func(string) {}, Messages: []Message{{Role: RoleUser, Content: "Hi"}}},
			check: func(t *testing.T, got llmtest.Request, _ map[string]any) {
				if !got.Stream || !got.IncludeUsage {
					t.Errorf("stream = %v, include_usage = %v; want both", got.Stream, got.IncludeUsage)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewOpenAI(t)
			p := NewOpenAI(tc.provider, Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}, nil)
			tc.req.Model = "gpt-4o-mini"
			if _, err := p.Complete(context.Background(), &tc.req); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			got := srv.LastRequest()
			tc.check(t, got, wireBody(t, got))
		})
	}
}

func TestOpenAIWithoutKeySendsNoAuthorization(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t, llmtest.WithAPIKey(""))
	p := NewOpenAI("ollama", Credentials{BaseURL: srv.URL()}, nil)
	if _, err := p.Complete(context.Background(), &Request{Model: "llama3.1:8b", Messages: []Message{{Role: RoleUser, Content: "Hi"}}}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if h := srv.LastRequest().Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q, want none", h)
	}
}

// TestOpenAIUnusualFailures covers answers the fake server cannot script:
// raw handlers stand in for proxies and broken servers.
func TestOpenAIUnusualFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stream     bool
		handler    http.HandlerFunc
		wantKind   Kind
		wantStatus int
	}{
		{
			name: "proxy HTML error page",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
			},
			wantKind: KindUnavailable, wantStatus: 502,
		},
		{
			name: "no choices",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}`)
			},
			wantKind: KindInvalidResponse,
		},
		{
			name: "tool arguments that are not JSON",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls",
					"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}}]}`)
			},
			wantKind: KindInvalidResponse,
		},
		{
			name:   "error event mid-stream",
			stream: true,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n")
				fmt.Fprint(w, "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n")
			},
			wantKind: KindRateLimited,
		},
		{
			name:   "stream cut before the end",
			stream: true,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n")
			},
			wantKind: KindUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			p := NewOpenAI("openai", Credentials{APIKey: "k", BaseURL: srv.URL + "/v1"}, nil)
			req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: "Hi"}}}
			if tc.stream {
				req.OnDelta = func(string) {}
			}
			_, err := p.Complete(context.Background(), req)
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.wantKind || e.Status != tc.wantStatus {
				t.Errorf("err = %v, want kind %s status %d", err, tc.wantKind, tc.wantStatus)
			}
		})
	}
}

func TestUnreachableProviderIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	for _, p := range []Provider{
		NewOpenAI("openai", Credentials{APIKey: "k", BaseURL: url + "/v1"}, nil),
		NewAnthropic(Credentials{APIKey: "k", BaseURL: url}, nil),
	} {
		_, err := p.Complete(context.Background(), &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: "Hi"}}})
		if KindOf(err) != KindUnavailable {
			t.Errorf("%s: err = %v, want unavailable", p.Name(), err)
		}
	}
}

// TestOpenAIWholeToolCallsAtOneIndex covers compatible servers that stream
// each tool call whole, all at index 0.
func TestOpenAIWholeToolCallsAtOneIndex(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range []string{
			`{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":"{\"n\":1}"}}]}}]}`,
			`{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","type":"function","function":{"name":"g","arguments":"{\"n\":2}"}}]}}]}`,
			`{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
			`[DONE]`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", c)
		}
	}))
	defer srv.Close()
	p := NewOpenAI("ollama", Credentials{BaseURL: srv.URL + "/v1"}, nil)
	res, err := p.Complete(context.Background(), &Request{Model: "m", OnDelta: func(string) {}, Messages: []Message{{Role: RoleUser, Content: "Hi"}}})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if len(res.ToolCalls) != 2 || res.ToolCalls[0].Name != "f" || res.ToolCalls[1].Name != "g" ||
		string(res.ToolCalls[1].Arguments) != `{"n":2}` {
		t.Errorf("ToolCalls = %+v, want f then g", res.ToolCalls)
	}
}
