package engine_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// TestRescuedJobResumesTheStepsItOwned plays back a worker dying after
// step a committed and made its job the owner of the fast steps a made
// ready (the next link of a chain; both branches of a fan-out); the job is
// then delivered again, as River does when it rescues a job whose worker
// vanished. The job must run every step it owned, and the execution must
// finish with every step completed once.
func TestRescuedJobResumesTheStepsItOwned(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		def   domain.Definition
		owned []string
		// waiting steps and their unresolved parent edges
		waiting map[string]int
		output  string
	}{
		{name: "chain",
			def: domain.Definition{Nodes: []domain.Node{transform("a", "1"), transform("b", "nodes.a + 1"), transform("c", "nodes.b + 1")},
				Edges: []domain.Edge{edge("a", "b"), edge("b", "c")}},
			owned: []string{"b"}, waiting: map[string]int{"c": 1}, output: "3"},
		{name: "fan-out",
			def: domain.Definition{Nodes: []domain.Node{transform("a", "1"), transform("b", "nodes.a + 1"), transform("c", "nodes.a + 2"),
				transform("d", "nodes.b + nodes.c")},
				Edges: []domain.Edge{edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")}},
			owned: []string{"b", "c"}, waiting: map[string]int{"d": 2}, output: "5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachKind(t, func(t *testing.T, kind string) {
				h := newHarness(t, kind, harnessOpts{noWorkers: true}).withOrg("resume")
				wf := h.workflow(tc.def)
				exe := h.start(wf, map[string]any{})
				ctx := context.Background()
				// The state a crash after a's commit leaves: a completed,
				// its successors queued and owned by the job that ran a
				// (which River will redeliver).
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
					for _, id := range tc.owned {
						if _, err := q.ExecContext(ctx, `UPDATE execution_steps SET status = 'queued', pending_parents = 0, holding_parents = 1, owner_job = $2
							WHERE execution_id = $1 AND node_id = $3`, exe.ID, jobID, id); err != nil {
							return err
						}
					}
					for id, n := range tc.waiting {
						if _, err := q.ExecContext(ctx, `UPDATE execution_steps SET pending_parents = $2 WHERE execution_id = $1 AND node_id = $3`,
							exe.ID, n, id); err != nil {
							return err
						}
					}
					_, err = q.ExecContext(ctx, `UPDATE executions SET nodes_done = 1 WHERE id = $1`, exe.ID)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				// Workers start: the root job finds a done and owns nothing;
				// the redelivered job finds a done and resumes what it owns.
				startHarness(t, h.db, h.store, harnessOpts{})
				got := h.wait(exe.ID)
				if got.Status != domain.ExecutionSucceeded || string(got.Output) != tc.output {
					t.Fatalf("after the resume: %s %s (%s)", got.Status, got.Output, got.Error)
				}
				for id, s := range h.steps(exe.ID) {
					if s.Status != domain.StepCompleted || (id != "a" && s.Attempts != 1) {
						t.Errorf("%s = %s after %d attempts", id, s.Status, s.Attempts)
					}
				}
				j, err := h.queue.Client.JobGet(ctx, jobID)
				if err != nil || j.State != "completed" {
					t.Errorf("the owning job: %v %v", j, err)
				}
			})
		})
	}
}
