package storetest

import (
	"encoding/json"
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
				Attempts: 1, Output: json.RawMessage(`42`)})
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
}
