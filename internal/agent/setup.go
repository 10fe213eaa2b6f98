package agent

import (
	"log/slog"
	"time"

	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/secretbox"
)

// Setup is a Runtime with everything it needs, built from configuration.
// A process should build one and share it: the circuit breakers and the
// provider clients live in it.
type Setup struct {
	Runtime     *Runtime
	Credentials *Credentials
	Registry    *llm.Registry
	Resilient   *llm.Resilient
	Prices      *llm.PriceTable
	Guard       *netguard.Guard
}

// SetupOptions are the inputs of NewSetup.
type SetupOptions struct {
	Config *config.Config
	Store  domain.Store
	// Keyring seals provider keys in the database; nil builds it from
	// ENCRYPTION_KEYS, or outside production derives the development key
	// from SECRET_KEY (as the rest of the application does).
	Keyring *secretbox.Keyring
	// Workflows runs "workflow:<id>" tools (the engine); may be nil.
	Workflows WorkflowCaller
	Logger    *slog.Logger
}

// NewSetup builds the agent runtime from configuration: the price table
// (LLM_PRICES), the SSRF guard (HTTP_ALLOWED_HOSTS), the provider key store
// (sealed in the database, or Vault with VAULT_ENABLED), the installation's
// fallback keys (ALLOW_INSTALLATION_LLM_KEYS) and the resilience layer.
// Configuration problems are *config.SettingError naming the setting.
func NewSetup(o SetupOptions) (*Setup, error) {
	cfg := o.Config
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
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
	box := o.Keyring
	if box == nil {
		if cfg.EncryptionKeys != "" {
			if box, err = secretbox.ParseKeyring(cfg.EncryptionKeys); err != nil {
				return nil, bad("ENCRYPTION_KEYS", err)
			}
		} else if box, err = secretbox.DevKeyring([]byte(cfg.SecretKey)); err != nil {
			return nil, bad("SECRET_KEY", err)
		}
	}
	sealed := NewSealedKeys(box)
	var keys KeyStore = sealed
	if cfg.VaultEnabled {
		if keys, err = NewVaultKeys(VaultConfig{URL: cfg.VaultURL, Token: cfg.VaultToken, Mount: cfg.VaultMount,
			Prefix: cfg.VaultPrefix, Fallback: sealed}); err != nil {
			return nil, bad("VAULT_URL", err)
		}
	}
	creds := NewCredentials(CredentialsOptions{
		Store: o.Store, Keys: keys, AllowInstallation: cfg.AllowInstallationLLMKeys, Logger: o.Logger.With("component", "credentials"),
		Installation: map[string]llm.Credentials{
			"openai":    {APIKey: cfg.OpenAIAPIKey, BaseURL: cfg.OpenAIBaseURL},
			"anthropic": {APIKey: cfg.AnthropicAPIKey, BaseURL: cfg.AnthropicBaseURL},
		},
	})
	s := &Setup{
		Credentials: creds,
		Registry:    llm.NewRegistry(llm.RegistryConfig{}),
		Resilient:   llm.NewResilient(llm.ResilienceConfig{}),
		Prices:      prices,
		Guard:       guard,
	}
	// Steps must end before the queue hands them to another worker.
	s.Runtime, err = New(Options{Credentials: creds, Registry: s.Registry, Resilient: s.Resilient, Prices: prices,
		Guard: guard, Workflows: o.Workflows, MaxStepTimeout: MaxStepTimeout(cfg.RescueAfter), Logger: o.Logger.With("component", "agent")})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// StepTimeoutMargin is the slack kept below the rescue horizon
// (RESCUE_AFTER) twice over: once for the queue's backstop timeout of a
// step's job above the step's own timeout, once between that backstop and
// the horizon: an eighth of the horizon, at most 30 s.
func StepTimeoutMargin(rescueAfter time.Duration) time.Duration {
	return min(30*time.Second, rescueAfter/8)
}

// MaxStepTimeout is the one cap on a step's timeout for a rescue horizon:
// workflow validation refuses a longer timeout_seconds, the agent runtime
// and the engine stop a step at it, so a timeout that validates always runs
// in full and a step still running is never handed to a second worker.
// With the default RESCUE_AFTER of 10 m it is 9 m.
func MaxStepTimeout(rescueAfter time.Duration) time.Duration {
	return max(rescueAfter-2*StepTimeoutMargin(rescueAfter), time.Second)
}
