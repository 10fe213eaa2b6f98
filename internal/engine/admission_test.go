package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
)

// setPlan sets the organization's concurrency and monthly limits.
func setPlan(t *testing.T, h *harness, concurrent, perMonth int) {
	t.Helper()
	err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
		o, err := tx.GetOrganization(h.fx.Org.ID)
		if err != nil {
			return err
		}
		o.Limits.MaxConcurrentExecutions, o.Limits.MaxExecutionsPerMonth = concurrent, perMonth
		return tx.UpdateOrganization(o)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startAll starts n executions at once and returns what each returned.
func startAll(h *harness, wf string, n int) ([]*domain.Execution, []error) {
	exes, errs := make([]*domain.Execution, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			exes[i], _, errs[i] = h.engine.Execute(context.Background(), h.admin,
				engine.ExecuteRequest{WorkflowID: wf, Input: json.RawMessage(`{"word":"x"}`)})
		})
	}
	wg.Wait()
	return exes, errs
}

// TestConcurrentStartsRespectTheConcurrencyLimit: executions started at
// the same moment by many clients are admitted exactly up to the plan's
// concurrent limit, the rest wait as pending, and all of them finish.
func TestConcurrentStartsRespectTheConcurrencyLimit(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, kind, harnessOpts{}).withOrg("burst")
			setPlan(t, h, 3, 1000)
			wf := h.workflow(domain.Definition{Nodes: []domain.Node{mockLLM("slow", domain.MockOptions{LatencyMS: 1500})}})
			exes, errs := startAll(h, wf, 12)
			status := map[domain.ExecutionStatus]int{}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("start %d: %v", i, err)
				}
				status[exes[i].Status]++
			}
			if status[domain.ExecutionRunning] != 3 || status[domain.ExecutionPending] != 9 {
				t.Errorf("started as %v, want 3 running and 9 pending", status)
			}
			// Stored state agrees with what the starts answered.
			_ = h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
				n, err := q.CountRunningExecutions()
				if n > 3 {
					t.Errorf("%d executions running with a limit of 3", n)
				}
				return err
			})
			for _, exe := range exes {
				if got := h.wait(exe.ID); got.Status != domain.ExecutionSucceeded {
					t.Errorf("%s = %s", exe.ID, got.Status)
				}
			}
		})
	}
}

// TestLimitsUnderConcurrentStarts: with room for five more executions
// (this month, or in the hour), ten clients starting at once get exactly
// five executions, which finish, and five 429s naming the limit; the
// refused starts leave nothing behind.
func TestLimitsUnderConcurrentStarts(t *testing.T) {
	t.Parallel()
	for _, lim := range []struct {
		name    string
		perHour int // 0: the monthly limit is the one reached
	}{{"max_executions_per_month", 0}, {"max_workflow_executions_per_hour", 5}} {
		t.Run(lim.name, func(t *testing.T) {
			t.Parallel()
			eachKind(t, func(t *testing.T, kind string) {
				h := newHarness(t, kind, harnessOpts{perHour: lim.perHour}).withOrg("quota")
				if lim.perHour == 0 {
					setPlan(t, h, 2, 5)
				}
				wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "input.word")}})
				exes, errs := startAll(h, wf, 10)
				started, refused := 0, 0
				for i, err := range errs {
					var de *domain.Error
					switch {
					case err == nil && exes[i] != nil:
						started++
						if got := h.wait(exes[i].ID); got.Status != domain.ExecutionSucceeded {
							t.Errorf("execution %d: %s %s", i, got.Status, got.Error)
						}
					case domain.IsCode(err, domain.ECodeLimitExceeded) && asError(err, &de) &&
						de.Limit == lim.name && de.LimitValue == 5 && de.RetryAfterSeconds > 0:
						refused++
					default:
						t.Errorf("start %d: %v", i, err)
					}
				}
				if started != 5 || refused != 5 {
					t.Errorf("%d started and %d refused, want 5 and 5", started, refused)
				}
				_ = h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
					n, err := q.CountExecutionsSince(h.fx.Org.CreatedAt.AddDate(0, 0, -1))
					if n != 5 {
						t.Errorf("%d executions stored, want 5", n)
					}
					return err
				})
				if _, _, err := h.engine.Execute(context.Background(), h.admin,
					engine.ExecuteRequest{WorkflowID: wf, Input: json.RawMessage(`{"word":"x"}`)}); !domain.IsCode(err, domain.ECodeLimitExceeded) {
					t.Errorf("a start after the limit was reached: %v", err)
				}
			})
		})
	}
}
