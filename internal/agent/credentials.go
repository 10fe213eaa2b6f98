package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"unicode"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/secretbox"
)

// Bounds of provider credentials.
const (
	MaxAPIKeyLen  = 4096
	MaxBaseURLLen = 2048
)

// ErrKeyMissing is returned by a KeyStore whose key for a credential is gone
// (deleted from Vault behind our back, say).
var ErrKeyMissing = errors.New("the stored API key is missing")

// KeyStore keeps provider API keys: sealed into the database row
// (SealedKeys) or in HashiCorp Vault (VaultKeys). Implementations never log
// keys.
type KeyStore interface {
	// Put stores apiKey for (org, provider) and returns what the database
	// row keeps in its api_key column (never the plaintext). An empty key
	// is stored as "".
	Put(ctx context.Context, orgID, provider, apiKey string) (stored string, err error)
	// Get returns the key for (org, provider) from the stored column value;
	// "" when none was set. It returns ErrKeyMissing when the key is gone.
	Get(ctx context.Context, orgID, provider, stored string) (string, error)
	// Delete forgets the key for (org, provider).
	Delete(ctx context.Context, orgID, provider, stored string) error
}

// SealedKeys seals API keys with AES-256-GCM (secretbox) into the database
// row. The associated data binds a ciphertext to its organization and
// provider, so a ciphertext copied to another row does not open. Keys
// sealed under a key that is no longer primary stay readable while that key
// is in the ring; the next write of the credential seals it under the
// primary.
type SealedKeys struct{ box *secretbox.Keyring }

// NewSealedKeys returns a KeyStore sealing with box.
func NewSealedKeys(box *secretbox.Keyring) *SealedKeys { return &SealedKeys{box: box} }

func credentialAAD(orgID, provider string) []byte {
	return []byte("provider_credential.api_key\x00" + orgID + "\x00" + provider)
}

// Put implements KeyStore.
func (s *SealedKeys) Put(_ context.Context, orgID, provider, apiKey string) (string, error) {
	if apiKey == "" {
		return "", nil
	}
	sealed, err := s.box.Seal([]byte(apiKey), credentialAAD(orgID, provider))
	if err != nil {
		return "", fmt.Errorf("seal provider key: %w", err)
	}
	return sealed, nil
}

// Get implements KeyStore.
func (s *SealedKeys) Get(_ context.Context, orgID, provider, stored string) (string, error) {
	if stored == "" {
		return "", nil
	}
	key, err := s.box.Open(stored, credentialAAD(orgID, provider))
	if err != nil {
		return "", fmt.Errorf("open provider key of %s: %w", provider, err)
	}
	return string(key), nil
}

// Delete implements KeyStore: the key goes with its row.
func (s *SealedKeys) Delete(context.Context, string, string, string) error { return nil }

// NeedsRotation reports whether stored was sealed under a key other than
// the primary.
func (s *SealedKeys) NeedsRotation(stored string) bool {
	return stored != "" && s.box.NeedsRotation(stored)
}

// MissingCredentialsError says an organization has no usable credentials
// for a provider. Its message tells what to configure.
type MissingCredentialsError struct {
	Provider string
	// Reason, when set, replaces the default explanation.
	Reason string
	// InstallationAllowed reports ALLOW_INSTALLATION_LLM_KEYS.
	InstallationAllowed bool
}

func (e *MissingCredentialsError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	msg := fmt.Sprintf("no API key is configured for provider %q: an administrator can set one with PUT /api/v1/providers/%s",
		e.Provider, e.Provider)
	if setting := installationSetting(e.Provider); setting != "" {
		if e.InstallationAllowed {
			msg += fmt.Sprintf(" (the installation has no %s to fall back on)", setting)
		} else {
			msg += fmt.Sprintf(" (the installation's %s is not shared with organizations: ALLOW_INSTALLATION_LLM_KEYS is false)", setting)
		}
	}
	return msg
}

func installationSetting(provider string) string {
	switch provider {
	case "openai":
		return "OPENAI_API_KEY"
	case "anthropic":
		return "ANTHROPIC_API_KEY"
	}
	return ""
}

// CredentialsOptions configure Credentials.
type CredentialsOptions struct {
	Store domain.Store
	Keys  KeyStore
	// Installation holds the installation-wide credentials by provider
	// ("openai", "anthropic"); used only when AllowInstallation is set and
	// the organization has none of its own.
	Installation      map[string]llm.Credentials
	AllowInstallation bool
	Logger            *slog.Logger
}

// Credentials keeps organizations' provider credentials and resolves the
// ones a step uses. It implements CredentialResolver.
type Credentials struct {
	store             domain.Store
	keys              KeyStore
	installation      map[string]llm.Credentials
	allowInstallation bool
	log               *slog.Logger
}

