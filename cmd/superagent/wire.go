package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/mail"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/secretbox"
)

// keyring builds the encryption keyring: ENCRYPTION_KEYS, or in
// development a key derived from SECRET_KEY.
func keyring(cfg *config.Config) (*secretbox.Keyring, error) {
	if cfg.EncryptionKeys != "" {
		k, err := secretbox.ParseKeyring(cfg.EncryptionKeys)
		if err != nil {
			return nil, &config.SettingError{Setting: "ENCRYPTION_KEYS", Problem: err.Error()}
		}
		return k, nil
	}
	k, err := secretbox.DevKeyring([]byte(cfg.SecretKey))
	if err != nil {
		return nil, &config.SettingError{Setting: "SECRET_KEY", Problem: err.Error()}
	}
	return k, nil
}

// hasher builds the password hasher for the configured profile.
func hasher(cfg *config.Config) (*auth.Hasher, error) {
	params := auth.DefaultParams
	if cfg.PasswordHashProfile == "test" {
		params = auth.TestParams
	}
	if err := params.Validate(cfg.IsProduction()); err != nil {
		return nil, &config.SettingError{Setting: "PASSWORD_HASH_PROFILE", Problem: err.Error()}
	}
	return auth.NewHasher(params, 0)
}

// hashHelperUse is the hidden command that runs a password hash helper.
const hashHelperUse = "hash-helper"

// useHashHelpers makes h hash in helper processes: this binary, run as
// `superagent hash-helper` with an environment of its own (no settings or
// secrets), one Go processor and the configured profile's work per
// request. A helper that fails is replaced, and its hash runs in-process.
func useHashHelpers(h *auth.Hasher, log *slog.Logger) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("password hash helpers: %w", err)
	}
	h.UseHelperProcesses(func() *exec.Cmd {
		c := exec.Command(exe, hashHelperUse)
		c.Env = []string{"GOMAXPROCS=1"}
		c.Stderr = os.Stderr
		return c
	}, func(err error) {
		log.Warn("password hash helper failed; this hash ran in-process", "error", err)
	})
	return nil
}

// mailSender is SMTP when SMTP_HOST is set, else the log (development).
func mailSender(cfg *config.Config, log *slog.Logger) (mail.Sender, error) {
	if cfg.SMTPHost == "" { // refused in production by configuration
		return mail.NewLogSender(log.With("component", "mail")), nil
	}
	s, err := mail.NewSMTPSender(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: mail.TLSMode(cfg.SMTPTLS)})
	if err != nil {
		return nil, &config.SettingError{Setting: "SMTP_HOST", Problem: err.Error()}
	}
	return s, nil
}

// riverEnqueuer lets services insert jobs in their store transactions.
type riverEnqueuer struct{ client *queue.Client }

func (r riverEnqueuer) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := r.client.InsertTx(ctx, tx, args, opts)
	return err
}

// newAuthService builds the authentication service and prepares the
// organizations the feature flags call for. box is the process's keyring
// (TOTP secrets are sealed with it).
func newAuthService(ctx context.Context, cfg *config.Config, store domain.Store, box *secretbox.Keyring, jobs auth.Enqueuer,
	log *slog.Logger) (*auth.Service, error) {
	h, err := hasher(cfg)
	if err != nil {
		return nil, err
	}
	svc, err := auth.NewService(auth.Options{
		Store: store, Hasher: h, Keyring: box, Jobs: jobs, Logger: log.With("component", "auth"),
		Tokens: auth.TokenIssuer{Secret: []byte(cfg.SecretKey), Algorithm: cfg.Algorithm, Issuer: cfg.TokenIssuer,
			Audience: cfg.TokenAudience, TTL: time.Duration(cfg.AccessTokenExpireMinutes) * time.Minute},
		Settings: auth.Settings{RefreshTTL: time.Duration(cfg.RefreshTokenExpireDays) * 24 * time.Hour,
			SignupEnabled: cfg.SignupEnabled, RequireEmailVerification: cfg.RequireEmailVerification,
			MultiTenancy: cfg.EnableMultiTenancy, AuthDisabled: !cfg.EnableAuth, DevUserEmail: cfg.DevUserEmail,
			PublicURL: cfg.PublicURL, Production: cfg.IsProduction()},
	})
	if err != nil {
		return nil, &config.SettingError{Setting: "SECRET_KEY", Problem: fmt.Sprintf("cannot sign access tokens: %v", err)}
	}
	if !cfg.EnableMultiTenancy {
		if _, err := svc.EnsureSingleOrganization(ctx, "Default Organization"); err != nil {
			return nil, fmt.Errorf("prepare the single organization: %w", err)
		}
	}
	if !cfg.EnableAuth {
		if err := svc.EnsureDevelopmentAdmin(ctx); err != nil {
			return nil, fmt.Errorf("prepare the development admin: %w", err)
		}
	}
	return svc, nil
}

