// Package bench measures Super Agent against baselines taken in the same
// run: River alone for the engine's throughput, hand-off latency and
// database commits, a bare net/http handler for the API, the same requests
// without a login storm, and an idle process for memory. It runs every
// scenario of issue 9 on a dedicated database per run (PostgreSQL: created
// and dropped with pgadmin; SQLite: a temporary file), with processes wired
// exactly as `superagent serve` wires them (the Launcher, implemented by
// the command). Absolute numbers on a shared machine drift; the ratios are
// what to compare across runs. See docs/benchmarks.md.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// Database kinds.
const (
	SQLite   = sqlstore.KindSQLite
	Postgres = sqlstore.KindPostgres
)

// Scenario names, in the order they are reported.
const (
	ScenarioBaseline   = "baseline"   // 1: River alone, no-op jobs
	ScenarioThroughput = "throughput" // 2: steps per second through the engine
	ScenarioHandoff    = "handoff"    // 3: step hand-off latency on a 40-node chain
	ScenarioCommits    = "commits"    // 4: PostgreSQL commits per completed step
	ScenarioAPI        = "api"        // 5: API overhead against a bare handler
	ScenarioStorm      = "storm"      // 6: latency of other requests during a login storm
	ScenarioMemory     = "memory"     // 7: resident memory idle and under load
)

// Scenarios lists every scenario name.
var Scenarios = []string{ScenarioBaseline, ScenarioThroughput, ScenarioHandoff, ScenarioCommits, ScenarioAPI,
	ScenarioStorm, ScenarioMemory}

// Sizes say how much work each scenario does.
type Sizes struct {
	BaselineJobs     int           `json:"baseline_jobs"`     // 1: no-op jobs River works
	ChainExecutions  int           `json:"chain_executions"`  // 2: concurrent executions of the 10-node chain
	FanoutExecutions int           `json:"fanout_executions"` // 2: concurrent executions of the 10-wide fan-out/fan-in
	Submitters       int           `json:"submitters"`        // 2, 7: goroutines starting executions
	HandoffChains    int           `json:"handoff_chains"`    // 3: 40-node chains run one after another
	APIDuration      time.Duration `json:"api_duration"`      // 5: each measured load phase
	StormDuration    time.Duration `json:"storm_duration"`    // 6: each measured load phase, in stormRounds rounds
	APIConcurrency   int           `json:"api_concurrency"`   // 5: closed-loop clients, both servers
	StormRate        int           `json:"storm_rate"`        // 6: other requests per second (open loop)
	StormLogins      int           `json:"storm_logins"`      // 6: concurrent login loops (0: twice the cores)
	MemoryExecutions int           `json:"memory_executions"` // 7: executions in flight
	MemoryLatency    time.Duration `json:"memory_latency"`    // 7: the mock model's latency
	IdleSettle       time.Duration `json:"idle_settle"`       // 7: wait after start before reading idle memory
	StepTimeout      time.Duration `json:"step_wait_timeout"` // longest wait for any one workload
	Warmup           time.Duration `json:"warmup"`            // 5, 6: load before measuring
	ChainLength      int           `json:"chain_length"`      // 2: nodes of the chain (issue: 10)
	FanoutWidth      int           `json:"fanout_width"`      // 2: parallel branches (issue: 10)
	HandoffLength    int           `json:"handoff_length"`    // 3: nodes of the latency chain (issue: 40)
	Orgs             int           `json:"orgs"`              // 2: organizations of the extra multi-organization chain workload (≤ 1: none)
}

// FullSizes are the sizes of a real measurement.
func FullSizes() Sizes {
	return Sizes{BaselineJobs: 20000, ChainExecutions: 1000, FanoutExecutions: 500, Submitters: 8, HandoffChains: 5,
		APIDuration: 10 * time.Second, StormDuration: 20 * time.Second, APIConcurrency: 8, StormRate: 100, MemoryExecutions: 1000,
		MemoryLatency: time.Second, IdleSettle: 3 * time.Second, StepTimeout: 10 * time.Minute, Warmup: 2 * time.Second,
		ChainLength: 10, FanoutWidth: 10, HandoffLength: 40, Orgs: 8}
}

// QuickSizes are a smoke run of every scenario: fewer executions and
// shorter chains (on SQLite every hand-off waits for River's poll), so its
// figures only show that the harness works.
func QuickSizes() Sizes {
	return Sizes{BaselineJobs: 300, ChainExecutions: 20, FanoutExecutions: 10, Submitters: 4, HandoffChains: 1,
		APIDuration: 500 * time.Millisecond, StormDuration: time.Second, APIConcurrency: 4, StormRate: 50, StormLogins: 2, MemoryExecutions: 40,
		MemoryLatency: 200 * time.Millisecond, IdleSettle: 200 * time.Millisecond, StepTimeout: 2 * time.Minute,
		Warmup: 100 * time.Millisecond, ChainLength: 3, FanoutWidth: 3, HandoffLength: 5, Orgs: 2}
}

