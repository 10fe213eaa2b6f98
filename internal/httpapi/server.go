// Package httpapi is Super Agent's HTTP interface: huma v2 operations on a
// chi router, generating the OpenAPI 3.1 document from Go types, with one
// middleware chain (request id, access log, recover, security headers, CORS,
// body limit, deadlines), one error format (RFC 9457 problem+json) and one
// access-control gate that every route passes through.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"
	"github.com/go-chi/httprate"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// Settings are the HTTP layer's own settings. cmd/superagent fills every
// field from configuration; the package reads no configuration itself.
type Settings struct {
	// BodyLimitBytes bounds request bodies (413 beyond).
	BodyLimitBytes int64
	// CORSOrigins are the browser origins allowed to call the API; none
	// turns CORS off.
	CORSOrigins []string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// client addresses.
	TrustedProxies []*net.IPNet
	// AuthRateLimitPerMinute limits sign-in endpoints per client address;
	// APIRateLimitPerMinute everything else per user or API key.
	AuthRateLimitPerMinute int
	APIRateLimitPerMinute  int
	// MetricsToken is the bearer GET /metrics requires when set;
	// MetricsTokenRequired refuses every scrape while none is set
	// (production).
	MetricsToken         string
	MetricsTokenRequired bool
	// MaxAgentsPerWorkflow is the installation's graph size limit (plans
	// may set a lower one).
	MaxAgentsPerWorkflow int
	// MaxStepTimeout is the longest timeout a node may declare: the cap at
	// which the engine and the agent runtime stop a step, below the
	// queue's rescue horizon (agent.MaxStepTimeout).
	MaxStepTimeout time.Duration
}

// Deps are what the HTTP layer needs from the rest of the application.
type Deps struct {
	Settings Settings
	Store    domain.Store
	Log      *slog.Logger
	Version  string
	// Ready reports whether the process can serve: database reachable and
	// every migration applied. nil means always ready.
	Ready func(ctx context.Context) error
	// Auth authenticates requests. nil refuses every protected route.
	Auth Authenticator
	// AuthService serves the sign-in, account and API-key routes; nil
	// leaves them out (tests of other areas).
	AuthService *auth.Service
	// Engine runs workflows; nil leaves the execution routes out.
	Engine *engine.Engine
	// Agents is the process's agent runtime (provider credentials, usage and
	// the agent generator use it); nil answers those routes 503.
	Agents *agent.Setup
	// Metrics records every answered request; nil records nothing.
	Metrics RequestObserver
	// MetricsHandler serves GET /metrics; nil leaves the route out
	// (metrics turned off).
	MetricsHandler http.Handler
	// ErrorReporter receives 5xx answers and recovered panics (error
	// tracking); nil reports nothing.
	ErrorReporter ErrorReporter
	// ProbesOnly serves /health, /ready and /metrics and nothing else: a
	// worker process's probes.
	ProbesOnly bool
}

// RequestObserver records answered requests (metrics). route is the
// router's pattern ("/api/v1/workflows/{id}"), "" when no route matched;
// never the raw path.
type RequestObserver interface {
	ObserveRequest(method, route string, status int, d time.Duration)
}

// ErrorReporter sends server errors to error tracking. ReportError must
// return at once (it queues, and drops when its queue is full). tags hold
// only safe values: request id, route pattern, method, status; stack is the
// text of runtime/debug.Stack for panics, else nil.
type ErrorReporter interface {
	ReportError(err error, stack []byte, tags map[string]string)
}

// Server is the HTTP handler.
type Server struct {
	cfg     Settings
	store   domain.Store
	log     *slog.Logger
	version string
	ready   func(ctx context.Context) error
	auth    Authenticator
	authSvc *auth.Service
	engine  *engine.Engine
	ips     *ClientIPResolver

	metrics  RequestObserver
	reporter ErrorReporter

	authLimiter *httprate.RateLimiter // per client IP on sign-in endpoints
	apiLimiter  *httprate.RateLimiter // per user or API key on everything else

	router chi.Router
	api    huma.API
	routes []Route
}

