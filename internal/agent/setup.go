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
	horizon := max(cfg.RescueAfter-30*time.Second, 30*time.Second)
	s.Runtime, err = New(Options{Credentials: creds, Registry: s.Registry, Resilient: s.Resilient, Prices: prices,
		Guard: guard, Workflows: o.Workflows, MaxStepTimeout: horizon, Logger: o.Logger.With("component", "agent")})
	if err != nil {
		return nil, err
	}
	return s, nil
}
