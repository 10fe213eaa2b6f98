package workflow

import (
	"fmt"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Limits are the installation- and plan-dependent bounds Validate applies.
// Fixed bounds come from the domain package and the constants below.
type Limits struct {
	// MaxAgents is the most nodes a definition may have: the smaller of
	// MAX_AGENTS_PER_WORKFLOW and the organization plan's limit. Zero or
	// less means DefaultMaxAgents.
	MaxAgents int
	// MaxAgentsLimit names the limit MaxAgents comes from in messages, e.g.
	// "MAX_AGENTS_PER_WORKFLOW" or "the free plan". NewLimits sets it.
	MaxAgentsLimit string
	// MaxStepTimeout bounds timeout_seconds; zero means
	// domain.MaxStepTimeoutSecs, and it is never above that.
	MaxStepTimeout time.Duration
}

// NewLimits returns the limits for an organization: configMax is
// MAX_AGENTS_PER_WORKFLOW, planMax the plan's agents-per-workflow limit
// (zero: none) and maxStepTimeout the step timeout horizon.
func NewLimits(configMax int, plan string, planMax int, maxStepTimeout time.Duration) Limits {
	lim := Limits{MaxAgents: configMax, MaxAgentsLimit: "MAX_AGENTS_PER_WORKFLOW", MaxStepTimeout: maxStepTimeout}
	if planMax > 0 && (configMax <= 0 || planMax < configMax) {
		lim.MaxAgents, lim.MaxAgentsLimit = planMax, fmt.Sprintf("the %s plan", plan)
	}
	return lim
}

// Bounds of node configuration beyond the domain's.
const (
	// DefaultMaxAgents applies when Limits.MaxAgents is not set.
	DefaultMaxAgents = 50
	// MaxLLMTokens bounds llm.max_tokens.
	MaxLLMTokens = 200_000
	// MaxToolRounds bounds llm.max_tool_rounds (default 5).
	MaxToolRounds = 20
	// MaxTools bounds the tools of one llm node.
	MaxTools = 32
	// MaxHeaders bounds the headers of one http node.
	MaxHeaders = 50
	// MaxRoutes bounds the routes of one router.
	MaxRoutes = 100
	// MaxMockResponses bounds llm.mock.responses and llm.mock.tool_calls.
	MaxMockResponses = 100
	// MaxBackoffMS bounds retry.initial_backoff_ms and retry.max_backoff_ms.
	MaxBackoffMS = 15 * 60 * 1000
	// MaxBackoffMultiplier bounds retry.multiplier.
	MaxBackoffMultiplier = 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxAgents <= 0 {
		l.MaxAgents = DefaultMaxAgents
		if l.MaxAgentsLimit == "" {
			l.MaxAgentsLimit = "the default limit"
		}
	}
	if l.MaxAgentsLimit == "" {
		l.MaxAgentsLimit = "the agents-per-workflow limit"
	}
	horizon := time.Duration(domain.MaxStepTimeoutSecs) * time.Second
	if l.MaxStepTimeout <= 0 || l.MaxStepTimeout > horizon {
		l.MaxStepTimeout = horizon
	}
	return l
}
