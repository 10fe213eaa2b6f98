package engine_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

func eachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

func TestChain(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("chain")
		wf := h.workflow(domain.Definition{
			Nodes: []domain.Node{transform("a", "input.n + 1"), transform("b", "nodes.a * 10"), transform("c", `{"result": nodes.b, "in": input.n}`)},
			Edges: []domain.Edge{edge("a", "b"), edge("b", "c")},
		})
		exe := h.wait(h.start(wf, map[string]any{"n": 4}).ID)
		if exe.Status != domain.ExecutionSucceeded {
			t.Fatalf("status %s: %s", exe.Status, exe.Error)
		}
		if got := outputOf(t, exe); !reflect.DeepEqual(got, map[string]any{"result": 50.0, "in": 4.0}) {
			t.Errorf("output = %v", got)
		}
		steps := h.steps(exe.ID)
		for _, id := range []string{"a", "b", "c"} {
			if s := steps[id]; s.Status != domain.StepCompleted || s.Attempts != 1 || s.StartedAt == nil || s.FinishedAt == nil {
				t.Errorf("step %s = %+v", id, s)
			}
		}
		var types []string
		for i, ev := range h.events(exe.ID) {
			if ev.Seq != int64(i+1) {
				t.Errorf("event %d has seq %d", i, ev.Seq)
			}
			types = append(types, ev.Type+":"+ev.NodeID)
		}
		want := []string{"execution.started:", "step.started:a", "step.completed:a", "step.started:b", "step.completed:b",
			"step.started:c", "step.completed:c", "execution.completed:"}
		if !reflect.DeepEqual(types, want) {
			t.Errorf("events = %v\nwant %v", types, want)
		}
		if exe.DurationMS == nil || exe.StartedAt == nil || exe.CompletedAt == nil || exe.NodesDone != 3 {
			t.Errorf("execution record = %+v", exe)
		}
	})
}

func TestFanOutFanIn(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("fan")
		nodes := []domain.Node{transform("start", "input.n")}
		var edges []domain.Edge
		sum := ""
		for i := range 5 {
			id := fmt.Sprintf("b%d", i)
			nodes = append(nodes, transform(id, fmt.Sprintf("nodes.start + %d", i)))
			edges = append(edges, edge("start", id), edge(id, "join"))
			if sum != "" {
				sum += " + "
			}
			sum += "nodes." + id
		}
		nodes = append(nodes, transform("join", sum))
		wf := h.workflow(domain.Definition{Nodes: nodes, Edges: edges, OutputTemplate: `{"total": {{ .nodes.join }}}`})
		exe := h.wait(h.start(wf, map[string]any{"n": 10}).ID)
		if exe.Status != domain.ExecutionSucceeded {
			t.Fatalf("status %s: %s", exe.Status, exe.Error)
		}
		if got := outputOf(t, exe); !reflect.DeepEqual(got, map[string]any{"total": 60.0}) {
			t.Errorf("output = %v", got)
		}
		if s := h.steps(exe.ID)["join"]; s.Status != domain.StepCompleted || s.Attempts != 1 {
			t.Errorf("join = %+v", s)
		}
		// Every node is fast: the start's job owns the five branches it
		// makes ready and the join the last of them makes ready, and runs
		// them all.
		if n := h.jobsOf(exe.ID); n != 1 {
			t.Errorf("%d queue jobs for 7 fast steps, want 1", n)
		}
	})
}

// TestOwnedStepsHandedOffAtTheBudget: a job that has run past its inline
// budget hands every step it owns to a job of its own (here after each
// step: a budget of a nanosecond), and the execution still completes every
// step exactly once with the same output.
func TestOwnedStepsHandedOffAtTheBudget(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{inlineBudget: time.Nanosecond}).withOrg("budget")
		nodes := []domain.Node{transform("start", "input.n")}
		var edges []domain.Edge
		sum := ""
		for i := range 4 {
			id := fmt.Sprintf("b%d", i)
			nodes = append(nodes, transform(id, fmt.Sprintf("nodes.start + %d", i)), transform(id+"x", fmt.Sprintf("nodes.%s * 2", id)))
			edges = append(edges, edge("start", id), edge(id, id+"x"), edge(id+"x", "join"))
			if sum != "" {
				sum += " + "
			}
			sum += "nodes." + id + "x"
		}
		nodes = append(nodes, transform("join", sum))
		wf := h.workflow(domain.Definition{Nodes: nodes, Edges: edges, OutputTemplate: `{{ .nodes.join }}`})
		exe := h.wait(h.start(wf, map[string]any{"n": 1}).ID)
		// (1+0 + 1+1 + 1+2 + 1+3) * 2 = 20
		if exe.Status != domain.ExecutionSucceeded || string(exe.Output) != "20" {
			t.Fatalf("status %s, output %s: %s", exe.Status, exe.Output, exe.Error)
		}
		for id, s := range h.steps(exe.ID) {
			if s.Status != domain.StepCompleted || s.Attempts != 1 {
				t.Errorf("%s = %s after %d attempts", id, s.Status, s.Attempts)
			}
		}
		// Every job runs one step and hands off what it then owns: the
		// start's job the four branches, each branch's job its successor,
		// the last successor's job the join. 1 + 4 + 4 + 1 jobs.
		if n := h.jobsOf(exe.ID); n != 10 {
			t.Errorf("%d queue jobs, want 10 (every owned step handed off)", n)
		}
	})
}

