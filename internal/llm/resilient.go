package llm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrCircuitOpen is wrapped by the KindUnavailable error Resilient returns
// without calling the provider while its circuit breaker is open.
var ErrCircuitOpen = errors.New("circuit breaker open")

// ResilienceConfig tunes Resilient. Zero fields take the defaults noted.
type ResilienceConfig struct {
	// MaxAttempts is the number of calls per Complete, the first included
	// (default 3; 1 disables retries).
	MaxAttempts int
	// InitialDelay is the backoff before the first retry (default 500ms); each
	// further retry multiplies it by Multiplier (default 2), up to MaxDelay
	// (default 30s). The wait is jittered to between half and all of it.
	InitialDelay time.Duration
	Multiplier   float64
	MaxDelay     time.Duration
	// BreakerFailures is how many consecutive provider-side failures
	// (unavailable, timeout, rate_limited) open a breaker (default 5).
	BreakerFailures uint32
	// BreakerOpenFor is how long an open breaker rejects calls before it
	// lets one trial call through (half-open; default 30s).
	BreakerOpenFor time.Duration

	// sleep waits between attempts; tests replace it.
	sleep func(context.Context, time.Duration) error
}

func (c ResilienceConfig) withDefaults() ResilienceConfig {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.InitialDelay <= 0 {
		c.InitialDelay = 500 * time.Millisecond
	}
	if c.Multiplier < 1 {
		c.Multiplier = 2
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = 30 * time.Second
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerOpenFor <= 0 {
		c.BreakerOpenFor = 30 * time.Second
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return c
}

// Resilient retries provider calls and guards each (provider, organization)
// with a circuit breaker. It is safe for concurrent use; share one per
// process.
//
// Retries: only retryable errors (IsRetryable) are retried, after a
// jittered exponential backoff or the provider's Retry-After, whichever is
// longer. A Retry-After beyond MaxDelay, or a wait that would outlast ctx's
// deadline, ends the retries and returns the provider's error (with its
// RetryAfter) so the caller can reschedule. A call that already passed text
// to OnDelta is never retried: the caller has shown that text. Request.Attempt
// is passed unchanged, so a mock scripted with FailFirst fails every retry
// of one step attempt.
//
// Breaker: rate_limited, unavailable and timeout failures count toward
// opening it; other errors count as successes (the provider answered), and
// calls the caller cancelled count as neither. While open, calls fail at
// once with KindUnavailable wrapping ErrCircuitOpen and are not retried.
type Resilient struct {
	cfg ResilienceConfig

	mu       sync.Mutex
	breakers map[breakerKey]*gobreaker.CircuitBreaker[*Response]
}

type breakerKey struct{ provider, org string }

// NewResilient returns a Resilient with cfg.
func NewResilient(cfg ResilienceConfig) *Resilient {
	return &Resilient{cfg: cfg.withDefaults(), breakers: map[breakerKey]*gobreaker.CircuitBreaker[*Response]{}}
}

// Wrap returns p as a Provider whose calls go through r on behalf of org.
func (r *Resilient) Wrap(p Provider, org string) Provider {
	return resilientProvider{r: r, p: p, org: org}
}

type resilientProvider struct {
	r   *Resilient
	p   Provider
	org string
}

func (w resilientProvider) Name() string { return w.p.Name() }

func (w resilientProvider) Complete(ctx context.Context, req *Request) (*Response, error) {
	return w.r.Complete(ctx, w.p, w.org, req)
}

// Complete calls p for org with retries and the circuit breaker.
func (r *Resilient) Complete(ctx context.Context, p Provider, org string, req *Request) (*Response, error) {
	cb := r.breaker(p.Name(), org)
	streamed := false
	attemptReq := *req
	if req.OnDelta != nil {
		attemptReq.OnDelta = func(s string) {
			if s != "" {
				streamed = true
			}
			req.OnDelta(s)
		}
	}
	for attempt := 1; ; attempt++ {
		res, err := cb.Execute(func() (*Response, error) { return p.Complete(ctx, &attemptReq) })
		if err == nil {
			return res, nil
		}
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, &Error{
				Kind:       KindUnavailable,
				Provider:   p.Name(),
				Message:    fmt.Sprintf("circuit breaker open after repeated failures; calls resume within %s", r.cfg.BreakerOpenFor),
				RetryAfter: r.cfg.BreakerOpenFor,
				Err:        ErrCircuitOpen,
			}
		}
		if !IsRetryable(err) || streamed || attempt >= r.cfg.MaxAttempts || ctx.Err() != nil {
			return nil, err
		}
		retryAfter := RetryAfterOf(err)
		if retryAfter > r.cfg.MaxDelay {
			return nil, err
		}
		delay := max(r.backoff(attempt), retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return nil, err
		}
		if sleepErr := r.cfg.sleep(ctx, delay); sleepErr != nil {
			return nil, err
		}
	}
}

// backoff returns the jittered wait before retry number n (1-based).
func (r *Resilient) backoff(n int) time.Duration {
	d := float64(r.cfg.InitialDelay)
	for i := 1; i < n; i++ {
		d *= r.cfg.Multiplier
		if d >= float64(r.cfg.MaxDelay) {
			break
		}
	}
	d = min(d, float64(r.cfg.MaxDelay))
	return time.Duration(d/2 + rand.Float64()*d/2)
}

func (r *Resilient) breaker(provider, org string) *gobreaker.CircuitBreaker[*Response] {
	key := breakerKey{provider, org}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cb, ok := r.breakers[key]; ok {
		return cb
	}
	failures := r.cfg.BreakerFailures
	cb := gobreaker.NewCircuitBreaker[*Response](gobreaker.Settings{
		Name:        provider + "/" + org,
		MaxRequests: 1,
		Timeout:     r.cfg.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return err == nil || !IsRetryable(err)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	r.breakers[key] = cb
	return cb
}

// BreakerState reports the state of the breaker of (provider, org):
// "closed", "half-open" or "open".
func (r *Resilient) BreakerState(provider, org string) string {
	return r.breaker(provider, org).State().String()
}
