// Package llm is the provider layer for language models: one Provider
// interface with implementations for OpenAI-compatible Chat Completions
// (OpenAI, Ollama, vLLM…), the Anthropic Messages API and a deterministic,
// offline mock; a Registry that resolves "provider:model" strings and caches
// clients per credential; a Resilient wrapper that retries and trips a circuit
// breaker per provider and organization; and a price table that turns Usage
// into a cost in USD.
//
// Every error a Provider returns is an *Error whose Kind says what the caller
// can do about it (see KindOf and IsRetryable). API keys never appear in
// error messages.
package llm

import (
	"context"
	"encoding/json"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Role is the author of a Message.
type Role string

// Message roles.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool carries the result of one tool call; ToolCallID names the call.
	RoleTool Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant turn asked for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a RoleTool message to the ToolCall it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Parameters is the JSON Schema of the call's arguments (an object
	// schema). Empty means the tool takes no arguments.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is one call of a Tool requested by the model.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments is a JSON object; providers guarantee it is valid JSON.
	Arguments json.RawMessage `json:"arguments"`
}

// Request is one model call.
type Request struct {
	// Model is the provider's model name: the part after "provider:".
	Model string
	// System is the system prompt. Providers place it where their API wants
	// it (a leading system message on OpenAI, the top-level system field on
	// Anthropic).
	System   string
	Messages []Message
	Tools    []Tool
	// Temperature is sent when non-nil. The Anthropic API has retired the
	// parameter, so the Anthropic provider ignores it.
	Temperature *float64
	// MaxTokens bounds the output; 0 means the provider's default (Anthropic
	// requires one, so its provider sends 4096).
	MaxTokens int
	// JSON asks for a single JSON object as the answer. JSONSchema, when set,
	// is the JSON Schema that object must match (structured outputs).
	JSON       bool
	JSONSchema json.RawMessage
	// OnDelta, when non-nil, makes the provider stream and call it with each
	// chunk of text as it arrives, in order, from the calling goroutine. The
	// chunks concatenate to Response.Text.
	OnDelta func(string)
	// IdempotencyKey is sent as the Idempotency-Key header so that a retried
	// call is not billed twice by providers that honour it.
	IdempotencyKey string
	// Attempt is the 1-based attempt number of the step making this call; the
	// mock provider uses it for MockOptions.FailFirst. 0 counts as 1.
	Attempt int
	// Mock scripts the mock provider; real providers ignore it.
	Mock *domain.MockOptions
}

// Usage counts the tokens of one call. Providers normalise it:
// InputTokens counts every prompt token, cached ones included, and
// CachedInputTokens is the part of InputTokens served from the provider's
// prompt cache (billed at the cached rate, see Cost).
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:       u.InputTokens + v.InputTokens,
		OutputTokens:      u.OutputTokens + v.OutputTokens,
		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
	}
}

// Response is the model's answer to one Request.
type Response struct {
	Text      string
	ToolCalls []ToolCall
	Usage     Usage
	// Model is the model that answered, as the provider names it (often a
	// dated version of Request.Model).
	Model string
	// StopReason is the provider's reason for stopping, e.g. "stop",
	// "tool_calls", "end_turn", "tool_use", "length", "max_tokens".
	StopReason string
}

// Provider is a language-model API.
type Provider interface {
	// Name is the provider part of "provider:model", e.g. "openai".
	Name() string
	// Complete runs one model call. It returns an *Error on failure, and
	// returns promptly when ctx is done (with KindTimeout, wrapping
	// ctx.Err()).
	Complete(ctx context.Context, req *Request) (*Response, error)
}
