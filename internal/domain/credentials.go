package domain

import "time"

// ProviderCredential is an organization's credentials for one LLM provider
// ("openai", "anthropic", or an OpenAI-compatible server it names, such as
// "ollama"). The API key itself never lives in this struct in plaintext:
// StoredKey is what the key store made of it (a secretbox ciphertext bound
// to the organization and provider, or a marker saying the key is in
// Vault), and KeyHint its last characters for display.
type ProviderCredential struct {
	ID        string
	OrgID     string
	Provider  string
	BaseURL   string
	StoredKey string
	KeyHint   string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CredentialQueries manage organizations' provider credentials. Each
// organization has at most one credential per provider.
type CredentialQueries interface {
	// PutProviderCredential creates the organization's credential for
	// c.Provider or replaces its base URL, stored key and hint. It reports
	// whether it created one; on replace, c's ID, CreatedBy and CreatedAt
	// are set from the existing row. UpdatedAt is the transaction's clock.
	PutProviderCredential(c *ProviderCredential) (created bool, err error)
	// GetProviderCredential returns the credential for provider, or
	// ECodeNotFound.
	GetProviderCredential(provider string) (*ProviderCredential, error)
	// ListProviderCredentials returns one page of the organization's
	// credentials, by provider name, and the cursor of the next page
	// ("" after the last).
	ListProviderCredentials(p Page) ([]ProviderCredential, string, error)
	// DeleteProviderCredential removes the credential for provider, or
	// returns ECodeNotFound.
	DeleteProviderCredential(provider string) error
}
