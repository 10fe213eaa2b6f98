package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// Engine.CallWorkflow for real: an llm node's "workflow:<id>" tool runs a
// child execution on the engine, on both databases.

// teamWorkflow stores a definition as a workflow of team ("" =
// organization-wide) and returns its id.
func (h *harness) teamWorkflow(team string, def domain.Definition) string {
	h.t.Helper()
	if errs := workflow.Validate(&def, workflow.NewLimits(100, "enterprise", 100, 30*time.Second)); len(errs) > 0 {
		h.t.Fatalf("invalid test workflow: %+v", errs)
	}
	w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), TeamID: team, CreatedBy: h.fx.Admin.ID, Name: "called",
		Definition: def, Status: domain.WorkflowActive}
	v := &domain.WorkflowVersion{ID: domain.NewID(domain.PrefixVersion), Definition: def, Resolved: def, AuthorID: h.fx.Admin.ID}
	if err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
		return tx.CreateWorkflow(w, v, 0)
	}); err != nil {
		h.t.Fatal(err)
	}
	return w.ID
}

// newTeam adds a team to the harness's organization.
func (h *harness) newTeam(name string) string {
	h.t.Helper()
	team := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: name}
	if err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
		return tx.CreateTeam(team)
	}); err != nil {
		h.t.Fatal(err)
	}
	return team.ID
}

// executionsOf lists the executions of a workflow.
func (h *harness) executionsOf(wfID string) []domain.Execution {
	h.t.Helper()
	var out []domain.Execution
	err := h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
		var err error
		out, _, err = q.ListExecutions(domain.ExecutionFilter{WorkflowID: wfID, Page: domain.Page{Limit: 100}})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// toolCalls decodes a step's recorded tool calls.
func toolCalls(t *testing.T, s domain.Step) []agent.ToolCallRecord {
	t.Helper()
	var out []agent.ToolCallRecord
	if len(s.ToolCalls) > 0 {
		if err := json.Unmarshal(s.ToolCalls, &out); err != nil {
			t.Fatalf("tool calls %s: %v", s.ToolCalls, err)
		}
	}
	return out
}

// caller is an llm node whose mock model calls each of the workflows once,
// with args, then answers "done".
func caller(id string, args string, wfIDs ...string) domain.Node {
	m := domain.MockOptions{Responses: []string{"", "done"}}
	var tools []string
	for _, wf := range wfIDs {
		tools = append(tools, "workflow:"+wf)
		m.ToolCalls = append(m.ToolCalls, domain.MockToolCall{Name: "workflow_" + wf, Arguments: json.RawMessage(args)})
	}
	return domain.Node{ID: id, Type: domain.NodeLLM, TimeoutSeconds: 20,
		LLM: &domain.LLMConfig{Model: "mock:echo", Prompt: "call them", Tools: tools, Mock: &m}}
}

// startIn starts wfID as the harness's admin and returns the execution.
func (h *harness) startIn(wfID string) *domain.Execution {
	h.t.Helper()
	return h.start(wfID, map[string]any{})
}

// TestWorkflowToolRunsChildWorkflows: a team's llm node calls a workflow of
// its own team and an organization-wide one; each runs as a child
// execution recording the caller as its parent, the caller's team and the
// user who started the caller, and its output is the tool's result.
func TestWorkflowToolRunsChildWorkflows(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, kind, harnessOpts{}).withOrg("caller")
			team := h.fx.Team.ID
			double := h.teamWorkflow(team, domain.Definition{Nodes: []domain.Node{transform("x", `{"doubled": input.n * 2}`)}})
			square := h.teamWorkflow("", domain.Definition{Nodes: []domain.Node{transform("x", `{"squared": input.n * input.n}`)}})
			parent := h.teamWorkflow(team, domain.Definition{Nodes: []domain.Node{caller("ask", `{"n": 7}`, double, square)}})

			exe := h.wait(h.startIn(parent).ID)
			if exe.Status != domain.ExecutionSucceeded || exe.TeamID != team {
				t.Fatalf("parent %s in team %q (want %q): %s", exe.Status, exe.TeamID, team, exe.Error)
			}
			calls := toolCalls(t, h.steps(exe.ID)["ask"])
			want := map[string]map[string]any{"workflow:" + double: {"doubled": 14.0}, "workflow:" + square: {"squared": 49.0}}
			if len(calls) != 2 {
				t.Fatalf("tool calls = %+v, want 2", calls)
			}
			for _, c := range calls {
				got, _ := json.Marshal(c.Result)
				wantJSON, _ := json.Marshal(want[c.Name])
				if c.Error != "" || want[c.Name] == nil || string(got) != string(wantJSON) {
					t.Errorf("tool call %s: result %s, error %q; want %s", c.Name, got, c.Error, wantJSON)
				}
			}
			for _, wf := range []string{double, square} {
				children := h.executionsOf(wf)
				if len(children) != 1 {
					t.Fatalf("workflow %s ran %d times, want once", wf, len(children))
				}
				c := children[0]
				if c.ParentExecutionID != exe.ID || c.Trigger != domain.TriggerWorkflow || c.TriggeredBy != h.fx.Admin.ID ||
					c.Status != domain.ExecutionSucceeded {
					t.Errorf("child of %s: parent %q trigger %q by %q status %s; want parent %s, workflow trigger by %s, succeeded",
						wf, c.ParentExecutionID, c.Trigger, c.TriggeredBy, c.Status, exe.ID, h.fx.Admin.ID)
				}
			}
		})
	}
}

