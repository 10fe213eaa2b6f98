package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// recorded is a request an HTTP test server received.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// recorder is a test server that records requests and answers with handle.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newRecorder(t *testing.T, handle http.HandlerFunc) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), string(body)})
		r.mu.Unlock()
		handle(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return recorded{}
	}
	return r.reqs[len(r.reqs)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func httpStep(cfg domain.HTTPConfig, data workflow.Data) agent.StepInput {
	return agent.StepInput{OrgID: "org_1", ExecutionID: "exe_42", NodeID: "fetch", Attempt: 1,
		Node: domain.Node{ID: "fetch", Type: domain.NodeHTTP, HTTP: &cfg}, Data: data}
}

func TestHTTPNodeRendersAndParses(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Request-Id", "r-9")
		w.Header().Add("Set-Cookie", "session=secret")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id": "T-17", "tags": ["a", "b"], "score": 0.5}`)
	})
	data := workflow.Data{Input: map[string]any{"ticket": "T-17", "token": "abc", "title": "Disk \"full\""}}
	res, err := newRuntime(t).Run(context.Background(), httpStep(domain.HTTPConfig{
		Method:  "POST",
		URL:     srv.URL + "/tickets/{{.input.ticket}}?verbose=1",
		Headers: map[string]string{"Authorization": "Bearer {{.input.token}}", "X-Node": "{{.node_id}}"},
		Body:    `{"title": {{json .input.title}}}`,
	}, data))
	if err != nil {
		t.Fatal(err)
	}
	got := srv.last()
	if got.Method != "POST" || got.Path != "/tickets/T-17" || got.Query != "verbose=1" || got.Body != `{"title": "Disk \"full\""}` {
		t.Errorf("request = %+v", got)
	}
	for name, want := range map[string]string{"Authorization": "Bearer abc", "X-Node": "fetch", "Content-Type": "application/json",
		"Idempotency-Key": "exe_42:fetch"} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	out, ok := res.Output.(map[string]any)
	if !ok {
		t.Fatalf("output = %#v", res.Output)
	}
	wantBody := map[string]any{"id": "T-17", "tags": []any{"a", "b"}, "score": 0.5}
	headers, _ := out["headers"].(map[string]any)
	if out["status"] != 201.0 || !reflect.DeepEqual(out["body"], wantBody) || headers["x-request-id"] != "r-9" {
		t.Errorf("output = %#v", out)
	}
	if _, leaked := headers["set-cookie"]; leaked {
		t.Error("the output carries Set-Cookie")
	}
}

func TestHTTPNodeKeepsTextAndAnIdempotencyKeyOfItsOwn(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "[not json")
	})
	res, err := newRuntime(t).Run(context.Background(), httpStep(domain.HTTPConfig{Method: "PUT", URL: srv.URL,
		Headers: map[string]string{"Idempotency-Key": "mine"}, Body: "plain words"}, workflow.Data{}))
	if err != nil {
		t.Fatal(err)
	}
	got := srv.last()
	if got.Header.Get("Idempotency-Key") != "mine" || got.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("headers = %v", got.Header)
	}
	if body := res.Output.(map[string]any)["body"]; body != "[not json" {
		t.Errorf("body = %#v", body)
	}
}

func TestHTTPNodeStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status     int
		retryAfter string
		kind       agent.ErrorKind
		wait       time.Duration
	}{
		{http.StatusInternalServerError, "", agent.KindUnavailable, 0},
		{http.StatusServiceUnavailable, "7", agent.KindUnavailable, 7 * time.Second},
		{http.StatusTooManyRequests, "2", agent.KindRateLimited, 2 * time.Second},
		{http.StatusTooManyRequests, "", agent.KindRateLimited, 0},
		{http.StatusNotFound, "30", agent.KindBadRequest, 0},
		{http.StatusUnprocessableEntity, "", agent.KindBadRequest, 0},
		{http.StatusUnauthorized, "", agent.KindAuthFailed, 0},
		{http.StatusRequestTimeout, "", agent.KindTimeout, 0},
	}
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d", tt.status), func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, `{"error": "something   went
				wrong"}`)
			})
			_, err := rt.Run(context.Background(), httpStep(domain.HTTPConfig{Method: "GET", URL: srv.URL + "/x?api_key=SECRET"}, workflow.Data{}))
			se := wantStepError(t, err, tt.kind)
			if se.RetryAfter != tt.wait {
				t.Errorf("RetryAfter = %s, want %s", se.RetryAfter, tt.wait)
			}
			if !strings.Contains(se.Message, fmt.Sprint(tt.status)) || !strings.Contains(se.Message, `"something went wrong"`) {
				t.Errorf("message %q names neither the status nor the body", se.Message)
			}
			if strings.Contains(se.Message, "SECRET") {
				t.Errorf("message %q repeats the query string", se.Message)
			}
		})
	}
}

