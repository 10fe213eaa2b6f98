// Package queue sets up River, the durable job queue, on either database.
// On PostgreSQL River works through database/sql (so jobs are inserted in
// the same *sql.Tx as the rows they act on) and listens for wake-ups on a
// small pgx pool; on SQLite it shares the store's single writer connection
// and polls. See docs/adr/0003-job-queue-in-the-store-transaction.md.
package queue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Client is the River client type used everywhere: both drivers work on *sql.Tx.
type Client = river.Client[*sql.Tx]

// Queue names.
const (
	QueueDefault = river.QueueDefault // mail, retention, purges
	QueueSteps   = "steps"            // workflow steps
)

// MaxStepDepth is the deepest an execution can be in workflow calls (a
// workflow tool starting a workflow that calls another…); the engine
// refuses deeper calls.
const MaxStepDepth = 4

// StepQueue is the queue of the steps of an execution at depth: "steps"
// for executions people, keys and schedules start, "steps_1" … for those
// workflow tools start. A step that calls a workflow waits for it holding
// a worker of its own queue, so with one queue for all, enough waiting
// callers would take every worker their children need; a queue per depth,
// with workers of its own, makes that impossible.
func StepQueue(depth int) string {
	if depth <= 0 {
		return QueueSteps
	}
	return fmt.Sprintf("%s_%d", QueueSteps, min(depth, MaxStepDepth))
}

// StepQueues lists the step queues, shallowest first.
func StepQueues() []string {
	out := make([]string, 0, MaxStepDepth+1)
	for d := range MaxStepDepth + 1 {
		out = append(out, StepQueue(d))
	}
	return out
}

// nestedWorkers sizes the queues of called workflows' steps from the
// step workers (a quarter, at least 2).
func nestedWorkers(stepWorkers int) int { return max(2, stepWorkers/4) }

// Options configure New.
type Options struct {
	Kind string // "sqlite" or "postgres"
	DB   *sql.DB
	// ListenerDSN is the PostgreSQL connection string for LISTEN/NOTIFY.
	ListenerDSN string
	// StepWorkers and DefaultWorkers size the two queues.
	StepWorkers    int
	DefaultWorkers int
	// RescueAfter is when a running job whose worker vanished is retried.
	RescueAfter  time.Duration
	Workers      *river.Workers
	PeriodicJobs []*river.PeriodicJob
	Logger       *slog.Logger
	// PollOnly disables LISTEN/NOTIFY (SQLite always polls).
	PollOnly bool
	// FetchPollInterval overrides the polling interval of every queue
	// (by default River's, and 50 ms for the step queue when polling only).
	FetchPollInterval time.Duration
	// StepFetchCooldown is the least time between two fetches of the step
	// queue (QUEUE_FETCH_COOLDOWN); 0: River's 100 ms with LISTEN/NOTIFY,
	// 10 ms when polling only.
	StepFetchCooldown time.Duration
	// Insert-only clients run no workers (the CLI, benchmarks' producers).
	InsertOnly bool
	// ErrorHandler, when set, is told of every failed job attempt and
	// panic (error tracking).
	ErrorHandler river.ErrorHandler
	// ClientID names this process in River (jobs record who ran them);
	// default: host name, process id and a random suffix.
	ClientID string
}

// Queue owns the River client and, on PostgreSQL, its listener pool.
type Queue struct {
	Client   *Client
	listener *pgxpool.Pool
}

