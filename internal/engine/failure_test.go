package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

func quickRetry(n int) *domain.RetryPolicy {
	return &domain.RetryPolicy{MaxAttempts: n, InitialBackoffMS: 10, MaxBackoffMS: 50, Multiplier: 2}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("retry")
		n := mockLLM("flaky", domain.MockOptions{FailFirst: 2, Response: "finally"})
		n.Retry = quickRetry(3)
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{n}})
		exe := h.wait(h.start(wf, map[string]any{"word": "x"}).ID)
		if exe.Status != domain.ExecutionSucceeded || outputOf(t, exe) != "finally" {
			t.Fatalf("status %s output %s: %s", exe.Status, exe.Output, exe.Error)
		}
		s := h.steps(exe.ID)["flaky"]
		if s.Attempts != 3 || s.Error != "" {
			t.Errorf("step = attempts %d, error %q", s.Attempts, s.Error)
		}
		retries := 0
		for _, ev := range h.events(exe.ID) {
			if ev.Type == domain.EventStepRetrying {
				retries++
			}
		}
		if retries != 2 {
			t.Errorf("%d step.retrying events, want 2", retries)
		}
	})
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("exhaust")
		n := mockLLM("broken", domain.MockOptions{FailFirst: 10})
		n.Retry = quickRetry(2)
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{n, transform("after", `"never"`)}, Edges: []domain.Edge{edge("broken", "after")}})
		exe := h.wait(h.start(wf, map[string]any{"word": "x"}).ID)
		if exe.Status != domain.ExecutionFailed || exe.ErrorKind != "unavailable" || !strings.Contains(exe.Error, "broken") {
			t.Fatalf("execution = %s %q (%s)", exe.Status, exe.Error, exe.ErrorKind)
		}
		steps := h.steps(exe.ID)
		if s := steps["broken"]; s.Status != domain.StepFailed || s.Attempts != 2 {
			t.Errorf("broken = %s after %d attempts", s.Status, s.Attempts)
		}
		if s := steps["after"]; s.Status != domain.StepCancelled {
			t.Errorf("after = %s, want cancelled", s.Status)
		}
	})
}

func TestNonRetryableFailsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sqlite", harnessOpts{}).withOrg("nonretry")
	n := mockLLM("bad", domain.MockOptions{FailFirst: 10, FailWith: "bad_request"})
	n.Retry = quickRetry(5)
	wf := h.workflow(domain.Definition{Nodes: []domain.Node{n}})
	exe := h.wait(h.start(wf, map[string]any{"word": "x"}).ID)
	if s := h.steps(exe.ID)["bad"]; exe.Status != domain.ExecutionFailed || s.Attempts != 1 {
		t.Errorf("bad request: %s after %d attempts", exe.Status, s.Attempts)
	}
}

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("steptimeout")
		n := mockLLM("slow", domain.MockOptions{LatencyMS: 5000})
		n.TimeoutSeconds, n.Retry = 1, quickRetry(1)
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{n}})
		start := time.Now()
		exe := h.wait(h.start(wf, map[string]any{"word": "x"}).ID)
		if exe.Status != domain.ExecutionFailed || exe.ErrorKind != "timeout" {
			t.Fatalf("execution = %s %q (%s)", exe.Status, exe.Error, exe.ErrorKind)
		}
		if time.Since(start) > 4*time.Second {
			t.Errorf("a 1 s step timeout took %s to fail the execution", time.Since(start))
		}
	})
}

func TestExecutionTimeout(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{executionTimeout: time.Second}).withOrg("exetimeout")
		n := mockLLM("slow", domain.MockOptions{LatencyMS: 5000})
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{n, transform("next", `"never"`)}, Edges: []domain.Edge{edge("slow", "next")}})
		exe := h.wait(h.start(wf, map[string]any{"word": "x"}).ID)
		if exe.Status != domain.ExecutionFailed || exe.ErrorKind != "timeout" {
			t.Fatalf("execution = %s %q (%s)", exe.Status, exe.Error, exe.ErrorKind)
		}
		if s := h.steps(exe.ID)["next"]; s.Status != domain.StepCancelled {
			t.Errorf("next = %s", s.Status)
		}
	})
}

// TestCancelWithoutASignal: a process that cancels an execution whose step
// runs in another process normally signals it; when that signal is lost,
// the running process still finds out by looking (WatchCancels), and its
// step stops long before its 30 s model call would end.
func TestCancelWithoutASignal(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("lostsignal")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{mockLLM("slow", domain.MockOptions{LatencyMS: 30000})}})
		exe := h.start(wf, map[string]any{"word": "x"})
		waitFor(t, func() bool { return h.steps(exe.ID)["slow"].Status == domain.StepRunning })
		// Another process, whose bus reaches nobody.
		other := engine.New(engine.Options{Store: h.store, Bus: engine.NewBus("", discard()), RescueAfter: time.Minute, Log: discard()})
		if _, err := other.Cancel(context.Background(), h.admin, exe.ID, engine.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		deadline := start.Add(15 * time.Second)
		for {
			jobs, err := h.queue.Client.JobList(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			running := false
			for _, j := range jobs.Jobs {
				running = running || j.State == "running"
			}
			if !running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the step still runs %s after its execution was cancelled elsewhere", time.Since(start))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if s := h.steps(exe.ID)["slow"]; s.Status != domain.StepCancelled {
			t.Errorf("slow = %s", s.Status)
		}
	})
}

