package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// testSaveExecution: the execution's update and its new events are written
// together; saving an unknown execution fails (not found, or on PostgreSQL
// the events' reference to it) and leaves no events.
func testSaveExecution(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "saveexe")
	scope := domain.OrgScope(f.Org.ID)
	wf := NewWorkflow(t, s, scope, f.Admin.ID, "", "saved")
	e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1,
		Status: domain.ExecutionRunning, Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, Input: json.RawMessage(`{}`)}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		e.CreatedAt = tx.Now()
		return tx.CreateExecution(e)
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		e.NodesDone, e.EventSeq, e.TokensIn = 1, 2, 7
		return tx.SaveExecution(e, []domain.ExecutionEvent{
			{ExecutionID: e.ID, Seq: 1, Type: domain.EventStepStarted, NodeID: "a"},
			{ExecutionID: e.ID, Seq: 2, Type: domain.EventStepCompleted, NodeID: "a", Data: json.RawMessage(`{"output":1}`)},
		})
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		e.Status = domain.ExecutionSucceeded
		return tx.SaveExecution(e, nil)
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetExecution(e.ID)
		if err != nil {
			return err
		}
		if got.Status != domain.ExecutionSucceeded || got.NodesDone != 1 || got.EventSeq != 2 || got.TokensIn != 7 {
			t.Errorf("saved execution = %+v", got)
		}
		evs, err := q.ListEvents(e.ID, 0, 10)
		if len(evs) != 2 || evs[0].Type != domain.EventStepStarted || evs[1].Seq != 2 || string(evs[1].Data) != `{"output": 1}` && string(evs[1].Data) != `{"output":1}` {
			t.Errorf("events = %+v", evs)
		}
		return err
	})
	missing := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), Status: domain.ExecutionRunning}
	err := s.Write(ctx, scope, func(tx domain.Tx) error {
		return tx.SaveExecution(missing, []domain.ExecutionEvent{{ExecutionID: missing.ID, Seq: 1, Type: domain.EventStepStarted}})
	})
	if err == nil {
		t.Error("saving an unknown execution succeeded")
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		evs, err := q.ListEvents(missing.ID, 0, 10)
		if len(evs) != 0 {
			t.Errorf("events of an unknown execution: %+v", evs)
		}
		return err
	})
}

