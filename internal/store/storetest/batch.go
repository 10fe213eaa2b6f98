package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// testWriteBatch: items of different organizations share one transaction,
// each in its own scope; a failing item rolls back alone, and the next
// item of the same organization still writes under its scope. A batch of
// one works and fails like a transaction.
func testWriteBatch(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "batcha")
	b := NewFixture(t, s, "batchb")
	boom := errors.New("boom")
	team := func(name string) func(tx domain.Tx) error {
		return func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{Action: "team.created", Success: true})
			return tx.CreateTeam(&domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: name})
		}
	}
	items := []domain.BatchItem{
		{Scope: domain.OrgScope(a.Org.ID), Fn: team("One")},
		{Scope: domain.OrgScope(b.Org.ID), Fn: func(tx domain.Tx) error {
			if err := team("Lost")(tx); err != nil {
				return err
			}
			return boom
		}},
		{Scope: domain.OrgScope(b.Org.ID), Fn: team("Two")},
		{Scope: domain.OrgScope(a.Org.ID), Fn: func(tx domain.Tx) error {
			// Writing into another organization's team is refused by scope.
			_, err := tx.GetTeam(b.Team.ID)
			return err
		}},
	}
	if err := s.WriteBatch(ctx, items); err != nil {
		t.Fatal(err)
	}
	if items[0].Err != nil || !errors.Is(items[1].Err, boom) || items[2].Err != nil || !domain.IsCode(items[3].Err, domain.ECodeNotFound) {
		t.Fatalf("item errors = %v, %v, %v, %v", items[0].Err, items[1].Err, items[2].Err, items[3].Err)
	}
	for _, c := range []struct {
		f     Fixture
		teams int
	}{{a, 2}, {b, 2}} {
		mustRead(t, s, domain.OrgScope(c.f.Org.ID), func(q domain.Queries) error {
			n, err := q.CountTeams()
			if n != c.teams {
				t.Errorf("%s has %d teams, want %d (the failed item rolled back alone)", c.f.Org.Name, n, c.teams)
			}
			return err
		})
		if brk, checked := VerifyChain(t, s, c.f.Org.ID); brk != nil || checked != 1 {
			t.Errorf("%s chain: %+v after %d rows, want 1 intact row", c.f.Org.Name, brk, checked)
		}
	}

	one := []domain.BatchItem{{Scope: domain.OrgScope(a.Org.ID), Fn: func(tx domain.Tx) error {
		if err := team("Alone lost")(tx); err != nil {
			return err
		}
		return boom
	}}}
	if err := s.WriteBatch(ctx, one); err != nil || !errors.Is(one[0].Err, boom) {
		t.Fatalf("a failing batch of one: %v, item %v", err, one[0].Err)
	}
	one = []domain.BatchItem{{Scope: domain.OrgScope(a.Org.ID), Fn: team("Alone")}}
	if err := s.WriteBatch(ctx, one); err != nil || one[0].Err != nil {
		t.Fatalf("a batch of one: %v, item %v", err, one[0].Err)
	}
	mustRead(t, s, domain.OrgScope(a.Org.ID), func(q domain.Queries) error {
		n, err := q.CountTeams()
		if n != 3 {
			t.Errorf("%d teams after the batches of one, want 3 (the failed one wrote nothing)", n)
		}
		return err
	})
	if brk, checked := VerifyChain(t, s, a.Org.ID); brk != nil || checked != 2 {
		t.Errorf("chain after the batches of one: %+v after %d rows, want 2 intact rows", brk, checked)
	}
}

