// Command superagent is the single Super Agent binary: the API and web UI,
// workers, the scheduler, migrations and operator tasks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand(os.Stdin, os.Stdout, os.Stderr, os.Environ()).ExecuteContext(ctx)
	stop()
	if err != nil {
		var se *config.SettingError
		var de *domain.Error
		switch {
		case errors.As(err, &se):
			fmt.Fprintf(os.Stderr, "superagent: invalid setting %s\n", se)
		case errors.As(err, &de) && de.Code != domain.ECodeInternal:
			fmt.Fprintf(os.Stderr, "superagent: %s\n", strings.Replace(err.Error(), string(de.Code)+": ", "", 1))
		default:
			fmt.Fprintf(os.Stderr, "superagent: %v\n", err)
		}
		os.Exit(1)
	}
}

// newRootCommand builds the command tree. environ is the environment the
// configuration is read from (plus ./.env).
func newRootCommand(stdin io.Reader, stdout, stderr io.Writer, environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "superagent",
		Short:         "Super Agent: build, run and observe AI-agent workflows",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	envFile := root.PersistentFlags().String("env-file", ".env", "optional file of KEY=VALUE settings (the environment wins)")
	load := func() (*config.Config, error) { return config.Load(environ, *envFile) }

	root.AddCommand(
		serveCommand(load, stdout),
		workerCommand(load, stdout),
		migrateCommand(load, stdout),
		userCommand(load, stdin, stdout),
		orgCommand(load, stdout),
		auditCommand(load, stdout),
		seedCommand(load, stdout, stderr),
		benchCommand(load, environ, stdout, stderr),
		versionCommand(stdout),
		hashHelperCommand(stdin, stdout),
	)
	return root
}

func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(stdout, "superagent", version)
			return err
		},
	}
}

// hashHelperCommand is the password hash helper that serve and worker
// start (PASSWORD_HASH_HELPERS): it answers hash requests on stdin until
// stdin closes. Not for people to run.
func hashHelperCommand(stdin io.Reader, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:    hashHelperUse,
		Short:  "Serve password hash requests on stdin (started by serve and worker)",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auth.ServeHashRequests(stdin, stdout)
		},
	}
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
