package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
)

func newServer(t *testing.T, ready func(context.Context) error, env ...string) *httptest.Server {
	t.Helper()
	cfg, err := config.Load(append([]string{"REQUEST_BODY_LIMIT_BYTES=2048"}, env...), "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.New(httpapi.Deps{Settings: httpSettings(t, cfg), Ready: ready}))
	t.Cleanup(ts.Close)
	return ts
}

func decodeProblem(t *testing.T, res *http.Response) httpapi.Problem {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q, want application/problem+json", ct)
	}
	var p httpapi.Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	return p
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	var failing bool
	ts := newServer(t, func(context.Context) error {
		if failing {
			return &domain.Error{Code: domain.ECodeUnavailable, Message: "database unreachable"}
		}
		return nil
	})
	for _, path := range []string{"/health", "/ready"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s = %d", path, res.StatusCode)
		}
	}
	failing = true
	res, err := http.Get(ts.URL + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := decodeProblem(t, res)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(p.Detail, "database unreachable") {
		t.Errorf("/ready while failing = %d %+v", res.StatusCode, p)
	}
}

func TestProblemsForUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil)
	res, err := http.Get(ts.URL + "/api/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	p := decodeProblem(t, res)
	res.Body.Close()
	if res.StatusCode != 404 || p.Status != 404 || p.RequestID == "" || p.RequestID != res.Header.Get("X-Request-ID") {
		t.Errorf("unknown route = %d %+v", res.StatusCode, p)
	}
	res, err = http.Post(ts.URL+"/health", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	p = decodeProblem(t, res)
	res.Body.Close()
	if res.StatusCode != 405 || p.Status != 405 {
		t.Errorf("wrong method = %d %+v", res.StatusCode, p)
	}
}

func TestRequestIDIsEchoedOnlyWhenSafe(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil)
	for _, tc := range []struct{ in, want string }{
		{"abc-123", "abc-123"},
		{"bad id\r\nX-Injected: 1", ""},
		{strings.Repeat("a", 200), ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/health", nil)
		req.Header["X-Request-Id"] = []string{tc.in}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			// net/http refuses to send the header with CR LF; that is fine.
			continue
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-ID")
		if tc.want != "" && got != tc.want {
			t.Errorf("X-Request-ID %q echoed as %q", tc.in, got)
		}
		if tc.want == "" && (got == tc.in || !strings.HasPrefix(got, "req_")) {
			t.Errorf("unsafe X-Request-ID %q was echoed as %q", tc.in, got)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil)
	for _, tc := range []struct {
		path, csp string
		noStore   bool
	}{
		{"/health", "default-src 'none'", true},
		{"/openapi.json", "default-src 'none'", true},
		{"/docs", "script-src 'self'", false},
		{"/redoc", "worker-src 'self' blob:", false},
	} {
		res, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		h := res.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: missing nosniff or frame options", tc.path)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, tc.csp) || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
		if tc.noStore && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.path, h.Get("Cache-Control"))
		}
	}
}

func TestDocsPagesAreSelfContained(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil)
	for _, path := range []string{"/docs", "/redoc"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		page := string(b)
		if res.StatusCode != 200 || strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script>") {
			t.Errorf("%s must load only local files and carry no inline script: %s", path, page)
		}
	}
	for _, path := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js", "/redoc/redoc.standalone.js"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n == 0 {
			t.Errorf("%s = %d (%d bytes)", path, res.StatusCode, n)
		}
	}
	res, err := http.Get(ts.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Components.SecuritySchemes["oauth2"] == nil {
		t.Errorf("openapi %q, schemes %v", doc.OpenAPI, doc.Components.SecuritySchemes)
	}
}

func TestClientIPFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	r := httpapi.NewClientIPResolver(mustNets(t, "10.0.0.0/8"))
	for _, tc := range []struct{ peer, xff, want string }{
		{"203.0.113.9:1234", "1.2.3.4", "203.0.113.9"},             // untrusted peer: header ignored
		{"10.0.0.5:1234", "1.2.3.4", "1.2.3.4"},                    // trusted proxy: client from header
		{"10.0.0.5:1234", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4"}, // walk past trusted hops only
		{"10.0.0.5:1234", "", "10.0.0.5"},
		{"10.0.0.5:1234", "garbage", "10.0.0.5"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.peer
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := r.ClientIP(req); got != tc.want {
			t.Errorf("peer %s xff %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func mustNets(t *testing.T, cidrs ...string) []*net.IPNet {
	t.Helper()
	var out []*net.IPNet
	for _, c := range cidrs {
		n, err := config.ParseCIDROrIP(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestOversizeBodiesAre413: a body beyond REQUEST_BODY_LIMIT_BYTES (2048
// here) is refused with 413 and a problem body, whether it declares its
// length or streams in chunks; a body within the limit reaches the
// operation.
func TestOversizeBodiesAre413(t *testing.T) {
	t.Parallel()
	ts := newEnv(t, "sqlite", "REQUEST_BODY_LIMIT_BYTES=2048").srv
	big := `{"email":"` + strings.Repeat("a", 4096) + `@example.com"}`
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"declared length", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader(big))}, // unknown length: sent chunked
	} {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/auth/register", tc.body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := decodeProblem(t, res)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || p.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d bytes = %d %+v, want 413", tc.name, len(big), res.StatusCode, p)
		}
		if tc.name == "chunked" && req.ContentLength != 0 {
			t.Errorf("the chunked request declared a length of %d", req.ContentLength)
		}
	}
	// Within the limit the body is read and validated (422 for missing fields), not refused for its size.
	res, err := http.Post(ts.URL+"/api/v1/auth/register", "application/json", strings.NewReader(`{"email":"`+strings.Repeat("a", 1500)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := decodeProblem(t, res)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a body within the limit = %d %+v, want 422", res.StatusCode, p)
	}
}

// TestCORSFollowsCORSOrigins: an allowed origin gets the CORS headers on
// requests and preflights; any other origin gets none.
func TestCORSFollowsCORSOrigins(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil, "CORS_ORIGINS=https://app.example.com,https://admin.example.com")
	send := func(method, origin string, headers map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+"/api/v1/auth/login", nil)
		if method == http.MethodGet {
			req, err = http.NewRequest(method, ts.URL+"/health", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	for _, origin := range []string{"https://app.example.com", "https://admin.example.com"} {
		res := send(http.MethodGet, origin, nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != origin ||
			res.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Expose-Headers")), "x-request-id") {
			t.Errorf("GET from %s: %d %v", origin, res.StatusCode, res.Header)
		}
		if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("GET from %s: no Vary: Origin: %v", origin, res.Header)
		}
	}
	res := send(http.MethodGet, "https://evil.example.com", nil)
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET from another origin = %d (CORS only withholds headers; the browser enforces it)", res.StatusCode)
	}
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("GET from another origin got %s: %v", k, res.Header)
		}
	}

	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	res = send(http.MethodOptions, "https://app.example.com", preflight)
	methods := res.Header.Get("Access-Control-Allow-Methods")
	allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
	if res.StatusCode/100 != 2 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(methods, "POST") || !strings.Contains(allowed, "authorization") || !strings.Contains(allowed, "content-type") ||
		res.Header.Get("Access-Control-Max-Age") != "600" {
		t.Errorf("preflight from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	res = send(http.MethodOptions, "https://evil.example.com", preflight)
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("preflight from another origin got %s: %v", k, res.Header)
		}
	}
	// A header outside the allowlist is not granted.
	res = send(http.MethodOptions, "https://app.example.com", map[string]string{"Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "x-not-allowed"})
	if strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "x-not-allowed") || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight asking for a header outside the allowlist: %v", res.Header)
	}
}
