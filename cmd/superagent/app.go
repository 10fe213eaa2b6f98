package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/maintenance"
	"github.com/superagent-hq/superagent/internal/observe"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// App wires the parts of a running Super Agent process together. Every
// dependency is built here with explicit arguments; nothing is global.
type App struct {
	cfg    *config.Config
	log    *slog.Logger
	db     config.DatabaseURL
	store  *sqlstore.Store
	queue  *queue.Queue
	auth   *auth.Service
	bus    *engine.Bus
	engine *engine.Engine
	agents *agent.Setup
	http   *http.Server
	ln     net.Listener // the HTTP listener, once bound
	// metrics is the process's metrics registry (serve, and a worker
	// with a probe port); reporter
	// sends errors to Sentry (nil unless SENTRY_ENABLED).
	metrics  *observe.Metrics
	reporter *observe.Reporter
}

// role says which parts a process runs.
type role struct {
	http    bool
	workers bool
	// probes serves /health, /ready and /metrics only (a worker's probe
	// port); http serves them with the API.
	probes bool
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	if cfg.Debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openApp connects to the database (migrating first when configured) and
// builds the queue and, for serve, the HTTP server.
func openApp(ctx context.Context, cfg *config.Config, logOut io.Writer, r role) (*App, error) {
	a := &App{cfg: cfg, log: newLogger(cfg, logOut)}
	var err error
	a.db, err = config.ParseDatabaseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, &config.SettingError{Setting: "DATABASE_URL", Problem: err.Error()}
	}
	if *cfg.AutoMigrate {
		if err := migrateUp(ctx, cfg, a.log); err != nil {
			return nil, err
		}
	}
	if a.store, err = openProcessStore(ctx, cfg, a.db, a.log); err != nil {
		return nil, err
	}
	if err := a.checkRole(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.ready(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("%w (run `superagent migrate up`)", err)
	}

	sender, err := mailSender(cfg, a.log)
	if err != nil {
		a.Close()
		return nil, err
	}
	mailWorker := &auth.MailWorker{Sender: sender}
	var jobErrors river.ErrorHandler
	if cfg.SentryEnabled {
		a.reporter, err = observe.NewReporter(observe.ReporterOptions{DSN: cfg.SentryDSN, Release: version,
			Environment: cfg.Environment, Log: a.log.With("component", "sentry")})
		if err != nil {
			a.Close()
			return nil, &config.SettingError{Setting: "SENTRY_DSN", Problem: err.Error()}
		}
		a.reporter.Start()
		jobErrors = observe.QueueErrorHandler{Sink: a.reporter}
		a.log.Info("error tracking on: 5xx answers, panics and failed jobs are reported to Sentry")
	}
	busDSN := ""
	if a.db.Kind == config.Postgres {
		busDSN = a.db.DSN
	}
	a.bus = engine.NewBus(busDSN, a.log.With("component", "bus"))
	a.engine = engine.New(engine.Options{Store: a.store, Bus: a.bus, Log: a.log.With("component", "engine"),
		ExecutionTimeout: cfg.ExecutionTimeout, RescueAfter: cfg.RescueAfter,
		MaxExecutionsPerHour: cfg.MaxWorkflowExecutionsPerHour, MissedRuns: cfg.ScheduleMissedRuns})
	// One keyring seals provider keys and TOTP secrets alike.
	box, err := keyring(cfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.agents, err = newAgents(cfg, a.store, box, a.engine, a.log)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.engine.SetRunner(a.agents.Runtime)
	workers := river.NewWorkers()
	a.engine.AddWorkers(workers)
	river.AddWorker(workers, &queue.PingWorker{})
	river.AddWorker(workers, mailWorker)
	river.AddWorker(workers, &maintenance.PurgeOrgWorker{Store: a.store, Log: a.log})
	river.AddWorker(workers, &maintenance.PruneAuditWorker{Store: a.store, Log: a.log,
		Retention: time.Duration(cfg.AuditRetentionDays) * 24 * time.Hour})
	qo := queueOptions(cfg, a.db, a.store, a.log)
	qo.Workers, qo.InsertOnly, qo.ErrorHandler = workers, !r.workers, jobErrors
	qo.PeriodicJobs = append(maintenance.PeriodicJobs(), a.engine.PeriodicJobs()...)
	a.queue, err = queue.New(ctx, qo)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.auth, err = newAuthService(ctx, cfg, a.store, box, riverEnqueuer{a.queue.Client}, a.log)
	if err != nil {
		a.Close()
		return nil, err
	}
	mailWorker.Service = a.auth
	if cfg.PasswordHashHelpers {
		if err := useHashHelpers(a.auth.Hasher(), a.log); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.engine.SetQueue(a.queue.Client)
	if r.http || r.probes {
		a.metrics = observe.NewMetrics(observe.MetricsOptions{Store: a.store, Version: version,
			Log: a.log.With("component", "metrics"), Queues: append([]string{queue.QueueDefault}, queue.StepQueues()...)})
		deps := httpapi.Deps{Settings: httpSettings(cfg), Store: a.store, Log: a.log, Version: version, Ready: a.ready,
			Auth: httpapi.NewAuthenticator(a.auth), AuthService: a.auth, Engine: a.engine, Agents: a.agents,
			Metrics: a.metrics, ProbesOnly: !r.http}
		if cfg.MetricsEnabled != nil && *cfg.MetricsEnabled {
			deps.MetricsHandler = a.metrics.Handler()
		}
		if a.reporter != nil {
			deps.ErrorReporter = a.reporter
			a.metrics.Registry().MustRegister(a.reporter.Collector())
		}
		srv := httpapi.New(deps)
		a.http = &http.Server{
			Handler:           srv,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			// No WriteTimeout: event streams stay open; every other route
			// gets its own deadline from the router.
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		}
	}
	return a, nil
}

// openProcessStore opens the store as a serving or working process does:
// its pool sizes and audit switch.
func openProcessStore(ctx context.Context, cfg *config.Config, d config.DatabaseURL, log *slog.Logger) (*sqlstore.Store, error) {
	s, err := sqlstore.Open(ctx, sqlstore.Options{Kind: string(d.Kind), Path: d.Path, DSN: d.DSN,
		PoolSize: cfg.DatabasePoolSize, MaxOverflow: cfg.DatabaseMaxOverflow, Logger: log,
		AuditDisabled: !cfg.EnableAuditLogging})
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", d.Redacted(), err)
	}
	return s, nil
}

// queueOptions are the job queue's options for a process on d, without
// workers: the caller adds its own.
func queueOptions(cfg *config.Config, d config.DatabaseURL, s *sqlstore.Store, log *slog.Logger) queue.Options {
	return queue.Options{Kind: string(d.Kind), DB: s.DB(), ListenerDSN: d.DSN, StepWorkers: stepWorkers(cfg, d.Kind),
		StepFetchCooldown: cfg.QueueFetchCooldown, RescueAfter: cfg.RescueAfter, Logger: log.With("component", "queue")}
}

// checkRole refuses, in production, a PostgreSQL connection that would
// bypass row-level security.
func (a *App) checkRole(ctx context.Context) error {
	if a.db.Kind != config.Postgres {
		return nil
	}
	var super, bypass bool
	err := a.store.DB().QueryRowContext(ctx,
		"SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&super, &bypass)
	if err != nil {
		return fmt.Errorf("inspect database role: %w", err)
	}
	if super || bypass {
		if a.cfg.IsProduction() {
			return &config.SettingError{Setting: "DATABASE_URL",
				Problem: "connects as a superuser or BYPASSRLS role, which skips row-level security; use an application role (see README)"}
		}
		a.log.Warn("the database role bypasses row-level security; production refuses this (see README: PostgreSQL roles)")
	}
	return nil
}

// ready reports whether the database is reachable and every migration,
// ours and River's, is applied.
func (a *App) ready(ctx context.Context) error {
	if err := a.store.Ping(ctx); err != nil {
		return err
	}
	cur, latest, err := sqlstore.MigrationStatus(ctx, string(a.db.Kind), a.store.DB())
	if err != nil {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: "schema version unreadable", Err: err}
	}
	if cur != latest {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: fmt.Sprintf("schema at version %d of %d", cur, latest)}
	}
	qcur, qlatest, err := queue.Status(ctx, string(a.db.Kind), a.store.DB())
	if err != nil {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: "job queue schema version unreadable", Err: err}
	}
	if qcur != qlatest {
		return &domain.Error{Code: domain.ECodeUnavailable, Message: fmt.Sprintf("job queue schema at version %d of %d", qcur, qlatest)}
	}
	return nil
}

