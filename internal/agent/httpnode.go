package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// userAgent identifies requests of http nodes and the http_request tool.
const userAgent = "SuperAgent/1 (workflow http agent)"

// httpRequest is one request of an http node or the http_request tool, its
// templates already rendered.
type httpRequest struct {
	Method         string
	URL            string
	Headers        map[string]string
	Body           string
	IdempotencyKey string
	Timeout        time.Duration
}

// httpAnswer is a response, read and decoded.
type httpAnswer struct {
	Status int
	// Output is {"status", "headers", "body"} and, for bodies that are not
	// UTF-8 text, "body_encoding": "base64".
	Output  map[string]any
	Header  http.Header
	Snippet string // the start of the body, for error messages
}

// runHTTP renders the request, sends it through the SSRF guard and turns
// the answer into the output, or an error for 4xx and 5xx statuses.
func (r *Runtime) runHTTP(ctx context.Context, in StepInput, c *domain.HTTPConfig) (*StepResult, error) {
	render := func(what, tmpl string) (string, error) {
		out, err := workflow.RenderTemplate(tmpl, in.Data)
		if err != nil {
			return "", stepErr(KindBadRequest, err, "http %s: %v", what, err)
		}
		return out, nil
	}
	req := httpRequest{Method: c.Method, Headers: map[string]string{}, Timeout: DefaultHTTPTimeout}
	var err error
	if req.URL, err = render("url", c.URL); err != nil {
		return nil, err
	}
	req.URL = strings.TrimSpace(req.URL)
	for name, tmpl := range c.Headers {
		if req.Headers[name], err = render("header "+name, tmpl); err != nil {
			return nil, err
		}
	}
	if c.Body != "" {
		if req.Body, err = render("body", c.Body); err != nil {
			return nil, err
		}
	}
	switch {
	case c.TimeoutSeconds > 0:
		req.Timeout = time.Duration(c.TimeoutSeconds) * time.Second
	case in.Node.TimeoutSeconds > 0:
		req.Timeout = time.Duration(in.Node.TimeoutSeconds) * time.Second
	}
	if in.ExecutionID != "" {
		req.IdempotencyKey = in.ExecutionID + ":" + in.NodeID
	}
	ans, serr := r.doHTTP(ctx, req)
	if serr != nil {
		return nil, serr
	}
	if serr := statusError(req, ans); serr != nil {
		return nil, serr
	}
	return &StepResult{Output: ans.Output, CostKnown: true}, nil
}