// TestWorkflowToolRefusesOtherTeams: a workflow of another team is, to the
// caller, exactly like a missing one, whether the llm node lists it or
// Engine.CallWorkflow is asked for it directly; it never runs. An
// organization-wide caller may call only organization-wide workflows.
func TestWorkflowToolRefusesOtherTeams(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, kind, harnessOpts{}).withOrg("teams")
			teamA, teamB := h.fx.Team.ID, h.newTeam("B")
			childDef := domain.Definition{Nodes: []domain.Node{transform("x", `{"ran": true}`)}}
			ofB := h.teamWorkflow(teamB, childDef)
			ofA := h.teamWorkflow(teamA, childDef)
			missing := domain.NewID(domain.PrefixWorkflow)

			// Listed by an llm node of team A: the step fails as for a missing workflow.
			stepError := func(target string) string {
				exe := h.wait(h.startIn(h.teamWorkflow(teamA, domain.Definition{Nodes: []domain.Node{caller("ask", `{}`, target)}})).ID)
				if exe.Status != domain.ExecutionFailed {
					t.Fatalf("calling %s: parent %s, want failed", target, exe.Status)
				}
				return strings.ReplaceAll(h.steps(exe.ID)["ask"].Error, target, "<id>")
			}
			if gotB, gotMissing := stepError(ofB), stepError(missing); gotB != gotMissing || !strings.Contains(gotB, "does not exist") {
				t.Errorf("team B's workflow: %q; a missing one: %q; want the same \"does not exist\"", gotB, gotMissing)
			}

			// Asked directly, from a running execution of team A (and of an
			// organization-wide workflow).
			slow := domain.Definition{Nodes: []domain.Node{mockLLM("wait", domain.MockOptions{LatencyMS: 20000})}}
			runningA := h.startIn(h.teamWorkflow(teamA, slow))
			runningOrg := h.startIn(h.teamWorkflow("", slow))
			for _, exe := range []*domain.Execution{runningA, runningOrg} {
				if exe.Status != domain.ExecutionRunning {
					t.Fatalf("caller %s is %s", exe.ID, exe.Status)
				}
			}
			call := func(parent *domain.Execution, target string) (any, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				return h.engine.CallWorkflow(ctx, agent.WorkflowCall{OrgID: h.fx.Org.ID, ParentExecutionID: parent.ID, ParentNodeID: "wait",
					WorkflowID: target, Input: map[string]any{}, IdempotencyKey: parent.ID + ":wait:" + target})
			}
			refusal := func(parent *domain.Execution, target string) string {
				out, err := call(parent, target)
				var se *agent.StepError
				if !errors.As(err, &se) {
					t.Fatalf("calling %s from %s: %v, %v; want a step error", target, parent.ID, out, err)
				}
				return strings.ReplaceAll(se.Message, target, "<id>")
			}
			want := refusal(runningA, missing)
			if !strings.Contains(want, "does not exist") {
				t.Errorf("a missing workflow: %q", want)
			}
			for _, c := range []struct {
				name   string
				parent *domain.Execution
				target string
			}{{"team A calls team B", runningA, ofB}, {"organization-wide calls team A", runningOrg, ofA}, {"organization-wide calls team B", runningOrg, ofB}} {
				if got := refusal(c.parent, c.target); got != want {
					t.Errorf("%s: %q, want %q as for a missing workflow", c.name, got, want)
				}
			}
			if n := len(h.executionsOf(ofB)) + len(h.executionsOf(ofA)); n != 0 {
				t.Errorf("refused workflows ran %d times", n)
			}
			// The same caller may call its own team's workflow.
			if out, err := call(runningA, ofA); err != nil || !strings.Contains(mustJSON(out), `"ran":true`) {
				t.Errorf("team A calls team A: %v, %v", out, err)
			}
			for _, exe := range []*domain.Execution{runningA, runningOrg} {
				if _, err := h.engine.Cancel(context.Background(), h.admin, exe.ID, engine.RequestMeta{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestWorkflowToolChildrenBypassTheConcurrencyLimit: with the concurrency
// limit equal to the number of parents, every parent holds a slot while it
// waits for its child; the children are admitted anyway and everything
// finishes. Children still count toward the monthly limit.
func TestWorkflowToolChildrenBypassTheConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const parents = 3
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// Parents start with no worker running, so all of them hold
			// their slots before the first one calls its child.
			h := newHarness(t, kind, harnessOpts{noWorkers: true}).withOrg("limit")
			setPlan(t, h, parents, 2*parents)
			child := h.teamWorkflow("", domain.Definition{Nodes: []domain.Node{transform("x", `{"n": input.n}`)}})
			parent := h.teamWorkflow("", domain.Definition{Nodes: []domain.Node{caller("ask", `{"n": 5}`, child)}})
			exes, errs := startAll(h, parent, parents)
			for i, err := range errs {
				if err != nil {
					t.Fatalf("start %d: %v", i, err)
				}
				if exes[i].Status != domain.ExecutionRunning {
					t.Fatalf("parent %d started %s", i, exes[i].Status)
				}
			}
			startHarness(t, h.db, h.store, harnessOpts{})
			for _, exe := range exes {
				got := h.wait(exe.ID)
				calls := toolCalls(t, h.steps(exe.ID)["ask"])
				if got.Status != domain.ExecutionSucceeded || len(calls) != 1 || calls[0].Error != "" || mustJSON(calls[0].Result) != `{"n":5}` {
					t.Errorf("parent %s: %s %q, tool calls %+v", exe.ID, got.Status, got.Error, calls)
				}
			}
			children := h.executionsOf(child)
			if len(children) != parents {
				t.Fatalf("%d children, want %d", len(children), parents)
			}
			for _, c := range children {
				if c.Status != domain.ExecutionSucceeded {
					t.Errorf("child %s: %s", c.ID, c.Status)
				}
			}
			// 3 parents and 3 children used the month's 6 executions.
			_, _, err := h.engine.Execute(context.Background(), h.admin, engine.ExecuteRequest{WorkflowID: child, Input: json.RawMessage(`{"n": 1}`)})
			if de := (*domain.Error)(nil); !errors.As(err, &de) || de.Limit != "max_executions_per_month" {
				t.Errorf("seventh execution of the month: %v, want max_executions_per_month", err)
			}
		})
	}
}

