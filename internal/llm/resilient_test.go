package llm

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

// sleepRecorder replaces Resilient's wait: it records the delays and
// returns at once.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

func newTestResilient(cfg ResilienceConfig) (*Resilient, *sleepRecorder) {
	rec := &sleepRecorder{}
	cfg.sleep = rec.sleep
	return NewResilient(cfg), rec
}

func openAIOn(srv *llmtest.Server) *OpenAI {
	return NewOpenAI("openai", Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}, nil)
}

func hiRequest() *Request {
	return &Request{Model: "gpt-4o-mini", Messages: []Message{{Role: RoleUser, Content: "Hi"}}}
}

func TestResilientHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		header   http.Header
		min, max time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second, 7 * time.Second},
		{"HTTP date", http.Header{"Retry-After": {time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)}}, 18 * time.Second, 20 * time.Second},
		{"retry-after-ms", http.Header{"Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewOpenAI(t)
			srv.Push(llmtest.Reply{Status: 429, Header: tc.header}, llmtest.Reply{Text: "ok"})
			r, rec := newTestResilient(ResilienceConfig{})
			res, err := r.Complete(context.Background(), openAIOn(srv), "org_1", hiRequest())
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if res.Text != "ok" {
				t.Errorf("Text = %q", res.Text)
			}
			if n := len(srv.Requests()); n != 2 {
				t.Errorf("server got %d requests, want 2", n)
			}
			delays := rec.recorded()
			if len(delays) != 1 || delays[0] < tc.min || delays[0] > tc.max {
				t.Errorf("waited %v, want one wait in [%s, %s]", delays, tc.min, tc.max)
			}
		})
	}
}

func TestResilientRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		replies   []llmtest.Reply
		cfg       ResilienceConfig
		wantCalls int
		wantKind  Kind // "" for success
		// wantDelays are [min, max] bounds of each wait, in order.
		wantDelays [][2]time.Duration
	}{
		{
			name:       "server errors back off exponentially with jitter",
			replies:    []llmtest.Reply{{Status: 500}, {Status: 502}, {Text: "ok"}},
			wantCalls:  3,
			wantDelays: [][2]time.Duration{{250 * time.Millisecond, 500 * time.Millisecond}, {500 * time.Millisecond, time.Second}},
		},
		{
			name:       "backoff is capped by MaxDelay",
			replies:    []llmtest.Reply{{Status: 503}, {Status: 503}, {Status: 503}, {Text: "ok"}},
			cfg:        ResilienceConfig{MaxAttempts: 4, InitialDelay: time.Second, MaxDelay: 1500 * time.Millisecond},
			wantCalls:  4,
			wantDelays: [][2]time.Duration{{500 * time.Millisecond, time.Second}, {750 * time.Millisecond, 1500 * time.Millisecond}, {750 * time.Millisecond, 1500 * time.Millisecond}},
		},
		{
			name:       "attempts run out",
			replies:    []llmtest.Reply{{Status: 503}, {Status: 503}, {Status: 503}, {Text: "never asked"}},
			wantCalls:  3,
			wantKind:   KindUnavailable,
			wantDelays: [][2]time.Duration{{250 * time.Millisecond, 500 * time.Millisecond}, {500 * time.Millisecond, time.Second}},
		},
		{
			name:      "bad request is not retried",
			replies:   []llmtest.Reply{{Status: 400}, {Text: "never asked"}},
			wantCalls: 1,
			wantKind:  KindBadRequest,
		},
		{
			name:      "auth failure is not retried",
			replies:   []llmtest.Reply{{Status: 401}, {Text: "never asked"}},
			wantCalls: 1,
			wantKind:  KindAuthFailed,
		},
		{
			name:      "Retry-After beyond MaxDelay returns the error for the caller to reschedule",
			replies:   []llmtest.Reply{{Status: 429, RetryAfter: "120"}, {Text: "never asked"}},
			wantCalls: 1,
			wantKind:  KindRateLimited,
		},
		{
			name:      "MaxAttempts 1 disables retries",
			replies:   []llmtest.Reply{{Status: 500}, {Text: "never asked"}},
			cfg:       ResilienceConfig{MaxAttempts: 1},
			wantCalls: 1,
			wantKind:  KindUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewOpenAI(t)
			srv.Push(tc.replies...)
			r, rec := newTestResilient(tc.cfg)
			res, err := r.Complete(context.Background(), openAIOn(srv), "org_1", hiRequest())
			if tc.wantKind == "" {
				if err != nil || res.Text != "ok" {
					t.Fatalf("Complete = %v, %v; want ok", res, err)
				}
			} else if KindOf(err) != tc.wantKind {
				t.Fatalf("err = %v, want %s", err, tc.wantKind)
			}
			if n := len(srv.Requests()); n != tc.wantCalls {
				t.Errorf("server got %d requests, want %d", n, tc.wantCalls)
			}
			delays := rec.recorded()
			if len(delays) != len(tc.wantDelays) {
				t.Fatalf("waited %v, want %d waits", delays, len(tc.wantDelays))
			}
			for i, d := range delays {
				if d < tc.wantDelays[i][0] || d > tc.wantDelays[i][1] {
					t.Errorf("wait %d = %s, want within %v", i+1, d, tc.wantDelays[i])
				}
			}
		})
	}
}

func TestResilientStopsAtDeadline(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t)
	srv.Push(llmtest.Reply{Status: 429, RetryAfter: "10"}, llmtest.Reply{Text: "never asked"})
	r, rec := newTestResilient(ResilienceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := r.Complete(ctx, openAIOn(srv), "org_1", hiRequest())
	if KindOf(err) != KindRateLimited || RetryAfterOf(err) != 10*time.Second {
		t.Fatalf("err = %v, want rate_limited retry after 10s", err)
	}
	if d := rec.recorded(); len(d) != 0 {
		t.Errorf("waited %v past the deadline", d)
	}
}

