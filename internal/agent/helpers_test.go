package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/netguard"
)

// staticCreds resolves credentials from a map.
type staticCreds map[string]llm.Credentials

func (s staticCreds) ProviderCredentials(_ context.Context, _, provider string) (llm.Credentials, error) {
	c, ok := s[provider]
	if !ok {
		return llm.Credentials{}, &agent.MissingCredentialsError{Provider: provider}
	}
	return c, nil
}

// newRuntime returns a runtime whose guard opens loopback (where test
// servers listen), no retries inside a step, and the built-in prices.
func newRuntime(t *testing.T, change ...func(*agent.Options)) *agent.Runtime {
	t.Helper()
	guard, err := netguard.New([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	o := agent.Options{Guard: guard, Credentials: staticCreds{},
		Resilient: llm.NewResilient(llm.ResilienceConfig{MaxAttempts: 1})}
	for _, c := range change {
		c(&o)
	}
	rt, err := agent.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// wantStepError asserts err is a *StepError of kind and returns it.
func wantStepError(t *testing.T, err error, kind agent.ErrorKind) *agent.StepError {
	t.Helper()
	var se *agent.StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *agent.StepError of kind %s", err, err, kind)
	}
	if se.Kind != kind {
		t.Fatalf("kind = %s (%s), want %s", se.Kind, se.Message, kind)
	}
	if se.Retryable != kind.Retryable() {
		t.Errorf("Retryable = %v for kind %s", se.Retryable, kind)
	}
	return se
}