// NewCredentials returns a Credentials.
func NewCredentials(o CredentialsOptions) *Credentials {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	inst := map[string]llm.Credentials{}
	for name, c := range o.Installation {
		if c.APIKey != "" || c.BaseURL != "" {
			inst[name] = c
		}
	}
	return &Credentials{store: o.Store, keys: o.Keys, installation: inst, allowInstallation: o.AllowInstallation, log: o.Logger}
}

// ProviderCredentials implements CredentialResolver: the organization's own
// credentials, else the installation's when allowed.
func (c *Credentials) ProviderCredentials(ctx context.Context, orgID, provider string) (llm.Credentials, error) {
	var row *domain.ProviderCredential
	err := c.store.Read(ctx, domain.OrgScope(orgID), func(q domain.Queries) (err error) {
		row, err = q.GetProviderCredential(provider)
		return err
	})
	switch {
	case err == nil:
		key, err := c.keys.Get(ctx, orgID, provider, row.StoredKey)
		if errors.Is(err, ErrKeyMissing) {
			return llm.Credentials{}, &MissingCredentialsError{Provider: provider, Reason: fmt.Sprintf(
				"the API key of provider %q is missing from the secrets vault: set it again with PUT /api/v1/providers/%s", provider, provider)}
		}
		if err != nil {
			return llm.Credentials{}, err
		}
		return llm.Credentials{APIKey: key, BaseURL: row.BaseURL}, nil
	case domain.IsCode(err, domain.ECodeNotFound):
		if inst, ok := c.installation[provider]; ok && c.allowInstallation {
			return inst, nil
		}
		return llm.Credentials{}, &MissingCredentialsError{Provider: provider, InstallationAllowed: c.allowInstallation}
	default:
		return llm.Credentials{}, err
	}
}

