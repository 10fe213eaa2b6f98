package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// maxProblemsShown bounds the schema problems quoted in messages.
const maxProblemsShown = 5

// runLLM renders the prompts, calls the model, runs the tools it asks for
// (up to max_tool_rounds rounds), and for output_format json parses and
// checks the answer, with one repair round trip.
func (r *Runtime) runLLM(ctx context.Context, in StepInput, c *domain.LLMConfig) (*StepResult, error) {
	prompt, err := workflow.RenderTemplate(c.Prompt, in.Data)
	if err != nil {
		return nil, stepErr(KindBadRequest, err, "prompt: %v", err)
	}
	system := ""
	if c.SystemPrompt != "" {
		if system, err = workflow.RenderTemplate(c.SystemPrompt, in.Data); err != nil {
			return nil, stepErr(KindBadRequest, err, "system prompt: %v", err)
		}
	}
	providerName, modelName, err := llm.ParseModel(c.Model)
	if err != nil {
		return nil, fromLLM(ctx, err)
	}
	provider, serr := r.provider(ctx, in.OrgID, providerName)
	if serr != nil {
		return nil, serr
	}
	tools, serr := r.newToolset(ctx, in, c.Tools)
	if serr != nil {
		return nil, serr
	}

	call := &modelCall{r: r, in: in, provider: provider, providerName: providerName, modelName: modelName,
		res: &StepResult{Model: c.Model, CostKnown: true}}
	call.req = llm.Request{
		Model:       modelName,
		System:      system,
		Messages:    []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		Tools:       tools.defs,
		Temperature: c.Temperature,
		MaxTokens:   c.MaxTokens,
		JSON:        c.OutputFormat == "json",
		OnDelta:     in.OnDelta,
		Attempt:     in.Attempt,
		Mock:        c.Mock,
	}
	if call.req.JSON && !isEmptyJSON(c.OutputSchema) {
		call.req.JSONSchema = c.OutputSchema
	}
	maxRounds := c.MaxToolRounds
	if maxRounds <= 0 {
		maxRounds = DefaultMaxToolRounds
	}

	var answer *llm.Response
	for rounds := 0; ; rounds++ {
		resp, serr := call.complete(ctx)
		if serr != nil {
			return nil, serr
		}
		if len(resp.ToolCalls) == 0 {
			answer = resp
			break
		}
		if rounds >= maxRounds {
			return nil, call.fail(stepErr(KindToolRounds, nil,
				"the model still asked for tools after %d rounds (max_tool_rounds)", maxRounds))
		}
		call.req.Messages = append(call.req.Messages, llm.Message{Role: llm.RoleAssistant, Content: resp.Text, ToolCalls: resp.ToolCalls})
		for _, tc := range resp.ToolCalls {
			content := tools.run(ctx, tc, call.res.ModelCalls, &call.res.ToolCalls)
			if se := contextKind(ctx); se != nil {
				return nil, call.fail(se)
			}
			call.req.Messages = append(call.req.Messages, llm.Message{Role: llm.RoleTool, ToolCallID: tc.ID, Content: content})
		}
	}

	if c.OutputFormat != "json" {
		call.res.Output = answer.Text
		return call.finish(), nil
	}
	value, problems := parseJSONOutput(answer.Text, c.OutputSchema)
	if problems != nil {
		call.req.Messages = append(call.req.Messages,
			llm.Message{Role: llm.RoleAssistant, Content: answer.Text},
			llm.Message{Role: llm.RoleUser, Content: repairPrompt(problems, c.OutputSchema)})
		resp, serr := call.complete(ctx)
		if serr != nil {
			return nil, serr
		}
		if len(resp.ToolCalls) > 0 {
			problems = []string{"the model called tools instead of answering with JSON"}
		} else {
			value, problems = parseJSONOutput(resp.Text, c.OutputSchema)
		}
		if problems != nil {
			return nil, call.fail(stepErr(KindInvalidOutput, nil, "the model's answer is not valid JSON output after one repair: %s",
				strings.Join(problems, "; ")))
		}
	}
	call.res.Output = value
	return call.finish(), nil
}

// modelCall is the conversation of one llm step and what it has cost.
type modelCall struct {
	r                       *Runtime
	in                      StepInput
	provider                llm.Provider
	providerName, modelName string
	req                     llm.Request
	res                     *StepResult
}

// complete makes one model call with the conversation so far and adds its
// usage and cost to the step.
func (m *modelCall) complete(ctx context.Context) (*llm.Response, *StepError) {
	m.res.ModelCalls++
	req := m.req
	req.Messages = slices.Clone(m.req.Messages)
	if m.in.ExecutionID != "" {
		req.IdempotencyKey = fmt.Sprintf("%s:%s:llm-%d", m.in.ExecutionID, m.in.NodeID, m.res.ModelCalls)
	}
	resp, err := m.provider.Complete(ctx, &req)
	if err != nil {
		return nil, m.fail(fromLLM(ctx, err))
	}
	m.res.Usage = m.res.Usage.Add(resp.Usage)
	cost, known := m.r.cost(m.providerName, resp.Model, m.modelName, resp.Usage)
	m.res.CostUSD += cost
	m.res.CostKnown = m.res.CostKnown && known
	return resp, nil
}

