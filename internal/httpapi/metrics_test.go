package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/observe"
	"github.com/superagent-hq/superagent/internal/observe/sentrytest"
)

var productionSettings = []string{"ENVIRONMENT=production", "SECRET_KEY=" + strings.Repeat("p", 40),
	"ENCRYPTION_KEYS=k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "SMTP_HOST=mail.example.com"}

const metricsToken = "metrics-token-0123456789abcdef"

// observedServer is a server with real metrics and, optionally, real error
// reporting.
func observedServer(t *testing.T, ready func(context.Context) error, reporter httpapi.ErrorReporter, settings ...string) *httptest.Server {
	t.Helper()
	cfg, err := config.Load(settings, "")
	if err != nil {
		t.Fatal(err)
	}
	m := observe.NewMetrics(observe.MetricsOptions{Version: "test"})
	srv := httpapi.New(httpapi.Deps{Settings: httpSettings(t, cfg), Ready: ready, Metrics: m, MetricsHandler: metricsHandler(cfg, m.Handler()),
		ErrorReporter: reporter})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func getWith(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestMetricsAccess: /metrics is open in development, absent when turned
// off, and answers only the METRICS_TOKEN bearer when a token is set; in
// production without the token it refuses.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	bearer := map[string]string{"Authorization": "Bearer " + metricsToken}
	prodWithMetrics := append(append([]string(nil), productionSettings...), "METRICS_ENABLED=true", "METRICS_TOKEN="+metricsToken)
	tests := []struct {
		name     string
		settings []string
		header   map[string]string
		status   int
	}{
		{"development, no token set", nil, nil, 200},
		{"turned off", []string{"METRICS_ENABLED=false"}, bearer, 404},
		{"development with a token, none sent", []string{"METRICS_TOKEN=" + metricsToken}, nil, 401},
		{"development with a token, sent", []string{"METRICS_TOKEN=" + metricsToken}, bearer, 200},
		{"production, no credentials", prodWithMetrics, nil, 401},
		{"production, a user's kind of credential", prodWithMetrics, map[string]string{"X-API-Key": metricsToken}, 401},
		{"production, wrong token", prodWithMetrics, map[string]string{"Authorization": "Bearer " + metricsToken + "x"}, 401},
		{"production, token without the scheme", prodWithMetrics, map[string]string{"Authorization": metricsToken}, 401},
		{"production, the token", prodWithMetrics, bearer, 200},
		{"production default: off", productionSettings, bearer, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := observedServer(t, nil, nil, tt.settings...)
			res, body := getWith(t, ts.URL+"/metrics", tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("GET /metrics = %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			switch tt.status {
			case 200:
				if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, `superagent_build_info{version="test"} 1`) {
					t.Errorf("metrics body:\n%s", body)
				}
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("metrics may be cached: %q", res.Header.Get("Cache-Control"))
				}
			case 401:
				if res.Header.Get("WWW-Authenticate") == "" || strings.Contains(body, "go_goroutines") ||
					res.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("refusal: %v %s", res.Header, body)
				}
			}
		})
	}
}

