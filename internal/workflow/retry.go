package workflow

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Defaults of a step's retry policy and timeout.
const (
	DefaultMaxAttempts    = 3
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 60 * time.Second
	DefaultMultiplier     = 2.0
	DefaultStepTimeout    = 60 * time.Second
)

// EffectiveRetry returns p with every unset (zero) field replaced by its
// default; a nil p is the default policy: 3 attempts, 1 s initial backoff,
// ×2 per attempt, at most 60 s.
func EffectiveRetry(p *domain.RetryPolicy) domain.RetryPolicy {
	r := domain.RetryPolicy{}
	if p != nil {
		r = *p
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.InitialBackoffMS <= 0 {
		r.InitialBackoffMS = int(DefaultInitialBackoff.Milliseconds())
	}
	if r.MaxBackoffMS <= 0 {
		r.MaxBackoffMS = int(DefaultMaxBackoff.Milliseconds())
	}
	if r.Multiplier <= 0 || math.IsNaN(r.Multiplier) {
		r.Multiplier = DefaultMultiplier
	}
	return r
}

// BackoffCeiling is the longest wait before retry number attempt (1: the
// wait after the first failure): initial × multiplier^(attempt-1), capped
// at the policy's maximum. Unset fields of p take their defaults.
func BackoffCeiling(p domain.RetryPolicy, attempt int) time.Duration {
	r := EffectiveRetry(&p)
	maxWait := time.Duration(r.MaxBackoffMS) * time.Millisecond
	wait := float64(r.InitialBackoffMS) * math.Pow(r.Multiplier, float64(max(attempt, 1)-1))
	if d := time.Duration(wait) * time.Millisecond; wait < float64(maxWait.Milliseconds()) && d < maxWait {
		return d
	}
	return maxWait
}

// Backoff returns how long to wait before retry number attempt, with full
// jitter: a uniformly random duration between 0 and BackoffCeiling, so that
// steps failing together do not retry together.
func Backoff(p domain.RetryPolicy, attempt int) time.Duration {
	ceiling := BackoffCeiling(p, attempt)
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// StepTimeout returns the timeout of one attempt of a node's step: its
// timeout_seconds, or DefaultStepTimeout when unset, never above horizon
// (e.g. the queue's rescue horizon) when horizon is positive.
func StepTimeout(n *domain.Node, horizon time.Duration) time.Duration {
	d := DefaultStepTimeout
	if n != nil && n.TimeoutSeconds > 0 {
		d = time.Duration(n.TimeoutSeconds) * time.Second
	}
	if horizon > 0 && d > horizon {
		d = horizon
	}
	return d
}