// testLockAndFinishStep: a step's result is written under the execution's
// lock while the execution runs, once; not after the execution ended; an
// unknown execution is not found.
func testLockAndFinishStep(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "lockfinish")
	scope := domain.OrgScope(f.Org.ID)
	wf := NewWorkflow(t, s, scope, f.Admin.ID, "", "finished")
	newExe := func(nodes ...string) *domain.Execution {
		e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1,
			Status: domain.ExecutionRunning, Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, Input: json.RawMessage(`{}`),
			NodesTotal: len(nodes)}
		mustWrite(t, s, scope, func(tx domain.Tx) error {
			e.CreatedAt = tx.Now()
			if err := tx.CreateExecution(e); err != nil {
				return err
			}
			var steps []domain.Step
			for _, n := range nodes {
				steps = append(steps, domain.Step{ExecutionID: e.ID, NodeID: n, NodeType: domain.NodeTransform, Status: domain.StepQueued})
			}
			return tx.CreateSteps(steps)
		})
		return e
	}
	finish := func(exeID, node string) (exe *domain.Execution, won bool, err error) {
		err = s.Write(ctx, scope, func(tx domain.Tx) error {
			var err error
			exe, won, err = tx.LockAndFinishStep(&domain.Step{ExecutionID: exeID, NodeID: node, Status: domain.StepCompleted,
				Attempts: 1, Output: json.RawMessage(`42`)}, nil, nil)
			return err
		})
		return exe, won, err
	}
	e := newExe("a", "b")
	if exe, won, err := finish(e.ID, "a"); err != nil || !won || exe.ID != e.ID || exe.Status != domain.ExecutionRunning {
		t.Fatalf("first finish: %+v %v %v", exe, won, err)
	}
	if _, won, err := finish(e.ID, "a"); err != nil || won {
		t.Errorf("second finish of a step: won %v, %v", won, err)
	}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		e.Status = domain.ExecutionCancelled
		return tx.UpdateExecution(e)
	})
	if exe, won, err := finish(e.ID, "b"); err != nil || won || exe.Status != domain.ExecutionCancelled {
		t.Errorf("finish after the execution ended: %+v %v %v", exe, won, err)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		a, err := q.GetStep(e.ID, "a")
		if err != nil {
			return err
		}
		b, err := q.GetStep(e.ID, "b")
		if a.Status != domain.StepCompleted || string(a.Output) != "42" || b.Status != domain.StepQueued {
			t.Errorf("steps: a %s %s, b %s", a.Status, a.Output, b.Status)
		}
		return err
	})
	if _, _, err := finish(domain.NewID(domain.PrefixExecution), "a"); !domain.IsCode(err, domain.ECodeNotFound) {
		t.Errorf("finishing a step of an unknown execution: %v", err)
	}

	// The finished step's outgoing edges resolve with it, only when it
	// was written: a join c of a and b, and d after a alone.
	j := newExe("a", "b", "c", "d")
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		for node, parents := range map[string]int{"c": 2, "d": 1} {
			if err := tx.UpdateStep(&domain.Step{ExecutionID: j.ID, NodeID: node, Status: domain.StepWaiting, PendingParents: parents}); err != nil {
				return err
			}
		}
		return nil
	})
	finishEdges := func(node string, edges []domain.EdgeResolution) (won bool, err error) {
		err = s.Write(ctx, scope, func(tx domain.Tx) error {
			var err error
			_, won, err = tx.LockAndFinishStep(&domain.Step{ExecutionID: j.ID, NodeID: node, Status: domain.StepCompleted, Attempts: 1}, edges, nil)
			return err
		})
		return won, err
	}
	edges := []domain.EdgeResolution{{NodeID: "c", Holds: false, OwnerJob: 7}, {NodeID: "d", Holds: true, OwnerJob: 7}}
	if won, err := finishEdges("a", edges); err != nil || !won {
		t.Fatalf("finish a with its edges: %v %v", won, err)
	}
	if c, d := edges[0], edges[1]; c.Pending != 1 || c.Holding != 0 || d.Pending != 0 || d.Holding != 1 {
		t.Errorf("counts after a: c %d/%d, d %d/%d; want 1/0 and 0/1", c.Pending, c.Holding, d.Pending, d.Holding)
	}
	again := []domain.EdgeResolution{{NodeID: "c", Holds: true, OwnerJob: 7}}
	if won, err := finishEdges("a", again); err != nil || won || again[0].Pending != 0 || again[0].Holding != 0 {
		t.Errorf("a duplicate finish resolved its edges: won %v, %+v, %v", won, again[0], err)
	}
	last := []domain.EdgeResolution{{NodeID: "c", Holds: true, OwnerJob: 9}}
	if won, err := finishEdges("b", last); err != nil || !won || last[0].Pending != 0 || last[0].Holding != 1 {
		t.Errorf("finish b: won %v, %+v, %v", won, last[0], err)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		for node, want := range map[string]int64{"c": 9, "d": 7} {
			st, err := q.GetStep(j.ID, node)
			if err != nil {
				return err
			}
			if st.Status != domain.StepQueued || st.PendingParents != 0 || st.OwnerJob != want {
				t.Errorf("step %s: %s, %d pending, owner %d; want queued, 0, %d", node, st.Status, st.PendingParents, st.OwnerJob, want)
			}
		}
		return nil
	})
	// An edge with nothing left to resolve fails the whole completion;
	// two edges to one target resolve one after another.
	k := newExe("a", "b", "c")
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		return tx.UpdateStep(&domain.Step{ExecutionID: k.ID, NodeID: "c", Status: domain.StepWaiting, PendingParents: 2})
	})
	j = k
	if _, err := finishEdges("a", []domain.EdgeResolution{{NodeID: "b"}}); !domain.IsCode(err, domain.ECodeConflict) {
		t.Errorf("an edge to a step with no pending parent: %v, want a conflict", err)
	}
	twice := []domain.EdgeResolution{{NodeID: "c"}, {NodeID: "c", Holds: true}}
	if won, err := finishEdges("a", twice); err != nil || !won || twice[0].Pending != 1 || twice[1].Pending != 0 || twice[1].Holding != 1 {
		t.Errorf("two edges to one target: won %v, %+v, %v", won, twice, err)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		a, err := q.GetStep(k.ID, "a")
		if err == nil && a.Status != domain.StepCompleted {
			t.Errorf("step a after its completion = %s", a.Status)
		}
		return err
	})

	// The step's progress goes to the execution with it: usage, one node
	// done, its events numbered after the last; not on a duplicate.
	p := newExe("a", "b")
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		p.TokensIn, p.EventSeq = 5, 3
		return tx.UpdateExecution(p)
	})
	progress := func() *domain.StepProgress {
		return &domain.StepProgress{TokensIn: 10, TokensOut: 20, TokensCached: 2, CostUSD: 0.25, Events: []domain.ExecutionEvent{
			{ExecutionID: p.ID, Type: domain.EventStepStarted, NodeID: "a", Data: json.RawMessage(`{"attempt":1}`)},
			{ExecutionID: p.ID, Type: domain.EventStepCompleted, NodeID: "a", Data: json.RawMessage(`{"output":42}`)}}}
	}
	withProgress := func(node string, pr *domain.StepProgress) (exe *domain.Execution, won bool, err error) {
		err = s.Write(ctx, scope, func(tx domain.Tx) error {
			var err error
			exe, won, err = tx.LockAndFinishStep(&domain.Step{ExecutionID: p.ID, NodeID: node, Status: domain.StepCompleted, Attempts: 1}, nil, pr)
			return err
		})
		return exe, won, err
	}
	pr := progress()
	exe, won, err := withProgress("a", pr)
	if err != nil || !won || exe.TokensIn != 15 || exe.TokensOut != 20 || exe.TokensCached != 2 || exe.CostUSD != 0.25 ||
		exe.NodesDone != 1 || exe.EventSeq != 5 || pr.Events[0].Seq != 4 || pr.Events[1].Seq != 5 {
		t.Fatalf("finish with progress: %+v, events %+v, won %v, %v", exe, pr.Events, won, err)
	}
	if _, won, err := withProgress("a", progress()); err != nil || won {
		t.Errorf("a duplicate finish with progress: won %v, %v", won, err)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		stored, err := q.GetExecution(p.ID)
		if err != nil {
			return err
		}
		if stored.TokensIn != 15 || stored.TokensOut != 20 || stored.TokensCached != 2 || stored.CostUSD != 0.25 ||
			stored.NodesDone != 1 || stored.EventSeq != 5 {
			t.Errorf("stored execution after its progress: %+v", stored)
		}
		evs, err := q.ListEvents(p.ID, 0, 100)
		if err != nil {
			return err
		}
		if len(evs) != 2 || evs[0].Seq != 4 || evs[0].Type != domain.EventStepStarted || evs[1].Seq != 5 ||
			evs[1].Type != domain.EventStepCompleted || string(evs[1].Data) != `{"output": 42}` && string(evs[1].Data) != `{"output":42}` {
			t.Errorf("events after the progress: %+v", evs)
		}
		return nil
	})
}