// doHTTP sends req through the SSRF guard and reads at most
// MaxResponseBytes of the answer. Statuses are not errors here.
func (r *Runtime) doHTTP(ctx context.Context, req httpRequest) (*httpAnswer, *StepError) {
	method := strings.ToUpper(strings.TrimSpace(req.Method))
	if method == "" {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		return nil, stepErr(KindBadRequest, nil, "method %q is not one of GET, POST, PUT, PATCH, DELETE, HEAD", clipText(req.Method, 20))
	}
	if err := r.o.Guard.CheckURL(req.URL); err != nil {
		return nil, fromTransport(ctx, err, "")
	}
	target := displayURL(req.URL)
	var body *strings.Reader
	if req.Body != "" && method != http.MethodHead && method != http.MethodGet {
		body = strings.NewReader(req.Body)
	}
	var hr *http.Request
	var err error
	if body != nil {
		hr, err = http.NewRequestWithContext(ctx, method, req.URL, body)
	} else {
		hr, err = http.NewRequestWithContext(ctx, method, req.URL, nil)
	}
	if err != nil {
		return nil, stepErr(KindBadRequest, err, "the URL %s is not valid", target)
	}
	hr.Header.Set("User-Agent", userAgent)
	hr.Header.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")
	for name, value := range req.Headers {
		switch strings.ToLower(name) {
		case "host", "content-length", "transfer-encoding", "connection":
			continue // set by the transport from the URL and body
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, stepErr(KindBadRequest, nil, "header %s: a value may not contain line breaks", name)
		}
		hr.Header.Set(name, value)
	}
	if req.IdempotencyKey != "" && hr.Header.Get("Idempotency-Key") == "" {
		hr.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	if body != nil && hr.Header.Get("Content-Type") == "" {
		if json.Valid([]byte(req.Body)) {
			hr.Header.Set("Content-Type", "application/json")
		} else {
			hr.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}

	res, err := r.o.Guard.Client(req.Timeout).Do(hr)
	if err != nil {
		return nil, fromTransport(ctx, err, target)
	}
	defer res.Body.Close()
	raw, err := netguard.ReadLimited(res.Body, r.o.MaxResponseBytes)
	if errors.Is(err, netguard.ErrTooLarge) {
		return nil, stepErr(KindInvalidResponse, err, "the response of %s is larger than %d bytes", target, r.o.MaxResponseBytes)
	}
	if err != nil {
		return nil, fromTransport(ctx, err, target)
	}

	ans := &httpAnswer{Status: res.StatusCode, Header: res.Header, Snippet: snippet(raw)}
	headers := map[string]any{}
	for name, values := range res.Header {
		if strings.EqualFold(name, "Set-Cookie") {
			continue // session cookies are secrets; no workflow needs them
		}
		headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	ans.Output = map[string]any{"status": float64(res.StatusCode), "headers": headers, "body": decodeBody(res.Header, raw)}
	if !utf8.Valid(raw) {
		ans.Output["body_encoding"] = "base64"
	}
	return ans, nil
}

// decodeBody parses a JSON body (by content type, or any body that is
// valid JSON when the server sent no content type); other text stays a
// string, and bytes that are not UTF-8 become base64.
func decodeBody(h http.Header, raw []byte) any {
	if len(raw) == 0 {
		return ""
	}
	ct := h.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if (isJSON || ct == "") && json.Valid(raw) {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			return v
		}
	}
	if !utf8.Valid(raw) {
		return base64.StdEncoding.EncodeToString(raw)
	}
	return string(raw)
}

// statusError turns an error status into a StepError: 429 and 5xx are
// retryable (with the server's Retry-After), 408 is a timeout, 401 and 403
// are auth_failed, other 4xx bad_request.
func statusError(req httpRequest, ans *httpAnswer) *StepError {
	if ans.Status < 400 {
		return nil
	}
	kind := KindBadRequest
	switch {
	case ans.Status == http.StatusTooManyRequests:
		kind = KindRateLimited
	case ans.Status == http.StatusRequestTimeout:
		kind = KindTimeout
	case ans.Status == http.StatusUnauthorized || ans.Status == http.StatusForbidden:
		kind = KindAuthFailed
	case ans.Status >= 500:
		kind = KindUnavailable
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	msg := fmt.Sprintf("%s %s answered %d %s", method, displayURL(req.URL), ans.Status, http.StatusText(ans.Status))
	if ans.Snippet != "" {
		msg += ": " + ans.Snippet
	}
	se := stepErr(kind, nil, "%s", msg)
	if kind.Retryable() {
		se.RetryAfter = retryAfter(ans.Header, time.Now())
	}
	return se
}

// retryAfter reads Retry-After in seconds or as an HTTP date; 0 when absent
// or unusable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 7*24*3600 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// displayURL shows a URL without its query, fragment or user info, which
// may hold secrets rendered into it.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the URL"
	}
	return clipText(u.Scheme+"://"+u.Host+u.EscapedPath(), 200)
}

// snippet is the start of a body on one line, for error messages.
func snippet(raw []byte) string {
	if !utf8.Valid(raw) {
		return ""
	}
	s := strings.Join(strings.Fields(string(raw)), " ")
	return clipText(s, 200)
}

// clipText shortens s to at most n runes, marking the cut.
func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
