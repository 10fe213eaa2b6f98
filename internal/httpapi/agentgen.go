package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"unicode"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// generatorTimeout bounds the model call of the agent generator, inside
// the route's 30 s deadline.
const generatorTimeoutSeconds = 25

// agentDraftSchema is the JSON Schema of what the generator asks the model
// for: a library agent of kind llm, http or transform (a router's routes
// name nodes of a workflow, which a library agent cannot know).
const agentDraftSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["type", "name", "description"],
  "properties": {
    "type": {"type": "string", "enum": ["llm", "http", "transform"]},
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string", "maxLength": 4000},
    "timeout_seconds": {"type": "integer", "minimum": 0, "maximum": 1800},
    "llm": {
      "type": "object",
      "additionalProperties": false,
      "required": ["model", "prompt"],
      "properties": {
        "model": {"type": "string"},
        "system_prompt": {"type": "string"},
        "prompt": {"type": "string"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 0},
        "tools": {"type": "array", "items": {"type": "string"}},
        "max_tool_rounds": {"type": "integer", "minimum": 0, "maximum": 20},
        "output_format": {"type": "string", "enum": ["text", "json"]},
        "output_schema": {"type": "object"}
      }
    },
    "http": {
      "type": "object",
      "additionalProperties": false,
      "required": ["method", "url"],
      "properties": {
        "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
        "url": {"type": "string"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": "string"},
        "timeout_seconds": {"type": "integer", "minimum": 0, "maximum": 1800}
      }
    },
    "transform": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "template": {"type": "string"},
        "expression": {"type": "string"}
      }
    }
  }
}`

// generatorSystemPrompt explains the agent format to the model. It reaches
// the model through the template data, so its braces are never parsed.
const generatorSystemPrompt = `You design agents for Super Agent, a platform that runs workflows of agents.
Answer with one JSON object describing a single agent, and nothing else. Its fields:
- "type": "llm" (calls a language model), "http" (calls an HTTP API) or "transform" (reshapes data without a model).
- "name": a short name; "description": what the agent does.
- For "llm", an "llm" object: "model" as "provider:model" (use %q unless the description asks for another),
  "system_prompt", "prompt", optional "temperature" (0 to 2), "max_tokens", "tools" (any of "http_request",
  "json_extract"), "output_format" ("text" or "json") and, with "json", an "output_schema" (a JSON Schema object).
- For "http", an "http" object: "method" (GET, POST, PUT, PATCH, DELETE or HEAD), an absolute "url", optional
  "headers" (name to value) and "body".
