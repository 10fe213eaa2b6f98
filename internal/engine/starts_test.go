package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// TestConcurrentStartsShareTransactions: many clients starting executions
// of one organization at once, some of them with an input the workflow
// refuses or a workflow that does not exist, each get what a start on its
// own would answer: an execution that runs to its result, with its own
// audit row, or the error. Starts that arrived together were written
// together (executions sharing their transaction's time), the month's
// count holds exactly the started ones, and the audit chain verifies.
func TestConcurrentStartsShareTransactions(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("together")
		setPlan(t, h, 1000, 100000)
		def := domain.Definition{
			InputSchema: json.RawMessage(`{"type":"object","required":["n"],"properties":{"n":{"type":"number"}}}`),
			Nodes:       []domain.Node{transform("a", "input.n + 1"), transform("b", "nodes.a * 2")},
			Edges:       []domain.Edge{edge("a", "b")},
		}
		wf := h.workflow(def)
		const valid, refused, unknown = 48, 6, 6
		type result struct {
			n   int
			exe *domain.Execution
			err error
		}
		results := make([]result, valid+refused+unknown)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				req := engine.ExecuteRequest{WorkflowID: wf, Input: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
					Meta: engine.RequestMeta{RequestID: fmt.Sprintf("req-%d", i)}}
				switch {
				case i >= valid+refused:
					req.WorkflowID = domain.NewID(domain.PrefixWorkflow)
				case i >= valid:
					req.Input = json.RawMessage(`{"n":"not a number"}`)
				}
				<-gate
				exe, _, err := h.engine.Execute(context.Background(), h.admin, req)
				results[i] = result{i, exe, err}
			})
		}
		close(gate)
		wg.Wait()

		created := map[time.Time]int{}
		for _, r := range results {
			switch {
			case r.n < valid:
				if r.err != nil {
					t.Fatalf("start %d: %v", r.n, r.err)
				}
				created[r.exe.CreatedAt]++
				got := h.wait(r.exe.ID)
				if got.Status != domain.ExecutionSucceeded || fmt.Sprint(outputOf(t, got)) != fmt.Sprint((r.n+1)*2) {
					t.Errorf("start %d: %s with %s, want %d", r.n, got.Status, got.Output, (r.n+1)*2)
				}
			case r.n < valid+refused:
				if !domain.IsCode(r.err, domain.ECodeInvalid) || r.exe != nil {
					t.Errorf("start %d with a refused input: %v, %v; want invalid", r.n, r.exe, r.err)
				}
			default:
				if !domain.IsCode(r.err, domain.ECodeNotFound) || r.exe != nil {
					t.Errorf("start %d of an unknown workflow: %v, %v; want not found", r.n, r.exe, r.err)
				}
			}
		}
		if len(created) == valid {
			t.Errorf("%d starts arriving together took %d transactions: none were written together", valid, len(created))
		}

		scope := domain.OrgScope(h.fx.Org.ID)
		err := h.store.Write(context.Background(), scope, func(tx domain.Tx) error {
			month, err := tx.CountExecutionStarts(time.Now(), 0)
			if err == nil && month != valid {
				t.Errorf("the month's count is %d, want the %d started", month, valid)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = h.store.Read(context.Background(), scope, func(q domain.Queries) error {
			rows, err := q.ListAudit(domain.AuditFilter{Action: "execution.started", Limit: 1000})
			if err != nil {
				return err
			}
			byExecution := map[string]domain.AuditEvent{}
			for _, r := range rows {
				byExecution[r.ResourceID] = r
			}
			for _, r := range results[:valid] {
				row, ok := byExecution[r.exe.ID]
				if !ok || row.UserID != h.admin.UserID || row.RequestID != fmt.Sprintf("req-%d", r.n) || row.Details["status"] != "running" {
					t.Errorf("start %d: audit row %+v (found %v)", r.n, row, ok)
				}
			}
			if len(rows) != valid {
				t.Errorf("%d execution.started rows, want %d", len(rows), valid)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := audit.VerifyChain(context.Background(), h.store, scope, h.fx.Org.ID)
		if err != nil || !rep.OK() {
			t.Fatalf("audit chain: %+v, %v", rep, err)
		}
	})
}