// Route is one registered operation and who may call it; the access-matrix
// test enumerates these.
type Route struct {
	Method      string
	Path        string
	OperationID string
	Access      Access
}

var installErrorFormat sync.Once

// New builds the server and registers every route.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: d.Settings, store: d.Store, log: d.Log, version: d.Version, ready: d.Ready, auth: d.Auth,
		authSvc: d.AuthService, engine: d.Engine, ips: NewClientIPResolver(d.Settings.TrustedProxies), metrics: d.Metrics,
		reporter:    d.ErrorReporter,
		authLimiter: httprate.NewRateLimiter(d.Settings.AuthRateLimitPerMinute, time.Minute),
		apiLimiter:  httprate.NewRateLimiter(d.Settings.APIRateLimitPerMinute, time.Minute)}
	if s.version == "" {
		s.version = "dev"
	}

	// huma builds its own errors (validation, parsing) through this hook;
	// it is package state in huma, set once to our problem format.
	installErrorFormat.Do(func() {
		huma.NewErrorWithContext = humaError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return humaError(nil, status, msg, errs...)
		}
	})

	r := chi.NewRouter()
	r.Use(s.requestContext, securityHeaders)
	if len(d.Settings.CORSOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins:   d.Settings.CORSOrigins,
			AllowedMethods:   []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
			AllowedHeaders:   []string{"Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "Idempotency-Key", "If-Match", "Last-Event-ID"},
			ExposedHeaders:   []string{"X-Request-ID", "ETag", "Retry-After", "Location"},
			AllowCredentials: true,
			MaxAge:           600,
		}))
	}
	r.Use(bodyLimit(d.Settings.BodyLimitBytes), s.deadlines)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(r.Context(), http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(r.Context(), http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path))
	})
	s.router = r

	cfg := huma.DefaultConfig("Super Agent API", s.version)
	cfg.Info.Description = "Build, run and observe AI-agent workflows. Authenticate with a bearer access token " +
		"(from /api/v1/auth/login) or an API key (Authorization: Bearer sak_… or X-API-Key). Errors are RFC 9457 problem+json."
	cfg.OpenAPIPath = "/openapi"
	if d.ProbesOnly {
		cfg.OpenAPIPath = "" // no API to describe
	}
	cfg.DocsPath = ""    // huma's docs page loads from a CDN; ours are embedded (docs.go)
	cfg.SchemasPath = "" // schemas live in the OpenAPI document
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT or API key",
			Description: "An access token from /api/v1/auth/login, or an API key"},
		"apiKey": {Type: "apiKey", In: "header", Name: "X-API-Key", Description: "An API key"},
		"oauth2": {Type: "oauth2", Description: "OAuth 2.0 resource owner password grant (RFC 6749 §4.3)",
			Flows: &huma.OAuthFlows{Password: &huma.OAuthFlow{TokenURL: "/api/v1/auth/login", Scopes: map[string]string{}}}},
	}
	s.api = humachi.New(r, cfg)

	if d.ProbesOnly {
		s.registerProbes()
		s.registerMetrics(d.MetricsHandler)
		return s
	}
	s.registerSystemRoutes()
	s.registerWorkflowRoutes()
	if s.authSvc != nil {
		s.registerAuthRoutes()
	}
	s.registerTenancyRoutes()
	s.registerAuditRoutes()
	if s.engine != nil {
		s.registerExecutionRoutes()
	}
	s.registerLLMRoutes(d.Agents)
	s.registerMetrics(d.MetricsHandler)
	return s
}

