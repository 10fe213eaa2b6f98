package observe_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/observe"
	"github.com/superagent-hq/superagent/internal/observe/sentrytest"
)

func newReporter(t *testing.T, fake *sentrytest.Server, o observe.ReporterOptions) *observe.Reporter {
	t.Helper()
	o.DSN = fake.DSN()
	if o.Release == "" {
		o.Release = "1.2.3"
	}
	if o.Environment == "" {
		o.Environment = "staging"
	}
	r, err := observe.NewReporter(o)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func wait(t *testing.T, fake *sentrytest.Server, n int) []sentrytest.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := fake.Wait(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// explode panics from a function of ours, so the stack has an in-app frame.
func explode() { panic("boom while serving ada@example.com") }

func capturePanic() (v any, stack []byte) {
	defer func() {
		v, stack = recover(), debug.Stack()
	}()
	explode()
	return nil, nil
}

// TestReporterSendsScrubbedEnvelopes reports a panic with its stack and an
// error whose message quotes secrets, and checks what reaches a server that
// speaks Sentry's envelope API: the auth header from the DSN, the event's
// release, environment, transaction and tags, the stack oldest-first with
// our frames in-app, and no e-mail address, token or password anywhere.
func TestReporterSendsScrubbedEnvelopes(t *testing.T) {
	t.Parallel()
	fake := sentrytest.NewServer(t)
	r := newReporter(t, fake, observe.ReporterOptions{})

	v, stack := capturePanic()
	r.ReportError(fmt.Errorf("panic: %v", v), stack, map[string]string{"component": "http", "request_id": "req_1",
		"method": "POST", "route": "/api/v1/workflows/{id}/execute", "status": "500", "panic": "true"})
	secret := "load user bob@example.com: connect postgres://app:hunter2@db:5432/x failed; token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3IifQ.c2lnbmF0dXJl " +
		"key sak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA password=swordfish Authorization: Bearer abc.def"
	r.ReportError(fmt.Errorf("handler: %w", errors.New(secret)), nil, map[string]string{"component": "queue", "job_kind": "superagent.step"})

	got := wait(t, fake, 2)
	byComponent := map[string]sentrytest.Envelope{}
	for _, e := range got {
		byComponent[e.Event.Tags["component"]] = e
		raw := string(e.Raw)
		for _, leak := range []string{"ada@example.com", "bob@example.com", "hunter2", "eyJhbGciOiJIUzI1NiJ9", "sak_AAAA", "swordfish", "abc.def"} {
			if strings.Contains(raw, leak) {
				t.Errorf("the envelope carries %q:\n%s", leak, raw)
			}
		}
		if _, ok := e.Event.Fields["request"]; ok {
			t.Errorf("the event has a request interface: %s", raw)
		}
		if _, ok := e.Event.Fields["user"]; ok {
			t.Errorf("the event has a user: %s", raw)
		}
		if e.Event.Release != "superagent@1.2.3" || e.Event.Environment != "staging" || e.Event.Platform != "go" || e.Event.Level != "error" {
			t.Errorf("event identity: %+v", e.Event)
		}
		if !strings.HasPrefix(e.Auth["sentry_client"], "superagent.observe/") {
			t.Errorf("auth %v", e.Auth)
		}
	}

	p := byComponent["http"].Event
	if p.Transaction != "POST /api/v1/workflows/{id}/execute" || p.Tags["request_id"] != "req_1" || p.Tags["status"] != "500" {
		t.Errorf("http event: transaction %q tags %v", p.Transaction, p.Tags)
	}
	if len(p.Exception.Values) != 1 || p.Exception.Values[0].Type != "panic" ||
		p.Exception.Values[0].Value != "panic: boom while serving [email]" {
		t.Fatalf("panic exception: %+v", p.Exception)
	}
	st := p.Exception.Values[0].Stacktrace
	if st == nil || len(st.Frames) < 3 {
		t.Fatalf("panic without a stack: %+v", p.Exception)
	}
	var explodeAt = -1
	for i, f := range st.Frames {
		if f.Function == "explode" && f.InApp && strings.HasSuffix(f.AbsPath, "sentry_test.go") && f.Lineno > 0 &&
			f.Module == "github.com/superagent-hq/superagent/internal/observe_test" {
			explodeAt = i
		}
	}
	capturedAt := -1
	for i, f := range st.Frames {
		if f.Function == "capturePanic" {
			capturedAt = i
		}
	}
	if explodeAt < 0 || capturedAt < 0 || capturedAt > explodeAt {
		t.Errorf("frames must run oldest first with explode (in app) after its caller: %+v", st.Frames)
	}

	q := byComponent["queue"].Event
	want := "handler: load user [email]: connect postgres://[redacted]@db:5432/x failed; token [token] key [token] password=[redacted] Authorization: [redacted]"
	if q.Transaction != "superagent.step" || q.Exception.Values[0].Value != want || q.Exception.Values[0].Type != "*errors.errorString" {
		t.Errorf("queue event: %q %+v\nwant value %q", q.Transaction, q.Exception.Values, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sent, dropped, failed := r.Stats(); sent != 2 || dropped != 0 || failed != 0 {
		t.Errorf("stats sent %d dropped %d failed %d", sent, dropped, failed)
	}
}

// TestReporterNeverBlocks: with the server stuck, reports beyond the
// buffer are dropped and every call returns; once the server answers,
// Close delivers what was buffered.
func TestReporterNeverBlocks(t *testing.T) {
	t.Parallel()
	fake := sentrytest.NewServer(t)
	release := make(chan struct{})
	var once sync.Once
	fake.RespondWith(func(w http.ResponseWriter) bool {
		<-release // hold the sender on its first envelope
		return false
	})
	r := newReporter(t, fake, observe.ReporterOptions{BufferSize: 2, Throttle: -1})
	done := make(chan struct{})
	go func() {
		for i := range 50 {
			r.ReportError(fmt.Errorf("failure %d", i), nil, map[string]string{"component": "http"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		once.Do(func() { close(release) })
		t.Fatal("ReportError blocked while the server was stuck")
	}
	_, dropped, _ := r.Stats()
	if dropped < 47 {
		t.Errorf("dropped %d of 50 with a buffer of 2 and the sender stuck, want at least 47", dropped)
	}
	once.Do(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sent, dropped, failed := r.Stats()
	if sent+dropped+failed != 50 || sent < 1 || sent > 3 || fake.Requests() != int(sent) {
		t.Errorf("after Close: sent %d dropped %d failed %d, server saw %d", sent, dropped, failed, fake.Requests())
	}
	r.ReportError(errors.New("after close"), nil, nil)
	if _, d, _ := r.Stats(); d != dropped+1 {
		t.Errorf("a report after Close was not dropped")
	}
}

// TestReporterThrottlesRepeats: the same failure on the same route is sent
// once per throttle period, even when only the ids in it differ; another
// route's is sent.
func TestReporterThrottlesRepeats(t *testing.T) {
	t.Parallel()
	fake := sentrytest.NewServer(t)
	r := newReporter(t, fake, observe.ReporterOptions{Throttle: time.Hour})
	tags := map[string]string{"component": "http", "method": "GET", "route": "/api/v1/workflows/{id}", "status": "500"}
	r.ReportError(errors.New("load wf_0123456789abcdef: disk I/O error"), nil, tags)
	r.ReportError(errors.New("load wf_fedcba9876543210: disk I/O error"), nil, tags)
	other := map[string]string{"component": "http", "method": "GET", "route": "/api/v1/agents/{id}", "status": "500"}
	r.ReportError(errors.New("load wf_0123456789abcdef: disk I/O error"), nil, other)
	got := wait(t, fake, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.Close(ctx)
	if n := len(fake.Envelopes()); n != 2 || got[0].Event.Transaction == got[1].Event.Transaction {
		t.Errorf("%d envelopes, want one per route", n)
	}
	if _, dropped, _ := r.Stats(); dropped != 1 {
		t.Errorf("dropped %d, want the one repeat", dropped)
	}
}

// TestReporterBacksOffWhenRateLimited: after a 429 with X-Sentry-Rate-Limits
// nothing is sent until the period ends.
func TestReporterBacksOffWhenRateLimited(t *testing.T) {
	t.Parallel()
	fake := sentrytest.NewServer(t)
	fake.RespondWith(func(w http.ResponseWriter) bool {
		w.Header().Set("X-Sentry-Rate-Limits", "3600:error:organization")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	r := newReporter(t, fake, observe.ReporterOptions{Throttle: -1})
	r.ReportError(errors.New("first"), nil, map[string]string{"component": "http"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, _, failed := r.Stats(); failed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rate-limited send was not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fake.RespondWith(nil)
	r.ReportError(errors.New("second"), nil, map[string]string{"component": "http"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sent, dropped, _ := r.Stats(); sent != 0 || dropped != 1 || fake.Requests() != 1 {
		t.Errorf("while backing off: sent %d dropped %d, server saw %d requests", sent, dropped, fake.Requests())
	}
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn, endpoint, key, secret string
	}{
		{"https://abc@o1.ingest.sentry.io/42", "https://o1.ingest.sentry.io/api/42/envelope/", "abc", ""},
		{"http://abc:shh@localhost:9000/prefix/sentry/7", "http://localhost:9000/prefix/sentry/api/7/envelope/", "abc", "shh"},
		{"https://abc@sentry.example/42/", "https://sentry.example/api/42/envelope/", "abc", ""},
	}
	for _, tt := range tests {
		d, err := observe.ParseDSN(tt.dsn)
		if err != nil || d.Endpoint != tt.endpoint || d.PublicKey != tt.key || d.SecretKey != tt.secret {
			t.Errorf("%s: %+v %v", tt.dsn, d, err)
		}
	}
	for _, bad := range []string{"", "sentry.example/42", "https://sentry.example/42", "https://abc@/42", "https://abc@sentry.example/", "https://abc@sentry.example/x", "ftp://abc@h/1"} {
		if _, err := observe.ParseDSN(bad); err == nil || strings.Contains(err.Error(), "abc") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
