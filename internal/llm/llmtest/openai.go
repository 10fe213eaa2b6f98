package llmtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// NewOpenAI starts a fake OpenAI Chat Completions API (POST
// /v1/chat/completions) that lives until the test ends. Point a client at
// URL(), which ends in /v1.
func NewOpenAI(t testing.TB, opts ...Option) *Server {
	return newServer(t, openAIDialect{}, opts)
}

type openAIDialect struct{}

func (openAIDialect) path() string { return "/v1/chat/completions" }

func (openAIDialect) checkAuth(h http.Header, key string) (int, string) {
	if key == "" || h.Get("Authorization") == "Bearer "+key {
		return 0, ""
	}
	return http.StatusUnauthorized, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
}

type openAIWireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []struct {
			ID       string `json:"id"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	Stream        bool `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int64   `json:"max_tokens"`
	MaxCompletionTokens *int64   `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

func (openAIDialect) decode(body []byte) (Request, error) {
	var w openAIWireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return Request{}, err
	}
	req := Request{
		Model:        w.Model,
		Stream:       w.Stream,
		IncludeUsage: w.StreamOptions.IncludeUsage,
		Temperature:  w.Temperature,
	}
	if w.MaxCompletionTokens != nil {
		req.MaxTokens = *w.MaxCompletionTokens
	} else if w.MaxTokens != nil {
		req.MaxTokens = *w.MaxTokens
	}
	if rf := w.ResponseFormat; rf != nil && (rf.Type == "json_object" || rf.Type == "json_schema") {
		req.JSONMode = true
		req.JSONSchema = rf.JSONSchema.Schema
	}
	var system []string
	for _, m := range w.Messages {
		text := openAIContentText(m.Content)
		if m.Role == "system" || m.Role == "developer" {
			system = append(system, text)
			continue
		}
		msg := Message{Role: m.Role, Text: text, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		req.Messages = append(req.Messages, msg)
	}
	req.System = strings.Join(system, "\n\n")
	for _, t := range w.Tools {
		req.Tools = append(req.Tools, Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	return req, nil
}

// openAIContentText reads a content field: a string or an array of parts.
func openAIContentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func (openAIDialect) writeError(w http.ResponseWriter, status int, msg string) {
	errType, code := "invalid_request_error", any(nil)
	switch {
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case status == http.StatusTooManyRequests:
		errType, code = "requests", "rate_limit_exceeded"
	case status >= 500:
		errType = "server_error"
	}
	writeJSONBody(w, status, map[string]any{
		"error": map[string]any{"message": msg, "type": errType, "param": nil, "code": code},
	})
}

func openAIUsage(r Reply) map[string]any {
	return map[string]any{
		"prompt_tokens":     r.InputTokens,
		"completion_tokens": r.OutputTokens,
		"total_tokens":      r.InputTokens + r.OutputTokens,
		"prompt_tokens_details": map[string]any{
			"cached_tokens": r.CachedInputTokens,
			"audio_tokens":  0,
		},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0},
	}
}

func openAIFinish(r Reply) string {
	switch {
	case r.StopReason != "":
		return r.StopReason
	case len(r.ToolCalls) > 0:
		return "tool_calls"
	default:
		return "stop"
	}
}

func (openAIDialect) writeJSON(w http.ResponseWriter, _ Request, r Reply, id string) {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if r.Text != "" || len(r.ToolCalls) == 0 {
		msg["content"] = r.Text
	}
	if len(r.ToolCalls) > 0 {
		calls := []map[string]any{}
		for _, tc := range r.ToolCalls {
			calls = append(calls, map[string]any{
				"id":       tc.ID,
				"type":     "function",
				"function": map[string]any{"name": tc.Name, "arguments": string(rawOrEmpty(tc.Arguments))},
			})
		}
		msg["tool_calls"] = calls
	}
	writeJSONBody(w, http.StatusOK, map[string]any{
		"id":                 "chatcmpl-llmtest-" + id,
		"object":             "chat.completion",
		"created":            1700000000,
		"model":              r.Model,
		"system_fingerprint": "fp_llmtest",
		"choices": []map[string]any{{
			"index":         0,
			"message":       msg,
			"logprobs":      nil,
			"finish_reason": openAIFinish(r),
		}},
		"usage": openAIUsage(r),
	})
}

func (openAIDialect) writeStream(w http.ResponseWriter, req Request, r Reply, id string) {
	s := startSSE(w)
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id":                 "chatcmpl-llmtest-" + id,
			"object":             "chat.completion.chunk",
			"created":            1700000000,
			"model":              r.Model,
			"system_fingerprint": "fp_llmtest",
			"choices":            []map[string]any{{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if req.IncludeUsage {
			c["usage"] = nil
		}
		return c
	}
	s.send("", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
	for _, piece := range chunks(r.Text, r.ChunkChars) {
		s.send("", chunk(map[string]any{"content": piece}, nil))
	}
	for i, tc := range r.ToolCalls {
		s.send("", chunk(map[string]any{"tool_calls": []map[string]any{{
			"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": ""},
		}}}, nil))
		for _, piece := range chunks(string(rawOrEmpty(tc.Arguments)), r.ChunkChars) {
			s.send("", chunk(map[string]any{"tool_calls": []map[string]any{{
				"index": i, "function": map[string]any{"arguments": piece},
			}}}, nil))
		}
	}
	s.send("", chunk(map[string]any{}, openAIFinish(r)))
	if req.IncludeUsage {
		s.send("", map[string]any{
			"id":                 "chatcmpl-llmtest-" + id,
			"object":             "chat.completion.chunk",
			"created":            1700000000,
			"model":              r.Model,
			"system_fingerprint": "fp_llmtest",
			"choices":            []any{},
			"usage":              openAIUsage(r),
		})
	}
	s.send("", "[DONE]")
}
