package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

func TestAnthropicWireFormat(t *testing.T) {
	t.Parallel()
	temp := 0.7
	tests := []struct {
		name  string
		req   Request
		reply llmtest.Reply
		check func(t *testing.T, got llmtest.Request, body map[string]any, res *Response)
	}{
		{
			name: "system prompt is top-level and max_tokens defaults",
			req:  Request{System: "Be brief.", Temperature: &temp, Messages: []Message{{Role: RoleUser, Content: "Hi"}}},
			check: func(t *testing.T, got llmtest.Request, body map[string]any, _ *Response) {
				if got.System != "Be brief." {
					t.Errorf("system = %v", body["system"])
				}
				for _, m := range body["messages"].([]any) {
					if role := m.(map[string]any)["role"]; role != "user" && role != "assistant" {
						t.Errorf("message with role %v", role)
					}
				}
				if got.MaxTokens != anthropicDefaultMaxTokens {
					t.Errorf("max_tokens = %d, want %d", got.MaxTokens, anthropicDefaultMaxTokens)
				}
				if _, sent := body["temperature"]; sent {
					t.Error("temperature sent; the Messages API retired it")
				}
			},
		},
		{
			name: "consecutive tool results share one user turn",
			req: Request{
				Tools: []Tool{{Name: "lookup"}},
				Messages: []Message{
					{Role: RoleUser, Content: "Look up a and b"},
					{Role: RoleAssistant, Content: "Looking.", ToolCalls: []ToolCall{
						{ID: "tu_1", Name: "lookup", Arguments: json.RawMessage(`{"k":"a"}`)},
						{ID: "tu_2", Name: "lookup", Arguments: json.RawMessage(`{"k":"b"}`)},
					}},
					{Role: RoleTool, ToolCallID: "tu_1", Content: "A"},
					{Role: RoleTool, ToolCallID: "tu_2", Content: "B"},
				},
			},
			check: func(t *testing.T, got llmtest.Request, body map[string]any, _ *Response) {
				msgs := body["messages"].([]any)
				if len(msgs) != 3 {
					t.Fatalf("%d wire messages, want user, assistant, user: %v", len(msgs), msgs)
				}
				last := msgs[2].(map[string]any)
				blocks := last["content"].([]any)
				if last["role"] != "user" || len(blocks) != 2 || blocks[0].(map[string]any)["type"] != "tool_result" {
					t.Errorf("last turn = %v, want one user turn with two tool_result blocks", last)
				}
				if len(got.Tools) != 1 || !strings.Contains(string(got.Tools[0].Parameters), `"type":"object"`) {
					t.Errorf("tool input_schema = %s, want an object schema", got.Tools[0].Parameters)
				}
			},
		},
		{
			name:  "JSON without a schema is asked for in the system prompt and unfenced",
			req:   Request{JSON: true, Messages: []Message{{Role: RoleUser, Content: "Give JSON"}}},
			reply: llmtest.Reply{Text: "```json\n{\"a\": 1}\n```"},
			check: func(t *testing.T, got llmtest.Request, body map[string]any, res *Response) {
				if !strings.Contains(got.System, "JSON") || body["output_config"] != nil {
					t.Errorf("system = %q, output_config = %v", got.System, body["output_config"])
				}
				if res.Text != `{"a": 1}` {
					t.Errorf("Text = %q, want the fence removed", res.Text)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewAnthropic(t)
			if tc.reply.Text != "" {
				srv.Push(tc.reply)
			}
			p := NewAnthropic(Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}, nil)
			tc.req.Model = "claude-haiku-4-5"
			res, err := p.Complete(context.Background(), &tc.req)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			got := srv.LastRequest()
			tc.check(t, got, wireBody(t, got), res)
		})
	}
}

func TestAnthropicStreamErrorEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		errType string
		want    Kind
	}{
		{"overloaded_error", KindUnavailable},
		{"api_error", KindUnavailable},
		{"rate_limit_error", KindRateLimited},
		{"invalid_request_error", KindBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.errType, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n")
				fmt.Fprintf(w, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":%q,\"message\":\"stream broke\"}}\n\n", tc.errType)
			}))
			defer srv.Close()
			p := NewAnthropic(Credentials{APIKey: "k", BaseURL: srv.URL}, nil)
			_, err := p.Complete(context.Background(), &Request{Model: "claude-haiku-4-5", OnDelta: func(string) {}, Messages: []Message{{Role: RoleUser, Content: "Hi"}}})
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.want || !strings.Contains(e.Message, "stream broke") {
				t.Errorf("err = %v, want %s carrying the event's message", err, tc.want)
			}
		})
	}
}

func TestAnthropicOverloadedIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewAnthropic(t)
	srv.Push(llmtest.Reply{Status: 529, ErrorMessage: "Overloaded"})
	p := NewAnthropic(Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}, nil)
	_, err := p.Complete(context.Background(), &Request{Model: "claude-haiku-4-5", Messages: []Message{{Role: RoleUser, Content: "Hi"}}})
	if KindOf(err) != KindUnavailable || !IsRetryable(err) {
		t.Errorf("err = %v, want retryable unavailable", err)
	}
}

func TestStripCodeFence(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"```json\n{\"a\":1}\n```": `{"a":1}`,
		"```\n{\"a\":1}\n```":     `{"a":1}`,
		"```{\"a\":1}```":         `{"a":1}`,
		`{"a":1}`:                 `{"a":1}`,
		"text ```x```":            "text ```x```",
	}
	for in, want := range tests {
		if got := stripCodeFence(in); got != want {
			t.Errorf("stripCodeFence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnthropicStreamCutBeforeTheEnd(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n")
		fmt.Fprint(w, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
		fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n")
	}))
	defer srv.Close()
	p := NewAnthropic(Credentials{APIKey: "k", BaseURL: srv.URL}, nil)
	var shown string
	_, err := p.Complete(context.Background(), &Request{Model: "claude-haiku-4-5", OnDelta: func(s string) { shown += s }, Messages: []Message{{Role: RoleUser, Content: "Hi"}}})
	if KindOf(err) != KindUnavailable || shown != "Hel" {
		t.Errorf("err = %v after showing %q, want unavailable after \"Hel\"", err, shown)
	}
}
