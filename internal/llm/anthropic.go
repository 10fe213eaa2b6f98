package llm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
)

// AnthropicBaseURL is the default base URL of the Anthropic provider.
const AnthropicBaseURL = "https://api.anthropic.com/"

// anthropicDefaultMaxTokens is sent when the request sets none: the
// Messages API requires max_tokens.
const anthropicDefaultMaxTokens = 4096

// Anthropic is a Provider for the Anthropic Messages API.
//
// Usage: Anthropic reports input_tokens WITHOUT the prompt-cache tokens and
// counts cache_read_input_tokens and cache_creation_input_tokens apart. The
// provider adds all three into Usage.InputTokens and reports the cache reads
// as Usage.CachedInputTokens. Cache writes are billed by Anthropic at 1.25×
// the input rate; Cost charges them at the input rate.
type Anthropic struct {
	client anthropic.Client
	apiKey string
}

// NewAnthropic returns the Anthropic provider. An empty creds.BaseURL means
// AnthropicBaseURL. The key is sent as x-api-key, the header the Messages API
// documents for API keys. httpClient may be nil. Nothing is read from the
// environment, and the SDK's own retries are off: Resilient retries.
func NewAnthropic(creds Credentials, httpClient *http.Client) *Anthropic {
	baseURL := creds.BaseURL
	if baseURL == "" {
		baseURL = AnthropicBaseURL
	}
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(baseURL),
		option.WithMaxRetries(0),
	}
	if creds.APIKey != "" {
		opts = append(opts, option.WithHeader("x-api-key", creds.APIKey))
	}
	if httpClient != nil {
		opts = append(opts, option.WithHTTPClient(httpClient))
	}
	return &Anthropic{client: anthropic.NewClient(opts...), apiKey: creds.APIKey}
}

// Name implements Provider.
func (p *Anthropic) Name() string { return "anthropic" }

// Complete implements Provider. Calls whose max_tokens is too large for a
// non-streaming request are streamed even without OnDelta.
func (p *Anthropic) Complete(ctx context.Context, req *Request) (*Response, error) {
	params, err := p.params(req)
	if err != nil {
		return nil, err
	}
	var httpRes *http.Response
	opts := []option.RequestOption{option.WithMiddleware(captureResponse(&httpRes))}
	if req.IdempotencyKey != "" {
		opts = append(opts, option.WithHeader("Idempotency-Key", req.IdempotencyKey))
	}
	_, tooLong := anthropic.CalculateNonStreamingTimeout(int(params.MaxTokens), params.Model, nil)
	if req.OnDelta != nil || tooLong != nil {
		stream := p.client.Messages.NewStreaming(ctx, params, opts...)
		defer stream.Close()
		msg, err := p.readStream(stream, req.OnDelta)
		if err != nil {
			return nil, p.fail(ctx, err, httpRes)
		}
		return p.response(msg, req)
	}
	msg, err := p.client.Messages.New(ctx, params, opts...)
	if err != nil {
		return nil, p.fail(ctx, err, httpRes)
	}
	return p.response(msg, req)
}

func (p *Anthropic) params(req *Request) (anthropic.MessageNewParams, error) {
	var params anthropic.MessageNewParams
	if req.Model == "" {
		return params, errorf(p.Name(), KindBadRequest, "no model given")
	}
	params.Model = req.Model
	params.MaxTokens = anthropicDefaultMaxTokens
	if req.MaxTokens > 0 {
		params.MaxTokens = int64(req.MaxTokens)
	}

	system := []string{}
	if req.System != "" {
		system = append(system, req.System)
	}
	// The Messages API wants user and assistant turns alternating, so
	// consecutive turns of one side (several tool results, a tool result
	// and a user note) are merged into one message.
	for i, m := range req.Messages {
		var role string
		var blocks []anthropic.ContentBlockParamUnion
		switch m.Role {
		case RoleSystem:
			system = append(system, m.Content)
			continue
		case RoleUser:
			role = "user"
			blocks = append(blocks, anthropic.NewTextBlock(m.Content))
		case RoleTool:
			role = "user"
			blocks = append(blocks, anthropic.NewToolResultBlock(m.ToolCallID, m.Content, false))
		case RoleAssistant:
			role = "assistant"
			if m.Content != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, json.RawMessage(argumentsOrEmpty(tc.Arguments)), tc.Name))
			}
		default:
			return params, errorf(p.Name(), KindBadRequest, "message %d: unknown role %q", i, m.Role)
		}
		if n := len(params.Messages); n > 0 && messageRole(params.Messages[n-1]) == role {
			last := &params.Messages[n-1]
			if role == "user" {
				last.OfUser.Content = append(last.OfUser.Content, blocks...)
			} else {
				last.OfAssistant.Content = append(last.OfAssistant.Content, blocks...)
			}
			continue
		}
		if role == "user" {
			params.Messages = append(params.Messages, anthropic.NewUserMessage(blocks...))
		} else {
			params.Messages = append(params.Messages, anthropic.NewAssistantMessage(blocks...))
		}
	}

	for _, t := range req.Tools {
		schema, err := objectSchema(t.Parameters)
		if err != nil {
			return params, errorf(p.Name(), KindBadRequest, "tool %q: %v", t.Name, err)
		}
		input := anthropic.ToolInputSchemaParam{ExtraFields: map[string]any{}}
		for k, v := range schema {
			switch k {
			case "type":
				// always "object"
			case "properties":
				input.Properties = v
			case "required":
				input.Required = stringList(v)
			default:
				input.ExtraFields[k] = v
			}
		}
		tool := anthropic.ToolParam{Name: t.Name, InputSchema: input}
		if t.Description != "" {
			tool.Description = anthropic.String(t.Description)
		}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tool})
	}

	if len(req.JSONSchema) > 0 {
		schema, err := objectSchema(req.JSONSchema)
		if err != nil {
			return params, errorf(p.Name(), KindBadRequest, "output schema: %v", err)
		}
		params.OutputConfig.Format = anthropic.JSONOutputFormatParam{Schema: schema}
	} else if req.JSON {
		// The Messages API has no schema-less JSON mode: ask for it.
		system = append(system, "Answer with a single JSON object and nothing else.")
	}
	for _, s := range system {
		params.System = append(params.System, anthropic.TextBlockParam{Text: s})
	}
	return params, nil
}