// scriptedProvider is a Provider double whose calls run in turn.
type scriptedProvider struct {
	calls atomic.Int32
	steps []func(req *Request) (*Response, error)
}

func (p *scriptedProvider) Name() string { return "scripted" }

func (p *scriptedProvider) Complete(_ context.Context, req *Request) (*Response, error) {
	n := int(p.calls.Add(1))
	return p.steps[min(n, len(p.steps))-1](req)
}

func TestResilientNeverRetriesAfterStreamedText(t *testing.T) {
	t.Parallel()
	unavailable := &Error{Kind: KindUnavailable, Provider: "scripted", Message: "connection reset"}
	tests := []struct {
		name      string
		first     func(req *Request) (*Response, error)
		wantCalls int32
		wantText  string
	}{
		{
			name: "failure after text reached OnDelta",
			first: func(req *Request) (*Response, error) {
				req.OnDelta("Once upon")
				return nil, unavailable
			},
			wantCalls: 1,
			wantText:  "Once upon",
		},
		{
			name:      "failure before any text is retried",
			first:     func(*Request) (*Response, error) { return nil, unavailable },
			wantCalls: 2,
			wantText:  "fine",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &scriptedProvider{steps: []func(*Request) (*Response, error){
				tc.first,
				func(req *Request) (*Response, error) {
					req.OnDelta("fine")
					return &Response{Text: "fine"}, nil
				},
			}}
			r, _ := newTestResilient(ResilienceConfig{})
			var shown string
			req := hiRequest()
			req.OnDelta = func(s string) { shown += s }
			_, _ = r.Wrap(p, "org_1").Complete(context.Background(), req)
			if got := p.calls.Load(); got != tc.wantCalls {
				t.Errorf("provider called %d times, want %d", got, tc.wantCalls)
			}
			if shown != tc.wantText {
				t.Errorf("caller was shown %q, want %q", shown, tc.wantText)
			}
		})
	}
}

func TestResilientCircuitBreaker(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewOpenAI(t)
	var healthy atomic.Bool
	srv.Handle(func(llmtest.Request) llmtest.Reply {
		if healthy.Load() {
			return llmtest.Reply{Text: "ok"}
		}
		return llmtest.Reply{Status: 503}
	})
	r, _ := newTestResilient(ResilienceConfig{MaxAttempts: 1, BreakerFailures: 3, BreakerOpenFor: 50 * time.Millisecond})
	p := openAIOn(srv)
	ctx := context.Background()

	for i := range 3 {
		if _, err := r.Complete(ctx, p, "org_a", hiRequest()); KindOf(err) != KindUnavailable || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("call %d: err = %v, want the provider's unavailable", i+1, err)
		}
	}
	if s := r.BreakerState("openai", "org_a"); s != "open" {
		t.Fatalf("breaker %s after 3 failures, want open", s)
	}
	_, err := r.Complete(ctx, p, "org_a", hiRequest())
	if KindOf(err) != KindUnavailable || !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("err = %v, want unavailable wrapping ErrCircuitOpen", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("open breaker let a call through: server got %d requests, want 3", n)
	}

	// Another organization has its own breaker.
	if _, err := r.Complete(ctx, p, "org_b", hiRequest()); errors.Is(err, ErrCircuitOpen) {
		t.Errorf("org_b call hit org_a's open breaker: %v", err)
	}

	// After BreakerOpenFor one trial call goes through; its failure reopens.
	waitBreaker(t, r, "org_a", "half-open")
	if _, err := r.Complete(ctx, p, "org_a", hiRequest()); errors.Is(err, ErrCircuitOpen) || KindOf(err) != KindUnavailable {
		t.Fatalf("half-open trial: err = %v, want the provider's unavailable", err)
	}
	if s := r.BreakerState("openai", "org_a"); s != "open" {
		t.Fatalf("breaker %s after a failed trial, want open", s)
	}

	// A successful trial closes it.
	healthy.Store(true)
	waitBreaker(t, r, "org_a", "half-open")
	if res, err := r.Complete(ctx, p, "org_a", hiRequest()); err != nil || res.Text != "ok" {
		t.Fatalf("half-open trial: %v, %v; want ok", res, err)
	}
	if s := r.BreakerState("openai", "org_a"); s != "closed" {
		t.Errorf("breaker %s after a successful trial, want closed", s)
	}
}

func waitBreaker(t *testing.T, r *Resilient, org, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.BreakerState("openai", org) != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker never became %s", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestResilientBreakerIgnoresCallerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func(t *testing.T, r *Resilient, p Provider)
	}{
		{"bad requests", func(t *testing.T, r *Resilient, p Provider) {
			if _, err := r.Complete(context.Background(), p, "org_1", hiRequest()); KindOf(err) != KindBadRequest {
				t.Fatalf("err = %v, want bad_request", err)
			}
		}},
		{"cancelled calls", func(t *testing.T, r *Resilient, p Provider) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := r.Complete(ctx, p, "org_1", hiRequest()); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want cancelled", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewOpenAI(t)
			srv.Handle(func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Status: 400} })
			r, _ := newTestResilient(ResilienceConfig{BreakerFailures: 2})
			p := openAIOn(srv)
			for range 5 {
				tc.call(t, r, p)
			}
			if s := r.BreakerState("openai", "org_1"); s != "closed" {
				t.Errorf("breaker %s, want closed", s)
			}
		})
	}
}
