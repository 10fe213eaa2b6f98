package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind classifies a provider failure by what the caller can do about it.
type Kind string

// Error kinds.
const (
	// KindRateLimited: the provider throttled the call (HTTP 429); retry
	// after Error.RetryAfter.
	KindRateLimited Kind = "rate_limited"
	// KindAuthFailed: the credentials were refused (HTTP 401/403).
	KindAuthFailed Kind = "auth_failed"
	// KindBadRequest: the request cannot succeed as sent (HTTP 400/404/422,
	// unknown provider, malformed model string, invalid tool schema).
	KindBadRequest Kind = "bad_request"
	// KindUnavailable: the provider failed or could not be reached (HTTP 5xx,
	// connection errors, an open circuit breaker).
	KindUnavailable Kind = "unavailable"
	// KindTimeout: the call ran out of time or was cancelled.
	KindTimeout Kind = "timeout"
	// KindInvalidResponse: the provider answered with something we cannot
	// use (no choices, tool arguments that are not JSON…).
	KindInvalidResponse Kind = "invalid_response"
)

// Retryable reports whether a call that failed with k may succeed if made
// again unchanged: rate_limited, unavailable and timeout.
func (k Kind) Retryable() bool {
	return k == KindRateLimited || k == KindUnavailable || k == KindTimeout
}

// Error is a classified provider failure. Its message never contains the
// API key.
type Error struct {
	Kind     Kind
	Provider string
	// Status is the HTTP status the provider answered with, 0 if none.
	Status int
	// RetryAfter is how long the provider asked us to wait (Retry-After or
	// retry-after-ms headers), 0 if it did not say.
	RetryAfter time.Duration
	// Message says what went wrong, in the provider's words when it gave
	// some.
	Message string
	// Err is the underlying cause, for errors.Is/As (e.g. context.Canceled).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("llm ")
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(" ")
	}
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the *Error in err's chain, or "" when err is nil
// or carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// IsRetryable reports whether err is an *Error of a retryable Kind.
func IsRetryable(err error) bool { return KindOf(err).Retryable() }

// RetryAfterOf returns the RetryAfter of the *Error in err's chain, 0 if none.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

func errorf(provider string, kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Provider: provider, Message: fmt.Sprintf(format, args...)}
}

// kindForStatus maps an HTTP status of a failed call to a Kind.
func kindForStatus(status int) Kind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindAuthFailed
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return KindTimeout
	case status >= 500:
		return KindUnavailable
	default: // 400, 404, 413, 422 and other 4xx
		return KindBadRequest
	}
}

// statusError builds the Error for an HTTP failure answered by the provider.
func statusError(provider string, status int, header http.Header, message string, cause error) *Error {
	if message == "" {
		message = http.StatusText(status)
	}
	e := &Error{
		Kind:     kindForStatus(status),
		Provider: provider,
		Status:   status,
		Message:  message,
		Err:      cause,
	}
	if header != nil {
		e.RetryAfter = parseRetryAfter(header, time.Now())
	}
	return e
}

// parseRetryAfter reads retry-after-ms (OpenAI) or Retry-After, in seconds or
// as an HTTP date (RFC 9110 §10.2.3). It returns 0 when neither is usable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// transportError classifies a failure that is not an HTTP error status:
// context ends and network timeouts are KindTimeout, undecodable answers
// KindInvalidResponse, anything else (refused connections, resets)
// KindUnavailable.
func transportError(ctx context.Context, provider string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &Error{Kind: KindTimeout, Provider: provider, Message: "call ended: " + ctxErr.Error(), Err: ctxErr}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Kind: KindTimeout, Provider: provider, Message: "call ended: " + err.Error(), Err: err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &Error{Kind: KindTimeout, Provider: provider, Message: "network timeout", Err: err}
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
		return &Error{Kind: KindInvalidResponse, Provider: provider, Message: "undecodable response: " + err.Error(), Err: err}
	}
	return &Error{Kind: KindUnavailable, Provider: provider, Message: err.Error(), Err: err}
}

// redact removes secret from s. Provider messages sometimes quote the key
// they refused; ours never do.
func redact(s, secret string) string {
	if secret == "" || len(secret) < 4 {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}
