package llm

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

func TestParseModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in              string
		provider, model string
		wantErr         bool
	}{
		{in: "openai:gpt-4o-mini", provider: "openai", model: "gpt-4o-mini"},
		{in: "anthropic:claude-sonnet-4-5", provider: "anthropic", model: "claude-sonnet-4-5"},
		{in: "mock:echo", provider: "mock", model: "echo"},
		{in: "ollama:llama3.1:8b", provider: "ollama", model: "llama3.1:8b"},
		{in: " openai:gpt-4o ", provider: "openai", model: "gpt-4o"},
		{in: "gpt-4o", wantErr: true},
		{in: ":gpt-4o", wantErr: true},
		{in: "openai:", wantErr: true},
		{in: "", wantErr: true},
		{in: "OpenAI:gpt-4o", wantErr: true},
		{in: "open ai:gpt-4o", wantErr: true},
	}
	for _, tc := range tests {
		provider, model, err := ParseModel(tc.in)
		if tc.wantErr {
			if KindOf(err) != KindBadRequest {
				t.Errorf("ParseModel(%q) err = %v, want bad_request", tc.in, err)
			}
			continue
		}
		if err != nil || provider != tc.provider || model != tc.model {
			t.Errorf("ParseModel(%q) = %q, %q, %v; want %q, %q", tc.in, provider, model, err, tc.provider, tc.model)
		}
	}
}

func TestRegistryProviders(t *testing.T) {
	t.Parallel()
	r := NewRegistry(RegistryConfig{Compatible: map[string]string{"ollama": "http://127.0.0.1:11434/v1"}})
	if got, want := r.Providers(), []string{"anthropic", "mock", "ollama", "openai"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Providers = %v, want %v", got, want)
	}
	tests := []struct {
		name     string
		wantType string
	}{
		{"openai", "*llm.OpenAI"},
		{"anthropic", "*llm.Anthropic"},
		{"mock", "*llm.Mock"},
		{"ollama", "*llm.OpenAI"},
	}
	for _, tc := range tests {
		p, err := r.Provider(tc.name, Credentials{APIKey: "k1"})
		if err != nil {
			t.Fatalf("Provider(%q): %v", tc.name, err)
		}
		if p.Name() != tc.name || reflect.TypeOf(p).String() != tc.wantType {
			t.Errorf("Provider(%q) = %s named %q", tc.name, reflect.TypeOf(p), p.Name())
		}
	}
	if _, err := r.Provider("cohere", Credentials{}); KindOf(err) != KindBadRequest {
		t.Errorf("unknown provider: err = %v, want bad_request", err)
	}
}

func TestRegistryCachesClientsPerCredential(t *testing.T) {
	t.Parallel()
	r := NewRegistry(RegistryConfig{})
	get := func(name string, c Credentials) Provider {
		t.Helper()
		p, err := r.Provider(name, c)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := get("openai", Credentials{APIKey: "key-a"})
	if get("openai", Credentials{APIKey: "key-a"}) != a {
		t.Error("same credentials built a second client")
	}
	if get("openai", Credentials{APIKey: "key-b"}) == a {
		t.Error("another key reused the client")
	}
	if get("openai", Credentials{APIKey: "key-a", BaseURL: "http://127.0.0.1:1/v1"}) == a {
		t.Error("another base URL reused the client")
	}
	if get("anthropic", Credentials{APIKey: "key-a"}) == get("openai", Credentials{APIKey: "key-a"}) {
		t.Error("another provider reused the client")
	}
}

// TestRegistryResolvesToTheServer follows "provider:model" strings to the
// servers they name.
func TestRegistryResolvesToTheServer(t *testing.T) {
	t.Parallel()
	ollama := llmtest.NewOpenAI(t, llmtest.WithAPIKey(""))
	openai := llmtest.NewOpenAI(t)
	anthropic := llmtest.NewAnthropic(t)
	r := NewRegistry(RegistryConfig{Compatible: map[string]string{"ollama": ollama.URL()}})
	tests := []struct {
		model string
		creds Credentials
		srv   *llmtest.Server
		want  string
	}{
		{"ollama:llama3.1:8b", Credentials{}, ollama, "llama3.1:8b"},
		{"openai:gpt-4o-mini", Credentials{APIKey: openai.APIKey(), BaseURL: openai.URL()}, openai, "gpt-4o-mini"},
		{"anthropic:claude-haiku-4-5", Credentials{APIKey: anthropic.APIKey(), BaseURL: anthropic.URL()}, anthropic, "claude-haiku-4-5"},
	}
	for _, tc := range tests {
		p, model, err := r.Resolve(tc.model, tc.creds)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", tc.model, err)
		}
		res, err := p.Complete(context.Background(), &Request{Model: model, Messages: []Message{{Role: RoleUser, Content: "ping"}}})
		if err != nil {
			t.Fatalf("%s: Complete: %v", tc.model, err)
		}
		if got := tc.srv.LastRequest().Model; got != tc.want || res.Text != "ping" {
			t.Errorf("%s: server saw model %q and answered %q; want %q and the echo", tc.model, got, res.Text, tc.want)
		}
	}
	if _, _, err := r.Resolve("nope", Credentials{}); KindOf(err) != KindBadRequest {
		t.Errorf("malformed model: err = %v, want bad_request", err)
	}
}

func TestCredentialsNeverPrintTheKey(t *testing.T) {
	t.Parallel()
	c := Credentials{APIKey: "sk-secret-123456", BaseURL: "http://proxy"}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("call", "creds", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c), logged.String()} {
		if strings.Contains(out, "sk-secret") {
			t.Errorf("printed the key: %s", out)
		}
		if !strings.Contains(out, "http://proxy") {
			t.Errorf("lost the base URL: %s", out)
		}
	}
}
