package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// openStore opens the configured database for an operator command.
func openStore(cmd *cobra.Command, cfg *config.Config) (*sqlstore.Store, error) {
	d, err := config.ParseDatabaseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, &config.SettingError{Setting: "DATABASE_URL", Problem: err.Error()}
	}
	s, err := sqlstore.Open(cmd.Context(), sqlstore.Options{Kind: string(d.Kind), Path: d.Path, DSN: d.DSN, PoolSize: 2,
		AuditDisabled: !cfg.EnableAuditLogging})
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", d.Redacted(), err)
	}
	return s, nil
}

func userCommand(load loader, stdin io.Reader, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (operator tasks)"}
	var in auth.CreateUserInput
	var role string
	var passwordStdin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an active, verified user in an organization (for installations with sign-up closed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			in.Role = domain.Role(role)
			generated := false
			if passwordStdin {
				line, err := bufio.NewReader(stdin).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("read password: %w", err)
				}
				in.Password = strings.TrimRight(line, "\r\n")
			} else {
				var b [18]byte
				if _, err := rand.Read(b[:]); err != nil {
					return err
				}
				in.Password, generated = base64.RawURLEncoding.EncodeToString(b[:]), true
			}
			s, err := openStore(cmd, cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			box, err := keyring(cfg)
			if err != nil {
				return err
			}
			svc, err := newAuthService(cmd.Context(), cfg, s, box, nil, newLogger(cfg, io.Discard))
			if err != nil {
				return err
			}
			u, err := svc.CreateUser(cmd.Context(), in)
			if err != nil {
				var de *domain.Error
				if errorsAs(err, &de) && len(de.Fields) > 0 {
					var parts []string
					for _, f := range de.Fields {
						parts = append(parts, strings.TrimPrefix(f.Pointer, "/")+": "+f.Message)
					}
					return fmt.Errorf("%s: %s", de.Message, strings.Join(parts, "; "))
				}
				return err
			}
			fmt.Fprintf(stdout, "created user %s (%s) in organization %s as %s\n", u.ID, u.Email, u.OrgID, u.Role)
			if generated {
				fmt.Fprintf(stdout, "password (shown once): %s\n", in.Password)
			}
			return nil
		},
	}
	create.Flags().StringVar(&in.Email, "email", "", "e-mail address (required)")
	create.Flags().StringVar(&in.OrgID, "org", "", "organization id or slug (required)")
	create.Flags().StringVar(&role, "role", "viewer", "admin, developer, operator or viewer")
	create.Flags().StringVar(&in.Username, "username", "", "username (default: from the e-mail address)")
	create.Flags().StringVar(&in.FullName, "full-name", "", "full name")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (default: generate one)")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("org")
	cmd.AddCommand(create)
	return cmd
}
