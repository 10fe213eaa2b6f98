package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

type loader func() (*config.Config, error)

func serveCommand(load loader, stdout io.Writer) *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, web UI, workers and scheduler in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("port") {
				if port < 0 || port > 65535 {
					return &config.SettingError{Setting: "--port", Problem: "must be between 0 and 65535"}
				}
				cfg.Port = port
			}
			ctx := cmd.Context()
			app, err := openApp(ctx, cfg, stdout, role{http: true, workers: true})
			if err != nil {
				return err
			}
			defer app.Close()
			ln, err := net.Listen("tcp", cfg.Addr())
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
			}
			app.ln = ln
			printBanner(stdout, app, ln.Addr().String())
			return app.RunListener(ctx, ln)
		},
	}
	cmd.Flags().IntVar(&port, "port", 0, "listen on this port instead of PORT")
	return cmd
}

func workerCommand(load loader, stdout io.Writer) *cobra.Command {
	var probePort int
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run workers and the scheduler only (scale-out on PostgreSQL)",
		Long: "worker runs steps, schedules and maintenance beside `superagent serve` processes on one PostgreSQL\n" +
			"database. With WORKER_PROBE_PORT (or --probe-port) it also serves /health, /ready and /metrics\n" +
			"on HOST and that port, for an orchestrator's probes and Prometheus; nothing else is served.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("probe-port") {
				if probePort < 0 || probePort > 65535 {
					return &config.SettingError{Setting: "--probe-port", Problem: "must be between 0 and 65535"}
				}
				cfg.WorkerProbePort = &probePort
			}
			d, err := config.ParseDatabaseURL(cfg.DatabaseURL)
			if err != nil {
				return &config.SettingError{Setting: "DATABASE_URL", Problem: err.Error()}
			}
			if d.Kind == config.SQLite {
				return fmt.Errorf("`superagent worker` needs PostgreSQL: with SQLite one `superagent serve` process owns the database file and runs the workers itself")
			}
			probes := cfg.WorkerProbePort != nil
			app, err := openApp(cmd.Context(), cfg, stdout, role{workers: true, probes: probes})
			if err != nil {
				return err
			}
			defer app.Close()
			var ln net.Listener
			if probes {
				addr := net.JoinHostPort(cfg.Host, strconv.Itoa(*cfg.WorkerProbePort))
				if ln, err = net.Listen("tcp", addr); err != nil {
					return fmt.Errorf("listen on %s for the worker's probes: %w", addr, err)
				}
				app.ln = ln
				app.log.Info("worker probes listening", "address", "http://"+ln.Addr().String(),
					"paths", "/health /ready /metrics")
			}
			app.log.Info("worker started", "database", d.Redacted())
			return app.RunListener(cmd.Context(), ln)
		},
	}
	cmd.Flags().IntVar(&probePort, "probe-port", 0, "serve /health, /ready and /metrics on this port instead of WORKER_PROBE_PORT (0: a free port)")
	return cmd
}

func migrateCommand(load loader, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Apply or inspect database migrations"}
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply all pending migrations (ours and the job queue's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if err := migrateUp(cmd.Context(), cfg, newLogger(cfg, stdout)); err != nil {
				return err
			}
			return printStatus(cmd.Context(), cfg, stdout)
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "Show the applied and latest schema versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return printStatus(cmd.Context(), cfg, stdout)
		},
	})
	return cmd
}

// printStatus shows the schema versions, read as the role migrations run
// as (DATABASE_MIGRATE_URL when set): reading the version creates the
// version table on a database never migrated, which the application role
// may not do.
func printStatus(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	target, setting := cfg.DatabaseURL, "DATABASE_URL"
	if cfg.DatabaseMigrateURL != "" {
		target, setting = cfg.DatabaseMigrateURL, "DATABASE_MIGRATE_URL"
	}
	d, err := config.ParseDatabaseURL(target)
	if err != nil {
		return &config.SettingError{Setting: setting, Problem: err.Error()}
	}
	s, err := sqlstore.Open(ctx, sqlstore.Options{Kind: string(d.Kind), Path: d.Path, DSN: d.DSN, PoolSize: 2})
	if err != nil {
		return fmt.Errorf("database %s: %w", d.Redacted(), err)
	}
	defer s.Close()
	cur, latest, err := sqlstore.MigrationStatus(ctx, string(d.Kind), s.DB())
	if err != nil {
		return err
	}
	qcur, qlatest, err := queue.Status(ctx, string(d.Kind), s.DB())
	if err != nil {
		return err
	}
	state := func(c, l int64) string {
		if c == l {
			return "current"
		}
		return "pending"
	}
	fmt.Fprintf(stdout, "database:      %s\n", d.Redacted())
	fmt.Fprintf(stdout, "schema:        version %d of %d (%s)\n", cur, latest, state(cur, latest))
	fmt.Fprintf(stdout, "job queue:     version %d of %d (%s)\n", qcur, qlatest, state(int64(qcur), int64(qlatest)))
	return nil
}

func printBanner(w io.Writer, a *App, addr string) {
	cfg := a.cfg
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "OFF"
	}
	line := strings.Repeat("=", 64)
	fmt.Fprintln(w, line)
	fmt.Fprintln(w, "  Super Agent "+version)
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "  Environment:    %s%s\n", cfg.Environment, map[bool]string{true: " (debug)", false: ""}[cfg.Debug])
	fmt.Fprintf(w, "  Auth:           %s\n", onOff(cfg.EnableAuth))
	fmt.Fprintf(w, "  Multi-tenancy:  %s\n", onOff(cfg.EnableMultiTenancy))
	fmt.Fprintf(w, "  Audit logging:  %s\n", onOff(cfg.EnableAuditLogging))
	fmt.Fprintf(w, "  Database:       %s (%s)\n", a.db.Redacted(), a.db.Kind)
	fmt.Fprintf(w, "  Step workers:   %s\n", strconv.Itoa(stepWorkers(cfg, a.db.Kind)))
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "  API docs:       %s/docs  (ReDoc: %s/redoc)\n", base, base)
	fmt.Fprintf(w, "  OpenAPI:        %s/openapi.json\n", base)
	fmt.Fprintf(w, "  Health:         %s/health  Ready: %s/ready\n", base, base)
	if !cfg.EnableAuth {
		fmt.Fprintln(w, "  WARNING: ENABLE_AUTH=false: every request acts as the development admin")
	}
	if !cfg.EnableAuditLogging {
		fmt.Fprintln(w, "  WARNING: ENABLE_AUDIT_LOGGING=false: no audit trail is recorded")
	}
	fmt.Fprintln(w, line)
}
