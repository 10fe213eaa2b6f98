package engine_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// TestRescuedJobResumesTheStepsItOwned plays back a worker dying in the
// middle of a chain it ran inline: step a committed and made its job the
// owner of b; the job is then delivered again (as River does when it
// rescues a job whose worker vanished). The job must run b, and the chain
// must finish with every step completed once.
func TestRescuedJobResumesTheStepsItOwned(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{noWorkers: true}).withOrg("resume")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "1"), transform("b", "nodes.a + 1"), transform("c", "nodes.b + 1")},
			Edges: []domain.Edge{edge("a", "b"), edge("b", "c")}})
		exe := h.start(wf, map[string]any{})
		ctx := context.Background()
		// The state a crash after a's commit leaves: a completed, b queued
		// and owned by the job that ran a (which River will redeliver).
		var jobID int64
		err := h.store.Write(ctx, domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
			res, err := h.queue.Client.InsertTx(ctx, tx.SQL(), engine.StepArgs{OrgID: h.fx.Org.ID, ExecutionID: exe.ID, NodeID: "a"},
				&river.InsertOpts{Queue: engine.QueueSteps})
			if err != nil {
				return err
			}
			jobID = res.Job.ID
			q := tx.SQL()
			if _, err := q.ExecContext(ctx, `UPDATE execution_steps SET status = 'completed', output = '1' WHERE execution_id = $1 AND node_id = 'a'`, exe.ID); err != nil {
				return err
			}
			if _, err := q.ExecContext(ctx, `UPDATE execution_steps SET status = 'queued', pending_parents = 0, holding_parents = 1, owner_job = $2
				WHERE execution_id = $1 AND node_id = 'b'`, exe.ID, jobID); err != nil {
				return err
			}
			_, err = q.ExecContext(ctx, `UPDATE executions SET nodes_done = 1 WHERE id = $1`, exe.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Workers start: the root job finds a done and owns nothing; the
		// redelivered job finds a done and resumes b, which it owns.
		startHarness(t, h.db, h.store, harnessOpts{})
		got := h.wait(exe.ID)
		if got.Status != domain.ExecutionSucceeded || string(got.Output) != "3" {
			t.Fatalf("after the resume: %s %s (%s)", got.Status, got.Output, got.Error)
		}
		for id, s := range h.steps(exe.ID) {
			if s.Status != domain.StepCompleted {
				t.Errorf("%s = %s", id, s.Status)
			}
		}
		j, err := h.queue.Client.JobGet(ctx, jobID)
		if err != nil || j.State != "completed" {
			t.Errorf("the owning job: %v %v", j, err)
		}
	})
}