// Database is the dedicated database of one run.
type Database struct {
	Kind string `json:"kind"`
	// URL is DATABASE_URL as the application role; MigrateURL connects as
	// the owner (PostgreSQL).
	URL        string `json:"-"`
	MigrateURL string `json:"-"`
	// Name is the PostgreSQL database; Path the SQLite file.
	Name string `json:"name,omitempty"`
	Path string `json:"path,omitempty"`
}

// Launcher starts Super Agent the way `superagent serve` does.
type Launcher interface {
	// Migrate applies the migrations as a starting process would.
	Migrate(ctx context.Context, db Database) error
	// Start runs a whole process on db: HTTP server on a loopback port,
	// engine, agent runtime, bus and River with serve's options.
	Start(ctx context.Context, db Database) (*Process, error)
	// OpenRiver opens the store and a River client on db with the options a
	// process uses, working only the given workers (not started).
	OpenRiver(ctx context.Context, db Database, workers *river.Workers) (*RiverProcess, error)
}

// Process is a running Super Agent process.
type Process struct {
	Store       *sqlstore.Store
	Engine      *engine.Engine
	Queue       *queue.Client
	BaseURL     string // the real HTTP server, e.g. http://127.0.0.1:41234
	StepWorkers int
	// Authenticate resolves an access token as the API's gate does.
	Authenticate func(ctx context.Context, accessToken string) (*domain.Principal, error)
	// Stop shuts the process down as serve does on SIGTERM and closes its
	// connections.
	Stop func(ctx context.Context) error
	// HelperPIDs lists the process's running password hash helpers (their
	// memory counts as the process's).
	HelperPIDs func() []int
}

// RiverProcess is River alone on a store's connections.
type RiverProcess struct {
	Store       *sqlstore.Store
	Queue       *queue.Queue
	StepWorkers int
}

// Close stops the client (when started) and releases the connections.
func (r *RiverProcess) Close(ctx context.Context) error {
	err := r.Queue.Stop(ctx)
	r.Queue.Close()
	r.Store.Close()
	return err
}

// Options configure Run.
type Options struct {
	Databases []string // SQLite and/or Postgres
	// AdminURL is a PostgreSQL role that may create databases and roles.
	AdminURL  string
	Sizes     Sizes
	Scenarios []string // empty: all
	Launcher  Launcher
	// Progress receives a line per step of the run (nil: silent).
	Progress io.Writer
	// CPUProfile, when set, is the path prefix of CPU profiles taken during
	// scenario 2 (PREFIX-<database>-<workload>.pprof) and scenario 5
	// (PREFIX-<database>-api.pprof, both servers: the bare one's samples
	// are under bareServer).
	CPUProfile string
	// MemoryProbe, when set, runs scenario 7 elsewhere (a fresh process) and
	// returns its results; nil measures in this process.
	MemoryProbe func(ctx context.Context, kind string) ([]Result, error)
	// TempDir holds SQLite databases (default: the system's).
	TempDir string
	Quick   bool
}

func (o *Options) wants(s string) bool {
	return len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, s)
}

// Run runs the selected scenarios on each database and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Launcher == nil {
		return nil, errors.New("bench: no launcher")
	}
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (known: %v)", s, Scenarios)
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	startRSS, _ := residentMiB()
	rep := &Report{StartedAt: time.Now().UTC(), Quick: o.Quick, Sizes: o.Sizes, Machine: describeMachine(),
		Scenarios: o.Scenarios}
	for _, kind := range o.Databases {
		r := &run{o: &o, kind: kind, rep: rep, log: o.Progress, startRSS: startRSS}
		if err := r.run(ctx); err != nil {
			return rep, fmt.Errorf("%s: %w", kind, err)
		}
	}
	rep.Machine.LoadAfter = loadAverage()
	rep.Seconds = time.Since(rep.StartedAt).Seconds()
	return rep, nil
}

// run is one database's part of a run.
type run struct {
	o    *Options
	kind string
	rep  *Report
	log  io.Writer
	db   Database
	pg   *pgStats // nil on SQLite

	startRSS     float64 // resident memory when Run began (MiB)
	riverRate    float64 // R: River alone, jobs/s
	riverHop     Summary // River alone, chain hand-off
	riverCommits float64 // River alone, commits per job (PostgreSQL)
	fx           *fixture
	extra        []*fixture // further organizations for the multi-organization workload
	info         *DatabaseInfo
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "[%s %s] %s\n", time.Now().Format("15:04:05"), r.kind, fmt.Sprintf(format, args...))
}