// RunListener serves on ln (nil: no HTTP, workers only) until ctx is
// cancelled (SIGINT/SIGTERM), then shuts down: HTTP first (in-flight
// requests finish), then the queue (running jobs get SHUTDOWN_TIMEOUT to
// finish, then are handed back to be retried).
func (a *App) RunListener(ctx context.Context, ln net.Listener) error {
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBus()
	go a.bus.Run(busCtx, a.queue.Client.ID())
	go a.engine.WatchCancels(busCtx)
	if err := a.queue.Start(ctx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	if a.http != nil && ln != nil {
		go func() {
			if err := a.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down")
	case runErr = <-errc:
		a.log.Error("http server failed", "error", runErr)
	}
	if a.http != nil {
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		if err := a.http.Shutdown(sctx); err != nil {
			a.log.Warn("http shutdown", "error", err)
		}
		cancel()
	}
	a.stopQueue()
	return runErr
}

func (a *App) stopQueue() {
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.queue.Stop(sctx); err != nil {
		a.log.Warn("queue shutdown", "error", err)
	}
}

// Close releases connections and sends the error reports still queued
// (for at most five seconds).
func (a *App) Close() {
	if a.auth != nil {
		a.auth.Hasher().Close()
	}
	if a.queue != nil {
		a.queue.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
	if a.reporter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.reporter.Close(ctx); err != nil {
			a.log.Warn("error tracking", "error", err)
		}
		cancel()
	}
}

// migrateUp applies our and River's migrations as the owning role.
func migrateUp(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	target := cfg.DatabaseURL
	if cfg.DatabaseMigrateURL != "" {
		target = cfg.DatabaseMigrateURL
	}
	d, err := config.ParseDatabaseURL(target)
	if err != nil {
		return err
	}
	appRole := ""
	if d.Kind == config.Postgres {
		appRole = pgUser(cfg.DatabaseURL)
	}
	s, err := sqlstore.Open(ctx, sqlstore.Options{Kind: string(d.Kind), Path: d.Path, DSN: d.DSN, PoolSize: 2})
	if err != nil {
		return fmt.Errorf("database %s: %w", d.Redacted(), err)
	}
	defer s.Close()
	db := s.DB()
	err = sqlstore.Migrate(ctx, string(d.Kind), db, sqlstore.MigrateOptions{
		AppRole: appRole, Logger: log,
		Also: func(ctx context.Context) error { return queue.Migrate(ctx, string(d.Kind), db) },
	})
	if err != nil {
		return fmt.Errorf("migrate %s: %w", d.Redacted(), err)
	}
	return nil
}

// pgUser is the role a PostgreSQL URL connects as ("" when unspecified).
func pgUser(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return os.Getenv("PGUSER")
	}
	return u.User.Username()
}

// stepWorkers is how many steps a process runs at once: QUEUE_MAX_WORKERS,
// or a default per database. River frees a worker slot only when its
// completer flushes, so a small number caps throughput; SQLite has one
// writer, so more workers than it can commit for only wait.
func stepWorkers(cfg *config.Config, kind config.DatabaseKind) int {
	if cfg.QueueMaxWorkers > 0 {
		return cfg.QueueMaxWorkers
	}
	if kind == config.Postgres {
		return 200
	}
	return 50
}
