package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// TestFanInStress runs many executions whose parents finish together and
// checks, through a counting HTTP server, that every child ran exactly
// once (PostgreSQL: real concurrency between workers).
func TestFanInStress(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()
	kind := sqlstore.KindPostgres
	if len(dbtest.Kinds(t)) == 1 {
		kind = sqlstore.KindSQLite
	}
	h := newHarness(t, kind, harnessOpts{allow: []string{strings.TrimPrefix(srv.URL, "http://")}}).withOrg("stress")
	setLimits(t, h, 500)
	nodes := []domain.Node{transform("start", "1")}
	var edges []domain.Edge
	for i := range 8 {
		id := fmt.Sprintf("p%d", i)
		nodes = append(nodes, transform(id, "nodes.start"))
		edges = append(edges, edge("start", id), edge(id, "child"))
	}
	nodes = append(nodes, domain.Node{ID: "child", Type: domain.NodeHTTP, HTTP: &domain.HTTPConfig{Method: "POST", URL: srv.URL + "/hit"}})
	wf := h.workflow(domain.Definition{Nodes: nodes, Edges: edges})
	const n = 40
	ids := make([]string, n)
	for i := range n {
		ids[i] = h.start(wf, map[string]any{}).ID
	}
	for _, id := range ids {
		exe := h.wait(id)
		if exe.Status != domain.ExecutionSucceeded {
			t.Fatalf("%s: %s %s", id, exe.Status, exe.Error)
		}
		s := h.steps(id)["child"]
		if s.Status != domain.StepCompleted || s.Attempts != 1 {
			t.Errorf("%s child = %s after %d attempts", id, s.Status, s.Attempts)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if c := calls[id+":child"]; c != 1 {
			t.Errorf("child of %s ran %d times", id, c)
		}
	}
}

// setLimits raises the organization's concurrency limit and puts its
// monthly limit out of reach.
func setLimits(t *testing.T, h *harness, concurrent int) {
	t.Helper()
	setPlan(t, h, concurrent, 1_000_000)
}

// TestConcurrencyLimitQueuesExecutions: beyond the plan's concurrent
// limit executions wait as pending and start as others finish.
func TestConcurrencyLimitQueuesExecutions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sqlite", harnessOpts{}).withOrg("admission")
	setLimits(t, h, 2)
	// The latency outlasts the five starts even on a loaded machine; the
	// statuses are the ones Execute answered.
	wf := h.workflow(domain.Definition{Nodes: []domain.Node{mockLLM("slow", domain.MockOptions{LatencyMS: 1500})}})
	var ids []string
	pending := 0
	for range 5 {
		exe := h.start(wf, map[string]any{"word": "x"})
		ids = append(ids, exe.ID)
		if exe.Status == domain.ExecutionPending {
			pending++
		}
	}
	if pending != 3 {
		t.Errorf("%d of 5 executions pending with a limit of 2, want 3", pending)
	}
	for _, id := range ids {
		if exe := h.wait(id); exe.Status != domain.ExecutionSucceeded {
			t.Errorf("%s = %s", id, exe.Status)
		}
	}
}

// TestFairness: organization A floods the queue, then organization B
// starts a single execution; B finishes before most of A's backlog. The
// flood and B's execution are queued before any worker runs (one
// insert-only "process" starts them, then a process with four workers
// starts), so the order the steps run in is all that is measured: a
// first-in-first-out queue would run B last.
func TestFairness(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		db := dbtest.New(t, kind)
		s := dbtest.Open(t, db)
		h := startHarness(t, db, s, harnessOpts{noWorkers: true})
		a := *h
		a.withOrg("flooder")
		setLimits(t, &a, 1000)
		b := *h
		b.withOrg("quiet")
		chain := domain.Definition{Nodes: []domain.Node{mockLLM("one", domain.MockOptions{LatencyMS: 40}), mockLLM("two", domain.MockOptions{LatencyMS: 40})},
			Edges: []domain.Edge{edge("one", "two")}}
		wfA, wfB := a.workflow(chain), b.workflow(chain)
		const flood = 200
		var aIDs []string
		for range flood {
			aIDs = append(aIDs, a.start(wfA, map[string]any{"word": "a"}).ID)
		}
		bID := b.start(wfB, map[string]any{"word": "b"}).ID
		w := startHarness(t, db, s, harnessOpts{workers: 4})
		b.engine = w.engine
		if bExe := b.wait(bID); bExe.Status != domain.ExecutionSucceeded {
			t.Fatalf("B = %s", bExe.Status)
		}
		doneA := 0
		_ = s.Read(context.Background(), domain.OrgScope(a.fx.Org.ID), func(q domain.Queries) error {
			for _, id := range aIDs {
				e, _ := q.GetExecution(id)
				if e.Final() {
					doneA++
				}
			}
			return nil
		})
		t.Logf("when B finished, %d of A's %d executions had finished", doneA, flood)
		if doneA > flood/2 {
			t.Errorf("B waited behind %d of A's %d executions", doneA, flood)
		}
	})
}

// TestSchedulesFireOnceAcrossProcesses: two engines ("processes") on one
// database tick at the same time; each due time starts one execution.
func TestSchedulesFireOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		db := dbtest.New(t, kind)
		s := dbtest.Open(t, db)
		p1 := startHarness(t, db, s, harnessOpts{noWorkers: true}).withOrg("sched")
		s2 := dbtest.Open(t, db)
		p2 := startHarness(t, db, s2, harnessOpts{noWorkers: true})
		wf := p1.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "1")}})
		past := time.Now().UTC().Add(-30 * time.Second).Truncate(time.Second)
		var schedIDs []string
		for i := range 5 {
			sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), WorkflowID: wf, Name: fmt.Sprint(i), CronExpression: "* * * * *",
				Timezone: "UTC", Active: true, NextRunAt: &past, CreatedBy: p1.fx.Admin.ID, Input: json.RawMessage(`{}`)}
			if err := s.Write(context.Background(), domain.OrgScope(p1.fx.Org.ID), func(tx domain.Tx) error { return tx.CreateSchedule(sc) }); err != nil {
				t.Fatal(err)
			}
			schedIDs = append(schedIDs, sc.ID)
		}
		firing := time.Now()
		var wg sync.WaitGroup
		fired := make([]int, 4)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				eng := p1.engine
				if i%2 == 1 {
					eng = p2.engine
				}
				n, err := eng.FireDueSchedules(context.Background())
				if err != nil {
					t.Error(err)
				}
				fired[i] = n
			}()
		}
		wg.Wait()
		total := fired[0] + fired[1] + fired[2] + fired[3]
		if total != 5 {
			t.Errorf("fired %v = %d executions for 5 due schedules", fired, total)
		}
		_ = s.Read(context.Background(), domain.OrgScope(p1.fx.Org.ID), func(q domain.Queries) error {
			exes, _, err := q.ListExecutions(domain.ExecutionFilter{Trigger: domain.TriggerSchedule})
			if len(exes) != 5 {
				t.Errorf("%d scheduled executions, want 5", len(exes))
			}
			for _, id := range schedIDs {
				sc, _ := q.GetSchedule(id)
				// The next run is after the moment of firing (not after
				// now: a minute may turn between firing and this read).
				if sc.LastExecutionID == "" || sc.NextRunAt == nil || !sc.NextRunAt.After(firing) {
					t.Errorf("schedule %s after firing: %+v", id, sc)
				}
			}
			return err
		})
	})
}