// registerMetrics serves Prometheus metrics at GET /metrics (nothing when
// h is nil): a plain handler outside the OpenAPI document (Prometheus's own
// format), and a documented exception to the access matrix. With a metrics
// token set (production requires one) only requests bearing that token are
// answered; when one is required and none is set, none are.
func (s *Server) registerMetrics(h http.Handler) {
	if h == nil {
		return
	}
	want := sha256.Sum256([]byte(s.cfg.MetricsToken))
	open := s.cfg.MetricsToken == "" && !s.cfg.MetricsTokenRequired
	s.router.Get("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if !open {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			got := sha256.Sum256([]byte(token))
			// Comparing digests keeps the comparison's time independent of
			// the token's length as well as its content.
			if !ok || s.cfg.MetricsToken == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				writeProblem(w, newProblem(r.Context(), http.StatusUnauthorized, "metrics require the bearer token set in METRICS_TOKEN"))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Routes lists every registered operation with its access rule.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// API exposes the huma API (the OpenAPI document, for tests and tooling).
func (s *Server) API() huma.API { return s.api }

// register adds one operation behind the access gate.
func register[I, O any](s *Server, op huma.Operation, a Access, h func(ctx context.Context, in *I) (*O, error)) {
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = s.cfg.BodyLimitBytes
	}
	if !a.Public {
		op.Security = []map[string][]string{{"bearer": {}}, {"apiKey": {}}, {"oauth2": {}}}
		op.Errors = append(op.Errors, http.StatusUnauthorized)
		if a.Permission != "" {
			op.Errors = append(op.Errors, http.StatusForbidden)
			op.Description += "\n\nRequires permission `" + string(a.Permission) + "`."
		}
	}
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata["access"] = a
	op.Middlewares = append(huma.Middlewares{s.gate(a)}, op.Middlewares...)
	s.routes = append(s.routes, Route{Method: op.Method, Path: op.Path, OperationID: op.OperationID, Access: a})
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		out, err = settled(s, ctx, a, op.Path, in, h, out, err)
		var oe *OAuthError
		if errors.As(err, &oe) {
			return nil, oe // RFC 6749 error bodies keep their own shape
		}
		if err != nil {
			p := problemFor(ctx, s.log, err)
			if p.Status >= 500 {
				noteServerError(ctx, err)
			}
			return nil, p
		}
		return out, nil
	})
}

// writeHumaProblem writes a problem from a huma middleware.
func writeHumaProblem(ctx huma.Context, p *Problem) {
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	_ = json.NewEncoder(ctx.BodyWriter()).Encode(p)
}

// registerSystemRoutes adds health, readiness and documentation.
func (s *Server) registerSystemRoutes() {
	s.registerProbes()
	s.registerDocs()
}

// registerProbes adds health and readiness.
func (s *Server) registerProbes() {
	type healthOut struct {
		Body struct {
			Status  string `json:"status" example:"ok"`
			Version string `json:"version"`
		}
	}
	register(s, huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/health", Tags: []string{"System"},
		Summary: "Liveness: the process is up"}, Public(),
		func(ctx context.Context, _ *struct{}) (*healthOut, error) {
			out := &healthOut{}
			out.Body.Status, out.Body.Version = "ok", s.version
			return out, nil
		})
	type readyOut struct {
		Body struct {
			Status   string `json:"status" example:"ready"`
			Database string `json:"database" example:"postgres"`
		}
	}
	register(s, huma.Operation{OperationID: "ready", Method: http.MethodGet, Path: "/ready", Tags: []string{"System"},
		Summary: "Readiness: database reachable and all migrations applied", Errors: []int{http.StatusServiceUnavailable}}, Public(),
		func(ctx context.Context, _ *struct{}) (*readyOut, error) {
			if s.ready != nil {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				if err := s.ready(cctx); err != nil {
					s.log.WarnContext(ctx, "not ready", "error", err)
					return nil, &domain.Error{Code: domain.ECodeUnavailable, Message: "not ready: " + readyReason(err), Err: err}
				}
			}
			out := &readyOut{}
			out.Body.Status = "ready"
			if s.store != nil {
				out.Body.Database = s.store.Kind()
			}
			return out, nil
		})
}

// readyReason gives the safe part of a readiness failure.
func readyReason(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "dependency check failed"
}

// WalkRoutes calls fn for every method and path the router serves,
// including plain handlers outside the OpenAPI document (documentation
// pages), so tests can prove every route is covered.
func (s *Server) WalkRoutes(fn func(method, path string)) error {
	return chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		fn(method, route)
		return nil
	})
}