// fail attaches what the step consumed so far (tokens, tool calls) to err.
func (m *modelCall) fail(err *StepError) *StepError {
	if m.res.Usage != (llm.Usage{}) || len(m.res.ToolCalls) > 0 {
		err.Partial = m.finish()
	}
	return err
}

func (m *modelCall) finish() *StepResult {
	m.res.CostUSD = math.Round(m.res.CostUSD*1e10) / 1e10
	return m.res
}

// cost prices one call: by the model that answered (often a dated version
// of the one asked for), else by the model asked for.
func (r *Runtime) cost(provider, answered, asked string, u llm.Usage) (float64, bool) {
	if answered != "" {
		if c, ok := r.o.Prices.Cost(provider, answered, u); ok {
			return c, true
		}
	}
	return r.o.Prices.Cost(provider, asked, u)
}

// provider returns the provider for name, authenticated for org, through
// Resilient when configured.
func (r *Runtime) provider(ctx context.Context, orgID, name string) (llm.Provider, *StepError) {
	known := slices.Contains(r.registry.Providers(), name)
	var creds llm.Credentials
	if name != "mock" {
		if r.o.Credentials == nil {
			return nil, stepErr(KindAuthFailed, nil, "no credentials are configured for provider %q", name)
		}
		var err error
		creds, err = r.o.Credentials.ProviderCredentials(ctx, orgID, name)
		if missing, ok := errors.AsType[*MissingCredentialsError](err); ok {
			if !known {
				return nil, stepErr(KindBadRequest, err, "unknown provider %q: add it as an OpenAI-compatible server with "+
					"PUT /api/v1/providers/%s and its base_url, or use one of %s", name, name, strings.Join(r.registry.Providers(), ", "))
			}
			return nil, stepErr(KindAuthFailed, err, "%s", missing.Error())
		}
		if err != nil {
			if se, ok := errors.AsType[*StepError](err); ok {
				return nil, se
			}
			if ctxErr := contextKind(ctx); ctxErr != nil {
				return nil, ctxErr
			}
			r.log.ErrorContext(ctx, "resolve provider credentials", "org_id", orgID, "provider", name, "error", err)
			return nil, stepErr(KindUnavailable, err, "the credentials for provider %q could not be read", name)
		}
	}
	var p llm.Provider
	switch {
	case known:
		var err error
		if p, err = r.registry.Provider(name, creds); err != nil {
			return nil, fromLLM(ctx, err)
		}
	case creds.BaseURL != "":
		p = llm.NewOpenAI(name, creds, r.o.ProviderHTTPClient)
	default:
		return nil, stepErr(KindBadRequest, nil, "provider %q has no base URL: set one with PUT /api/v1/providers/%s", name, name)
	}
	if r.o.Resilient != nil {
		p = r.o.Resilient.Wrap(p, orgID)
	}
	return p, nil
}

// parseJSONOutput parses a model's JSON answer (tolerating a Markdown code
// fence or text around one object or array) and checks it against schema.
// It returns the value, or the problems found (nil when none).
func parseJSONOutput(text string, schema json.RawMessage) (any, []string) {
	raw, ok := extractJSON(text)
	if !ok {
		return nil, []string{"the answer is not valid JSON"}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, []string{"the answer is not valid JSON"}
	}
	if isEmptyJSON(schema) {
		return v, nil
	}
	fieldErrs := workflow.CheckInput(schema, v)
	if len(fieldErrs) == 0 {
		return v, nil
	}
	problems := make([]string, 0, min(len(fieldErrs), maxProblemsShown))
	for i, fe := range fieldErrs {
		if i == maxProblemsShown {
			problems = append(problems, fmt.Sprintf("and %d more", len(fieldErrs)-i))
			break
		}
		at := fe.Pointer
		if at == "" {
			at = "the top level"
		}
		problems = append(problems, fmt.Sprintf("at %s: %s", at, fe.Message))
	}
	return nil, problems
}

// extractJSON finds the JSON value in a model's answer.
func extractJSON(text string) ([]byte, bool) {
	s := strings.TrimSpace(text)
	if json.Valid([]byte(s)) && s != "" {
		return []byte(s), true
	}
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[nl+1:]
		}
		if body, ok := strings.CutSuffix(strings.TrimSpace(rest), "```"); ok {
			if b := strings.TrimSpace(body); json.Valid([]byte(b)) && b != "" {
				return []byte(b), true
			}
		}
	}
	for _, pair := range [][2]string{{"{", "}"}, {"[", "]"}} {
		i, j := strings.Index(s, pair[0]), strings.LastIndex(s, pair[1])
		if i >= 0 && j > i && json.Valid([]byte(s[i:j+1])) {
			return []byte(s[i : j+1]), true
		}
	}
	return nil, false
}

func repairPrompt(problems []string, schema json.RawMessage) string {
	var b strings.Builder
	b.WriteString("Your previous answer cannot be used: ")
	b.WriteString(strings.Join(problems, "; "))
	b.WriteString(".\nAnswer again with only the corrected JSON, no other text")
	if !isEmptyJSON(schema) {
		b.WriteString(", matching this JSON Schema:\n")
		b.Write(schema)
	} else {
		b.WriteString(".")
	}
	return b.String()
}

func isEmptyJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null" || s == "{}"
}