func TestHTTPNodeRetryAfterAsDate(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	_, err := newRuntime(t).Run(context.Background(), httpStep(domain.HTTPConfig{Method: "GET", URL: srv.URL}, workflow.Data{}))
	se := wantStepError(t, err, agent.KindUnavailable)
	if se.RetryAfter < 80*time.Second || se.RetryAfter > 91*time.Second {
		t.Errorf("RetryAfter = %s, want about 90s", se.RetryAfter)
	}
}

func TestHTTPNodeTimeoutAndSizeLimit(t *testing.T) {
	t.Parallel()
	slow := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	start := time.Now()
	_, err := newRuntime(t).Run(context.Background(), httpStep(domain.HTTPConfig{Method: "GET", URL: slow.URL, TimeoutSeconds: 1}, workflow.Data{}))
	wantStepError(t, err, agent.KindTimeout)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the 1 s timeout took %s", d)
	}

	big := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, strings.Repeat("x", 5000)) })
	small := newRuntime(t, func(o *agent.Options) { o.MaxResponseBytes = 4096 })
	_, err = small.Run(context.Background(), httpStep(domain.HTTPConfig{Method: "GET", URL: big.URL}, workflow.Data{}))
	se := wantStepError(t, err, agent.KindInvalidResponse)
	if !strings.Contains(se.Message, "4096") {
		t.Errorf("message %q does not name the limit", se.Message)
	}
}

func TestHTTPNodeCancelled(t *testing.T) {
	t.Parallel()
	slow := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := newRuntime(t).Run(ctx, httpStep(domain.HTTPConfig{Method: "GET", URL: slow.URL}, workflow.Data{}))
	wantStepError(t, err, agent.KindCancelled)
}

// TestHTTPNodeSSRF checks that the guard refuses internal destinations
// and redirects to them, and that the allowlist opens exactly what it
// names. (Names that resolve to internal addresses are refused when
// connecting; netguard's own tests cover them.)
func TestHTTPNodeSSRF(t *testing.T) {
	t.Parallel()
	inner := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "internal secret") })
	innerURL, _ := url.Parse(inner.URL)
	redirector := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+"/admin", http.StatusFound)
	})
	redirectorURL, _ := url.Parse(redirector.URL)

	closed, err := netguard.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	strict := newRuntime(t, func(o *agent.Options) { o.Guard = closed })
	// Only the redirector's port is open: its redirect to another local port is not.
	onePort, err := netguard.New([]string{redirectorURL.Host})
	if err != nil {
		t.Fatal(err)
	}
	partial := newRuntime(t, func(o *agent.Options) { o.Guard = onePort })

	for _, tt := range []struct {
		name string
		rt   *agent.Runtime
		url  string
	}{
		{"loopback", strict, inner.URL},
		{"cloud metadata", strict, "http://169.254.169.254/latest/meta-data/"},
		{"private range", strict, "http://10.0.0.1/"},
		{"localhost name", strict, "http://localhost:" + innerURL.Port() + "/"},
		{"IPv6 loopback", strict, "http://[::1]:" + innerURL.Port() + "/"},
		{"decimal IPv4", strict, "http://2130706433/"},
		{"user info", strict, "http://user:pass@example.com/"},
		{"not http", strict, "file:///etc/passwd"},
		{"redirect to an unlisted port", partial, redirector.URL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := inner.count()
			_, err := tt.rt.Run(context.Background(), httpStep(domain.HTTPConfig{Method: "GET", URL: tt.url}, workflow.Data{}))
			se := wantStepError(t, err, agent.KindBlocked)
			if strings.Contains(se.Message, "127.0.0.1") && !strings.Contains(tt.url, "127.0.0.1") {
				t.Errorf("message %q names the internal address", se.Message)
			}
			if inner.count() != before {
				t.Error("the internal server was reached")
			}
		})
	}

	// The redirect was refused after the allowlisted redirector answered.
	if redirector.count() == 0 {
		t.Error("the allowlisted redirector was not reached")
	}
}