func TestCancelStopsRunningSteps(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("cancel")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{mockLLM("slow", domain.MockOptions{LatencyMS: 20000}), transform("next", `"never"`)},
			Edges: []domain.Edge{edge("slow", "next")}})
		exe := h.start(wf, map[string]any{"word": "x"})
		waitFor(t, func() bool { return h.steps(exe.ID)["slow"].Status == domain.StepRunning })
		start := time.Now()
		if _, err := h.engine.Cancel(context.Background(), h.admin, exe.ID, engine.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		got := h.wait(exe.ID)
		if got.Status != domain.ExecutionCancelled {
			t.Fatalf("status = %s", got.Status)
		}
		// The running step stops within a second: its job finishes and the
		// River worker slot frees.
		waitFor(t, func() bool {
			jobs, _ := h.queue.Client.JobList(context.Background(), nil)
			for _, j := range jobs.Jobs {
				if j.State == "running" {
					return false
				}
			}
			return true
		})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the running step took %s to stop", d)
		}
		steps := h.steps(exe.ID)
		if steps["slow"].Status != domain.StepCancelled || steps["next"].Status != domain.StepCancelled {
			t.Errorf("steps after cancel: slow %s, next %s", steps["slow"].Status, steps["next"].Status)
		}
		if _, err := h.engine.Cancel(context.Background(), h.admin, exe.ID, engine.RequestMeta{}); !domain.IsCode(err, domain.ECodeConflict) {
			t.Errorf("cancelling an ended execution: %v", err)
		}
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("idem")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "input.n")}})
		req := func(n int, key string) (*domain.Execution, bool, error) {
			raw, _ := json.Marshal(map[string]any{"n": n})
			return h.engine.Execute(context.Background(), h.admin, engine.ExecuteRequest{WorkflowID: wf, Input: raw, IdempotencyKey: key})
		}
		first, existing, err := req(1, "key-1")
		if err != nil || existing {
			t.Fatalf("first: %v %v", existing, err)
		}
		again, existing, err := req(1, "key-1")
		if err != nil || !existing || again.ID != first.ID {
			t.Errorf("repeat: %v %v %v", again, existing, err)
		}
		if _, _, err := req(2, "key-1"); !domain.IsCode(err, domain.ECodeInvalid) {
			t.Errorf("same key, different body: %v", err)
		}
		// Concurrent duplicates: one execution, every caller gets it.
		var wg sync.WaitGroup
		ids := make(chan string, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				exe, _, err := req(5, "key-2")
				if err != nil {
					t.Errorf("concurrent duplicate: %v", err)
					return
				}
				ids <- exe.ID
			}()
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		if len(seen) != 1 {
			t.Errorf("concurrent duplicates started %d executions", len(seen))
		}
		var count int
		_ = h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
			exes, _, err := q.ListExecutions(domain.ExecutionFilter{WorkflowID: wf})
			count = len(exes)
			return err
		})
		if count != 2 {
			t.Errorf("%d executions, want 2", count)
		}
	})
}

func TestInputSchemaAndLimits(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{perHour: 2}).withOrg("limits")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "input.n")},
			InputSchema: json.RawMessage(`{"type":"object","required":["n"],"properties":{"n":{"type":"number"}}}`)})
		_, _, err := h.engine.Execute(context.Background(), h.admin, engine.ExecuteRequest{WorkflowID: wf, Input: json.RawMessage(`{"n":"x"}`)})
		var de *domain.Error
		if !domain.IsCode(err, domain.ECodeInvalid) || !asError(err, &de) || len(de.Fields) == 0 || !strings.HasPrefix(de.Fields[0].Pointer, "/input") {
			t.Errorf("bad input: %v", err)
		}
		h.start(wf, map[string]any{"n": 1})
		h.start(wf, map[string]any{"n": 2})
		_, _, err = h.engine.Execute(context.Background(), h.admin, engine.ExecuteRequest{WorkflowID: wf, Input: json.RawMessage(`{"n":3}`)})
		if !domain.IsCode(err, domain.ECodeLimitExceeded) || !asError(err, &de) || de.Limit != "max_workflow_executions_per_hour" || de.RetryAfterSeconds == 0 {
			t.Errorf("third execution in an hour with a limit of 2: %v", err)
		}
	})
}

func asError(err error, target **domain.Error) bool {
	e, ok := err.(*domain.Error)
	if ok {
		*target = e
	}
	return ok
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
