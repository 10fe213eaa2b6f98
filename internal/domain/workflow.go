package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// NodeType is the kind of an agent node.
type NodeType string

// Node types.
const (
	NodeLLM       NodeType = "llm"
	NodeHTTP      NodeType = "http"
	NodeTransform NodeType = "transform"
	NodeRouter    NodeType = "router"
)

// WorkflowStatus is the lifecycle state of a workflow.
type WorkflowStatus string

// Workflow statuses.
const (
	WorkflowDraft    WorkflowStatus = "draft"
	WorkflowActive   WorkflowStatus = "active"
	WorkflowArchived WorkflowStatus = "archived"
)

// Environment names a deployment pin of a workflow.
type Environment string

// Environments a workflow can pin a version to.
const (
	EnvDev     Environment = "dev"
	EnvStaging Environment = "staging"
	EnvProd    Environment = "prod"
)

// RunnableVersion is the version of w that runs for env and version:
// version when given, else the one pinned to env when given, else the
// latest. An archived workflow runs none.
func (w *Workflow) RunnableVersion(env Environment, version int) (int, error) {
	if w.ArchivedAt != nil {
		return 0, Errorf(ECodeConflict, "the workflow is archived and cannot run")
	}
	switch {
	case version > 0:
		return version, nil
	case env != "":
		if !slices.Contains(Environments, env) {
			return 0, Invalid("unknown environment",
				FieldError{Pointer: "/environment", Message: fmt.Sprintf("environment %q must be dev, staging or prod", env)})
		}
		pinned, ok := w.Pins[env]
		if !ok {
			return 0, Errorf(ECodeConflict, "no version of this workflow is published to %s", env)
		}
		return pinned, nil
	}
	return w.Version, nil
}

// Environments lists the pins in promotion order.
var Environments = []Environment{EnvDev, EnvStaging, EnvProd}

// Definition is the executable part of a workflow: its graph, the template
// that shapes the execution's output, and the schema its input must match.
// A version snapshots exactly this.
type Definition struct {
	Nodes []Node `json:"agents"`
	Edges []Edge `json:"edges"`
	// OutputTemplate renders the execution's output from the same data as
	// node templates. Empty means: the outputs of the sink nodes, by node id.
	OutputTemplate string `json:"output_template,omitempty"`
	// InputSchema is a JSON Schema the execution input must satisfy.
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
}

// Node is one agent in a workflow graph. Exactly the configuration block
// matching Type is set. When AgentID names a library agent, the library
// definition is the base and the node's own non-empty fields override it.
type Node struct {
	ID          string   `json:"id"`
	Type        NodeType `json:"type"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	AgentID     string   `json:"agent_id,omitempty"`

	LLM       *LLMConfig       `json:"llm,omitempty"`
	HTTP      *HTTPConfig      `json:"http,omitempty"`
	Transform *TransformConfig `json:"transform,omitempty"`
	Router    *RouterConfig    `json:"router,omitempty"`

	Retry          *RetryPolicy `json:"retry,omitempty"`
	TimeoutSeconds int          `json:"timeout_seconds,omitempty"`
}

// LLMConfig configures an llm node.
type LLMConfig struct {
	// Model is "provider:model", e.g. "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "mock:echo".
	Model        string   `json:"model"`
	SystemPrompt string   `json:"system_prompt,omitempty"`
	Prompt       string   `json:"prompt"` // text/template over the node's input data
	Temperature  *float64 `json:"temperature,omitempty"`
	MaxTokens    int      `json:"max_tokens,omitempty"`
	// Tools the model may call: "http_request", "json_extract", or "workflow:<workflow id>".
	Tools []string `json:"tools,omitempty"`
	// MaxToolRounds bounds tool-call round trips (default 5).
	MaxToolRounds int `json:"max_tool_rounds,omitempty"`
	// OutputFormat is "text" (default) or "json".
	OutputFormat string `json:"output_format,omitempty"`
	// OutputSchema is a JSON Schema the JSON output must match.
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	// Mock scripts the built-in mock provider; ignored by real providers.
	Mock *MockOptions `json:"mock,omitempty"`
}

// MockOptions script the built-in mock LLM provider for a node.
type MockOptions struct {
	// Response is returned as the model's text; empty echoes the prompt.
	Response string `json:"response,omitempty"`
	// Responses are returned in turn, one per model call (tool rounds included).
	Responses []string `json:"responses,omitempty"`
	// ToolCalls the mock makes on its first call, before answering.
	ToolCalls []MockToolCall `json:"tool_calls,omitempty"`
	LatencyMS int            `json:"latency_ms,omitempty"`
	// FailFirst makes the first N attempts of the step fail as unavailable.
	FailFirst int `json:"fail_first,omitempty"`
	// FailWith chooses the error kind of those failures (default "unavailable").
	FailWith     string `json:"fail_with,omitempty"`
	InputTokens  int64  `json:"input_tokens,omitempty"`
	OutputTokens int64  `json:"output_tokens,omitempty"`
	// StreamChunkChars splits the streamed response into chunks of this many characters.
	StreamChunkChars int `json:"stream_chunk_chars,omitempty"`
}

// MockToolCall is a tool call the mock provider makes.
type MockToolCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// HTTPConfig configures an http node. URL, header values and Body are templates.
type HTTPConfig struct {
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers,omitempty"`
	Body           string            `json:"body,omitempty"`
	TimeoutSeconds int               `json:"timeout_seconds,omitempty"`
}

