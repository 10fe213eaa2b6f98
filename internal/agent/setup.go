package agent

import (
	"errors"
	"log/slog"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/netguard"
)

// Setup is a Runtime with everything it needs. A process builds one and
// shares it: the circuit breakers and the provider clients live in it.
type Setup struct {
	Runtime     *Runtime
	Credentials *Credentials
	Registry    *llm.Registry
	Resilient   *llm.Resilient
	Prices      *llm.PriceTable
	Guard       *netguard.Guard
	// KeyStore says where organizations' provider keys are kept:
	// "database" (sealed) or "vault".
	KeyStore string
}

// SetupOptions are the inputs of NewSetup. cmd/superagent builds them from
// configuration; this package reads none.
type SetupOptions struct {
	Store domain.Store
	// Keys keeps organizations' provider keys: sealed in the database
	// (NewSealedKeys, with the process's one keyring) or in Vault
	// (NewVaultKeys). Required.
	Keys KeyStore
	// Prices prices model calls; nil is the built-in table.
	Prices *llm.PriceTable
	// Guard is the SSRF guard for what workflows fetch; nil allows no
	// extra hosts.
	Guard *netguard.Guard
	// Installation holds the installation's own provider credentials by
	// provider; AllowInstallation lets organizations without keys of their
	// own use them.
	Installation      map[string]llm.Credentials
	AllowInstallation bool
	// MaxStepTimeout caps every step (MaxStepTimeout of the queue's rescue
	// horizon); 0 leaves only the workflow limit.
	MaxStepTimeout time.Duration
	// Workflows runs "workflow:<id>" tools (the engine); may be nil.
	Workflows WorkflowCaller
	Logger    *slog.Logger
}

// NewSetup builds the agent runtime: the provider key store and the
// installation's fallback keys, the resilience layer, prices and the SSRF
// guard.
func NewSetup(o SetupOptions) (*Setup, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Keys == nil {
		return nil, errors.New("agent setup: no provider key store")
	}
	var err error
	if o.Prices == nil {
		if o.Prices, err = llm.NewPriceTable(""); err != nil {
			return nil, err
		}
	}
	if o.Guard == nil {
		if o.Guard, err = netguard.New(nil); err != nil {
			return nil, err
		}
	}
	creds := NewCredentials(CredentialsOptions{Store: o.Store, Keys: o.Keys, AllowInstallation: o.AllowInstallation,
		Installation: o.Installation, Logger: o.Logger.With("component", "credentials")})
	s := &Setup{
		Credentials: creds,
		Registry:    llm.NewRegistry(llm.RegistryConfig{}),
		Resilient:   llm.NewResilient(llm.ResilienceConfig{}),
		Prices:      o.Prices,
		Guard:       o.Guard,
		KeyStore:    "database",
	}
	if _, ok := o.Keys.(*VaultKeys); ok {
		s.KeyStore = "vault"
	}
	// Steps must end before the queue hands them to another worker.
	s.Runtime, err = New(Options{Credentials: creds, Registry: s.Registry, Resilient: s.Resilient, Prices: o.Prices,
		Guard: o.Guard, Workflows: o.Workflows, MaxStepTimeout: o.MaxStepTimeout, Logger: o.Logger.With("component", "agent")})
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