// TestCallersCannotStarveTheirChildren: with as many callers waiting for
// their child workflows as there are step workers, the children still run,
// on the step queue of their depth with workers of its own; a grandchild
// runs one level deeper. With one queue for all, every worker would be a
// waiting caller and the children would never start.
func TestCallersCannotStarveTheirChildren(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, kind, harnessOpts{workers: 2}).withOrg("starve")
			leaf := h.teamWorkflow("", domain.Definition{Nodes: []domain.Node{transform("x", `{"n": input.n + 1}`)}})
			middle := h.teamWorkflow("", domain.Definition{Nodes: []domain.Node{caller("call", `{"n": 1}`, leaf)}})
			top := h.teamWorkflow("", domain.Definition{Nodes: []domain.Node{caller("call", `{"n": 1}`, middle)}})
			var exes []*domain.Execution
			for range 2 {
				exes = append(exes, h.startIn(top))
			}
			for _, e := range exes {
				got := h.wait(e.ID)
				if got.Status != domain.ExecutionSucceeded {
					t.Fatalf("caller %s: %s (%s)", e.ID, got.Status, got.Error)
				}
			}
			depths := map[string]int{}
			for wf, want := range map[string]int{top: 0, middle: 1, leaf: 2} {
				for _, x := range h.executionsOf(wf) {
					depths[wf]++
					if x.Depth != want || x.Status != domain.ExecutionSucceeded {
						t.Errorf("execution of %s at depth %d (want %d): %s", wf, x.Depth, want, x.Status)
					}
				}
			}
			if depths[top] != 2 || depths[middle] != 2 || depths[leaf] != 2 {
				t.Errorf("executions per workflow: %v", depths)
			}
		})
	}
}