// testCreateExecutionWith: an execution goes in with its steps and events
// (one statement on PostgreSQL up to a size, several beyond it), and a
// failed insert leaves nothing behind.
func testCreateExecutionWith(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "createwith")
	scope := domain.OrgScope(f.Org.ID)
	wf := NewWorkflow(t, s, scope, f.Admin.ID, "", "created with")
	// create writes executions of nSteps steps each, with their started
	// events, in one call.
	create := func(nSteps int, ids ...string) error {
		var execs []domain.NewExecution
		for _, id := range ids {
			e := &domain.Execution{ID: id, WorkflowID: wf.ID, WorkflowVersion: 1, Status: domain.ExecutionRunning,
				Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, Input: json.RawMessage(`{"x":1}`), NodesTotal: nSteps, EventSeq: 1}
			n := domain.NewExecution{Execution: e,
				Events: []domain.ExecutionEvent{{ExecutionID: id, Seq: 1, Type: domain.EventExecutionStarted, Data: json.RawMessage(`{}`)}}}
			for i := range nSteps {
				n.Steps = append(n.Steps, domain.Step{ExecutionID: id, NodeID: fmt.Sprintf("n%03d", i), NodeType: domain.NodeTransform,
					Status: domain.StepWaiting, PendingParents: 1})
			}
			execs = append(execs, n)
		}
		return s.Write(ctx, scope, func(tx domain.Tx) error { return tx.CreateExecutionsWith(execs) })
	}
	for _, n := range []int{3, 120} {
		id := domain.NewID(domain.PrefixExecution)
		if err := create(n, id); err != nil {
			t.Fatalf("%d steps: %v", n, err)
		}
		mustRead(t, s, scope, func(q domain.Queries) error {
			e, err := q.GetExecution(id)
			if err != nil {
				return err
			}
			steps, err := q.ListSteps(id)
			if err != nil {
				return err
			}
			evs, err := q.ListEvents(id, 0, 10)
			if err != nil {
				return err
			}
			if e.OrgID != f.Org.ID || e.NodesTotal != n || len(steps) != n || len(evs) != 1 || evs[0].Type != domain.EventExecutionStarted ||
				steps[0].OrgID != f.Org.ID || steps[0].ID == "" || steps[0].PendingParents != 1 {
				t.Errorf("%d steps: execution %+v, %d steps (%+v), events %+v", n, e, len(steps), steps[0], evs)
			}
			return nil
		})
	}
	// A second execution with the same id fails, steps and events included.
	id := domain.NewID(domain.PrefixExecution)
	if err := create(2, id); err != nil {
		t.Fatal(err)
	}
	if err := create(4, id); err == nil {
		t.Fatal("a duplicate execution was created")
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		steps, err := q.ListSteps(id)
		if err == nil && len(steps) != 2 {
			t.Errorf("%d steps after the failed duplicate, want the first's 2", len(steps))
		}
		return err
	})
	// Several executions go in at once, each with its own steps and
	// events; one that cannot takes the others with it.
	for _, nSteps := range []int{10, 150} { // 150: more steps than one statement takes
		ids := []string{domain.NewID(domain.PrefixExecution), domain.NewID(domain.PrefixExecution), domain.NewID(domain.PrefixExecution)}
		if err := create(nSteps, ids...); err != nil {
			t.Fatalf("3 executions of %d steps: %v", nSteps, err)
		}
		mustRead(t, s, scope, func(q domain.Queries) error {
			for _, id := range ids {
				steps, err := q.ListSteps(id)
				if err != nil {
					return err
				}
				evs, err := q.ListEvents(id, 0, 10)
				if err != nil {
					return err
				}
				if len(steps) != nSteps || steps[0].ExecutionID != id || len(evs) != 1 || evs[0].ExecutionID != id {
					t.Errorf("execution %s: %d steps, events %+v; want its %d steps and its started event", id, len(steps), evs, nSteps)
				}
			}
			return nil
		})
	}
	fresh := domain.NewID(domain.PrefixExecution)
	if err := create(2, fresh, id); err == nil {
		t.Fatal("executions were created alongside a duplicate")
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		if _, err := q.GetExecution(fresh); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("the execution created alongside a duplicate: %v, want not found", err)
		}
		return nil
	})
}
