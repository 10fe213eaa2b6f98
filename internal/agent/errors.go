package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/netguard"
)

// ErrorKind classifies a failed step by what the engine can do about it.
type ErrorKind string

// Error kinds. Retryable ones (StepError.Retryable) may succeed when the
// step runs again unchanged; the others fail the same way every time.
const (
	// KindRateLimited: the provider or remote server throttled us (HTTP
	// 429); retry after StepError.RetryAfter when set. Retryable.
	KindRateLimited ErrorKind = "rate_limited"
	// KindAuthFailed: no credentials are configured, or they were refused
	// (HTTP 401/403).
	KindAuthFailed ErrorKind = "auth_failed"
	// KindBadRequest: the step cannot succeed as configured: a template or
	// expression that fails on this data, a request the remote refused
	// with a 4xx, an unknown provider or tool.
	KindBadRequest ErrorKind = "bad_request"
	// KindUnavailable: the provider or remote server failed or could not be
	// reached (HTTP 5xx, refused connections, an open circuit breaker, an
	// unreadable secrets vault). Retryable.
	KindUnavailable ErrorKind = "unavailable"
	// KindTimeout: the step ran out of time (its timeout or the caller's
	// deadline). Retryable.
	KindTimeout ErrorKind = "timeout"
	// KindCancelled: the caller cancelled the step (the execution was
	// cancelled). Not retryable.
	KindCancelled ErrorKind = "cancelled"
	// KindInvalidOutput: the model's answer was not the JSON its node asks
	// for, even after one repair round trip.
	KindInvalidOutput ErrorKind = "invalid_output"
	// KindInvalidResponse: the provider or remote server answered with
	// something unusable (a malformed answer, a body beyond the size limit).
	KindInvalidResponse ErrorKind = "invalid_response"
	// KindBlocked: the SSRF guard refused the destination of an http node.
	KindBlocked ErrorKind = "blocked"
	// KindNoRoute: no route of a router held and it has no default.
	KindNoRoute ErrorKind = "no_route"
	// KindToolRounds: the model still asked for tools after max_tool_rounds.
	KindToolRounds ErrorKind = "tool_rounds_exceeded"
)

// Retryable reports whether a step that failed with k may succeed if run
// again unchanged: rate_limited, unavailable and timeout.
func (k ErrorKind) Retryable() bool {
	return k == KindRateLimited || k == KindUnavailable || k == KindTimeout
}

// StepError is every error Runtime.Run returns. Message is useful and safe
// to show to the organization (it never holds API keys or the addresses a
// host name resolved to); Err is the cause, for logs and errors.Is/As.
type StepError struct {
	Kind    ErrorKind
	Message string
	// Retryable is Kind.Retryable(), copied for the engine's convenience.
	Retryable bool
	// RetryAfter is how long the provider or server asked us to wait
	// (Retry-After), 0 when it did not say. The engine should wait at least
	// this long before the next attempt.
	RetryAfter time.Duration
	// Partial is what the step consumed before failing: tokens, cost and
	// tool calls of the model calls that were made (nil when none), so
	// they can be recorded and billed even though the step failed.
	Partial *StepResult
	Err     error
}

func (e *StepError) Error() string {
	msg := string(e.Kind) + ": " + e.Message
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// KindOf returns the Kind of the *StepError in err's chain, "" when none.
func KindOf(err error) ErrorKind {
	if se, ok := errors.AsType[*StepError](err); ok {
		return se.Kind
	}
	return ""
}

func stepErr(kind ErrorKind, cause error, format string, args ...any) *StepError {
	return &StepError{Kind: kind, Message: fmt.Sprintf(format, args...), Retryable: kind.Retryable(), Err: cause}
}

// fromLLM converts a provider error into a StepError of the same kind.
func fromLLM(ctx context.Context, err error) *StepError {
	if se, ok := errors.AsType[*StepError](err); ok {
		return se
	}
	if ctxErr := contextKind(ctx); ctxErr != nil {
		ctxErr.Err = err
		return ctxErr
	}
	le, ok := errors.AsType[*llm.Error](err)
	if !ok {
		return stepErr(KindUnavailable, err, "model call failed")
	}
	kind := ErrorKind(le.Kind)
	switch le.Kind {
	case llm.KindRateLimited, llm.KindAuthFailed, llm.KindBadRequest, llm.KindUnavailable, llm.KindTimeout:
	case llm.KindInvalidResponse:
		kind = KindInvalidResponse
	default:
		kind = KindUnavailable
	}
	msg := le.Message
	if le.Provider != "" {
		msg = le.Provider + ": " + msg
	}
	if le.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", le.Status)
	}
	se := stepErr(kind, err, "%s", msg)
	se.RetryAfter = le.RetryAfter
	return se
}

// contextKind returns the StepError for a context that has ended (nil
// while it is live): timeout when its deadline passed, cancelled otherwise.
func contextKind(ctx context.Context) *StepError {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return stepErr(KindTimeout, err, "the step ran out of time")
	default:
		return stepErr(KindCancelled, err, "the step was cancelled")
	}
}

// fromTransport classifies a failed HTTP round trip of an http node or
// the http_request tool.
func fromTransport(ctx context.Context, err error, target string) *StepError {
	if blocked, ok := errors.AsType[*netguard.BlockedError](err); ok {
		return stepErr(KindBlocked, err, "%s", blocked.Error())
	}
	if se := contextKind(ctx); se != nil {
		se.Err = err
		return se
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return stepErr(KindTimeout, err, "request to %s timed out", target)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return stepErr(KindTimeout, err, "request to %s timed out", target)
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return stepErr(KindUnavailable, err, "request to %s failed: the host name could not be resolved", target)
	}
	return stepErr(KindUnavailable, err, "request to %s failed: the server could not be reached", target)
}
