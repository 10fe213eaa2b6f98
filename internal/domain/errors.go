package domain

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error for callers that must react to its kind, the
// HTTP layer above all. Each code maps to exactly one HTTP status there.
type ErrorCode string

// Error codes.
const (
	ECodeInvalid       ErrorCode = "invalid"        // 422: the input is well-formed but wrong
	ECodeBadRequest    ErrorCode = "bad_request"    // 400: the request cannot be read
	ECodeUnauthorized  ErrorCode = "unauthorized"   // 401: no or bad credentials
	ECodeForbidden     ErrorCode = "forbidden"      // 403: authenticated, not allowed
	ECodeNotFound      ErrorCode = "not_found"      // 404: missing, or not visible to the caller
	ECodeConflict      ErrorCode = "conflict"       // 409: state conflict (duplicate, stale version)
	ECodeTooLarge      ErrorCode = "too_large"      // 413: body or field beyond its limit
	ECodeLimitExceeded ErrorCode = "limit_exceeded" // 429: plan limit or rate limit reached
	ECodeUnavailable   ErrorCode = "unavailable"    // 503: a dependency is down
	ECodeInternal      ErrorCode = "internal"       // 500: a bug or an unexpected failure
)

// Error is an error with a code and a message that is safe to show to the
// caller. Internal details belong in the wrapped Err, which is logged and
// never shown.
type Error struct {
	Code    ErrorCode
	Message string
	// Fields lists per-field problems (JSON pointer → message) for ECodeInvalid.
	Fields []FieldError
	// RetryAfterSeconds is set for ECodeLimitExceeded when a retry can succeed later.
	RetryAfterSeconds int
	// Limit names the exceeded limit and its value for ECodeLimitExceeded.
	Limit      string
	LimitValue int64
	Err        error
}

// FieldError is one problem with one part of the input, located by a JSON
// pointer (RFC 6901) into the request body.
type FieldError struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrNotFound is the generic not-found error; stores wrap it with context.
var ErrNotFound = &Error{Code: ECodeNotFound, Message: "not found"}

// NotFound returns a not-found error naming the kind of object, e.g.
// NotFound("workflow"). Objects of another organization get exactly the same
// error as missing ones.
func NotFound(kind string) *Error {
	return &Error{Code: ECodeNotFound, Message: kind + " not found"}
}

// Invalid returns a validation error listing field problems.
func Invalid(msg string, fields ...FieldError) *Error {
	return &Error{Code: ECodeInvalid, Message: msg, Fields: fields}
}

// ErrCodeOf returns the code of err, ECodeInternal when err carries none.
func ErrCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code ErrorCode) bool {
	return err != nil && ErrCodeOf(err) == code
}
