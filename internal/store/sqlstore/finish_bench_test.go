package sqlstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// BenchmarkFinishChainStep measures a chain step's completion on
// PostgreSQL: the execution's lock, the step's result, its outgoing edge's
// counter and the execution's progress with its event in one statement
// ("folded"), against the lock and result, the edge, and the execution
// with its event in three ("separate").
func BenchmarkFinishChainStep(b *testing.B) {
	s := dbtest.Open(b, dbtest.New(b, sqlstore.KindPostgres))
	f := storetest.NewFixture(&testing.T{}, s, "finishbench")
	scope := domain.OrgScope(f.Org.ID)
	wf := storetest.NewWorkflow(&testing.T{}, s, scope, f.Admin.ID, "", "finish")
	ctx := context.Background()
	newExe := func(b *testing.B) string {
		e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1,
			Status: domain.ExecutionRunning, Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, Input: json.RawMessage(`{}`), NodesTotal: 2}
		if err := s.Write(ctx, scope, func(tx domain.Tx) error {
			e.CreatedAt = tx.Now()
			if err := tx.CreateExecution(e); err != nil {
				return err
			}
			return tx.CreateSteps([]domain.Step{
				{ExecutionID: e.ID, NodeID: "a", NodeType: domain.NodeTransform, Status: domain.StepQueued},
				{ExecutionID: e.ID, NodeID: "b", NodeType: domain.NodeTransform, Status: domain.StepWaiting, PendingParents: 1}})
		}); err != nil {
			b.Fatal(err)
		}
		return e.ID
	}
	for _, folded := range []bool{true, false} {
		name := "separate"
		if folded {
			name = "folded"
		}
		b.Run(name, func(b *testing.B) {
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = newExe(b)
			}
			b.ResetTimer()
			for i := range b.N {
				err := s.Write(ctx, scope, func(tx domain.Tx) error {
					st := &domain.Step{ExecutionID: ids[i], NodeID: "a", Status: domain.StepCompleted, Attempts: 1, Output: json.RawMessage(`1`)}
					edges := []domain.EdgeResolution{{NodeID: "b", Holds: true, OwnerJob: 1}}
					progress := &domain.StepProgress{TokensIn: 1, Events: []domain.ExecutionEvent{{ExecutionID: ids[i],
						Type: domain.EventStepCompleted, NodeID: "a", Data: json.RawMessage(`{"attempt":1}`)}}}
					if folded {
						_, _, err := tx.LockAndFinishStep(st, edges, progress)
						return err
					}
					exe, _, err := tx.LockAndFinishStep(st, nil, nil)
					if err != nil {
						return err
					}
					if _, _, err := tx.ResolveParentEdge(ids[i], "b", true, 1); err != nil {
						return err
					}
					progress.Apply(exe)
					return tx.SaveExecution(exe, progress.Events)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
