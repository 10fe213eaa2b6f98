package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Problem is an RFC 9457 problem-details body: every error the API returns,
// including unknown routes, wrong methods and validation failures.
type Problem struct {
	Type      string         `json:"type,omitempty" doc:"A URI reference identifying the problem type"`
	Title     string         `json:"title" doc:"Short summary of the problem type"`
	Status    int            `json:"status" doc:"HTTP status code"`
	Detail    string         `json:"detail,omitempty" doc:"Explanation specific to this occurrence"`
	Instance  string         `json:"instance,omitempty" doc:"The request path"`
	Code      string         `json:"code,omitempty" doc:"Machine-readable error code"`
	RequestID string         `json:"request_id,omitempty" doc:"Request id, also in the X-Request-ID header"`
	Errors    []ProblemField `json:"errors,omitempty" doc:"Per-field problems, located by JSON pointer"`
	Limit     string         `json:"limit,omitempty" doc:"The limit that was exceeded"`
	LimitVal  *int64         `json:"limit_value,omitempty" doc:"The value of the exceeded limit"`

	headers http.Header
}

// ProblemField is one problem with one part of the input.
type ProblemField struct {
	Pointer string `json:"pointer" doc:"JSON pointer (RFC 6901) into the request body, or the parameter location"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders implements huma.HeadersError.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// statusOf is the one mapping from domain error codes to HTTP statuses.
func statusOf(code domain.ErrorCode) int {
	switch code {
	case domain.ECodeBadRequest:
		return http.StatusBadRequest
	case domain.ECodeUnauthorized:
		return http.StatusUnauthorized
	case domain.ECodeForbidden:
		return http.StatusForbidden
	case domain.ECodeNotFound:
		return http.StatusNotFound
	case domain.ECodeConflict:
		return http.StatusConflict
	case domain.ECodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.ECodeInvalid:
		return http.StatusUnprocessableEntity
	case domain.ECodeLimitExceeded:
		return http.StatusTooManyRequests
	case domain.ECodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// newProblem builds a problem for a status with the standard title.
func newProblem(ctx context.Context, status int, detail string) *Problem {
	p := &Problem{Title: http.StatusText(status), Status: status, Detail: detail, RequestID: requestIDFrom(ctx)}
	if ri := reqInfoFrom(ctx); ri != nil {
		p.Instance = ri.path
	}
	return p
}

// problemFor turns any error into a Problem. Domain errors keep their safe
// message; anything else becomes a generic 500 whose cause is logged with
// the request id and never shown.
func problemFor(ctx context.Context, log *slog.Logger, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		if p.RequestID == "" {
			p.RequestID = requestIDFrom(ctx)
		}
		return p
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return newProblem(ctx, se.GetStatus(), se.Error())
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		de = &domain.Error{Code: domain.ECodeInternal, Message: "internal error", Err: err}
	}
	status := statusOf(de.Code)
	p = newProblem(ctx, status, de.Message)
	p.Code = string(de.Code)
	for _, f := range de.Fields {
		p.Errors = append(p.Errors, ProblemField{Pointer: f.Pointer, Message: f.Message})
	}
	if de.Limit != "" {
		p.Limit = de.Limit
		v := de.LimitValue
		p.LimitVal = &v
	}
	if de.RetryAfterSeconds > 0 {
		p.headers = http.Header{"Retry-After": {strconv.Itoa(de.RetryAfterSeconds)}}
	}
	if status == http.StatusUnauthorized {
		p.headers = http.Header{"WWW-Authenticate": {`Bearer realm="superagent"`}} // RFC 9110 §15.5.2
	}
	if status >= 500 {
		log.ErrorContext(ctx, "request failed", "request_id", p.RequestID, "status", status, "error", err)
		if status == http.StatusInternalServerError {
			p.Detail = "internal error"
		}
	}
	return p
}

// writeProblem writes a problem from a plain net/http handler.
func writeProblem(w http.ResponseWriter, p *Problem) {
	for k, vs := range p.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

var humaIndex = regexp.MustCompile(`\[(\d+)\]`)

// humaLocationToPointer turns huma's "body.agents[0].id" into "/agents/0/id".
func humaLocationToPointer(loc string) string {
	loc = humaIndex.ReplaceAllString(loc, ".$1")
	if rest, ok := strings.CutPrefix(loc, "body"); ok {
		rest = strings.TrimPrefix(rest, ".")
		if rest == "" {
			return ""
		}
		return "/" + strings.ReplaceAll(rest, ".", "/")
	}
	return loc // path.id, query.limit, header.If-Match
}

// humaError makes huma's own errors (validation, parsing, body size) use
// the Problem format. Installed on each API's config.
func humaError(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
	var c context.Context = context.Background()
	if ctx != nil {
		c = ctx.Context()
		if settle, _ := c.Value(settleKey).(func(context.Context) *Problem); settle != nil {
			if p := settle(c); p != nil {
				for k, vs := range p.headers { // huma writes its own errors without them
					for _, v := range vs {
						ctx.AppendHeader(k, v)
					}
				}
				return p
			}
		}
	}
	p := newProblem(c, status, msg)
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d *huma.ErrorDetail
		if ed, ok := e.(huma.ErrorDetailer); ok {
			d = ed.ErrorDetail()
		} else {
			d = &huma.ErrorDetail{Message: e.Error()}
		}
		p.Errors = append(p.Errors, ProblemField{Pointer: humaLocationToPointer(d.Location), Message: d.Message})
	}
	switch status {
	case http.StatusUnprocessableEntity:
		p.Code = string(domain.ECodeInvalid)
	case http.StatusRequestEntityTooLarge:
		p.Code = string(domain.ECodeTooLarge)
	case http.StatusBadRequest:
		p.Code = string(domain.ECodeBadRequest)
	}
	return p
}
