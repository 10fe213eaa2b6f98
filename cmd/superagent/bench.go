package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/bench"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/queue"
)

// defaultBenchDatabaseURL is the local PostgreSQL the bench uses to create
// its dedicated database when neither --database-url nor
// SUPERAGENT_BENCH_DATABASE_URL says otherwise.
const defaultBenchDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// benchUnlimited replaces limits that would otherwise measure themselves:
// the per-principal and per-IP rate limiters (which still run) and the
// hourly execution limit.
const benchUnlimited = 1 << 30

func benchCommand(load loader, environ []string, stdout, stderr io.Writer) *cobra.Command {
	var (
		dbs, adminURL, out, scenarios, cpuProfile, logLevel string
		quick, memoryInProcess, quiet                       bool
		flagSizes                                           bench.Sizes
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure steps/s, hand-off latency, commits per step, API overhead and memory against same-run baselines",
		Long: `bench runs the scenarios of docs/benchmarks.md on a dedicated database per run
(PostgreSQL: created with the owner and application roles and dropped
afterwards; SQLite: a temporary file), with the engine, agent runtime, River
and HTTP server wired exactly as 'superagent serve' wires them. Each figure
is reported with a baseline measured in the same run (River alone, a bare
net/http handler, no login storm, an idle process) and the ratio between
them, which is what to compare across machines and runs.

PostgreSQL needs a role that may create databases and roles: --database-url,
else SUPERAGENT_BENCH_DATABASE_URL, else ` + defaultBenchDatabaseURL + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			cfg.LogLevel = logLevel
			sizes := bench.FullSizes()
			if quick {
				sizes = bench.QuickSizes()
			}
			applySizeFlags(cmd, &sizes, flagSizes)
			var kinds []string
			switch dbs {
			case "both":
				kinds = []string{bench.SQLite, bench.Postgres}
			case bench.SQLite, bench.Postgres:
				kinds = []string{dbs}
			default:
				return fmt.Errorf("--db must be sqlite, postgres or both")
			}
			if adminURL == "" {
				adminURL = lookupEnv(environ, "SUPERAGENT_BENCH_DATABASE_URL")
			}
			if adminURL == "" {
				adminURL = defaultBenchDatabaseURL
			}
			var selected []string
			if scenarios != "" && scenarios != "all" {
				for _, s := range strings.Split(scenarios, ",") {
					selected = append(selected, strings.TrimSpace(s))
				}
			}
			progress := io.Writer(stderr)
			if quiet {
				progress = io.Discard
			}
			opts := bench.Options{Databases: kinds, AdminURL: adminURL, Sizes: sizes, Scenarios: selected,
				Launcher: &benchLauncher{base: cfg, logOut: stderr}, Progress: progress, CPUProfile: cpuProfile, Quick: quick}
			if !memoryInProcess {
				child := memoryChild{environ: environ, envFile: cmd.Flag("env-file").Value.String(), adminURL: adminURL,
					sizes: sizes, quick: quick, logLevel: logLevel}
				opts.MemoryProbe = child.run
			}
			rep, runErr := bench.Run(cmd.Context(), opts)
			if rep != nil && len(rep.Results) > 0 {
				if !quiet {
					fmt.Fprintln(stdout)
				}
				if err := rep.PrintTable(stdout); err != nil {
					return err
				}
				if out != "" {
					if err := writeReport(out, rep); err != nil {
						return err
					}
					if !quiet {
						fmt.Fprintf(stdout, "results: %s\n", out)
					}
				}
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbs, "db", "both", "sqlite, postgres or both")
	f.StringVar(&adminURL, "database-url", "", "PostgreSQL role that may create databases and roles (default $SUPERAGENT_BENCH_DATABASE_URL or the local server)")
	f.StringVar(&out, "out", "bench-results.json", "write the results as JSON to this file (\"\" writes none)")
	f.BoolVar(&quick, "quick", false, "a smoke run: every scenario with small sizes, in seconds")
	f.StringVar(&scenarios, "scenarios", "all", "comma-separated: "+strings.Join(bench.Scenarios, ","))
	f.StringVar(&cpuProfile, "cpuprofile", "", "write CPU profiles of scenarios 2 and 5 to PREFIX-<db>-<workload>.pprof")
	f.StringVar(&logLevel, "log-level", "warn", "log level of the measured processes")
	f.BoolVar(&memoryInProcess, "memory-in-process", false, "measure memory (scenario 7) in this process instead of a fresh one")
	f.BoolVar(&quiet, "quiet", false, "print no progress")
	f.IntVar(&flagSizes.BaselineJobs, "baseline-jobs", 0, "1: no-op jobs River works alone")
	f.IntVar(&flagSizes.ChainExecutions, "chain-executions", 0, "2: concurrent executions of the chain")
	f.IntVar(&flagSizes.ChainLength, "chain-length", 0, "2: nodes of the chain (10; --quick: 3)")
	f.IntVar(&flagSizes.FanoutExecutions, "fanout-executions", 0, "2: concurrent executions of the fan-out/fan-in")
	f.IntVar(&flagSizes.FanoutWidth, "fanout-width", 0, "2: parallel branches of the fan-out (10; --quick: 3)")
	f.IntVar(&flagSizes.Submitters, "submitters", 0, "2, 7: goroutines starting executions")
	f.IntVar(&flagSizes.Orgs, "orgs", 0, "2: organizations of the extra multi-organization chain workload (8; --quick: 2; 1: none)")
	f.IntVar(&flagSizes.HandoffChains, "handoff-chains", 0, "3: chains run one after another")
	f.IntVar(&flagSizes.HandoffLength, "handoff-length", 0, "3: nodes of each chain (40; --quick: 5)")
	f.DurationVar(&flagSizes.APIDuration, "api-duration", 0, "5: length of each measured load phase")
	f.DurationVar(&flagSizes.StormDuration, "storm-duration", 0, "6: length of each measured load phase, in 4 alternating rounds")
	f.IntVar(&flagSizes.APIConcurrency, "api-concurrency", 0, "5: concurrent clients against both servers")
	f.IntVar(&flagSizes.StormRate, "storm-rate", 0, "6: authenticated reads per second beside the storm")
	f.IntVar(&flagSizes.StormLogins, "storm-logins", 0, "6: concurrent login loops (default twice the cores)")
	f.IntVar(&flagSizes.MemoryExecutions, "memory-executions", 0, "7: executions in flight")
	f.DurationVar(&flagSizes.MemoryLatency, "memory-latency", 0, "7: latency of the mock model call")
	return cmd
}

// applySizeFlags overrides sizes with the size flags that were given.
func applySizeFlags(cmd *cobra.Command, sz *bench.Sizes, f bench.Sizes) {
	set := func(name string, dst *int, v int) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	setD := func(name string, dst *time.Duration, v time.Duration) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("baseline-jobs", &sz.BaselineJobs, f.BaselineJobs)
	set("chain-executions", &sz.ChainExecutions, f.ChainExecutions)
	set("chain-length", &sz.ChainLength, f.ChainLength)
	set("fanout-executions", &sz.FanoutExecutions, f.FanoutExecutions)
	set("fanout-width", &sz.FanoutWidth, f.FanoutWidth)
	set("submitters", &sz.Submitters, f.Submitters)
	set("orgs", &sz.Orgs, f.Orgs)
	set("handoff-chains", &sz.HandoffChains, f.HandoffChains)
	set("handoff-length", &sz.HandoffLength, f.HandoffLength)
	setD("api-duration", &sz.APIDuration, f.APIDuration)
	setD("storm-duration", &sz.StormDuration, f.StormDuration)
	set("api-concurrency", &sz.APIConcurrency, f.APIConcurrency)
	set("storm-rate", &sz.StormRate, f.StormRate)
	set("storm-logins", &sz.StormLogins, f.StormLogins)
	set("memory-executions", &sz.MemoryExecutions, f.MemoryExecutions)
	setD("memory-latency", &sz.MemoryLatency, f.MemoryLatency)
}

func lookupEnv(environ []string, key string) string {
	v := ""
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func writeReport(path string, rep *bench.Report) error {
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// benchLauncher starts processes with openApp, the wiring `serve` uses, on
// the bench's dedicated database, with these changes to the loaded
// settings: the database URLs; auto-migration off after the bench's own
// migration; sign-up, authentication and multi-tenancy on; rate limits and
// the hourly execution limit out of reach (their code still runs).
type benchLauncher struct {
	base   *config.Config
	logOut io.Writer
}

func (l *benchLauncher) config(db bench.Database) *config.Config {
	c := *l.base
	c.DatabaseURL, c.DatabaseMigrateURL = db.URL, db.MigrateURL
	off := false
	c.AutoMigrate = &off
	c.Host = "127.0.0.1"
	c.EnableAuth, c.EnableMultiTenancy, c.SignupEnabled, c.RequireEmailVerification = true, true, true, false
	c.AuthRateLimitPerMinute, c.APIRateLimitPerMinute = benchUnlimited, benchUnlimited
	c.MaxWorkflowExecutionsPerHour = benchUnlimited
	return &c
}

// Migrate implements bench.Launcher.
func (l *benchLauncher) Migrate(ctx context.Context, db bench.Database) error {
	cfg := l.config(db)
	return migrateUp(ctx, cfg, newLogger(cfg, l.logOut))
}

// Start implements bench.Launcher: openApp and RunListener, as `serve`.
func (l *benchLauncher) Start(ctx context.Context, db bench.Database) (*bench.Process, error) {
	cfg := l.config(db)
	app, err := openApp(ctx, cfg, l.logOut, role{http: true, workers: true})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		app.Close()
		return nil, err
	}
	app.ln = ln
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.RunListener(runCtx, ln) }()
	stop := func(ctx context.Context) error {
		cancel()
		defer app.Close()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	base := "http://" + ln.Addr().String()
	if err := waitHealthy(ctx, base, done); err != nil {
		_ = stop(context.Background())
		return nil, err
	}
	authn := httpapi.NewAuthenticator(app.auth)
	return &bench.Process{Store: app.store, Engine: app.engine, Queue: app.queue.Client, BaseURL: base,
		StepWorkers: stepWorkers(cfg, app.db.Kind), Stop: stop, HelperPIDs: app.auth.Hasher().HelperPIDs,
		Authenticate: func(ctx context.Context, token string) (*domain.Principal, error) {
			return authn.Authenticate(ctx, httpapi.Credentials{Authorization: "Bearer " + token}, false)
		}}, nil
}

// waitHealthy waits until the process answers /health (or stopped).
func waitHealthy(ctx context.Context, base string, done <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("the process ended before it served: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from %s/health within 30s", base)
		}
	}
}