// InstallationProviders lists the providers organizations without keys of
// their own may use through the installation's keys (none unless allowed).
func (c *Credentials) InstallationProviders() []string {
	out := []string{}
	if !c.allowInstallation {
		return out
	}
	for name := range c.installation {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// SetCredential is a change to one provider's credentials. Nil fields keep
// their current value.
type SetCredential struct {
	Provider string
	APIKey   *string
	BaseURL  *string
}

// builtinProvider reports whether a provider has a default endpoint.
func builtinProvider(name string) bool { return name == "openai" || name == "anthropic" }

// Set creates or changes the organization's credentials for one provider
// and records ev (its resource id and details filled in) in the same
// transaction. The key is stored by the KeyStore before the row is written
// (Vault is never called inside a transaction). Leaving the key unchanged
// still re-stores it, so a key sealed under an old encryption key is
// sealed under the primary one.
func (c *Credentials) Set(ctx context.Context, orgID, actorID string, in SetCredential, ev domain.AuditEvent) (*domain.ProviderCredential, bool, error) {
	if err := validateProviderName(in.Provider); err != nil {
		return nil, false, err
	}
	var fields []domain.FieldError
	if in.APIKey != nil {
		*in.APIKey = strings.TrimSpace(*in.APIKey)
		if msg := checkAPIKey(*in.APIKey); msg != "" {
			fields = append(fields, domain.FieldError{Pointer: "/api_key", Message: msg})
		}
	}
	if in.BaseURL != nil {
		*in.BaseURL = strings.TrimRight(strings.TrimSpace(*in.BaseURL), "/")
		if msg := checkBaseURL(*in.BaseURL); msg != "" {
			fields = append(fields, domain.FieldError{Pointer: "/base_url", Message: msg})
		}
	}
	if len(fields) > 0 {
		return nil, false, domain.Invalid("the provider credentials are not valid", fields...)
	}

	scope := domain.OrgScope(orgID)
	var existing *domain.ProviderCredential
	err := c.store.Read(ctx, scope, func(q domain.Queries) (err error) {
		existing, err = q.GetProviderCredential(in.Provider)
		return err
	})
	if err != nil && !domain.IsCode(err, domain.ECodeNotFound) {
		return nil, false, err
	}
	apiKey, baseURL := "", ""
	if existing != nil {
		baseURL = existing.BaseURL
		if in.APIKey == nil {
			if apiKey, err = c.keys.Get(ctx, orgID, in.Provider, existing.StoredKey); err != nil && !errors.Is(err, ErrKeyMissing) {
				return nil, false, c.keyStoreError("read", in.Provider, err)
			}
		}
	}
	if in.APIKey != nil {
		apiKey = *in.APIKey
	}
	if in.BaseURL != nil {
		baseURL = *in.BaseURL
	}
	switch {
	case !builtinProvider(in.Provider) && baseURL == "":
		return nil, false, domain.Invalid("a base URL is required", domain.FieldError{Pointer: "/base_url",
			Message: fmt.Sprintf("%q is not a built-in provider: give the base URL of its OpenAI-compatible API, e.g. http://localhost:11434/v1", in.Provider)})
	case builtinProvider(in.Provider) && apiKey == "" && baseURL == "":
		return nil, false, domain.Invalid("an API key is required", domain.FieldError{Pointer: "/api_key", Message: "an API key is required"})
	}

	stored, err := c.keys.Put(ctx, orgID, in.Provider, apiKey)
	if err != nil {
		return nil, false, c.keyStoreError("stored", in.Provider, err)
	}
	cred := &domain.ProviderCredential{Provider: in.Provider, BaseURL: baseURL, StoredKey: stored, KeyHint: keyHint(apiKey), CreatedBy: actorID}
	var created bool
	err = c.store.Write(ctx, scope, func(tx domain.Tx) (err error) {
		if created, err = tx.PutProviderCredential(cred); err != nil {
			return err
		}
		ev.OrgID, ev.Action, ev.ResourceType, ev.ResourceID = orgID, "provider_credential.set", "provider_credential", cred.ID
		ev.Details = map[string]any{"provider": cred.Provider, "base_url": cred.BaseURL, "created": created,
			"api_key_changed": in.APIKey != nil, "api_key_set": apiKey != ""}
		tx.Audit(ev)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return cred, created, nil
}

// List returns one page of the organization's credentials, by provider
// name (with stored keys, which callers must not show), and the cursor of
// the next page ("" after the last).
func (c *Credentials) List(ctx context.Context, orgID string, page domain.Page) ([]domain.ProviderCredential, string, error) {
	var out []domain.ProviderCredential
	var next string
	err := c.store.Read(ctx, domain.OrgScope(orgID), func(q domain.Queries) (err error) {
		out, next, err = q.ListProviderCredentials(page)
		return err
	})
	return out, next, err
}

// Delete removes the organization's credentials for provider, first from
// the key store, and records ev in the transaction that removes the row.
func (c *Credentials) Delete(ctx context.Context, orgID, provider string, ev domain.AuditEvent) error {
	if err := validateProviderName(provider); err != nil {
		return domain.NotFound("provider credential")
	}
	scope := domain.OrgScope(orgID)
	var existing *domain.ProviderCredential
	err := c.store.Read(ctx, scope, func(q domain.Queries) (err error) {
		existing, err = q.GetProviderCredential(provider)
		return err
	})
	if err != nil {
		return err
	}
	if err := c.keys.Delete(ctx, orgID, provider, existing.StoredKey); err != nil {
		return c.keyStoreError("deleted", provider, err)
	}
	return c.store.Write(ctx, scope, func(tx domain.Tx) error {
		if err := tx.DeleteProviderCredential(provider); err != nil {
			return err
		}
		ev.OrgID, ev.Action, ev.ResourceType, ev.ResourceID = orgID, "provider_credential.deleted", "provider_credential", existing.ID
		ev.Details = map[string]any{"provider": provider}
		tx.Audit(ev)
		return nil
	})
}

// keyStoreError reports a key store failure; done is "read", "stored" or "deleted".
func (c *Credentials) keyStoreError(done, provider string, err error) error {
	c.log.Error("provider key store failed", "provider", provider, "error", err)
	return &domain.Error{Code: domain.ECodeUnavailable, Message: "the provider key could not be " + done + ": the secrets store is unavailable", Err: err}
}

// validateProviderName accepts what "provider:model" strings accept, except
// the mock, which needs no credentials.
func validateProviderName(name string) error {
	if name == "mock" {
		return domain.Invalid("the mock provider needs no credentials", domain.FieldError{Pointer: "/provider", Message: "the mock provider needs no credentials"})
	}
	if _, _, err := llm.ParseModel(name + ":x"); err != nil || name != strings.TrimSpace(name) {
		return domain.Invalid("invalid provider name", domain.FieldError{Pointer: "/provider",
			Message: "a provider name is 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter (e.g. openai, anthropic, ollama)"})
	}
	return nil
}

func checkAPIKey(key string) string {
	if len(key) > MaxAPIKeyLen {
		return fmt.Sprintf("an API key may be at most %d characters long", MaxAPIKeyLen)
	}
	for _, r := range key {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "an API key may not contain spaces or control characters"
		}
	}
	return ""
}

func checkBaseURL(raw string) string {
	if raw == "" {
		return ""
	}
	if len(raw) > MaxBaseURLLen {
		return fmt.Sprintf("a base URL may be at most %d characters long", MaxBaseURLLen)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "the base URL must be an absolute http or https URL, e.g. https://api.openai.com/v1"
	case u.User != nil:
		return "the base URL may not contain a user name or password: put the key in api_key"
	case u.RawQuery != "" || u.Fragment != "":
		return "the base URL may not have a query or fragment"
	}
	return ""
}

// keyHint shows the last four characters of keys long enough that they
// reveal little.
func keyHint(key string) string {
	switch {
	case key == "":
		return ""
	case len(key) >= 12:
		return "…" + key[len(key)-4:]
	default:
		return "…"
	}
}
