package httpapi_test

import (
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/netguard"
	"github.com/superagent-hq/superagent/internal/secretbox"
)

// The servers under test are wired from configuration as cmd/superagent
// wires a process (wire.go there): these are its conversions, for tests
// that speak in settings.

// httpSettings are the HTTP layer's settings from cfg.
func httpSettings(t testing.TB, cfg *config.Config) httpapi.Settings {
	t.Helper()
	var trusted []*net.IPNet
	for _, p := range cfg.TrustedProxies {
		n, err := config.ParseCIDROrIP(p)
		if err != nil {
			t.Fatal(err)
		}
		trusted = append(trusted, n)
	}
	return httpapi.Settings{BodyLimitBytes: cfg.BodyLimitBytes, CORSOrigins: cfg.CORSOrigins, TrustedProxies: trusted,
		AuthRateLimitPerMinute: cfg.AuthRateLimitPerMinute, APIRateLimitPerMinute: cfg.APIRateLimitPerMinute,
		MetricsToken: cfg.MetricsToken, MetricsTokenRequired: cfg.IsProduction(),
		MaxAgentsPerWorkflow: cfg.MaxAgentsPerWorkflow, MaxStepTimeout: agent.MaxStepTimeout(cfg.RescueAfter)}
}

// testKeyring is the keyring of cfg (ENCRYPTION_KEYS, else the development
// key derived from SECRET_KEY).
func testKeyring(t testing.TB, cfg *config.Config) *secretbox.Keyring {
	t.Helper()
	var box *secretbox.Keyring
	var err error
	if cfg.EncryptionKeys != "" {
		box, err = secretbox.ParseKeyring(cfg.EncryptionKeys)
	} else {
		box, err = secretbox.DevKeyring([]byte(cfg.SecretKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// newAgents builds the agent runtime of cfg on store.
func newAgents(t testing.TB, cfg *config.Config, store domain.Store, workflows agent.WorkflowCaller, log *slog.Logger) *agent.Setup {
	t.Helper()
	prices, err := llm.NewPriceTable(cfg.LLMPrices)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := netguard.New(cfg.ExtraAllowedHosts)
	if err != nil {
		t.Fatal(err)
	}
	sealed := agent.NewSealedKeys(testKeyring(t, cfg))
	var keys agent.KeyStore = sealed
	if cfg.VaultEnabled {
		if keys, err = agent.NewVaultKeys(agent.VaultConfig{URL: cfg.VaultURL, Token: cfg.VaultToken, Mount: cfg.VaultMount,
			Prefix: cfg.VaultPrefix, Fallback: sealed}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := agent.NewSetup(agent.SetupOptions{Store: store, Keys: keys, Prices: prices, Guard: guard,
		AllowInstallation: cfg.AllowInstallationLLMKeys, Installation: map[string]llm.Credentials{
			"openai":    {APIKey: cfg.OpenAIAPIKey, BaseURL: cfg.OpenAIBaseURL},
			"anthropic": {APIKey: cfg.AnthropicAPIKey, BaseURL: cfg.AnthropicBaseURL},
		},
		MaxStepTimeout: agent.MaxStepTimeout(cfg.RescueAfter), Workflows: workflows, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// metricsHandler is h when cfg turns metrics on, else nil (no /metrics).
func metricsHandler(cfg *config.Config, h http.Handler) http.Handler {
	if cfg.MetricsEnabled != nil && *cfg.MetricsEnabled {
		return h
	}
	return nil
}
