package llm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAIBaseURL is the default base URL of the OpenAI provider.
const OpenAIBaseURL = "https://api.openai.com/v1/"

// OpenAI is a Provider for the OpenAI Chat Completions API and every server
// that speaks it (Ollama, vLLM, LiteLLM…). It streams with
// stream_options.include_usage so streamed calls report usage too.
//
// Usage: OpenAI reports prompt_tokens including the cached part and
// prompt_tokens_details.cached_tokens as that part, which is exactly Usage's
// convention.
type OpenAI struct {
	name   string
	client openai.Client
	apiKey string // only to redact it from provider messages
	// compatible servers get max_tokens; OpenAI itself wants
	// max_completion_tokens (its reasoning models refuse max_tokens).
	compatible bool
}

// NewOpenAI returns an OpenAI-compatible provider called name ("openai", or
// the configured name of a compatible server such as "ollama"). An empty
// creds.BaseURL means OpenAIBaseURL; an empty APIKey sends no Authorization
// header (local servers need none). httpClient may be nil. The SDK's own
// retries are off: Resilient retries.
func NewOpenAI(name string, creds Credentials, httpClient *http.Client) *OpenAI {
	baseURL := creds.BaseURL
	if baseURL == "" {
		baseURL = OpenAIBaseURL
	}
	opts := []option.RequestOption{
		option.WithBaseURL(baseURL),
		option.WithAPIKey(creds.APIKey),
		option.WithMaxRetries(0),
		// Tenants' calls must not pick up the operator's ambient OpenAI
		// organization or project (OPENAI_ORG_ID, OPENAI_PROJECT_ID).
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
	if httpClient != nil {
		opts = append(opts, option.WithHTTPClient(httpClient))
	}
	return &OpenAI{
		name:       name,
		client:     openai.NewClient(opts...),
		apiKey:     creds.APIKey,
		compatible: name != "openai",
	}
}

// Name implements Provider.
func (p *OpenAI) Name() string { return p.name }

// Complete implements Provider.
func (p *OpenAI) Complete(ctx context.Context, req *Request) (*Response, error) {
	params, err := p.params(req)
	if err != nil {
		return nil, err
	}
	var httpRes *http.Response
	opts := []option.RequestOption{option.WithMiddleware(captureResponse(&httpRes))}
	if req.IdempotencyKey != "" {
		opts = append(opts, option.WithHeader("Idempotency-Key", req.IdempotencyKey))
	}
	if req.OnDelta != nil {
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := p.client.Chat.Completions.NewStreaming(ctx, params, opts...)
		defer stream.Close()
		res, err := p.readStream(stream, req.OnDelta)
		if err != nil {
			return nil, p.fail(ctx, err, httpRes)
		}
		return res, nil
	}
	completion, err := p.client.Chat.Completions.New(ctx, params, opts...)
	if err != nil {
		return nil, p.fail(ctx, err, httpRes)
	}
	return p.response(completion)
}

func (p *OpenAI) params(req *Request) (openai.ChatCompletionNewParams, error) {
	var params openai.ChatCompletionNewParams
	if req.Model == "" {
		return params, errorf(p.name, KindBadRequest, "no model given")
	}
	params.Model = shared.ChatModel(req.Model)
	if req.System != "" {
		params.Messages = append(params.Messages, openai.SystemMessage(req.System))
	}
	for i, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case RoleUser:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		case RoleAssistant:
			var a openai.ChatCompletionAssistantMessageParam
			if m.Content != "" {
				a.Content.OfString = openai.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name:      tc.Name,
							Arguments: argumentsOrEmpty(tc.Arguments),
						},
					},
				})
			}
			params.Messages = append(params.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case RoleTool:
			params.Messages = append(params.Messages, openai.ToolMessage(m.Content, m.ToolCallID))
		default:
			return params, errorf(p.name, KindBadRequest, "message %d: unknown role %q", i, m.Role)
		}
	}
	for _, t := range req.Tools {
		schema, err := objectSchema(t.Parameters)
		if err != nil {
			return params, errorf(p.name, KindBadRequest, "tool %q: %v", t.Name, err)
		}
		def := shared.FunctionDefinitionParam{Name: t.Name, Parameters: schema}
		if t.Description != "" {
			def.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(def))
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	if req.MaxTokens > 0 {
		if p.compatible {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		} else {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	if req.JSON || len(req.JSONSchema) > 0 {
		if len(req.JSONSchema) > 0 {
			schema, err := objectSchema(req.JSONSchema)
			if err != nil {
				return params, errorf(p.name, KindBadRequest, "output schema: %v", err)
			}
			params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "output", Schema: schema},
			}
		} else {
			params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
		}
	}
	return params, nil
}

func (p *OpenAI) response(c *openai.ChatCompletion) (*Response, error) {
	if len(c.Choices) == 0 {
		return nil, errorf(p.name, KindInvalidResponse, "response has no choices")
	}
	choice := c.Choices[0]
	res := &Response{
		Text:       choice.Message.Content,
		Model:      c.Model,
		StopReason: choice.FinishReason,
		Usage: Usage{
			InputTokens:       c.Usage.PromptTokens,
			OutputTokens:      c.Usage.CompletionTokens,
			CachedInputTokens: c.Usage.PromptTokensDetails.CachedTokens,
		},
	}
	for _, tc := range choice.Message.ToolCalls {
		if tc.Type != "function" {
			continue // custom tools are never offered, so never called
		}
		call, err := p.toolCall(tc.ID, tc.Function.Name, tc.Function.Arguments)
		if err != nil {
			return nil, err
		}
		res.ToolCalls = append(res.ToolCalls, call)
	}
	return res, nil
}