// New builds a River client; Start runs it.
func New(ctx context.Context, o Options) (*Queue, error) {
	driver, listener, err := newDriver(ctx, o.Kind, o.DB, o.ListenerDSN)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = time.Hour // River's default
	}
	if o.ClientID == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		o.ClientID = fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
	}
	cfg := &river.Config{
		ID:                   o.ClientID,
		Logger:               o.Logger,
		RescueStuckJobsAfter: o.RescueAfter,
		// Each job kind sets its own timeout through Worker.Timeout; this is
		// the backstop for any that does not.
		JobTimeout:   min(time.Minute, o.RescueAfter/2),
		MaxAttempts:  5,
		PeriodicJobs: o.PeriodicJobs,
		PollOnly:     o.PollOnly || o.Kind == "sqlite",
		// Completed step jobs carry only ids; keep them a day for inspection.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		ErrorHandler:                o.ErrorHandler,
	}
	if o.FetchPollInterval > 0 {
		cfg.FetchPollInterval = o.FetchPollInterval
	}
	if !o.InsertOnly {
		if o.StepWorkers <= 0 {
			o.StepWorkers = 100
		}
		if o.DefaultWorkers <= 0 {
			o.DefaultWorkers = 10
		}
		cfg.Queues = map[string]river.QueueConfig{QueueDefault: {MaxWorkers: o.DefaultWorkers}}
		steps := river.QueueConfig{MaxWorkers: o.StepWorkers, FetchCooldown: o.StepFetchCooldown}
		if cfg.PollOnly && o.FetchPollInterval == 0 {
			// Without LISTEN/NOTIFY a step job inserted inside one of our
			// transactions is found only by the next poll, so River's
			// default second would be the latency of every first step and
			// every fan-out branch. Only the step queue polls this often.
			if steps.FetchCooldown == 0 {
				steps.FetchCooldown = 10 * time.Millisecond
			}
			steps.FetchPollInterval = max(50*time.Millisecond, steps.FetchCooldown)
		}
		for d, name := range StepQueues() {
			q := steps
			if d > 0 {
				q.MaxWorkers = nestedWorkers(o.StepWorkers)
			}
			cfg.Queues[name] = q
		}
		cfg.Workers = o.Workers
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		if listener != nil {
			listener.Close()
		}
		return nil, fmt.Errorf("create job queue client: %w", err)
	}
	return &Queue{Client: client, listener: listener}, nil
}

// Start starts working jobs (no-op for insert-only clients).
func (q *Queue) Start(ctx context.Context) error {
	if err := q.Client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	return nil
}

// Stop stops fetching new jobs and waits for running ones until ctx ends;
// then it cancels them, and they are retried (elsewhere or after restart).
func (q *Queue) Stop(ctx context.Context) error {
	err := q.Client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		hardCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = q.Client.StopAndCancel(hardCtx)
	}
	if err != nil && err.Error() == "client not started" {
		err = nil
	}
	return err
}

// Close releases the listener pool.
func (q *Queue) Close() {
	if q.listener != nil {
		q.listener.Close()
	}
}

func newDriver(ctx context.Context, kind string, db *sql.DB, listenerDSN string) (riverdriver.Driver[*sql.Tx], *pgxpool.Pool, error) {
	switch kind {
	case "sqlite":
		return riversqlite.New(db), nil, nil
	case "postgres":
		if listenerDSN == "" {
			return riverdatabasesql.New(db), nil, nil
		}
		cfg, err := pgxpool.ParseConfig(listenerDSN)
		if err != nil {
			return nil, nil, fmt.Errorf("job queue listener: invalid connection string")
		}
		cfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("job queue listener: %w", err)
		}
		return riverdatabasesql.NewWithPgxListener(db, pool), pool, nil
	}
	return nil, nil, fmt.Errorf("unknown database kind %q", kind)
}

func migrator(kind string, db *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	var driver riverdriver.Driver[*sql.Tx]
	switch kind {
	case "sqlite":
		driver = riversqlite.New(db)
	case "postgres":
		driver = riverdatabasesql.New(db)
	default:
		return nil, fmt.Errorf("unknown database kind %q", kind)
	}
	return rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
}

// Migrate applies River's own schema migrations.
func Migrate(ctx context.Context, kind string, db *sql.DB) error {
	m, err := migrator(kind, db)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate job queue schema: %w", err)
	}
	return nil
}

// Status returns River's applied and latest schema versions.
func Status(ctx context.Context, kind string, db *sql.DB) (current, latest int, err error) {
	m, err := migrator(kind, db)
	if err != nil {
		return 0, 0, err
	}
	all := m.AllVersions()
	if len(all) > 0 {
		latest = all[len(all)-1].Version
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return 0, latest, fmt.Errorf("read job queue schema version: %w", err)
	}
	if len(existing) > 0 {
		current = existing[len(existing)-1].Version
	}
	return current, latest, nil
}

// SchemaTag identifies River's schema version for template-database naming.
func SchemaTag() string {
	m, err := migrator("sqlite", nil)
	if err != nil {
		return "river"
	}
	all := m.AllVersions()
	if len(all) == 0 {
		return "river"
	}
	return fmt.Sprintf("river-%d", all[len(all)-1].Version)
}
