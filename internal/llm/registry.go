package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Credentials authenticate calls to one provider for one tenant. Printing
// or logging them shows whether a key is set, never the key.
type Credentials struct {
	APIKey string
	// BaseURL overrides the provider's default endpoint (a proxy, a local
	// Ollama…). Empty means the default.
	BaseURL string
}

// String implements fmt.Stringer without the key.
func (c Credentials) String() string {
	key := ""
	if c.APIKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("llm.Credentials{APIKey:%q, BaseURL:%q}", key, c.BaseURL)
}

// GoString implements fmt.GoStringer without the key.
func (c Credentials) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the key.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("api_key_set", c.APIKey != ""), slog.String("base_url", c.BaseURL))
}

// ParseModel splits "provider:model" at its first colon, so model names
// that contain colons work ("ollama:llama3.1:8b" → "ollama",
// "llama3.1:8b"). It fails with KindBadRequest when either part is missing
// or the provider name is not lowercase letters, digits, '-' or '_'.
func ParseModel(s string) (provider, model string, err error) {
	provider, model, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || provider == "" || model == "" {
		return "", "", errorf("", KindBadRequest, `model %q is not of the form "provider:model", e.g. "openai:gpt-4o-mini"`, s)
	}
	if !validProviderName(provider) {
		return "", "", errorf("", KindBadRequest, "model %q: provider name %q must be lowercase letters, digits, '-' or '_'", s, provider)
	}
	return provider, model, nil
}

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Compatible names extra OpenAI-compatible providers and their default
	// base URLs, e.g. {"ollama": "http://localhost:11434/v1"}. A name here
	// may not be "openai", "anthropic" or "mock".
	Compatible map[string]string
	// HTTPClient is used by every real provider; nil means the SDKs'
	// defaults.
	HTTPClient *http.Client
}

// Registry builds providers by name and caches them per (provider, base
// URL, API key hash), so calls with the same credentials share one client
// and its connections. It is safe for concurrent use. It never logs keys.
type Registry struct {
	cfg RegistryConfig

	mu      sync.Mutex
	clients map[clientKey]Provider
	mock    *Mock
}

type clientKey struct {
	provider, baseURL, keyHash string
}

// NewRegistry returns a Registry.
func NewRegistry(cfg RegistryConfig) *Registry {
	compatible := make(map[string]string, len(cfg.Compatible))
	for k, v := range cfg.Compatible {
		compatible[k] = v
	}
	cfg.Compatible = compatible
	return &Registry{cfg: cfg, clients: map[clientKey]Provider{}, mock: NewMock()}
}

// Providers lists the provider names the registry knows, sorted.
func (r *Registry) Providers() []string {
	names := []string{"anthropic", "mock", "openai"}
	for name := range r.cfg.Compatible {
		if !isBuiltin(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func isBuiltin(name string) bool {
	return name == "openai" || name == "anthropic" || name == "mock"
}

// Provider returns the provider called name, authenticated with creds. The
// mock ignores creds. An unknown name is a KindBadRequest error.
func (r *Registry) Provider(name string, creds Credentials) (Provider, error) {
	if name == "mock" {
		return r.mock, nil
	}
	baseURL := creds.BaseURL
	compatURL, compatible := r.cfg.Compatible[name]
	if !isBuiltin(name) && !compatible {
		return nil, errorf(name, KindBadRequest, "unknown provider %q (known: %s)", name, strings.Join(r.Providers(), ", "))
	}
	if baseURL == "" && !isBuiltin(name) {
		baseURL = compatURL
	}
	creds.BaseURL = baseURL

	key := clientKey{provider: name, baseURL: baseURL, keyHash: hashKey(creds.APIKey)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.clients[key]; ok {
		return p, nil
	}
	var p Provider
	if name == "anthropic" {
		p = NewAnthropic(creds, r.cfg.HTTPClient)
	} else {
		p = NewOpenAI(name, creds, r.cfg.HTTPClient)
	}
	r.clients[key] = p
	return p, nil
}

// Resolve parses a "provider:model" string and returns the provider for it
// with the model name to put in Request.Model.
func (r *Registry) Resolve(model string, creds Credentials) (Provider, string, error) {
	providerName, modelName, err := ParseModel(model)
	if err != nil {
		return nil, "", err
	}
	p, err := r.Provider(providerName, creds)
	if err != nil {
		return nil, "", err
	}
	return p, modelName, nil
}

// validProviderName reports whether s is 1 to 32 of [a-z0-9_-], starting
// with a letter.
func validProviderName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func hashKey(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
