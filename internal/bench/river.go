package bench

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/superagent-hq/superagent/internal/queue"
)

// noopArgs is scenario 1's job: River alone, nothing to do.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench.noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	first atomic.Int64 // unix nanoseconds of the first job's start
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.first.CompareAndSwap(0, time.Now().UnixNano())
	return nil
}

// hopArgs is one link of River's own chain: the baseline of the engine's
// step hand-off. A hop inserts its successor and completes itself in one
// transaction, as the engine's completion does, minus the engine.
type hopArgs struct {
	Chain int `json:"chain"`
	Hop   int `json:"hop"`
	Hops  int `json:"hops"`
}

func (hopArgs) Kind() string { return "bench.hop" }

type hopWorker struct {
	river.WorkerDefaults[hopArgs]
	db *sql.DB

	mu     sync.Mutex
	starts map[[2]int]time.Time
	ends   map[[2]int]time.Time
	done   chan int // chain numbers whose last hop ran
}

func (w *hopWorker) Work(ctx context.Context, job *river.Job[hopArgs]) error {
	a := job.Args
	now := time.Now()
	w.mu.Lock()
	w.starts[[2]int{a.Chain, a.Hop}] = now
	w.mu.Unlock()
	if a.Hop+1 >= a.Hops {
		w.done <- a.Chain
		return nil
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	w.mu.Lock()
	w.ends[[2]int{a.Chain, a.Hop}] = time.Now()
	w.mu.Unlock()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := client.InsertTx(ctx, tx, hopArgs{Chain: a.Chain, Hop: a.Hop + 1, Hops: a.Hops},
		&river.InsertOpts{Queue: queue.QueueSteps}); err != nil {
		return err
	}
	if _, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit()
}

// riverBaseline measures River alone with a process's settings: no-op jobs
// per second (R), commits per job (PostgreSQL) and, for scenario 3, the
// hand-off of a chain of jobs that each insert the next.
func (r *run) riverBaseline(ctx context.Context) error {
	sz := r.o.Sizes
	var before int64
	if r.pg != nil {
		var err error
		if before, err = r.pg.quiescentCommits(ctx); err != nil {
			return err
		}
	}
	w := &noopWorker{}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	rp, err := r.o.Launcher.OpenRiver(ctx, r.db, workers)
	if err != nil {
		return err
	}
	r.info.StepWorkers = rp.StepWorkers
	closed := false
	defer func() {
		if !closed {
			_ = rp.Close(context.Background())
		}
	}()
	r.logf("1 River alone: inserting %d no-op jobs", sz.BaselineJobs)
	for done := 0; done < sz.BaselineJobs; {
		n := min(1000, sz.BaselineJobs-done)
		batch := make([]river.InsertManyParams, n)
		for i := range batch {
			batch[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: queue.QueueSteps}}
		}
		if _, err := rp.Queue.Client.InsertMany(ctx, batch); err != nil {
			return fmt.Errorf("insert no-op jobs: %w", err)
		}
		done += n
	}
	events, cancel := rp.Queue.Client.SubscribeConfig(&river.SubscribeConfig{ChanSize: sz.BaselineJobs + 1000,
		Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	r.logf("1 River alone: working them")
	if err := rp.Queue.Start(ctx); err != nil {
		return err
	}
	var last time.Time
	timeout := time.After(sz.StepTimeout)
	for n := 0; n < sz.BaselineJobs; {
		select {
		case <-events:
			n++
			last = time.Now()
		case <-timeout:
			return fmt.Errorf("only %d of %d no-op jobs completed within %s", n, sz.BaselineJobs, sz.StepTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	elapsed := last.Sub(time.Unix(0, w.first.Load()))
	r.riverRate = float64(sz.BaselineJobs) / elapsed.Seconds()
	closed = true
	if err := rp.Close(ctx); err != nil {
		return err
	}
	if r.o.wants(ScenarioBaseline) || r.o.wants(ScenarioThroughput) {
		r.add(Result{Scenario: 1, Key: "river_jobs_per_sec", Name: fmt.Sprintf("River alone: no-op jobs (%d, %d workers)",
			sz.BaselineJobs, r.info.StepWorkers), Value: r.riverRate, Unit: "jobs/s",
			Detail: map[string]any{"jobs": sz.BaselineJobs, "seconds": elapsed.Seconds()}})
	}
	if r.pg != nil {
		after, err := r.pg.quiescentCommits(ctx)
		if err != nil {
			return err
		}
		r.riverCommits = float64(after-before) / float64(sz.BaselineJobs)
		if r.o.wants(ScenarioCommits) || r.o.wants(ScenarioBaseline) {
			r.add(Result{Scenario: 1, Key: "river_commits_per_job", Name: "River alone: commits per job (insert, fetch, complete, maintenance)",
				Value: r.riverCommits, Unit: "commits", Detail: map[string]any{"commits": after - before, "jobs": sz.BaselineJobs}})
		}
	}
	if r.o.wants(ScenarioHandoff) {
		return r.riverChain(ctx)
	}
	return nil
}

// riverChain runs chains of hop jobs one after another on an idle system.
func (r *run) riverChain(ctx context.Context) error {
	sz := r.o.Sizes
	hw := &hopWorker{starts: map[[2]int]time.Time{}, ends: map[[2]int]time.Time{}, done: make(chan int, 1)}
	workers := river.NewWorkers()
	river.AddWorker(workers, hw)
	rp, err := r.o.Launcher.OpenRiver(ctx, r.db, workers)
	if err != nil {
		return err
	}
	defer rp.Close(context.Background()) //nolint:errcheck
	hw.db = rp.Store.DB()
	if err := rp.Queue.Start(ctx); err != nil {
		return err
	}
	r.logf("3 River alone: %d chains of %d jobs", sz.HandoffChains, sz.HandoffLength)
	var gaps []time.Duration
	for c := range sz.HandoffChains {
		if _, err := rp.Queue.Client.Insert(ctx, hopArgs{Chain: c, Hops: sz.HandoffLength}, &river.InsertOpts{Queue: queue.QueueSteps}); err != nil {
			return err
		}
		select {
		case <-hw.done:
		case <-time.After(sz.StepTimeout):
			return fmt.Errorf("chain %d of River alone did not finish within %s", c, sz.StepTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
		hw.mu.Lock()
		for h := 0; h+1 < sz.HandoffLength; h++ {
			gaps = append(gaps, hw.starts[[2]int{c, h + 1}].Sub(hw.ends[[2]int{c, h}]))
		}
		hw.mu.Unlock()
	}
	r.riverHop = Summarize(gaps)
	return nil
}
