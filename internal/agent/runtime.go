package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// StepInput is one attempt of one node of one execution.
type StepInput struct {
	OrgID       string
	ExecutionID string
	NodeID      string
	// Attempt is the 1-based attempt number of this step (the mock
	// provider's fail_first counts it).
	Attempt int
	// Node is the resolved node (library agents merged in).
	Node domain.Node
	// Data is what templates and expressions see: the execution input and
	// the outputs of completed upstream nodes. Run fills in ExecutionID and
	// NodeID when they are empty.
	Data workflow.Data
	// OnDelta, when set, receives the text of llm nodes as the model
	// streams it, in order, from the goroutine running the step. Text of a
	// repair round trip is streamed too.
	OnDelta func(text string)
}

// StepResult is what a step produced.
type StepResult struct {
	// Output is JSON-shaped (what encoding/json decodes into an any): a
	// string for llm text, the parsed value for llm JSON, transform
	// results, {"status", "headers", "body"} for http and {"route": id}
	// for routers.
	Output any `json:"output"`
	// Route is the target node a router chose ("" for other kinds).
	Route string `json:"route,omitempty"`
	// Model is the node's "provider:model" (llm nodes only).
	Model string `json:"model,omitempty"`
	// Usage sums the tokens of every model call of the step: tool rounds
	// and a repair round trip included.
	Usage llm.Usage `json:"usage"`
	// CostUSD is the price of Usage by the price table; CostKnown is false
	// when the model has no known price (CostUSD is then 0).
	CostUSD   float64 `json:"cost_usd"`
	CostKnown bool    `json:"cost_known"`
	// ModelCalls counts the model calls made.
	ModelCalls int `json:"model_calls,omitempty"`
	// ToolCalls records every tool call the model made, in order.
	ToolCalls []ToolCallRecord `json:"tool_calls,omitempty"`
}

