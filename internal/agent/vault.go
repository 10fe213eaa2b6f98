package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/netguard"
)

// vaultMarker is what the database row keeps when the key lives in Vault.
const vaultMarker = "vault:kv2"

// maxVaultResponseBytes bounds what is read from Vault.
const maxVaultResponseBytes = 1 << 20

// VaultConfig locates a HashiCorp Vault KV version 2 secrets engine.
type VaultConfig struct {
	// URL is Vault's address, e.g. https://vault.internal:8200.
	URL   string
	Token string
	// Mount is the KV v2 mount path (default "secret").
	Mount string
	// Prefix is the path below the mount under which keys live (default
	// "superagent"): <mount>/data/<prefix>/orgs/<org>/providers/<provider>.
	Prefix string
	// HTTPClient talks to Vault; nil means a client with a 10 s timeout.
	// Vault is the operator's own service, so no SSRF guard applies.
	HTTPClient *http.Client
	// Fallback opens keys sealed in the database before Vault was enabled
	// (stored values that are secretbox ciphertexts); nil ignores them.
	Fallback *SealedKeys
}

// VaultKeys keeps provider API keys in Vault's KV v2 engine: one secret
// per organization and provider with the field "api_key". Writes create a
// new version; deletion removes every version and the metadata. The token
// travels only in the X-Vault-Token header and never appears in errors.
type VaultKeys struct {
	base   *url.URL
	token  string
	mount  string
	prefix string
	client *http.Client
	sealed *SealedKeys
}

// NewVaultKeys returns a KeyStore backed by Vault.
func NewVaultKeys(c VaultConfig) (*VaultKeys, error) {
	u, err := url.Parse(strings.TrimRight(c.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("vault: the URL must be an absolute http or https URL")
	}
	if c.Token == "" {
		return nil, errors.New("vault: a token is required")
	}
	if c.Mount = strings.Trim(c.Mount, "/"); c.Mount == "" {
		c.Mount = "secret"
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &VaultKeys{base: u, token: c.Token, mount: c.Mount, prefix: c.Prefix, client: c.HTTPClient, sealed: c.Fallback}, nil
}

// SecretPath is the path of a key below the mount (without "data/").
func (v *VaultKeys) SecretPath(orgID, provider string) string {
	parts := []string{}
	if v.prefix != "" {
		parts = append(parts, v.prefix)
	}
	return strings.Join(append(parts, "orgs", orgID, "providers", provider), "/")
}

func (v *VaultKeys) endpoint(kind, orgID, provider string) string {
	segs := []string{"v1"}
	for s := range strings.SplitSeq(v.mount, "/") {
		segs = append(segs, url.PathEscape(s))
	}
	segs = append(segs, kind)
	for s := range strings.SplitSeq(v.SecretPath(orgID, provider), "/") {
		segs = append(segs, url.PathEscape(s))
	}
	return v.base.String() + "/" + strings.Join(segs, "/")
}

// Put implements KeyStore.
func (v *VaultKeys) Put(ctx context.Context, orgID, provider, apiKey string) (string, error) {
	body, err := json.Marshal(map[string]any{"data": map[string]string{"api_key": apiKey}})
	if err != nil {
		return "", err
	}
	if _, err := v.do(ctx, http.MethodPost, v.endpoint("data", orgID, provider), body); err != nil {
		return "", err
	}
	return vaultMarker, nil
}

// Get implements KeyStore.
func (v *VaultKeys) Get(ctx context.Context, orgID, provider, stored string) (string, error) {
	if strings.HasPrefix(stored, "v1:") && v.sealed != nil {
		return v.sealed.Get(ctx, orgID, provider, stored)
	}
	raw, err := v.do(ctx, http.MethodGet, v.endpoint("data", orgID, provider), nil)
	if errors.Is(err, errVaultNotFound) {
		return "", ErrKeyMissing
	}
	if err != nil {
		return "", err
	}
	var res struct {
		Data struct {
			Data map[string]any `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", fmt.Errorf("vault: read %s: undecodable answer", v.SecretPath(orgID, provider))
	}
	key, ok := res.Data.Data["api_key"].(string)
	if !ok {
		return "", ErrKeyMissing
	}
	return key, nil
}

// Delete implements KeyStore: every version and the metadata go.
func (v *VaultKeys) Delete(ctx context.Context, orgID, provider, _ string) error {
	_, err := v.do(ctx, http.MethodDelete, v.endpoint("metadata", orgID, provider), nil)
	if errors.Is(err, errVaultNotFound) {
		return nil
	}
	return err
}

var errVaultNotFound = errors.New("vault: not found")

// do sends one request and returns the body of a 2xx answer.
func (v *VaultKeys) do(ctx context.Context, method, endpoint string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, r)
	if err != nil {
		return nil, fmt.Errorf("vault: %s: %w", method, err)
	}
	req.Header.Set("X-Vault-Token", v.token)
	req.Header.Set("X-Vault-Request", "true")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("vault: %s %s: %w", method, v.redact(endpoint), err)
	}
	defer res.Body.Close()
	raw, err := netguard.ReadLimited(res.Body, maxVaultResponseBytes)
	if err != nil {
		return nil, fmt.Errorf("vault: %s %s: %w", method, v.redact(endpoint), err)
	}
	if res.StatusCode == http.StatusNotFound {
		return nil, errVaultNotFound
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(raw, &e)
		return nil, fmt.Errorf("vault: %s %s answered %d: %s", method, v.redact(endpoint), res.StatusCode, strings.Join(e.Errors, "; "))
	}
	return raw, nil
}

// redact shows an endpoint without Vault's address (a path is enough in logs).
func (v *VaultKeys) redact(endpoint string) string {
	return strings.TrimPrefix(endpoint, v.base.String())
}
