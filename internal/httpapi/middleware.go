package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

type ctxKey int

const (
	reqInfoKey ctxKey = iota
	principalKey
	settleKey // func(context.Context) *Problem: settles a pending principal check
)

// reqInfo is what every request carries through the stack: its id, the
// client as derived from trusted proxies only, and the raw credentials.
type reqInfo struct {
	id        string
	ip        string
	userAgent string
	path      string
	start     time.Time
	// err is why a handler answered 5xx, for error tracking.
	err error
}

// noteServerError records why the request is answered with a 5xx, so the
// error tracker gets the cause rather than only the status.
func noteServerError(ctx context.Context, err error) {
	if ri := reqInfoFrom(ctx); ri != nil {
		ri.err = err
	}
}

func reqInfoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey).(*reqInfo)
	return ri
}

func requestIDFrom(ctx context.Context) string {
	if ri := reqInfoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// validRequestID accepts a caller's X-Request-ID only when it is short and
// plain, so it cannot inject anything into logs or headers.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// ClientIPResolver derives the client address: the peer, unless the peer is
// a trusted proxy, in which case X-Forwarded-For is walked from the right
// past trusted proxies. Untrusted peers cannot spoof their address.
type ClientIPResolver struct {
	trusted []*net.IPNet
}

// NewClientIPResolver trusts the given ranges.
func NewClientIPResolver(trusted []*net.IPNet) *ClientIPResolver {
	return &ClientIPResolver{trusted: trusted}
}

func (c *ClientIPResolver) isTrusted(ip net.IP) bool {
	for _, n := range c.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIP returns the client address of r.
func (c *ClientIPResolver) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer := net.ParseIP(host)
	if peer == nil || !c.isTrusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			return peer.String()
		}
		if !c.isTrusted(ip) {
			return ip.String()
		}
		peer = ip
	}
	return peer.String()
}

// statusRecorder records the status and size for the access log and keeps
// http.ResponseController features (flush, deadlines) reachable.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// requestContext assigns the request id, resolves the client IP, recovers
// panics into a generic 500, writes the access log line, records the
// request's metrics by route pattern and reports 5xx answers and panics to
// error tracking.
func (s *Server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		ri := &reqInfo{id: id, ip: s.ips.ClientIP(r), userAgent: r.UserAgent(), path: r.URL.Path, start: time.Now()}
		w.Header().Set("X-Request-ID", id)
		rec := &statusRecorder{ResponseWriter: w}
		ctx := context.WithValue(r.Context(), reqInfoKey, ri)
		defer func() {
			var route string
			if rc := chi.RouteContext(ctx); rc != nil {
				route = rc.RoutePattern()
			}
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				stack := debug.Stack()
				s.log.ErrorContext(ctx, "panic", "request_id", id, "panic", v, "stack", string(stack))
				if rec.status == 0 {
					writeProblem(rec, newProblem(ctx, http.StatusInternalServerError, "internal error"))
				}
				s.reportServerError(fmt.Errorf("panic: %v", v), stack, id, r.Method, route, http.StatusInternalServerError)
			} else if rec.status >= 500 {
				cause := ri.err
				if cause == nil {
					cause = fmt.Errorf("answered %d %s", rec.status, http.StatusText(rec.status))
				}
				s.reportServerError(cause, nil, id, r.Method, route, rec.status)
			}
			if s.metrics != nil {
				s.metrics.ObserveRequest(r.Method, route, rec.status, time.Since(ri.start))
			}
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			if r.URL.Path == "/health" || r.URL.Path == "/ready" {
				level = slog.LevelDebug
			}
			s.log.Log(ctx, level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", time.Since(ri.start).Milliseconds(),
				"client_ip", ri.ip)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// reportServerError hands a 5xx or panic to error tracking, with the
// request id and route pattern and nothing from the request itself.
func (s *Server) reportServerError(err error, stack []byte, requestID, method, route string, status int) {
	if s.reporter == nil {
		return
	}
	tags := map[string]string{"component": "http", "request_id": requestID, "method": method,
		"route": route, "status": strconv.Itoa(status)}
	if stack != nil {
		tags["panic"] = "true"
	}
	s.reporter.ReportError(err, stack, tags)
}

// Content security policies per kind of page.
const (
	cspAPI     = "default-src 'none'; frame-ancestors 'none'"
	cspApp     = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	cspSwagger = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
	cspRedoc   = "default-src 'self'; script-src 'self' blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

// securityHeaders sets the headers every response carries; API responses
// are never cached.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		switch p := r.URL.Path; {
		case p == "/docs" || strings.HasPrefix(p, "/docs/"):
			h.Set("Content-Security-Policy", cspSwagger)
		case p == "/redoc" || strings.HasPrefix(p, "/redoc/"):
			h.Set("Content-Security-Policy", cspRedoc)
		case strings.HasPrefix(p, "/api/") || p == "/openapi.json" || p == "/health" || p == "/ready" || p == "/metrics":
			h.Set("Content-Security-Policy", cspAPI)
			h.Set("Cache-Control", "no-store")
		default:
			h.Set("Content-Security-Policy", cspApp)
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit caps request bodies for every handler (huma operations also
// carry their own MaxBodyBytes, answering 413 with a problem body).
func bodyLimit(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				writeProblem(w, &Problem{Title: http.StatusText(http.StatusRequestEntityTooLarge), Status: http.StatusRequestEntityTooLarge,
					Detail: "request body is larger than the limit", Code: "too_large", RequestID: requestIDFrom(r.Context())})
				return
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// deadlines bounds each request's time: ordinary routes get the default;
// streams (SSE) and waits (execute with wait_seconds) declare their own.
func (s *Server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.routeDeadline(r)
		if d <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + 5*time.Second))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) routeDeadline(r *http.Request) time.Duration {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/events"):
		return 0 // event streams last as long as the client listens
	case strings.HasSuffix(p, "/execute"):
		return 90 * time.Second // wait_seconds is at most 60
	case strings.HasSuffix(p, "/export"):
		return 10 * time.Minute
	case strings.HasSuffix(p, "/agents/generate"):
		return 3 * time.Minute // a real model drafting an agent

	}
	return 30 * time.Second
}