// TransformConfig configures a transform node: exactly one of Template (a
// text/template whose result is the output; parsed as JSON when it is JSON)
// or Expression (an expr-lang expression whose value is the output).
type TransformConfig struct {
	Template   string `json:"template,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// RouterConfig configures a router node: the first route whose condition
// holds is chosen; Default when none holds. The router's output is
// {"route": <target node id>}, and of its outgoing edges only the one to the
// chosen target holds.
type RouterConfig struct {
	Routes  []RouterRoute `json:"routes"`
	Default string        `json:"default,omitempty"`
}

// RouterRoute is one ordered condition of a router.
type RouterRoute struct {
	Condition string `json:"condition"`
	To        string `json:"to"`
}

// RetryPolicy controls how a failed step is retried.
type RetryPolicy struct {
	MaxAttempts      int     `json:"max_attempts,omitempty"`       // default 3, including the first
	InitialBackoffMS int     `json:"initial_backoff_ms,omitempty"` // default 1000
	MaxBackoffMS     int     `json:"max_backoff_ms,omitempty"`     // default 60000
	Multiplier       float64 `json:"multiplier,omitempty"`         // default 2
}

// Edge joins two nodes. Condition, when set, is an expr-lang expression over
// `input`, `nodes` and `output` (the source node's output); the edge holds
// when it evaluates to true.
type Edge struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Condition string `json:"condition,omitempty"`
}

// Limits on workflow definitions (beyond MAX_AGENTS_PER_WORKFLOW and plans).
const (
	MaxNodeIDLen       = 64
	MaxNameLen         = 200
	MaxDescriptionLen  = 4000
	MaxTemplateLen     = 64 * 1024
	MaxExpressionLen   = 4096
	MaxEdges           = 2000
	MaxTags            = 20
	MaxTagLen          = 50
	MaxSchemaBytes     = 64 * 1024
	MaxRetryAttempts   = 10
	MaxStepTimeoutSecs = 30 * 60
)

// WorkflowStats are derived from the workflow's executions.
type WorkflowStats struct {
	Total             int64      `json:"total"`
	Succeeded         int64      `json:"succeeded"`
	Failed            int64      `json:"failed"`
	LastRunAt         *time.Time `json:"last_run_at,omitempty"`
	AverageDurationMS int64      `json:"average_duration_ms"`
}

// Workflow is a named, versioned, team-scoped definition.
type Workflow struct {
	ID          string
	OrgID       string
	TeamID      string // empty: the whole organization
	CreatedBy   string
	Name        string
	Description string
	Definition  Definition
	Tags        []string
	Category    string
	Status      WorkflowStatus
	// Version is the number of the latest version; it doubles as the
	// optimistic-concurrency token for updates.
	Version   int
	Pins      map[Environment]int
	Stats     WorkflowStats
	CreatedAt time.Time
	UpdatedAt time.Time
	// ArchivedAt is set when the workflow was deleted: archived workflows
	// stay readable (their executions refer to them) but cannot change or run.
	ArchivedAt *time.Time
}

// WorkflowVersion is an immutable snapshot of a workflow definition.
type WorkflowVersion struct {
	ID            string
	OrgID         string
	WorkflowID    string
	Version       int
	ParentVersion int // 0 for the first version
	Name          string
	Description   string
	Definition    Definition
	// Resolved is Definition with its library agents merged in when the
	// version was saved: what executions of this version run, unchanged by
	// later edits or deletions of library agents.
	Resolved  Definition
	AuthorID  string
	Message   string
	CreatedAt time.Time
}

// LibraryAgent is a reusable agent definition referenced by workflow nodes.
type LibraryAgent struct {
	ID          string
	OrgID       string
	TeamID      string
	Name        string
	Description string
	// Node is the agent's definition; its ID is ignored.
	Node      Node
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}