// TestRequestMetricsUseRoutePatterns: requests are counted by the route's
// pattern, never by the path a client sent.
func TestRequestMetricsUseRoutePatterns(t *testing.T) {
	t.Parallel()
	ts := observedServer(t, nil, nil)
	for _, p := range []string{"/health", "/api/v1/workflows/wf_abcdef0123456789", "/nope/usr_inventedpath"} {
		res, _ := getWith(t, ts.URL+p, nil)
		if res.StatusCode >= 500 {
			t.Fatalf("%s = %d", p, res.StatusCode)
		}
	}
	_, body := getWith(t, ts.URL+"/metrics", nil)
	for _, want := range []string{
		`superagent_http_request_duration_seconds_count{method="GET",route="/health",status="200"} 1`,
		`superagent_http_request_duration_seconds_count{method="GET",route="/api/v1/workflows/{id}",status="401"} 1`,
		`superagent_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	for _, leak := range []string{"wf_abcdef", "usr_invented", "/nope"} {
		if strings.Contains(body, leak) {
			t.Errorf("a raw path became a label: %s", leak)
		}
	}
}

// TestServerErrorsReachErrorTracking: a 503 with its cause and a panic are
// reported to a server speaking Sentry's envelope API with the request id
// and route pattern; a 404 is not; nothing of the request's headers and no
// e-mail address is sent.
func TestServerErrorsReachErrorTracking(t *testing.T) {
	t.Parallel()
	fake := sentrytest.NewServer(t)
	reporter, err := observe.NewReporter(observe.ReporterOptions{DSN: fake.DSN(), Release: "9.9.9", Environment: "staging", Throttle: -1})
	if err != nil {
		t.Fatal(err)
	}
	reporter.Start()
	var mode atomic.Int32
	ready := func(context.Context) error {
		switch mode.Load() {
		case 1:
			return errors.New("database login for dba@example.com refused")
		case 2:
			panic("readiness exploded")
		}
		return nil
	}
	ts := observedServer(t, ready, reporter)
	secretHeaders := map[string]string{"Authorization": "Bearer header-secret-token", "Cookie": "session=cookie-secret",
		"User-Agent": "ua-marker-agent", "X-Request-ID": ""}

	secretHeaders["X-Request-ID"] = "req-not-found"
	if res, _ := getWith(t, ts.URL+"/api/v1/nope", secretHeaders); res.StatusCode != 404 {
		t.Fatalf("unknown route = %d", res.StatusCode)
	}
	mode.Store(1)
	secretHeaders["X-Request-ID"] = "req-unavailable"
	if res, _ := getWith(t, ts.URL+"/ready", secretHeaders); res.StatusCode != 503 {
		t.Fatalf("/ready failing = %d", res.StatusCode)
	}
	mode.Store(2)
	secretHeaders["X-Request-ID"] = "req-panic"
	if res, body := getWith(t, ts.URL+"/ready", secretHeaders); res.StatusCode != 500 || strings.Contains(body, "exploded") {
		t.Fatalf("/ready panicking = %d %s", res.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := fake.Wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := reporter.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := fake.Envelopes()
	if len(got) != 2 {
		t.Fatalf("%d reports, want 2 (503 and panic, not the 404)", len(got))
	}
	byRequest := map[string]sentrytest.Event{}
	for _, e := range got {
		byRequest[e.Event.Tags["request_id"]] = e.Event
		for _, leak := range []string{"header-secret-token", "cookie-secret", "ua-marker-agent", "dba@example.com", "127.0.0.1"} {
			if strings.Contains(string(e.Raw), leak) {
				t.Errorf("report carries %q:\n%s", leak, e.Raw)
			}
		}
	}
	unavailable := byRequest["req-unavailable"]
	if unavailable.Transaction != "GET /ready" || unavailable.Tags["status"] != "503" || unavailable.Tags["route"] != "/ready" ||
		unavailable.Release != "superagent@9.9.9" || unavailable.Environment != "staging" ||
		!strings.Contains(unavailable.Exception.Values[0].Value, "database login for [email] refused") {
		t.Errorf("503 report: %+v", unavailable)
	}
	panicked := byRequest["req-panic"]
	v := panicked.Exception.Values
	if panicked.Tags["status"] != "500" || len(v) != 1 || v[0].Type != "panic" || !strings.Contains(v[0].Value, "readiness exploded") || v[0].Stacktrace == nil {
		t.Fatalf("panic report: %+v", panicked)
	}
	inApp := false
	for _, f := range v[0].Stacktrace.Frames {
		inApp = inApp || (f.InApp && strings.HasSuffix(f.AbsPath, "metrics_test.go"))
	}
	if !inApp {
		t.Errorf("the panic's stack does not reach the panicking function: %+v", v[0].Stacktrace.Frames)
	}
}

// TestMetricsRouteIsADocumentedException: a server serving /metrics has no
// route that is neither an operation in the access matrix nor a known
// static route (staticRoutes in matrix_test.go lists /metrics).
func TestMetricsRouteIsADocumentedException(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	m := observe.NewMetrics(observe.MetricsOptions{})
	srv := httpapi.New(httpapi.Deps{Settings: httpSettings(t, cfg), Metrics: m, MetricsHandler: metricsHandler(cfg, m.Handler())})
	ops := map[string]bool{}
	for _, r := range srv.Routes() {
		ops[r.Method+" "+r.Path] = true
	}
	served := false
	_ = srv.WalkRoutes(func(method, path string) {
		if method == http.MethodOptions || method == http.MethodHead {
			return
		}
		served = served || method+" "+path == "GET /metrics"
		if !ops[method+" "+path] && !staticRoutes[method+" "+path] {
			t.Errorf("%s %s is neither an operation nor a documented static route", method, path)
		}
	})
	if !served {
		t.Error("GET /metrics is not served")
	}
}

// TestProbesOnlyServer: a worker's probe server answers health, readiness
// (503 while not ready) and metrics with the same token rule as the API
// server, and no API route, document or page.
func TestProbesOnlyServer(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{"METRICS_TOKEN=" + metricsToken}, "")
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	m := observe.NewMetrics(observe.MetricsOptions{Version: "test"})
	srv := httpapi.New(httpapi.Deps{Settings: httpSettings(t, cfg), Metrics: m, MetricsHandler: metricsHandler(cfg, m.Handler()), ProbesOnly: true,
		Ready: func(context.Context) error {
			if !ready.Load() {
				return errors.New("migrations pending")
			}
			return nil
		}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for _, tt := range []struct {
		path   string
		header map[string]string
		status int
	}{
		{"/health", nil, 200},
		{"/ready", nil, 503},
		{"/metrics", nil, 401},
		{"/metrics", map[string]string{"Authorization": "Bearer " + metricsToken}, 200},
		{"/api/v1/workflows", map[string]string{"Authorization": "Bearer " + metricsToken}, 404},
		{"/api/v1/auth/login", nil, 404},
		{"/openapi.json", nil, 404},
		{"/docs", nil, 404},
	} {
		if res, body := getWith(t, ts.URL+tt.path, tt.header); res.StatusCode != tt.status {
			t.Errorf("GET %s = %d, want %d: %s", tt.path, res.StatusCode, tt.status, body)
		}
	}
	ready.Store(true)
	if res, body := getWith(t, ts.URL+"/ready", nil); res.StatusCode != 200 {
		t.Errorf("GET /ready once ready = %d: %s", res.StatusCode, body)
	}
}