func messageRole(m anthropic.MessageParam) string {
	switch {
	case m.OfUser != nil:
		return "user"
	case m.OfAssistant != nil:
		return "assistant"
	default:
		return ""
	}
}

func stringList(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *Anthropic) readStream(stream *ssestream.Stream[anthropic.MessageStreamEventUnion], onDelta func(string)) (*anthropic.Message, error) {
	msg := &anthropic.Message{}
	for stream.Next() {
		event := stream.Current()
		if err := msg.Accumulate(event); err != nil {
			return nil, errorf(p.Name(), KindInvalidResponse, "stream: %v", err)
		}
		if onDelta != nil && event.Type == "content_block_delta" && event.Delta.Type == "text_delta" && event.Delta.Text != "" {
			onDelta(event.Delta.Text)
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if msg.StopReason == "" {
		// Every complete stream sets stop_reason in its message_delta.
		return nil, errorf(p.Name(), KindUnavailable, "stream ended before the answer was complete")
	}
	return msg, nil
}

func (p *Anthropic) response(msg *anthropic.Message, req *Request) (*Response, error) {
	u := msg.Usage
	res := &Response{
		Model:      msg.Model,
		StopReason: string(msg.StopReason),
		Usage: Usage{
			InputTokens:       u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens,
			OutputTokens:      u.OutputTokens,
			CachedInputTokens: u.CacheReadInputTokens,
		},
	}
	var text strings.Builder
	for _, block := range msg.Content {
		switch block.Type {
		case "text":
			text.WriteString(block.Text)
		case "tool_use":
			args := json.RawMessage(argumentsOrEmpty(block.Input))
			if !json.Valid(args) {
				return nil, errorf(p.Name(), KindInvalidResponse, "tool call %q (%s): input is not valid JSON", block.ID, block.Name)
			}
			res.ToolCalls = append(res.ToolCalls, ToolCall{ID: block.ID, Name: block.Name, Arguments: args})
		}
	}
	res.Text = text.String()
	if req.JSON && len(req.JSONSchema) == 0 && req.OnDelta == nil {
		res.Text = stripCodeFence(res.Text)
	}
	return res, nil
}

// stripCodeFence removes a Markdown code fence around a JSON answer, which
// models add despite being asked not to.
func stripCodeFence(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "```") || !strings.HasSuffix(t, "```") || len(t) < 6 {
		return s
	}
	t = strings.TrimSuffix(strings.TrimPrefix(t, "```"), "```")
	if nl := strings.IndexByte(t, '\n'); nl >= 0 && !strings.ContainsAny(t[:nl], "{[") {
		t = t[nl+1:] // the fence's language tag, e.g. "json"
	}
	return strings.TrimSpace(t)
}

// fail converts an SDK error into an *Error; see OpenAI.fail.
func (p *Anthropic) fail(ctx context.Context, err error, httpRes *http.Response) error {
	var e *Error
	var apiErr *anthropic.Error
	switch {
	case ctx.Err() != nil:
		e = transportError(ctx, p.Name(), err)
	case errors.As(err, &apiErr):
		var header http.Header
		if apiErr.Response != nil {
			header = apiErr.Response.Header
		}
		status := apiErr.StatusCode
		if status < 400 {
			// An error event inside a 200 stream: classify by its type.
			status = statusOfAnthropicErrorType(string(apiErr.Type()))
		}
		e = statusError(p.Name(), status, header, apiErr.Message, err)
		if apiErr.StatusCode < 400 {
			e.Status = 0
		}
	case httpRes != nil && httpRes.StatusCode >= 400:
		e = statusError(p.Name(), httpRes.StatusCode, httpRes.Header, "", err)
	default:
		e = transportError(ctx, p.Name(), err)
	}
	e.Message = redact(e.Message, p.apiKey)
	return e
}

// statusOfAnthropicErrorType maps the error types of Anthropic's error events
// to the HTTP status the same error has outside a stream.
func statusOfAnthropicErrorType(t string) int {
	switch t {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "permission_error", "billing_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	default:
		return http.StatusInternalServerError
	}
}
