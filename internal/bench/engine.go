package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// pollInterval is how often the bench looks whether a workload is done.
const pollInterval = 25 * time.Millisecond

// waitDone waits until no execution of the given scopes is running or
// waiting for admission, polling the store only after every execution was
// started (nothing can be all done before), and returns when it saw that,
// with the number of read transactions it used (on PostgreSQL they are
// subtracted from the commit count). An execution that failed is an error.
func waitDone(ctx context.Context, p *Process, scopes []domain.Scope, timeout time.Duration) (time.Time, int, error) {
	deadline := time.Now().Add(timeout)
	reads := 0
	for {
		busy := 0
		for _, sc := range scopes {
			reads++
			err := p.Store.Read(ctx, sc, func(q domain.Queries) error {
				n, err := q.CountRunningExecutions()
				if err != nil {
					return err
				}
				pending, _, err := q.ListExecutions(domain.ExecutionFilter{Status: domain.ExecutionPending, Page: domain.Page{Limit: 1}})
				busy += n + len(pending)
				return err
			})
			if err != nil {
				return time.Time{}, reads, err
			}
		}
		if busy == 0 {
			return time.Now(), reads, failures(ctx, p, scopes)
		}
		if time.Now().After(deadline) {
			return time.Time{}, reads, fmt.Errorf("%d executions still running after %s", busy, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, reads, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// failures reports a failed or cancelled execution of the scopes, if any.
func failures(ctx context.Context, p *Process, scopes []domain.Scope) error {
	for _, sc := range scopes {
		for _, st := range []domain.ExecutionStatus{domain.ExecutionFailed, domain.ExecutionCancelled} {
			var bad []domain.Execution
			err := p.Store.Read(ctx, sc, func(q domain.Queries) (err error) {
				bad, _, err = q.ListExecutions(domain.ExecutionFilter{Status: st, Page: domain.Page{Limit: 1}})
				return err
			})
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				return fmt.Errorf("execution %s %s: %s (%s)", bad[0].ID, bad[0].Status, bad[0].Error, bad[0].ErrorKind)
			}
		}
	}
	return nil
}

// target is whom an execution runs as and what it runs.
type target struct {
	pr       *domain.Principal
	workflow string
}

// submit starts n executions from several goroutines, execution i on
// targets[i % len(targets)], recording how long each Execute took in lat
// (when not nil).
func submit(ctx context.Context, p *Process, targets []target, n, submitters int, lat *Latencies) error {
	next := make(chan int)
	errs := make(chan error, submitters)
	var wg sync.WaitGroup
	for range max(submitters, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				tg := targets[i%len(targets)]
				t := time.Now()
				_, _, err := p.Engine.Execute(ctx, tg.pr, engine.ExecuteRequest{WorkflowID: tg.workflow,
					Input: json.RawMessage(`{"n": ` + strconv.Itoa(i) + `}`)})
				if lat != nil {
					lat.Add(time.Since(t))
				}
				if err != nil {
					errs <- fmt.Errorf("execute %d: %w", i, err)
					return
				}
			}
		}()
	}
	var err error
loop:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break loop
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// workload is one shape of scenario 2.
type workload struct {
	key, name  string
	workflow   string
	executions int
	steps      int // per execution
	orgs       int // organizations the executions are spread over (0, 1: one)
}

func (r *run) throughputAll(ctx context.Context) error {
	sz := r.o.Sizes
	workloads := []workload{
		{key: "chain", name: fmt.Sprintf("%d-node chain × %d", sz.ChainLength, sz.ChainExecutions), workflow: wfChain,
			executions: sz.ChainExecutions, steps: sz.ChainLength},
		{key: "fanout", name: fmt.Sprintf("%d-wide fan-out/fan-in × %d", sz.FanoutWidth, sz.FanoutExecutions), workflow: wfFanout,
			executions: sz.FanoutExecutions, steps: sz.FanoutWidth + 2},
	}
	if sz.Orgs > 1 && len(r.extra) >= sz.Orgs-1 {
		// The same chains started by several organizations: what the step
		// path does when starting executions is not serialised by one
		// organization's admission (reported without a bar).
		workloads = append(workloads, workload{key: "chain_orgs", workflow: wfChain, executions: sz.ChainExecutions,
			name:  fmt.Sprintf("%d-node chain × %d over %d organizations", sz.ChainLength, sz.ChainExecutions, sz.Orgs),
			steps: sz.ChainLength, orgs: sz.Orgs})
	}
	for _, w := range workloads {
		if w.executions <= 0 {
			continue
		}
		if err := r.throughput(ctx, w); err != nil {
			return fmt.Errorf("%s: %w", w.key, err)
		}
	}
	return nil
}

// throughput runs one workload in a fresh process, so that on PostgreSQL
// the database's commit counter covers exactly that process's life:
// start-up, the workload, River's fetches and maintenance, and shutdown.
func (r *run) throughput(ctx context.Context, w workload) error {
	var before int64
	if r.pg != nil {
		var err error
		if before, err = r.pg.quiescentCommits(ctx); err != nil {
			return err
		}
	}
	p, err := r.start(ctx)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			r.stop(p)
		}
	}()
	var targets []target
	for _, fx := range append([]*fixture{r.fx}, r.extra[:max(w.orgs-1, 0)]...) {
		pr, err := fx.principal(ctx, p)
		if err != nil {
			return err
		}
		targets = append(targets, target{pr: pr, workflow: fx.workflows[w.workflow]})
	}
	total := w.executions * w.steps
	var scopes []domain.Scope
	for _, t := range targets {
		scopes = append(scopes, t.pr.Scope())
	}
	stopProfile, err := r.profile(w.key)
	if err != nil {
		return err
	}
	defer stopProfile()
	r.logf("2 engine: %s (%d steps)", w.name, total)
	var waits *waitSampler
	if r.pg != nil {
		waits = r.pg.sampleWaits(ctx, 100*time.Millisecond)
	}
	start := time.Now()
	submitErr := make(chan error, 1)
	var submitted time.Duration
	var execLat Latencies
	go func() {
		err := submit(ctx, p, targets, w.executions, r.o.Sizes.Submitters, &execLat)
		submitted = time.Since(start)
		submitErr <- err
	}()
	if err := <-submitErr; err != nil {
		return err
	}
	last, polls, err := waitDone(ctx, p, scopes, r.o.Sizes.StepTimeout)
	if err != nil {
		return err
	}
	elapsed := last.Sub(start)
	stopProfile()
	detail := map[string]any{"steps": total, "executions": w.executions, "seconds": elapsed.Seconds(),
		"submit_seconds": submitted.Seconds(), "submitters": r.o.Sizes.Submitters, "step_workers": p.StepWorkers,
		"execute_latency": execLat.Summary(), "organizations": len(targets)}
	if waits != nil {
		detail["postgres_sessions"] = waits.stop()
	}
	rate := float64(total) / elapsed.Seconds()
	stopped = true
	r.stop(p)
	if r.o.wants(ScenarioThroughput) {
		bar := atLeastRatio(0.3)
		if r.kind == Postgres {
			bar = atLeastRatio(0.15)
		}
		if w.orgs > 1 {
			bar = nil
		}
		r.add(Result{Scenario: 2, Key: "engine_" + w.key + "_steps_per_sec", Name: "engine steps/s: " + w.name,
			Value: rate, Unit: "steps/s", Baseline: &Baseline{Name: "River", Value: r.riverRate, Unit: "jobs/s"}, Bar: bar,
			Detail: detail})
	}
	if r.pg != nil && r.o.wants(ScenarioCommits) {
		after, err := r.pg.quiescentCommits(ctx)
		if err != nil {
			return err
		}
		// The bench's own polling transactions are not the engine's.
		per := float64(after-before-int64(polls)) / float64(total)
		r.add(Result{Scenario: 4, Key: "commits_per_step_" + w.key, Name: "commits per completed step: " + w.name, Value: per,
			Unit: "commits", Baseline: &Baseline{Name: "River per job", Value: r.riverCommits, Unit: "commits"}, Bar: atMost(2),
			Detail: map[string]any{"commits": after - before - int64(polls), "bench_polls_subtracted": polls, "steps": total,
				"includes": "process start and stop, sign-in, execution starts, River fetches and maintenance, bus notifications"}})
	}
	return nil
}