// TestSlowBranchesRunInParallel: a fan-out to nodes that wait on the
// outside world (here a mock model with latency) gives each branch a job
// of its own, so the branches run at the same time; the fast join still
// runs in the job of the branch that resolves its last edge.
func TestSlowBranchesRunInParallel(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("slowfan")
		nodes := []domain.Node{transform("start", "1")}
		var edges []domain.Edge
		for i := range 4 {
			id := fmt.Sprintf("b%d", i)
			nodes = append(nodes, mockLLM(id, domain.MockOptions{LatencyMS: 300}))
			edges = append(edges, edge("start", id), edge(id, "join"))
		}
		nodes = append(nodes, transform("join", "nodes.start + 1"))
		wf := h.workflow(domain.Definition{Nodes: nodes, Edges: edges})
		exe := h.wait(h.start(wf, map[string]any{"word": "hi"}).ID)
		if exe.Status != domain.ExecutionSucceeded || string(exe.Output) != "2" {
			t.Fatalf("status %s, output %s: %s", exe.Status, exe.Output, exe.Error)
		}
		if n := h.jobsOf(exe.ID); n != 5 {
			t.Errorf("%d queue jobs, want 5 (the start's and one per slow branch)", n)
		}
		// Every branch started before any finished: they overlapped.
		steps := h.steps(exe.ID)
		var lastStart, firstEnd time.Time
		for i := range 4 {
			s := steps[fmt.Sprintf("b%d", i)]
			if s.StartedAt == nil || s.FinishedAt == nil {
				t.Fatalf("b%d = %+v", i, s)
			}
			if s.StartedAt.After(lastStart) {
				lastStart = *s.StartedAt
			}
			if firstEnd.IsZero() || s.FinishedAt.Before(firstEnd) {
				firstEnd = *s.FinishedAt
			}
		}
		if !lastStart.Before(firstEnd) {
			t.Errorf("the branches ran one after another: last start %s, first end %s", lastStart, firstEnd)
		}
	})
}

// jobsOf counts the queue jobs inserted for an execution's steps.
func (h *harness) jobsOf(executionID string) int {
	h.t.Helper()
	q := `SELECT count(*) FROM river_job WHERE kind = 'superagent.step' AND args->>'execution_id' = $1`
	if h.db.Kind == sqlstore.KindSQLite {
		q = `SELECT count(*) FROM river_job WHERE kind = 'superagent.step' AND json_extract(args, '$.execution_id') = $1`
	}
	var n int
	if err := h.store.DB().QueryRow(q, executionID).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestDiamondWithFalseConditionAndSkipPropagation(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("diamond")
		// a → b (false) → d, a → c (true) → d, and b → e → f: b's branch is skipped
		// transitively; d still runs because one of its edges holds and
		// reads the skipped b as empty.
		wf := h.workflow(domain.Definition{
			Nodes: []domain.Node{transform("a", "input.n"), transform("b", `"never"`), transform("c", "nodes.a * 2"),
				{ID: "d", Type: domain.NodeTransform, Transform: &domain.TransformConfig{Template: `{"c": {{ .nodes.c }}, "b": "{{ .nodes.b }}"}`}},
				transform("e", `"never"`), transform("f", `"never"`)},
			Edges: []domain.Edge{{From: "a", To: "b", Condition: "output > 100"}, {From: "a", To: "c", Condition: "output < 100"},
				edge("b", "d"), edge("c", "d"), edge("b", "e"), edge("e", "f")},
		})
		exe := h.wait(h.start(wf, map[string]any{"n": 7}).ID)
		if exe.Status != domain.ExecutionSucceeded {
			t.Fatalf("status %s: %s", exe.Status, exe.Error)
		}
		steps := h.steps(exe.ID)
		for id, want := range map[string]domain.StepStatus{"a": domain.StepCompleted, "b": domain.StepSkipped, "c": domain.StepCompleted,
			"d": domain.StepCompleted, "e": domain.StepSkipped, "f": domain.StepSkipped} {
			if steps[id].Status != want {
				t.Errorf("%s = %s, want %s", id, steps[id].Status, want)
			}
		}
		// Sinks are d and the skipped f: the single completed sink's output is the execution's.
		if got := outputOf(t, exe); !reflect.DeepEqual(got, map[string]any{"c": 14.0, "b": ""}) {
			t.Errorf("output = %v", got)
		}
	})
}

func TestRouter(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("router")
		wf := h.workflow(domain.Definition{
			Nodes: []domain.Node{
				{ID: "route", Type: domain.NodeRouter, Router: &domain.RouterConfig{Routes: []domain.RouterRoute{
					{Condition: `input.kind == "refund"`, To: "refunds"}}, Default: "general"}},
				transform("refunds", `"refund desk"`), transform("general", `"front desk"`)},
			Edges: []domain.Edge{edge("route", "refunds"), edge("route", "general")},
		})
		for kindIn, want := range map[string]string{"refund": "refund desk", "question": "front desk"} {
			exe := h.wait(h.start(wf, map[string]any{"kind": kindIn}).ID)
			if got := outputOf(t, exe); exe.Status != domain.ExecutionSucceeded || got != want {
				t.Errorf("%s: %s %v, want %q", kindIn, exe.Status, got, want)
			}
		}
	})
}