func (r *run) add(res Result) {
	res.Database = r.kind
	res.evaluate()
	r.rep.Results = append(r.rep.Results, res)
}

func (r *run) run(ctx context.Context) (err error) {
	r.info = &DatabaseInfo{Kind: r.kind}
	r.rep.Databases = append(r.rep.Databases, r.info)
	cleanup, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if r.o.wants(ScenarioMemory) && r.o.MemoryProbe != nil {
		// A fresh process, before anything here grows this one's heap.
		r.logf("memory: measuring in a fresh process")
		res, err := r.o.MemoryProbe(ctx, r.kind)
		if err != nil {
			return fmt.Errorf("memory probe: %w", err)
		}
		for _, x := range res {
			r.add(x)
		}
	}
	needRiver := r.o.wants(ScenarioBaseline) || r.o.wants(ScenarioThroughput) || r.o.wants(ScenarioHandoff) ||
		(r.o.wants(ScenarioCommits) && r.pg != nil)
	if needRiver {
		if err := r.riverBaseline(ctx); err != nil {
			return fmt.Errorf("river baseline: %w", err)
		}
	}
	if r.o.wants(ScenarioMemory) && r.o.MemoryProbe == nil {
		if err := r.memory(ctx); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	if r.o.wants(ScenarioHandoff) || r.o.wants(ScenarioAPI) || r.o.wants(ScenarioStorm) ||
		r.o.wants(ScenarioThroughput) || r.o.wants(ScenarioCommits) {
		if err := r.interactive(ctx); err != nil {
			return err
		}
	}
	if r.o.wants(ScenarioThroughput) || (r.o.wants(ScenarioCommits) && r.pg != nil) {
		if err := r.throughputAll(ctx); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	return nil
}

// prepare creates the dedicated database and migrates it.
func (r *run) prepare(ctx context.Context) (cleanup func() error, err error) {
	switch r.kind {
	case SQLite:
		dir, err := os.MkdirTemp(r.o.TempDir, "superagent-bench-")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "bench.db")
		r.db = Database{Kind: SQLite, Path: path, URL: "sqlite://" + path}
		cleanup = func() error { return os.RemoveAll(dir) }
		r.info.Version = "SQLite (modernc.org/sqlite)"
	case Postgres:
		pg, db, drop, err := createPostgres(ctx, r.o.AdminURL)
		if err != nil {
			return nil, err
		}
		r.pg, r.db, cleanup = pg, db, drop
		r.info.Version = pg.version
		r.info.Name = db.Name
	default:
		return nil, fmt.Errorf("unknown database %q", r.kind)
	}
	r.logf("migrating a dedicated database")
	if err := r.o.Launcher.Migrate(ctx, r.db); err != nil {
		_ = cleanup()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return cleanup, nil
}

// interactive runs the scenarios of one process that also serves HTTP:
// fixtures, hand-off latency, API overhead and the login storm.
func (r *run) interactive(ctx context.Context) error {
	p, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer r.stop(p)
	if r.fx == nil {
		r.logf("creating an organization, a user and the workflows through the API")
		if r.fx, err = newFixture(ctx, p, r.o.Sizes); err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
	}
	for r.o.wants(ScenarioThroughput) && len(r.extra) < r.o.Sizes.Orgs-1 {
		fx, err := newFixture(ctx, p, r.o.Sizes, wfChain)
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		r.extra = append(r.extra, fx)
	}
	if r.o.wants(ScenarioHandoff) {
		if err := r.handoff(ctx, p); err != nil {
			return fmt.Errorf("hand-off: %w", err)
		}
	}
	if r.o.wants(ScenarioAPI) {
		if err := r.api(ctx, p); err != nil {
			return fmt.Errorf("api: %w", err)
		}
	}
	if r.o.wants(ScenarioStorm) {
		if err := r.storm(ctx, p); err != nil {
			return fmt.Errorf("login storm: %w", err)
		}
	}
	return nil
}

func (r *run) start(ctx context.Context) (*Process, error) {
	p, err := r.o.Launcher.Start(ctx, r.db)
	if err != nil {
		return nil, fmt.Errorf("start a process: %w", err)
	}
	r.info.StepWorkers = p.StepWorkers
	return p, nil
}

func (r *run) stop(p *Process) {
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t := time.Now()
	if err := p.Stop(sctx); err != nil {
		r.logf("stopping the process: %v", err)
	}
	r.logf("process stopped in %s", time.Since(t).Round(time.Millisecond))
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// cores is what "twice the core count" counts.
func cores() int { return runtime.GOMAXPROCS(0) }
