package llmtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// NewAnthropic starts a fake Anthropic Messages API (POST /v1/messages) that
// lives until the test ends. Point a client at URL().
func NewAnthropic(t testing.TB, opts ...Option) *Server {
	return newServer(t, anthropicDialect{}, opts)
}

type anthropicDialect struct{}

func (anthropicDialect) path() string { return "/v1/messages" }

func (anthropicDialect) checkAuth(h http.Header, key string) (int, string) {
	if key != "" && h.Get("X-Api-Key") != key && h.Get("Authorization") != "Bearer "+key {
		return http.StatusUnauthorized, "invalid x-api-key"
	}
	if h.Get("Anthropic-Version") == "" {
		return http.StatusBadRequest, "anthropic-version: header is required"
	}
	return 0, ""
}

type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
}

type anthropicWireRequest struct {
	Model     string          `json:"model"`
	MaxTokens int64           `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	Stream       bool     `json:"stream"`
	Temperature  *float64 `json:"temperature"`
	OutputConfig struct {
		Format *struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	} `json:"output_config"`
}

// anthropicBlocks reads a content field: a string or an array of blocks.
func anthropicBlocks(raw json.RawMessage) []anthropicBlock {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}
	}
	var blocks []anthropicBlock
	_ = json.Unmarshal(raw, &blocks)
	return blocks
}

func anthropicText(blocks []anthropicBlock) string {
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type == "text" {
			b.WriteString(bl.Text)
		}
	}
	return b.String()
}

func (anthropicDialect) decode(body []byte) (Request, error) {
	var w anthropicWireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return Request{}, err
	}
	req := Request{Model: w.Model, MaxTokens: w.MaxTokens, Stream: w.Stream, Temperature: w.Temperature}
	if len(w.System) > 0 {
		var parts []string
		for _, b := range anthropicBlocks(w.System) {
			if b.Type == "text" {
				parts = append(parts, b.Text)
			}
		}
		req.System = strings.Join(parts, "\n\n")
	}
	if f := w.OutputConfig.Format; f != nil {
		req.JSONMode = true
		req.JSONSchema = f.Schema
	}
	for _, m := range w.Messages {
		blocks := anthropicBlocks(m.Content)
		if m.Role == "assistant" {
			msg := Message{Role: "assistant", Text: anthropicText(blocks)}
			for _, b := range blocks {
				if b.Type == "tool_use" {
					msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
				}
			}
			req.Messages = append(req.Messages, msg)
			continue
		}
		// A user turn: tool results become tool messages, text between them
		// user messages, in order.
		var text strings.Builder
		flush := func() {
			if text.Len() > 0 {
				req.Messages = append(req.Messages, Message{Role: "user", Text: text.String()})
				text.Reset()
			}
		}
		for _, b := range blocks {
			switch b.Type {
			case "text":
				text.WriteString(b.Text)
			case "tool_result":
				flush()
				req.Messages = append(req.Messages, Message{Role: "tool", ToolCallID: b.ToolUseID, Text: anthropicText(anthropicBlocks(b.Content))})
			}
		}
		flush()
	}
	for _, t := range w.Tools {
		req.Tools = append(req.Tools, Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	return req, nil
}

func (anthropicDialect) writeError(w http.ResponseWriter, status int, msg string) {
	errType := "api_error"
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		errType = "invalid_request_error"
	case http.StatusUnauthorized:
		errType = "authentication_error"
	case http.StatusForbidden:
		errType = "permission_error"
	case http.StatusNotFound:
		errType = "not_found_error"
	case http.StatusRequestEntityTooLarge:
		errType = "request_too_large"
	case http.StatusTooManyRequests:
		errType = "rate_limit_error"
	case 529:
		errType = "overloaded_error"
	}
	w.Header().Set("request-id", "req_llmtest")
	writeJSONBody(w, status, map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": errType, "message": msg},
		"request_id": "req_llmtest",
	})
}

func anthropicStop(r Reply) string {
	switch {
	case r.StopReason != "":
		return r.StopReason
	case len(r.ToolCalls) > 0:
		return "tool_use"
	default:
		return "end_turn"
	}
}

// anthropicUsage reports input_tokens without the cache reads, as Anthropic
// does.
func anthropicUsage(r Reply, outputTokens int64) map[string]any {
	return map[string]any{
		"input_tokens":                r.InputTokens - r.CachedInputTokens,
		"cache_creation_input_tokens": 0,
		"cache_read_input_tokens":     r.CachedInputTokens,
		"output_tokens":               outputTokens,
	}
}

func (anthropicDialect) writeJSON(w http.ResponseWriter, _ Request, r Reply, id string) {
	content := []map[string]any{}
	if r.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": r.Text})
	}
	for _, tc := range r.ToolCalls {
		content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": rawOrEmpty(tc.Arguments)})
	}
	writeJSONBody(w, http.StatusOK, map[string]any{
		"id":            "msg_llmtest_" + id,
		"type":          "message",
		"role":          "assistant",
		"model":         r.Model,
		"content":       content,
		"stop_reason":   anthropicStop(r),
		"stop_sequence": nil,
		"usage":         anthropicUsage(r, r.OutputTokens),
	})
}

func (anthropicDialect) writeStream(w http.ResponseWriter, _ Request, r Reply, id string) {
	s := startSSE(w)
	s.send("message_start", map[string]any{
		"type": "message_start",
		"message": map[string]any{
			"id": "msg_llmtest_" + id, "type": "message", "role": "assistant", "model": r.Model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
			"usage": anthropicUsage(r, 1),
		},
	})
	s.send("ping", map[string]any{"type": "ping"})
	index := 0
	if r.Text != "" {
		s.send("content_block_start", map[string]any{
			"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "text", "text": ""},
		})
		for _, piece := range chunks(r.Text, r.ChunkChars) {
			s.send("content_block_delta", map[string]any{
				"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "text_delta", "text": piece},
			})
		}
		s.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	for _, tc := range r.ToolCalls {
		s.send("content_block_start", map[string]any{
			"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": map[string]any{}},
		})
		for _, piece := range chunks(string(rawOrEmpty(tc.Arguments)), r.ChunkChars) {
			s.send("content_block_delta", map[string]any{
				"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": piece},
			})
		}
		s.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	s.send("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": anthropicStop(r), "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": r.OutputTokens},
	})
	s.send("message_stop", map[string]any{"type": "message_stop"})
}