- For "transform", a "transform" object with either a "template" or an "expression" (expr-lang), not both.
Prompts, URLs, header values, bodies and templates are Go text/template: {{.input.field}} reads the workflow's input
and {{json .input}} prints it as JSON. Expressions read "input" directly, e.g. input.items[0].name.
Never put secrets or API keys in the definition.`

// GenerateAgentIn asks for a drafted agent.
type GenerateAgentIn struct {
	Description string  `json:"description" minLength:"1" maxLength:"4000" doc:"What the agent should do, in plain words"`
	Model       string  `json:"model" minLength:"3" maxLength:"233" example:"openai:gpt-4o-mini" doc:"The model that drafts the agent, as provider:model; mock:echo drafts offline"`
	Save        bool    `json:"save,omitempty" doc:"Save the draft as a library agent"`
	Name        string  `json:"name,omitempty" maxLength:"200" doc:"The agent's name (default: the model's suggestion)"`
	TeamID      *string `json:"team_id,omitempty" maxLength:"64" doc:"The team of a saved agent; \"\" for the whole organization. Default: your team."`
}

// GenerateAgentOut is a drafted agent, and the saved one when asked.
type GenerateAgentOut struct {
	Draft   AgentIn   `json:"draft" doc:"The drafted agent, valid as a body of POST /api/v1/agents"`
	Saved   *AgentOut `json:"saved,omitempty" doc:"The library agent, when save was true"`
	Model   string    `json:"model"`
	Usage   llm.Usage `json:"usage"`
	CostUSD float64   `json:"cost_usd"`
}

// agentDraft is the model's answer, decoded strictly.
type agentDraft struct {
	Type           domain.NodeType         `json:"type"`
	Name           string                  `json:"name"`
	Description    string                  `json:"description"`
	TimeoutSeconds int                     `json:"timeout_seconds"`
	LLM            *domain.LLMConfig       `json:"llm"`
	HTTP           *domain.HTTPConfig      `json:"http"`
	Transform      *domain.TransformConfig `json:"transform"`
}

func (r *llmRoutes) registerGeneratorRoutes() {
	s := r.s
	type generateIn struct {
		Body GenerateAgentIn
	}
	type generateOut struct {
		Body GenerateAgentOut
	}
	register(s, huma.Operation{OperationID: "generate-agent", Method: http.MethodPost, Path: "/api/v1/agents/generate", Tags: []string{"Agents"},
		Summary: "Draft an agent with a language model",
		Description: "Asks the model to draft an llm, http or transform agent from a description, validates the draft as a library " +
			"agent and returns it; with save it is also saved to the library. The mock provider (mock:echo) drafts a valid llm agent " +
			"offline and deterministically. Model failures answer 422 (misconfiguration, unusable draft), 429 (rate limited) or 503.",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable}},
		Requires(domain.PermAgentsCreate),
		func(ctx context.Context, in *generateIn) (*generateOut, error) {
			rt, err := r.runtime()
			if err != nil {
				return nil, err
			}
			p := principal(ctx)
			var c *workflowContext
			err = s.store.Read(ctx, p.Scope(), func(q domain.Queries) (err error) {
				var team []string
				if in.Body.TeamID != nil {
					team = append(team, *in.Body.TeamID)
				}
				c, err = loadWorkflowContext(q, p, nil, team...)
				return err
			})
			if err != nil {
				return nil, err
			}
			teamID, problems := "", []domain.FieldError(nil)
			if in.Body.Save {
				if teamID, problems = chooseTeam(p, c, in.Body.TeamID, "agent"); len(problems) > 0 {
					return nil, invalidAgent(problems)
				}
			}
			model := strings.TrimSpace(in.Body.Model)
			providerName, _, err := llm.ParseModel(model)
			if err != nil {
				return nil, domain.Invalid("invalid model", domain.FieldError{Pointer: "/model", Message: llmMessage(err)})
			}

			node := generatorNode(model, providerName, in.Body)
			res, err := rt.Runtime.Run(ctx, agent.StepInput{OrgID: p.OrgID, NodeID: node.ID, Attempt: 1, Node: node,
				Data: workflow.Data{Input: map[string]any{"system": fmt.Sprintf(generatorSystemPrompt, model), "request": generatorRequest(in.Body)}}})
			if err != nil {
				return nil, generatorError(err)
			}
			draft, err := decodeDraft(res.Output)
			if err != nil {
				return nil, domain.Invalid("the model's draft is not an agent definition: "+err.Error(),
					domain.FieldError{Pointer: "/draft", Message: err.Error()})
			}
			if name := strings.TrimSpace(in.Body.Name); name != "" {
				draft.Name = name
			}
			agentNode := domain.Node{Type: draft.Type, Name: strings.TrimSpace(draft.Name), Description: draft.Description,
				LLM: draft.LLM, HTTP: draft.HTTP, Transform: draft.Transform, TimeoutSeconds: draft.TimeoutSeconds}
			if problems := s.checkAgent(c.org, agentNode); len(problems) > 0 {
				for i := range problems {
					problems[i].Pointer = "/draft" + problems[i].Pointer
				}
				return nil, domain.Invalid(fmt.Sprintf("the model's draft has %d problem(s); try again or describe the agent more precisely",
					len(problems)), problems...)
			}

			out := &generateOut{Body: GenerateAgentOut{Model: model, Usage: res.Usage, CostUSD: res.CostUSD,
				Draft: AgentIn{Name: agentNode.Name, Description: agentNode.Description, Type: agentNode.Type, LLM: agentNode.LLM,
					HTTP: agentNode.HTTP, Transform: agentNode.Transform, TimeoutSeconds: agentNode.TimeoutSeconds}}}
			details := map[string]any{"model": model, "type": string(agentNode.Type), "saved": in.Body.Save,
				"tokens_in": res.Usage.InputTokens, "tokens_out": res.Usage.OutputTokens, "cost_usd": res.CostUSD}
			var saved *domain.LibraryAgent
			if in.Body.Save {
				saved = &domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), TeamID: teamID, Name: agentNode.Name,
					Description: agentNode.Description, Node: agentNode, CreatedBy: p.UserID}
				details["team_id"] = teamID
			}
			resourceID := ""
			if saved != nil {
				resourceID = saved.ID
			}
			// Drafts are audited too: generating one spends the organization's tokens.
			err = s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
				if saved != nil {
					if err := tx.CreateAgent(saved, c.org.Limits.MaxAgents); err != nil {
						return err
					}
				}
				tx.Audit(auditEvent(ctx, "agent.generated", "agent", resourceID, details))
				return nil
			})
			if err != nil {
				return nil, err
			}
			if saved != nil {
				a := agentOut(saved)
				out.Body.Saved = &a
			}
			return out, nil
		})
}

// generatorNode is the llm node that drafts an agent: JSON output checked
// against agentDraftSchema (with the runtime's one repair round trip). The
// mock provider is scripted to answer with a deterministic draft.
func generatorNode(model, provider string, in GenerateAgentIn) domain.Node {
	temp := 0.2
	cfg := &domain.LLMConfig{Model: model, SystemPrompt: "{{.input.system}}", Prompt: "{{.input.request}}", Temperature: &temp,
		MaxTokens: 4000, OutputFormat: "json", OutputSchema: json.RawMessage(agentDraftSchema)}
	if provider == "mock" {
		cfg.Mock = &domain.MockOptions{Response: mockDraft(in)}
	}
	return domain.Node{ID: "agent-generator", Type: domain.NodeLLM, LLM: cfg, TimeoutSeconds: generatorTimeoutSeconds}
}

func generatorRequest(in GenerateAgentIn) string {
	req := "Draft an agent that does the following:\n\n" + in.Description
	if name := strings.TrimSpace(in.Name); name != "" {
		req += "\n\nName it " + name + "."
	}
	return req
}

// mockDraft is the mock provider's draft: an llm agent on the mock model
// whose system prompt is the description, named after its first words.
func mockDraft(in GenerateAgentIn) string {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = draftName(in.Description)
	}
	desc := strings.TrimSpace(in.Description)
	b, _ := json.Marshal(map[string]any{
		"type": "llm", "name": name, "description": desc,
		"llm": map[string]any{"model": "mock:echo", "system_prompt": "You are an agent. Your task: " + desc,
			"prompt": "{{json .input}}", "output_format": "text"},
	})
	return string(b)
}

// draftName is the first few words of a description, capitalised.
func draftName(desc string) string {
	words := strings.FieldsFunc(desc, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' })
	if len(words) > 5 {
		words = words[:5]
	}
	name := strings.Join(words, " ")
	if name == "" {
		return "Generated agent"
	}
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return clipText(string(r), 80)
}

func decodeDraft(output any) (*agentDraft, error) {
	raw, err := json.Marshal(output)
	if err != nil {
		return nil, errors.New("not JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d agentDraft
	if err := dec.Decode(&d); err != nil {
		return nil, errors.New(clipText(err.Error(), 200))
	}
	return &d, nil
}

// generatorError turns a failed model call into the API's terms: the
// caller's problem (configuration, an unusable draft) is 422, throttling
// 429, the provider's trouble 503.
func generatorError(err error) error {
	var se *agent.StepError
	if !errors.As(err, &se) {
		return err
	}
	msg := "the model could not draft the agent: " + se.Message
	switch se.Kind {
	case agent.KindRateLimited:
		secs := int(math.Ceil(se.RetryAfter.Seconds()))
		return &domain.Error{Code: domain.ECodeLimitExceeded, Message: msg, RetryAfterSeconds: max(secs, 1), Err: err}
	case agent.KindUnavailable, agent.KindTimeout, agent.KindInvalidResponse, agent.KindCancelled:
		return &domain.Error{Code: domain.ECodeUnavailable, Message: msg, Err: err}
	default:
		return &domain.Error{Code: domain.ECodeInvalid, Message: msg, Err: err}
	}
}

func llmMessage(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return "invalid model"
}