// newAgents builds the agent runtime from configuration: the price table
// (LLM_PRICES), the SSRF guard (HTTP_ALLOWED_HOSTS), the provider key store
// (sealed with box in the database, or Vault with VAULT_ENABLED), the
// installation's fallback keys (ALLOW_INSTALLATION_LLM_KEYS) and the step
// timeout cap below RESCUE_AFTER. workflows runs workflow tools (may be nil).
func newAgents(cfg *config.Config, store domain.Store, box *secretbox.Keyring, workflows agent.WorkflowCaller,
	log *slog.Logger) (*agent.Setup, error) {
	bad := func(setting string, err error) error {
		return &config.SettingError{Setting: setting, Problem: err.Error()}
	}
	prices, err := llm.NewPriceTable(cfg.LLMPrices)
	if err != nil {
		return nil, bad("LLM_PRICES", err)
	}
	guard, err := netguard.New(cfg.ExtraAllowedHosts)
	if err != nil {
		return nil, bad("HTTP_ALLOWED_HOSTS", err)
	}
	sealed := agent.NewSealedKeys(box)
	var keys agent.KeyStore = sealed
	if cfg.VaultEnabled {
		if keys, err = agent.NewVaultKeys(agent.VaultConfig{URL: cfg.VaultURL, Token: cfg.VaultToken, Mount: cfg.VaultMount,
			Prefix: cfg.VaultPrefix, Fallback: sealed}); err != nil {
			return nil, bad("VAULT_URL", err)
		}
	}
	return agent.NewSetup(agent.SetupOptions{Store: store, Keys: keys, Prices: prices, Guard: guard,
		AllowInstallation: cfg.AllowInstallationLLMKeys, Installation: map[string]llm.Credentials{
			"openai":    {APIKey: cfg.OpenAIAPIKey, BaseURL: cfg.OpenAIBaseURL},
			"anthropic": {APIKey: cfg.AnthropicAPIKey, BaseURL: cfg.AnthropicBaseURL},
		},
		MaxStepTimeout: agent.MaxStepTimeout(cfg.RescueAfter), Workflows: workflows, Logger: log.With("component", "agent")})
}

// httpSettings are the HTTP layer's settings from configuration.
func httpSettings(cfg *config.Config) httpapi.Settings {
	var trusted []*net.IPNet
	for _, p := range cfg.TrustedProxies {
		if n, err := config.ParseCIDROrIP(p); err == nil { // validated when loaded
			trusted = append(trusted, n)
		}
	}
	return httpapi.Settings{BodyLimitBytes: cfg.BodyLimitBytes, CORSOrigins: cfg.CORSOrigins, TrustedProxies: trusted,
		AuthRateLimitPerMinute: cfg.AuthRateLimitPerMinute, APIRateLimitPerMinute: cfg.APIRateLimitPerMinute,
		MetricsToken: cfg.MetricsToken, MetricsTokenRequired: cfg.IsProduction(),
		MaxAgentsPerWorkflow: cfg.MaxAgentsPerWorkflow, MaxStepTimeout: agent.MaxStepTimeout(cfg.RescueAfter)}
}