// streamedCall assembles one tool call from its streamed fragments.
type streamedCall struct {
	id, name string
	args     strings.Builder
}

func (p *OpenAI) readStream(stream *ssestream.Stream[openai.ChatCompletionChunk], onDelta func(string)) (*Response, error) {
	res := &Response{}
	var text strings.Builder
	// Fragments of one call share its index. Some compatible servers send
	// every call whole at index 0, so a new id at a known index starts a
	// new call too.
	var calls []*streamedCall
	current := map[int64]*streamedCall{}
	for stream.Next() {
		chunk := stream.Current()
		if chunk.Model != "" {
			res.Model = chunk.Model
		}
		// With include_usage the last chunk carries the usage and no choices.
		if chunk.Usage.PromptTokens != 0 || chunk.Usage.CompletionTokens != 0 {
			res.Usage = Usage{
				InputTokens:       chunk.Usage.PromptTokens,
				OutputTokens:      chunk.Usage.CompletionTokens,
				CachedInputTokens: chunk.Usage.PromptTokensDetails.CachedTokens,
			}
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue
			}
			if d := choice.Delta.Content; d != "" {
				text.WriteString(d)
				onDelta(d)
			}
			for _, tc := range choice.Delta.ToolCalls {
				c := current[tc.Index]
				if c == nil || (tc.ID != "" && c.id != "" && tc.ID != c.id) {
					c = &streamedCall{}
					current[tc.Index] = c
					calls = append(calls, c)
				}
				if tc.ID != "" {
					c.id = tc.ID
				}
				if tc.Function.Name != "" {
					c.name = tc.Function.Name
				}
				c.args.WriteString(tc.Function.Arguments)
			}
			if choice.FinishReason != "" {
				res.StopReason = choice.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if res.StopReason == "" {
		// Every complete stream ends its choice with a finish_reason.
		return nil, errorf(p.name, KindUnavailable, "stream ended before the answer was complete")
	}
	res.Text = text.String()
	for _, c := range calls {
		call, err := p.toolCall(c.id, c.name, c.args.String())
		if err != nil {
			return nil, err
		}
		res.ToolCalls = append(res.ToolCalls, call)
	}
	return res, nil
}

func (p *OpenAI) toolCall(id, name, args string) (ToolCall, error) {
	if name == "" {
		return ToolCall{}, errorf(p.name, KindInvalidResponse, "tool call %q has no name", id)
	}
	raw := json.RawMessage(argumentsOrEmpty(json.RawMessage(args)))
	if !json.Valid(raw) {
		return ToolCall{}, errorf(p.name, KindInvalidResponse, "tool call %q (%s): arguments are not valid JSON", id, name)
	}
	return ToolCall{ID: id, Name: name, Arguments: raw}, nil
}

// fail converts an SDK error into an *Error. httpRes is the last HTTP
// response seen, which classifies failures whose body was not the usual
// JSON error (a proxy's HTML 502, say).
func (p *OpenAI) fail(ctx context.Context, err error, httpRes *http.Response) error {
	var e *Error
	var apiErr *openai.Error
	var streamErr *ssestream.StreamError
	switch {
	case ctx.Err() != nil:
		e = transportError(ctx, p.name, err)
	case errors.As(err, &apiErr):
		var header http.Header
		if apiErr.Response != nil {
			header = apiErr.Response.Header
		}
		e = statusError(p.name, apiErr.StatusCode, header, apiErr.Message, err)
	case errors.As(err, &streamErr):
		// An error event inside a 200 stream: {"error": {"type": …, "message": …}}.
		e = streamEventError(p.name, streamErr.Event.Data, err)
	case httpRes != nil && httpRes.StatusCode >= 400:
		e = statusError(p.name, httpRes.StatusCode, httpRes.Header, "", err)
	default:
		e = transportError(ctx, p.name, err)
	}
	e.Message = redact(e.Message, p.apiKey)
	return e
}

// streamEventError classifies an OpenAI error event received mid-stream.
func streamEventError(provider string, data []byte, cause error) *Error {
	var body struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &body)
	kind := KindUnavailable
	label := strings.ToLower(body.Error.Type + " " + stringOf(body.Error.Code))
	switch {
	case strings.Contains(label, "rate_limit"):
		kind = KindRateLimited
	case strings.Contains(label, "auth") || strings.Contains(label, "api_key"):
		kind = KindAuthFailed
	case strings.Contains(label, "invalid_request"):
		kind = KindBadRequest
	}
	msg := body.Error.Message
	if msg == "" {
		msg = "error event in stream"
	}
	return &Error{Kind: kind, Provider: provider, Message: msg, Err: cause}
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// captureResponse is an SDK middleware that remembers the last HTTP response.
func captureResponse(dst **http.Response) func(*http.Request, func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return func(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		res, err := next(r)
		if res != nil {
			*dst = res
		}
		return res, err
	}
}

// objectSchema decodes a JSON Schema; an empty one is the schema of an empty
// object.
func objectSchema(raw json.RawMessage) (map[string]any, error) {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return map[string]any{"type": "object", "properties": map[string]any{}}, nil
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, errors.New("schema is not a JSON object")
	}
	return schema, nil
}

// argumentsOrEmpty returns args as a string, "{}" when empty.
func argumentsOrEmpty(args json.RawMessage) string {
	if s := strings.TrimSpace(string(args)); s != "" {
		return s
	}
	return "{}"
}
