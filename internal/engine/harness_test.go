package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// harness is a running engine on a fresh database.
type harness struct {
	t      *testing.T
	db     dbtest.DB
	store  *sqlstore.Store
	engine *engine.Engine
	queue  *queue.Queue
	fx     storetest.Fixture
	admin  *domain.Principal
}

type harnessOpts struct {
	executionTimeout time.Duration
	allow            []string // SSRF allowlist for http nodes
	noWorkers        bool
	perHour          int
	workers          int // step workers (default 50)
	inlineBudget     time.Duration
}

func newHarness(t *testing.T, kind string, o harnessOpts) *harness {
	t.Helper()
	db := dbtest.New(t, kind)
	s := dbtest.Open(t, db)
	return startHarness(t, db, s, o)
}

// startHarness runs an engine (one "process") on an existing database.
func startHarness(t *testing.T, db dbtest.DB, s *sqlstore.Store, o harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	guard, err := netguard.New(o.allow)
	if err != nil {
		t.Fatal(err)
	}
	bus := engine.NewBus("", discard())
	if db.Kind == sqlstore.KindPostgres {
		bus = engine.NewBus(db.AppDSN, discard())
	}
	e := engine.New(engine.Options{Store: s, Bus: bus, ExecutionTimeout: o.executionTimeout, RescueAfter: time.Minute,
		MaxExecutionsPerHour: o.perHour, InlineBudget: o.inlineBudget, Log: discard()})
	rt, err := agent.New(agent.Options{Guard: guard, Workflows: e, MaxStepTimeout: e.MaxStepTimeout()})
	if err != nil {
		t.Fatal(err)
	}
	e.SetRunner(rt)
	workers := river.NewWorkers()
	e.AddWorkers(workers)
	q, err := queue.New(ctx, queue.Options{Kind: db.Kind, DB: s.DB(), ListenerDSN: db.AppDSN, Workers: workers,
		RescueAfter: time.Minute, FetchPollInterval: 100 * time.Millisecond, StepWorkers: max(o.workers, 50*boolInt(o.workers == 0)),
		InsertOnly: o.noWorkers, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	e.SetQueue(q.Client)
	runCtx, stop := context.WithCancel(ctx)
	go bus.Run(runCtx, domain.NewID("proc"))
	go e.WatchCancels(runCtx)
	if !o.noWorkers {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		stop()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
		q.Close()
	})
	h := &harness{t: t, db: db, store: s, engine: e, queue: q}
	return h
}

// withOrg adds an organization with an admin to act as.
func (h *harness) withOrg(name string) *harness {
	h.fx = storetest.NewFixture(h.t, h.store, name)
	h.admin = &domain.Principal{UserID: h.fx.Admin.ID, OrgID: h.fx.Org.ID, Role: domain.RoleAdmin,
		Permissions: domain.NewPermissionSet(domain.RoleAdmin, nil)}
	return h
}

// workflow stores a definition as a workflow and returns its id.
func (h *harness) workflow(def domain.Definition) string {
	h.t.Helper()
	if errs := workflow.Validate(&def, workflow.NewLimits(100, "enterprise", 100, 30*time.Second)); len(errs) > 0 {
		h.t.Fatalf("invalid test workflow: %+v", errs)
	}
	w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), CreatedBy: h.fx.Admin.ID, Name: "test", Definition: def,
		Status: domain.WorkflowActive}
	v := &domain.WorkflowVersion{ID: domain.NewID(domain.PrefixVersion), Definition: def, Resolved: def, AuthorID: h.fx.Admin.ID}
	if err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
		return tx.CreateWorkflow(w, v, 0)
	}); err != nil {
		h.t.Fatal(err)
	}
	return w.ID
}

// start begins an execution.
func (h *harness) start(wfID string, input any) *domain.Execution {
	h.t.Helper()
	raw, _ := json.Marshal(input)
	exe, _, err := h.engine.Execute(context.Background(), h.admin, engine.ExecuteRequest{WorkflowID: wfID, Input: raw})
	if err != nil {
		h.t.Fatalf("execute: %v", err)
	}
	return exe
}

// wait waits for an execution to end.
func (h *harness) wait(id string) *domain.Execution {
	h.t.Helper()
	exe, err := h.engine.Wait(context.Background(), domain.OrgScope(h.fx.Org.ID), id, 30*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	if !exe.Final() {
		h.t.Fatalf("execution %s still %s after 30s", id, exe.Status)
	}
	return exe
}

// steps returns an execution's steps by node id.
func (h *harness) steps(id string) map[string]domain.Step {
	h.t.Helper()
	out := map[string]domain.Step{}
	err := h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
		steps, err := q.ListSteps(id)
		for _, s := range steps {
			out[s.NodeID] = s
		}
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// events returns an execution's stored events.
func (h *harness) events(id string) []domain.ExecutionEvent {
	h.t.Helper()
	var out []domain.ExecutionEvent
	err := h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
		var err error
		out, err = q.ListEvents(id, 0, 1000)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func outputOf(t *testing.T, exe *domain.Execution) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(exe.Output, &v); err != nil {
		t.Fatalf("output %s: %v", exe.Output, err)
	}
	return v
}

// Node builders.
func transform(id, expr string) domain.Node {
	return domain.Node{ID: id, Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: expr}}
}

func mockLLM(id string, m domain.MockOptions) domain.Node {
	return domain.Node{ID: id, Type: domain.NodeLLM, LLM: &domain.LLMConfig{Model: "mock:echo", Prompt: "say {{ .input.word }}", Mock: &m}}
}

func edge(from, to string) domain.Edge { return domain.Edge{From: from, To: to} }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
