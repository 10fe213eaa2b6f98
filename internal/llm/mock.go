package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// mockDefaultChunkChars is the stream chunk size when the script sets none.
const mockDefaultChunkChars = 16

// mockRateLimitRetryAfter is the RetryAfter of a scripted rate_limited failure.
const mockRateLimitRetryAfter = time.Second

// Mock is the built-in offline provider. It is deterministic: the same
// Request always gets the same Response. Every model name behaves the same
// ("echo" by convention): unless scripted by Request.Mock, it answers with
// the text of the last user message, or, in JSON mode, with
// {"prompt": <that text>}.
//
// The script (domain.MockOptions) is applied as follows; call n is the
// number of assistant messages already in Request.Messages (0 for the first
// call of a step, 1 after one tool round, …):
//   - FailFirst: attempts 1..FailFirst (Request.Attempt) fail with FailWith
//     (default unavailable), before any latency. A scripted rate_limited
//     failure carries a RetryAfter of one second.
//   - LatencyMS: waits that long before answering; a ctx that ends first
//     ends the call with KindTimeout.
//   - ToolCalls: call 0 answers with these tool calls (ids "call_1", …).
//   - Responses: call n answers Responses[n] (the last one once they run
//     out); otherwise Response; otherwise the echo. A call that makes tool
//     calls carries no text unless Responses scripts one.
//   - InputTokens/OutputTokens: the reported usage; by default the number of
//     whitespace-separated words of the prompt (system and messages) and of
//     the answer (text and tool-call arguments).
//   - StreamChunkChars: with OnDelta set, the text is delivered in chunks of
//     this many characters (default 16).
type Mock struct{}

// NewMock returns the mock provider.
func NewMock() *Mock { return &Mock{} }

// Name implements Provider.
func (*Mock) Name() string { return "mock" }

// Complete implements Provider.
func (m *Mock) Complete(ctx context.Context, req *Request) (*Response, error) {
	script := req.Mock
	if script == nil {
		script = &domain.MockOptions{}
	}
	attempt := max(req.Attempt, 1)
	if attempt <= script.FailFirst {
		return nil, mockFailure(script.FailWith, attempt)
	}
	if script.LatencyMS > 0 {
		if err := sleepCtx(ctx, time.Duration(script.LatencyMS)*time.Millisecond); err != nil {
			return nil, transportError(ctx, m.Name(), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, transportError(ctx, m.Name(), err)
	}

	call := 0
	for _, msg := range req.Messages {
		if msg.Role == RoleAssistant {
			call++
		}
	}
	res := &Response{Model: req.Model, StopReason: "stop"}
	switch {
	case len(script.Responses) > 0:
		res.Text = script.Responses[min(call, len(script.Responses)-1)]
	case call == 0 && len(script.ToolCalls) > 0:
		// tool calls without scripted text
	case script.Response != "":
		res.Text = script.Response
	case req.JSON || len(req.JSONSchema) > 0:
		b, err := json.Marshal(map[string]string{"prompt": lastUserMessage(req.Messages)})
		if err != nil {
			return nil, errorf(m.Name(), KindInvalidResponse, "encode echo: %v", err)
		}
		res.Text = string(b)
	default:
		res.Text = lastUserMessage(req.Messages)
	}
	if call == 0 {
		for i, tc := range script.ToolCalls {
			args := json.RawMessage(argumentsOrEmpty(tc.Arguments))
			if !json.Valid(args) {
				return nil, errorf(m.Name(), KindBadRequest, "mock tool call %d (%s): arguments are not valid JSON", i+1, tc.Name)
			}
			res.ToolCalls = append(res.ToolCalls, ToolCall{ID: fmt.Sprintf("call_%d", i+1), Name: tc.Name, Arguments: args})
		}
		if len(res.ToolCalls) > 0 {
			res.StopReason = "tool_calls"
		}
	}

	res.Usage = Usage{InputTokens: script.InputTokens, OutputTokens: script.OutputTokens}
	if res.Usage.InputTokens == 0 {
		res.Usage.InputTokens = promptWords(req)
	}
	if res.Usage.OutputTokens == 0 {
		res.Usage.OutputTokens = int64(len(strings.Fields(res.Text)))
		for _, tc := range res.ToolCalls {
			res.Usage.OutputTokens += int64(len(strings.Fields(string(tc.Arguments))))
		}
	}

	if req.OnDelta != nil {
		chunk := script.StreamChunkChars
		if chunk <= 0 {
			chunk = mockDefaultChunkChars
		}
		runes := []rune(res.Text)
		for i := 0; i < len(runes); i += chunk {
			if err := ctx.Err(); err != nil {
				return nil, transportError(ctx, m.Name(), err)
			}
			req.OnDelta(string(runes[i:min(i+chunk, len(runes))]))
		}
	}
	return res, nil
}

func mockFailure(kind string, attempt int) *Error {
	k := Kind(kind)
	switch k {
	case "":
		k = KindUnavailable
	case KindRateLimited, KindAuthFailed, KindBadRequest, KindUnavailable, KindTimeout, KindInvalidResponse:
	default:
		return errorf("mock", KindBadRequest, "mock fail_with %q is not an error kind", kind)
	}
	e := errorf("mock", k, "scripted failure of attempt %d", attempt)
	if k == KindRateLimited {
		e.RetryAfter = mockRateLimitRetryAfter
	}
	return e
}

func lastUserMessage(msgs []Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == RoleUser {
			return msgs[i].Content
		}
	}
	return ""
}

func promptWords(req *Request) int64 {
	n := len(strings.Fields(req.System))
	for _, m := range req.Messages {
		n += len(strings.Fields(m.Content))
	}
	return int64(n)
}

// sleepCtx waits d or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