// handoff runs 40-node chains one after another on an otherwise idle
// process and takes each hand-off from the stored step timestamps: the
// next step's start minus this step's finish (the finish is taken before
// the completion transaction; the start after the step's state is read).
func (r *run) handoff(ctx context.Context, p *Process) error {
	sz := r.o.Sizes
	pr, err := p.Authenticate(ctx, r.fx.token)
	if err != nil {
		return err
	}
	r.logf("3 engine: %d chains of %d steps, one at a time", sz.HandoffChains, sz.HandoffLength)
	var gaps, perStep []time.Duration
	for c := range sz.HandoffChains {
		exe, _, err := p.Engine.Execute(ctx, pr, engine.ExecuteRequest{WorkflowID: r.fx.workflows[wfHandoff],
			Input: json.RawMessage(`{"n": ` + strconv.Itoa(c) + `}`)})
		if err != nil {
			return err
		}
		// Wait as an API client waiting for the result does.
		if exe, err = p.Engine.Wait(ctx, pr.Scope(), exe.ID, sz.StepTimeout); err != nil {
			return err
		}
		if !exe.Final() {
			return fmt.Errorf("execution %s still %s after %s", exe.ID, exe.Status, sz.StepTimeout)
		}
		if exe.Status != domain.ExecutionSucceeded {
			return fmt.Errorf("execution %s %s: %s", exe.ID, exe.Status, exe.Error)
		}
		var steps []domain.Step
		err = p.Store.Read(ctx, pr.Scope(), func(q domain.Queries) error {
			var err error
			if exe, err = q.GetExecution(exe.ID); err != nil {
				return err
			}
			steps, err = q.ListSteps(exe.ID)
			return err
		})
		if err != nil {
			return err
		}
		byNode := map[string]domain.Step{}
		for _, s := range steps {
			byNode[s.NodeID] = s
		}
		for i := 0; i+1 < sz.HandoffLength; i++ {
			a, b := byNode["s"+strconv.Itoa(i)], byNode["s"+strconv.Itoa(i+1)]
			if a.FinishedAt == nil || b.StartedAt == nil {
				return fmt.Errorf("execution %s: step s%d or s%d has no timestamps", exe.ID, i, i+1)
			}
			gaps = append(gaps, b.StartedAt.Sub(*a.FinishedAt))
		}
		if exe.CompletedAt != nil {
			perStep = append(perStep, exe.CompletedAt.Sub(exe.CreatedAt)/time.Duration(sz.HandoffLength))
		}
	}
	h, wall := Summarize(gaps), Summarize(perStep)
	bar := atMost(15)
	if r.kind == Postgres {
		bar = atMost(5)
	}
	detail := map[string]any{"handoffs": h.Count, "engine": h, "river": r.riverHop}
	r.add(Result{Scenario: 3, Key: "handoff_p50_ms", Name: fmt.Sprintf("step hand-off p50, %d-node chain", sz.HandoffLength),
		Value: h.P50, Unit: "ms", Baseline: &Baseline{Name: "River chain p50", Value: r.riverHop.P50, Unit: "ms"}, Bar: bar, Detail: detail})
	r.add(Result{Scenario: 3, Key: "handoff_p99_ms", Name: fmt.Sprintf("step hand-off p99, %d-node chain", sz.HandoffLength),
		Value: h.P99, Unit: "ms", Baseline: &Baseline{Name: "River chain p99", Value: r.riverHop.P99, Unit: "ms"}})
	r.add(Result{Scenario: 3, Key: "chain_ms_per_step", Name: "execution wall time per step (created → completed ÷ steps)",
		Value: wall.Mean, Unit: "ms", Baseline: &Baseline{Name: "River chain mean", Value: r.riverHop.Mean, Unit: "ms"},
		Detail: map[string]any{"executions": wall.Count}})
	return nil
}

// profile starts a CPU profile named after the database and what is
// measured, when --cpuprofile asked for profiles; the returned func stops
// it (and may be called twice).
func (r *run) profile(what string) (stop func(), err error) {
	if r.o.CPUProfile == "" {
		return func() {}, nil
	}
	path := fmt.Sprintf("%s-%s-%s.pprof", r.o.CPUProfile, r.kind, what)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	r.logf("CPU profile: %s", path)
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}
