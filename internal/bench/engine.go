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

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// stepKind is the River kind of engine steps.
var stepKind = engine.StepArgs{}.Kind()

// stepCounter counts completed step jobs from River's event stream, an
// in-memory signal that adds no database work to what is measured.
type stepCounter struct {
	events <-chan *river.Event
	cancel func()
}

func countSteps(p *Process, capacity int) *stepCounter {
	ch, cancel := p.Queue.SubscribeConfig(&river.SubscribeConfig{ChanSize: capacity + 1000,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled}})
	return &stepCounter{events: ch, cancel: cancel}
}

// wait returns when n more steps completed, with the time of the last.
func (c *stepCounter) wait(ctx context.Context, n int, timeout time.Duration) (time.Time, error) {
	var last time.Time
	deadline := time.After(timeout)
	for done := 0; done < n; {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return last, fmt.Errorf("event stream closed after %d of %d steps", done, n)
			}
			if ev.Job == nil || ev.Job.Kind != stepKind {
				continue
			}
			if ev.Kind != river.EventKindJobCompleted {
				msg := ""
				if len(ev.Job.Errors) > 0 {
					msg = ev.Job.Errors[len(ev.Job.Errors)-1].Error
				}
				return last, fmt.Errorf("a step job ended %s: %s (args %s)", ev.Kind, msg, ev.Job.EncodedArgs)
			}
			done++
			last = time.Now()
		case <-deadline:
			return last, fmt.Errorf("only %d of %d steps completed within %s", done, n, timeout)
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
	return last, nil
}

// submit starts n executions of workflow from several goroutines,
// recording how long each Execute took in lat (when not nil).
func submit(ctx context.Context, p *Process, pr *domain.Principal, workflow string, n, submitters int, lat *Latencies) error {
	next := make(chan int)
	errs := make(chan error, submitters)
	var wg sync.WaitGroup
	for range max(submitters, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				_, _, err := p.Engine.Execute(ctx, pr, engine.ExecuteRequest{WorkflowID: workflow,
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
}

func (r *run) throughputAll(ctx context.Context) error {
	sz := r.o.Sizes
	for _, w := range []workload{
		{key: "chain", name: fmt.Sprintf("%d-node chain × %d", sz.ChainLength, sz.ChainExecutions), workflow: wfChain,
			executions: sz.ChainExecutions, steps: sz.ChainLength},
		{key: "fanout", name: fmt.Sprintf("%d-wide fan-out/fan-in × %d", sz.FanoutWidth, sz.FanoutExecutions), workflow: wfFanout,
			executions: sz.FanoutExecutions, steps: sz.FanoutWidth + 2},
	} {
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
	pr, err := r.fx.principal(ctx, p)
	if err != nil {
		return err
	}
	total := w.executions * w.steps
	counter := countSteps(p, total)
	defer counter.cancel()
	if r.o.CPUProfile != "" {
		path := fmt.Sprintf("%s-%s-%s.pprof", r.o.CPUProfile, r.kind, w.key)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
		r.logf("2 CPU profile: %s", path)
	}
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
		err := submit(ctx, p, pr, r.fx.workflows[w.workflow], w.executions, r.o.Sizes.Submitters, &execLat)
		submitted = time.Since(start)
		submitErr <- err
	}()
	last, err := counter.wait(ctx, total, r.o.Sizes.StepTimeout)
	if err != nil {
		return err
	}
	if err := <-submitErr; err != nil {
		return err
	}
	elapsed := last.Sub(start)
	pprof.StopCPUProfile()
	detail := map[string]any{"steps": total, "executions": w.executions, "seconds": elapsed.Seconds(),
		"submit_seconds": submitted.Seconds(), "submitters": r.o.Sizes.Submitters, "step_workers": p.StepWorkers,
		"execute_latency": execLat.Summary()}
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
		r.add(Result{Scenario: 2, Key: "engine_" + w.key + "_steps_per_sec", Name: "engine steps/s: " + w.name,
			Value: rate, Unit: "steps/s", Baseline: &Baseline{Name: "River", Value: r.riverRate, Unit: "jobs/s"}, Bar: bar,
			Detail: detail})
	}
	if r.pg != nil && r.o.wants(ScenarioCommits) {
		after, err := r.pg.quiescentCommits(ctx)
		if err != nil {
			return err
		}
		per := float64(after-before) / float64(total)
		r.add(Result{Scenario: 4, Key: "commits_per_step_" + w.key, Name: "commits per completed step: " + w.name, Value: per,
			Unit: "commits", Baseline: &Baseline{Name: "River per job", Value: r.riverCommits, Unit: "commits"}, Bar: atMost(2),
			Detail: map[string]any{"commits": after - before, "steps": total,
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
	counter := countSteps(p, sz.HandoffLength*sz.HandoffChains)
	defer counter.cancel()
	r.logf("3 engine: %d chains of %d steps, one at a time", sz.HandoffChains, sz.HandoffLength)
	var gaps, perStep []time.Duration
	for c := range sz.HandoffChains {
		exe, _, err := p.Engine.Execute(ctx, pr, engine.ExecuteRequest{WorkflowID: r.fx.workflows[wfHandoff],
			Input: json.RawMessage(`{"n": ` + strconv.Itoa(c) + `}`)})
		if err != nil {
			return err
		}
		if _, err := counter.wait(ctx, sz.HandoffLength, sz.StepTimeout); err != nil {
			return err
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