// OpenRiver implements bench.Launcher: the store and queue of openApp
// (openProcessStore, queueOptions), with only the given workers and no
// periodic jobs.
func (l *benchLauncher) OpenRiver(ctx context.Context, db bench.Database, workers *river.Workers) (*bench.RiverProcess, error) {
	cfg := l.config(db)
	d, err := config.ParseDatabaseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, l.logOut)
	s, err := openProcessStore(ctx, cfg, d, log)
	if err != nil {
		return nil, err
	}
	qo := queueOptions(cfg, d, s, log)
	qo.Workers = workers
	q, err := queue.New(ctx, qo)
	if err != nil {
		s.Close()
		return nil, err
	}
	return &bench.RiverProcess{Store: s, Queue: q, StepWorkers: qo.StepWorkers}, nil
}

// memoryChild measures scenario 7 in a fresh `superagent bench` process,
// so the heap of the other scenarios does not count.
type memoryChild struct {
	environ           []string
	envFile, adminURL string
	sizes             bench.Sizes
	quick             bool
	logLevel          string
}

func (m memoryChild) run(ctx context.Context, kind string) ([]bench.Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "superagent-bench-memory-*.json")
	if err != nil {
		return nil, err
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	args := []string{"bench", "--db", kind, "--scenarios", bench.ScenarioMemory, "--memory-in-process", "--quiet",
		"--out", path, "--database-url", m.adminURL, "--env-file", m.envFile, "--log-level", m.logLevel,
		"--memory-executions", strconv.Itoa(m.sizes.MemoryExecutions), "--memory-latency", m.sizes.MemoryLatency.String(),
		"--submitters", strconv.Itoa(m.sizes.Submitters)}
	if m.quick {
		args = append(args, "--quick")
	}
	c := exec.CommandContext(ctx, exe, args...)
	c.Env = m.environ
	var output bytes.Buffer
	c.Stdout, c.Stderr = &output, &output
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", exe, strings.Join(args[:5], " "), err, output.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep struct {
		Results []bench.Result `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read the memory results: %w", err)
	}
	return rep.Results, nil
}