// ToolCallRecord is one tool call made during an llm step.
type ToolCallRecord struct {
	// ID is the provider's id of the call.
	ID string `json:"id"`
	// Name is the tool as the node lists it: "http_request", "json_extract"
	// or "workflow:<id>".
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	// Result is the tool's JSON-shaped result; Error is set instead when
	// the tool failed (the model was told so and the step went on).
	Result     any    `json:"result,omitempty"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	// Round is the 1-based model call that asked for it.
	Round int `json:"round"`
}

// CredentialResolver finds the credentials an organization uses for a
// provider.
type CredentialResolver interface {
	// ProviderCredentials returns the credentials org uses for provider:
	// its own, else the installation's where allowed. It returns a
	// *MissingCredentialsError when there are none.
	ProviderCredentials(ctx context.Context, orgID, provider string) (llm.Credentials, error)
}

// WorkflowCall asks for a run of another workflow on behalf of an llm
// step's "workflow:<id>" tool.
type WorkflowCall struct {
	OrgID string
	// ParentExecutionID and ParentNodeID name the calling step.
	ParentExecutionID string
	ParentNodeID      string
	WorkflowID        string
	// Input is the tool call's arguments: a JSON object.
	Input any
	// IdempotencyKey is "<execution>:<node>:<n>" with n the step's n-th tool
	// call, stable across attempts of the step, so a retried step can find
	// the execution its earlier attempt started instead of starting another.
	IdempotencyKey string
}

// WorkflowCaller runs workflows for the "workflow:<id>" tool. The engine
// implements it: it runs the latest version of the workflow in the
// organization, bounds nesting depth, and returns the child execution's
// output when it has finished (or an error).
type WorkflowCaller interface {
	CallWorkflow(ctx context.Context, call WorkflowCall) (output any, err error)
}

// WorkflowTool is what the model is told about a workflow tool.
type WorkflowTool struct {
	Name        string
	Description string
	// InputSchema is the workflow's input schema, offered as the tool's
	// parameters; empty means any object.
	InputSchema json.RawMessage
}

// WorkflowDescriber is optionally implemented by a WorkflowCaller to name
// and describe workflow tools to the model.
type WorkflowDescriber interface {
	DescribeWorkflow(ctx context.Context, orgID, workflowID string) (*WorkflowTool, error)
}

// Options configure a Runtime.
type Options struct {
	// Credentials resolves provider credentials; required for every
	// provider but mock.
	Credentials CredentialResolver
	// Registry builds providers; nil means a registry with no extra
	// OpenAI-compatible providers.
	Registry *llm.Registry
	// Resilient retries model calls and trips breakers per provider and
	// organization; nil calls providers directly.
	Resilient *llm.Resilient
	// Prices prices usage; nil means the built-in list prices.
	Prices *llm.PriceTable
	// Guard is the SSRF guard for http nodes and the http_request tool;
	// required.
	Guard *netguard.Guard
	// Workflows runs "workflow:<id>" tools; nil makes them fail.
	Workflows WorkflowCaller
	// ProviderHTTPClient calls OpenAI-compatible servers an organization
	// configured under a name of its own (not guarded: configured provider
	// base URLs may be local). nil means http.DefaultClient.
	ProviderHTTPClient *http.Client
	// MaxResponseBytes bounds the body an http node or the http_request tool
	// reads (default 1 MiB).
	MaxResponseBytes int64
	// MaxStepTimeout caps a node's timeout (0: no cap beyond
	// domain.MaxStepTimeoutSecs); set it below the queue's rescue horizon.
	MaxStepTimeout time.Duration
	Logger         *slog.Logger
}

// Defaults.
const (
	// DefaultMaxResponseBytes bounds http responses unless configured.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultHTTPTimeout is an http request's timeout when neither the
	// http block nor the node sets one.
	DefaultHTTPTimeout = 30 * time.Second
	// DefaultMaxToolRounds applies when an llm node sets no max_tool_rounds.
	DefaultMaxToolRounds = 5
)

// Runtime runs agent steps. It holds no per-step state and is safe for
// concurrent use.
type Runtime struct {
	o        Options
	registry *llm.Registry
	log      *slog.Logger
}

// New returns a Runtime.
func New(o Options) (*Runtime, error) {
	if o.Guard == nil {
		return nil, errors.New("agent: Options.Guard is required")
	}
	if o.Registry == nil {
		o.Registry = llm.NewRegistry(llm.RegistryConfig{})
	}
	if o.ProviderHTTPClient == nil {
		o.ProviderHTTPClient = http.DefaultClient
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{o: o, registry: o.Registry, log: o.Logger}, nil
}

// Run runs one attempt of a step and returns its result, or a *StepError.
// The node's timeout (timeout_seconds, default 60 s, capped by
// MaxStepTimeout) bounds the attempt on top of ctx's own deadline. Run does
// not retry the step: the engine decides from StepError.Retryable and
// RetryAfter (model calls inside the step do go through Resilient).
func (r *Runtime) Run(ctx context.Context, in StepInput) (res *StepResult, err error) {
	if in.Data.NodeID == "" {
		in.Data.NodeID = in.NodeID
	}
	if in.Data.ExecutionID == "" {
		in.Data.ExecutionID = in.ExecutionID
	}
	if in.NodeID == "" {
		in.NodeID = in.Node.ID
	}
	ctx, cancel := context.WithTimeout(ctx, workflow.StepTimeout(&in.Node, r.o.MaxStepTimeout))
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r.log.ErrorContext(ctx, "agent step panicked", "org_id", in.OrgID, "execution_id", in.ExecutionID,
				"node_id", in.NodeID, "panic", fmt.Sprint(p))
			res, err = nil, stepErr(KindBadRequest, fmt.Errorf("panic: %v", p), "the step failed unexpectedly")
		}
	}()

	n := &in.Node
	switch n.Type {
	case domain.NodeTransform:
		if n.Transform == nil {
			break
		}
		return r.runTransform(in, n.Transform)
	case domain.NodeRouter:
		if n.Router == nil {
			break
		}
		return r.runRouter(in, n.Router)
	case domain.NodeHTTP:
		if n.HTTP == nil {
			break
		}
		return r.runHTTP(ctx, in, n.HTTP)
	case domain.NodeLLM:
		if n.LLM == nil {
			break
		}
		return r.runLLM(ctx, in, n.LLM)
	default:
		return nil, stepErr(KindBadRequest, nil, "unknown agent type %q", n.Type)
	}
	return nil, stepErr(KindBadRequest, nil, "the %s agent has no %q block", n.Type, n.Type)
}

// jsonShaped returns v as encoding/json would decode it (maps, lists,
// strings, float64, bools, nil), so outputs read back from the database
// equal the ones produced.
func jsonShaped(v any) (any, error) {
	switch v.(type) {
	case nil, string, bool, float64:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