// testFinishInBatch: step completions declared on batch items (which
// PostgreSQL runs for one organization's items in one statement) answer
// each item as its own LockAndFinishStep would — won, the edges' counts,
// the progress and its events, a duplicate, an ended or unknown execution
// — and an item that fails after its completion rolls the completion back
// alone.
func testFinishInBatch(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "finishbatch")
	b := NewFixture(t, s, "finishbatchb")
	boom := errors.New("boom")
	type exe struct {
		f   Fixture
		e   *domain.Execution
		org domain.Scope
	}
	newExe := func(f Fixture, status domain.ExecutionStatus, steps ...domain.Step) exe {
		scope := domain.OrgScope(f.Org.ID)
		wf := NewWorkflow(t, s, scope, f.Admin.ID, "", "batched "+domain.NewID("w"))
		e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1, Status: status,
			Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, Input: json.RawMessage(`{}`), NodesTotal: len(steps), EventSeq: 1}
		mustWrite(t, s, scope, func(tx domain.Tx) error {
			e.CreatedAt = tx.Now()
			if err := tx.CreateExecution(e); err != nil {
				return err
			}
			for i := range steps {
				steps[i].ExecutionID, steps[i].NodeType = e.ID, domain.NodeTransform
			}
			return tx.CreateSteps(steps)
		})
		return exe{f, e, scope}
	}
	queued := func(node string) domain.Step { return domain.Step{NodeID: node, Status: domain.StepQueued} }
	waiting := func(node string, parents int) domain.Step {
		return domain.Step{NodeID: node, Status: domain.StepWaiting, PendingParents: parents}
	}
	chain := newExe(a, domain.ExecutionRunning, queued("a"), waiting("b", 1), waiting("c", 2))
	done := newExe(a, domain.ExecutionRunning, domain.Step{NodeID: "a", Status: domain.StepCompleted})
	ended := newExe(a, domain.ExecutionCancelled, queued("a"))
	failing := newExe(a, domain.ExecutionRunning, queued("a"))
	twice := newExe(a, domain.ExecutionRunning, queued("a"), queued("b"))
	other := newExe(b, domain.ExecutionRunning, queued("a"), waiting("b", 1))
	unknown := exe{a, &domain.Execution{ID: domain.NewID(domain.PrefixExecution)}, domain.OrgScope(a.Org.ID)}

	at := time.Now().UTC().Truncate(time.Second)
	type result struct {
		exe *domain.Execution
		won bool
	}
	results := map[int]*result{}
	call := func(x exe, node string, edges []domain.EdgeResolution, withProgress bool) *domain.FinishCall {
		c := &domain.FinishCall{Step: &domain.Step{ExecutionID: x.e.ID, NodeID: node, Status: domain.StepCompleted, Attempts: 1,
			Output: json.RawMessage(`{"n":1}`), Input: json.RawMessage(`{"in":true}`), TokensIn: 3, CostUSD: 0.5,
			StartedAt: &at, FinishedAt: &at}, Edges: edges}
		if withProgress {
			c.Progress = &domain.StepProgress{TokensIn: 3, CostUSD: 0.5, Events: []domain.ExecutionEvent{
				{ExecutionID: x.e.ID, Type: domain.EventStepStarted, NodeID: node, CreatedAt: at, Data: json.RawMessage(`{"attempt":1}`)},
				{ExecutionID: x.e.ID, Type: domain.EventStepCompleted, NodeID: node, CreatedAt: at}}}
		}
		return c
	}
	item := func(i int, x exe, c *domain.FinishCall, after error) domain.BatchItem {
		return domain.BatchItem{Scope: x.org, Finish: c, Fn: func(tx domain.Tx) error {
			e, won, err := tx.LockAndFinishStep(c.Step, c.Edges, c.Progress)
			if err != nil {
				return err
			}
			results[i] = &result{e, won}
			return after
		}}
	}
	run := func(owners []exe, calls []*domain.FinishCall, fail exe) []domain.BatchItem {
		results = map[int]*result{}
		var items []domain.BatchItem
		for i, c := range calls {
			var after error
			if owners[i].e == fail.e {
				after = boom
			}
			items = append(items, item(i, owners[i], c, after))
		}
		if err := s.WriteBatch(ctx, items); err != nil {
			t.Fatal(err)
		}
		return items
	}
	// Every item succeeds: PostgreSQL runs each organization's
	// completions in one statement.
	owners := []exe{chain, done, ended, twice, twice, other}
	calls := []*domain.FinishCall{
		call(chain, "a", []domain.EdgeResolution{{NodeID: "b", Holds: true, OwnerJob: 11}, {NodeID: "c", OwnerJob: 11}}, true),
		call(done, "a", nil, true),
		call(ended, "a", nil, true),
		call(twice, "a", nil, true),
		call(twice, "b", nil, true),
		call(other, "a", []domain.EdgeResolution{{NodeID: "b", Holds: true, OwnerJob: 12}}, false),
	}
	for i, it := range run(owners, calls, exe{}) {
		if it.Err != nil {
			t.Errorf("item %d: %v", i, it.Err)
		}
	}
	r := results[0]
	if r == nil || !r.won || r.exe.NodesDone != 1 || r.exe.TokensIn != 3 || r.exe.CostUSD != 0.5 || r.exe.EventSeq != 3 ||
		calls[0].Progress.Events[0].Seq != 2 || calls[0].Progress.Events[1].Seq != 3 {
		t.Fatalf("chain completion: %+v, events %+v", r, calls[0].Progress.Events)
	}
	if e := calls[0].Edges; e[0].Pending != 0 || e[0].Holding != 1 || e[1].Pending != 1 || e[1].Holding != 0 {
		t.Errorf("chain edges: %+v; want b 0/1 and c 1/0", e)
	}
	if r := results[1]; r == nil || r.won {
		t.Errorf("a completed step finished again: %+v", r)
	}
	if r := results[2]; r == nil || r.won || r.exe.Status != domain.ExecutionCancelled {
		t.Errorf("a step of an ended execution: %+v", r)
	}
	if r3, r4 := results[3], results[4]; r3 == nil || r4 == nil || !r3.won || !r4.won || r4.exe.NodesDone != 2 || r4.exe.EventSeq != 5 {
		t.Errorf("two completions of one execution: %+v, %+v", r3, r4)
	}
	if r := results[5]; r == nil || !r.won || calls[5].Edges[0].Holding != 1 || r.exe.NodesDone != 0 {
		t.Errorf("the other organization's completion: %+v, edges %+v", r, calls[5].Edges)
	}

	// An item that fails after its completion, and one of an unknown
	// execution, fail alone; the others' completions stand.
	next := newExe(a, domain.ExecutionRunning, queued("a"))
	items := run([]exe{failing, unknown, next}, []*domain.FinishCall{call(failing, "a", nil, true), call(unknown, "a", nil, false),
		call(next, "a", nil, true)}, failing)
	if !errors.Is(items[0].Err, boom) || !domain.IsCode(items[1].Err, domain.ECodeNotFound) || items[2].Err != nil {
		t.Errorf("items: %v, %v, %v; want boom, not found, nil", items[0].Err, items[1].Err, items[2].Err)
	}
	if r := results[2]; r == nil || !r.won || r.exe.NodesDone != 1 {
		t.Errorf("the completion next to failed ones: %+v", r)
	}

	step := func(x exe, node string) *domain.Step {
		var st *domain.Step
		mustRead(t, s, x.org, func(q domain.Queries) error {
			var err error
			st, err = q.GetStep(x.e.ID, node)
			return err
		})
		return st
	}
	if st := step(chain, "a"); st.Status != domain.StepCompleted || st.TokensIn != 3 || st.FinishedAt == nil || string(st.Input) == "" {
		t.Errorf("chain step a: %+v", st)
	}
	if st := step(chain, "b"); st.Status != domain.StepQueued || st.OwnerJob != 11 || st.PendingParents != 0 {
		t.Errorf("chain step b: %+v; want queued, owned by 11", st)
	}
	if st := step(chain, "c"); st.Status != domain.StepWaiting || st.PendingParents != 1 {
		t.Errorf("chain step c: %+v; want waiting on one more parent", st)
	}
	if st := step(failing, "a"); st.Status != domain.StepQueued {
		t.Errorf("the failed item's step is %s, want its completion rolled back", st.Status)
	}
	if st := step(ended, "a"); st.Status != domain.StepQueued {
		t.Errorf("the ended execution's step is %s, want untouched", st.Status)
	}
	if st := step(other, "b"); st.Status != domain.StepQueued || st.OwnerJob != 12 {
		t.Errorf("the other organization's step b: %+v", st)
	}
	mustRead(t, s, chain.org, func(q domain.Queries) error {
		evs, err := q.ListEvents(chain.e.ID, 0, 10)
		if err != nil {
			return err
		}
		if len(evs) != 2 || evs[0].Seq != 2 || evs[0].Type != domain.EventStepStarted || evs[1].Seq != 3 {
			t.Errorf("chain events: %+v", evs)
		}
		stored, err := q.GetExecution(failing.e.ID)
		if err == nil && (stored.NodesDone != 0 || stored.EventSeq != 1) {
			t.Errorf("the failed item's execution: %d done, event seq %d; want its progress rolled back", stored.NodesDone, stored.EventSeq)
		}
		return err
	})
}
