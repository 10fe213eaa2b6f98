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
