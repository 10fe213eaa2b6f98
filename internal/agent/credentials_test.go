package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/agent/vaulttest"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
	"github.com/superagent-hq/superagent/internal/secretbox"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

const liveKey = "sk-live-0123456789abcdefWXYZ"

// rawDump reads every row of table as the database holds it, bypassing the
// store (on PostgreSQL through the system setting row-level security
// accepts), and returns the values as one text.
func rawDump(t *testing.T, s *sqlstore.Store, table string) string {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	if s.Kind() == sqlstore.KindPostgres {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.system', 'on', true)"); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v\t", cols[i], v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func newKeyring(t *testing.T, ids ...string) (*secretbox.Keyring, map[string]string) {
	t.Helper()
	keys := map[string]string{}
	var entries []string
	for _, id := range ids {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		keys[id] = base64.StdEncoding.EncodeToString(k)
		entries = append(entries, id+":"+keys[id])
	}
	kr, err := secretbox.ParseKeyring(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return kr, keys
}

func keyringOf(t *testing.T, keys map[string]string, ids ...string) *secretbox.Keyring {
	t.Helper()
	var entries []string
	for _, id := range ids {
		entries = append(entries, id+":"+keys[id])
	}
	kr, err := secretbox.ParseKeyring(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func ptr(s string) *string { return &s }

func setCred(t *testing.T, c *agent.Credentials, org, provider string, key, baseURL *string) *domain.ProviderCredential {
	t.Helper()
	cred, _, err := c.Set(context.Background(), org, "usr_admin", agent.SetCredential{Provider: provider, APIKey: key, BaseURL: baseURL},
		domain.AuditEvent{Success: true})
	if err != nil {
		t.Fatalf("set %s: %v", provider, err)
	}
	return cred
}

func TestSealedCredentials(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := dbtest.Open(t, dbtest.New(t, kind))
			a := storetest.NewFixture(t, s, "sealed-a")
			b := storetest.NewFixture(t, s, "sealed-b")
			_, keys := newKeyring(t, "k1", "k2")
			old := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: agent.NewSealedKeys(keyringOf(t, keys, "k1"))})

			cred := setCred(t, old, a.Org.ID, "openai", ptr(" "+liveKey+" "), nil)
			if cred.KeyHint != "…WXYZ" || !strings.HasPrefix(cred.StoredKey, "v1:k1:") {
				t.Errorf("credential = %+v", cred)
			}
			got, err := old.ProviderCredentials(ctx, a.Org.ID, "openai")
			if err != nil || got.APIKey != liveKey || got.BaseURL != "" {
				t.Fatalf("resolved %v, %v", got, err)
			}
			// Neither the row nor its audit entry holds the key.
			for _, table := range []string{"provider_credentials", "audit_logs"} {
				if dump := rawDump(t, s, table); strings.Contains(dump, liveKey) || strings.Contains(dump, liveKey[:12]) {
					t.Errorf("%s holds the plaintext key: %s", table, dump)
				}
			}
			if dump := rawDump(t, s, "audit_logs"); !strings.Contains(dump, "provider_credential.set") {
				t.Errorf("no audit entry: %s", dump)
			}

			// A ciphertext moved to another organization's row does not open there.
			if err := s.Write(ctx, domain.OrgScope(b.Org.ID), func(tx domain.Tx) error {
				_, err := tx.PutProviderCredential(&domain.ProviderCredential{Provider: "openai", StoredKey: cred.StoredKey, CreatedBy: "usr_x"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if got, err := old.ProviderCredentials(ctx, b.Org.ID, "openai"); err == nil || got.APIKey != "" {
				t.Errorf("a moved ciphertext opened: %v, %v", got, err)
			}

			// Rotation: a new primary key reads the old ciphertext; the next
			// write (here, of the base URL only) re-seals it under the primary.
			rotated := agent.NewSealedKeys(keyringOf(t, keys, "k2", "k1"))
			if !rotated.NeedsRotation(cred.StoredKey) {
				t.Error("a k1 ciphertext does not need rotation under primary k2")
			}
			creds := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: rotated})
			if got, err := creds.ProviderCredentials(ctx, a.Org.ID, "openai"); err != nil || got.APIKey != liveKey {
				t.Fatalf("after adding k2: %v, %v", got, err)
			}
			onlyK2 := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: agent.NewSealedKeys(keyringOf(t, keys, "k2"))})
			if _, err := onlyK2.ProviderCredentials(ctx, a.Org.ID, "openai"); err == nil {
				t.Error("a k1 ciphertext opened without k1")
			}
			cred = setCred(t, creds, a.Org.ID, "openai", nil, ptr("https://proxy.example.com/v1/"))
			if !strings.HasPrefix(cred.StoredKey, "v1:k2:") || cred.BaseURL != "https://proxy.example.com/v1" || cred.KeyHint != "…WXYZ" {
				t.Errorf("after rewriting: %+v", cred)
			}
			if got, err := onlyK2.ProviderCredentials(ctx, a.Org.ID, "openai"); err != nil || got.APIKey != liveKey || got.BaseURL != "https://proxy.example.com/v1" {
				t.Errorf("after rotation, k2 alone: %v, %v", got, err)
			}

			// Delete.
			if err := creds.Delete(ctx, a.Org.ID, "openai", domain.AuditEvent{Success: true}); err != nil {
				t.Fatal(err)
			}
			_, err = creds.ProviderCredentials(ctx, a.Org.ID, "openai")
			var missing *agent.MissingCredentialsError
			if !errors.As(err, &missing) {
				t.Errorf("after delete: %v", err)
			}
			if err := creds.Delete(ctx, a.Org.ID, "openai", domain.AuditEvent{Success: true}); !domain.IsCode(err, domain.ECodeNotFound) {
				t.Errorf("second delete: %v", err)
			}
			if dump := rawDump(t, s, "audit_logs"); !strings.Contains(dump, "provider_credential.deleted") {
				t.Errorf("no deletion audit entry: %s", dump)
			}
		})
	}
}

func TestCredentialValidation(t *testing.T) {
	t.Parallel()
	s := dbtest.Open(t, dbtest.New(t, sqlstore.KindSQLite))
	f := storetest.NewFixture(t, s, "validation")
	kr, _ := newKeyring(t, "k1")
	c := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: agent.NewSealedKeys(kr)})
	for _, tt := range []struct {
		name     string
		in       agent.SetCredential
		pointer  string
		notFound bool
	}{
		{"mock", agent.SetCredential{Provider: "mock", APIKey: ptr("x")}, "/provider", false},
		{"upper case", agent.SetCredential{Provider: "OpenAI", APIKey: ptr("sk-123456789012")}, "/provider", false},
		{"empty", agent.SetCredential{Provider: "", APIKey: ptr("sk-123456789012")}, "/provider", false},
		{"key with spaces", agent.SetCredential{Provider: "openai", APIKey: ptr("sk 123")}, "/api_key", false},
		{"no key", agent.SetCredential{Provider: "anthropic"}, "/api_key", false},
		{"custom without base URL", agent.SetCredential{Provider: "ollama"}, "/base_url", false},
		{"base URL with a password", agent.SetCredential{Provider: "ollama", BaseURL: ptr("http://u:p@localhost:11434/v1")}, "/base_url", false},
		{"base URL not http", agent.SetCredential{Provider: "ollama", BaseURL: ptr("ftp://localhost/")}, "/base_url", false},
	} {
		_, _, err := c.Set(context.Background(), f.Org.ID, f.Admin.ID, tt.in, domain.AuditEvent{})
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.ECodeInvalid || len(de.Fields) == 0 || de.Fields[0].Pointer != tt.pointer {
			t.Errorf("%s: err = %v, want invalid at %s", tt.name, err, tt.pointer)
		}
	}
	// A local server needs no key; its base URL may be a loopback address.
	cred := setCred(t, c, f.Org.ID, "ollama", nil, ptr("http://127.0.0.1:11434/v1"))
	if cred.StoredKey != "" || cred.KeyHint != "" {
		t.Errorf("keyless credential = %+v", cred)
	}
	got, err := c.ProviderCredentials(context.Background(), f.Org.ID, "ollama")
	if err != nil || got != (llm.Credentials{BaseURL: "http://127.0.0.1:11434/v1"}) {
		t.Errorf("resolved %v, %v", got, err)
	}
}

func TestInstallationFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Open(t, dbtest.New(t, sqlstore.KindSQLite))
	f := storetest.NewFixture(t, s, "fallback")
	kr, _ := newKeyring(t, "k1")
	inst := map[string]llm.Credentials{"openai": {APIKey: "sk-installation-000000", BaseURL: "https://gateway.example.com/v1"}}
	closed := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: agent.NewSealedKeys(kr), Installation: inst})
	open := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: agent.NewSealedKeys(kr), Installation: inst, AllowInstallation: true})

	_, err := closed.ProviderCredentials(ctx, f.Org.ID, "openai")
	var missing *agent.MissingCredentialsError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "ALLOW_INSTALLATION_LLM_KEYS") {
		t.Errorf("not allowed: %v", err)
	}
	if got, err := open.ProviderCredentials(ctx, f.Org.ID, "openai"); err != nil || got != inst["openai"] {
		t.Errorf("allowed: %v, %v", got, err)
	}
	if _, err := open.ProviderCredentials(ctx, f.Org.ID, "anthropic"); !errors.As(err, &missing) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Errorf("allowed, but the installation has no anthropic key: %v", err)
	}
	if got := open.InstallationProviders(); len(got) != 1 || got[0] != "openai" {
		t.Errorf("installation providers = %v", got)
	}
	if got := closed.InstallationProviders(); len(got) != 0 {
		t.Errorf("installation providers when not allowed = %v", got)
	}
	// The organization's own key wins.
	setCred(t, open, f.Org.ID, "openai", ptr(liveKey), nil)
	if got, err := open.ProviderCredentials(ctx, f.Org.ID, "openai"); err != nil || got.APIKey != liveKey || got.BaseURL != "" {
		t.Errorf("own key: %v, %v", got, err)
	}
}

func TestVaultCredentials(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := dbtest.Open(t, dbtest.New(t, kind))
			f := storetest.NewFixture(t, s, "vault")
			v := vaulttest.New(t, "kv")
			kr, _ := newKeyring(t, "k1")
			sealed := agent.NewSealedKeys(kr)

			// A key sealed in the database before Vault was enabled stays readable.
			before := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: sealed})
			setCred(t, before, f.Org.ID, "anthropic", ptr("sk-ant-before-vault-1234"), nil)

			keys, err := agent.NewVaultKeys(agent.VaultConfig{URL: v.URL(), Token: v.Token(), Mount: "kv", Prefix: "/superagent/", Fallback: sealed})
			if err != nil {
				t.Fatal(err)
			}
			creds := agent.NewCredentials(agent.CredentialsOptions{Store: s, Keys: keys})
			if got, err := creds.ProviderCredentials(ctx, f.Org.ID, "anthropic"); err != nil || got.APIKey != "sk-ant-before-vault-1234" {
				t.Errorf("sealed before Vault: %v, %v", got, err)
			}

			cred := setCred(t, creds, f.Org.ID, "openai", ptr(liveKey), nil)
			path := "superagent/orgs/" + f.Org.ID + "/providers/openai"
			if keys.SecretPath(f.Org.ID, "openai") != path {
				t.Errorf("secret path = %s", keys.SecretPath(f.Org.ID, "openai"))
			}
			if data, ok := v.Latest(path); !ok || data["api_key"] != liveKey {
				t.Fatalf("vault holds %v at %s", data, path)
			}
			if cred.StoredKey != "vault:kv2" || strings.Contains(rawDump(t, s, "provider_credentials"), liveKey) {
				t.Errorf("the database holds more than a marker: %+v", cred)
			}
			for _, r := range v.Requests() {
				if r.Token != vaulttest.Token {
					t.Errorf("request %s %s without the token", r.Method, r.Path)
				}
			}
			if got, err := creds.ProviderCredentials(ctx, f.Org.ID, "openai"); err != nil || got.APIKey != liveKey {
				t.Errorf("resolved %v, %v", got, err)
			}
			// A new key is a new version.
			setCred(t, creds, f.Org.ID, "openai", ptr(liveKey+"2"), nil)
			if v.Versions(path) != 2 {
				t.Errorf("%d versions", v.Versions(path))
			}

			// A sealed Vault: nothing is written, and steps cannot read keys.
			v.SetUnavailable(true)
			_, _, err = creds.Set(ctx, f.Org.ID, f.Admin.ID, agent.SetCredential{Provider: "groq", APIKey: ptr("gsk-000000000000"),
				BaseURL: ptr("https://api.groq.com/openai/v1")}, domain.AuditEvent{})
			if !domain.IsCode(err, domain.ECodeUnavailable) {
				t.Errorf("set while Vault is down: %v", err)
			}
			if _, err := creds.ProviderCredentials(ctx, f.Org.ID, "openai"); err == nil {
				t.Error("a key was read while Vault is down")
			}
			v.SetUnavailable(false)
			list, _, err := creds.List(ctx, f.Org.ID, domain.Page{})
			if err != nil || len(list) != 2 {
				t.Errorf("list after a failed set = %+v, %v", list, err)
			}

			// Deleting removes every version from Vault.
			if err := creds.Delete(ctx, f.Org.ID, "openai", domain.AuditEvent{Success: true}); err != nil {
				t.Fatal(err)
			}
			if v.Versions(path) != 0 {
				t.Errorf("vault still has %d versions", v.Versions(path))
			}

			// A key removed from Vault behind our back reads as missing, with a message saying so.
			setCred(t, creds, f.Org.ID, "openai", ptr(liveKey), nil)
			other, _ := agent.NewVaultKeys(agent.VaultConfig{URL: v.URL(), Token: v.Token(), Mount: "kv", Prefix: "superagent"})
			if err := other.Delete(ctx, f.Org.ID, "openai", ""); err != nil {
				t.Fatal(err)
			}
			_, err = creds.ProviderCredentials(ctx, f.Org.ID, "openai")
			var missing *agent.MissingCredentialsError
			if !errors.As(err, &missing) || !strings.Contains(err.Error(), "vault") {
				t.Errorf("key gone from Vault: %v", err)
			}
		})
	}
}

func TestVaultRefusesABadToken(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t, "secret")
	keys, err := agent.NewVaultKeys(agent.VaultConfig{URL: v.URL(), Token: "hvs.wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = keys.Put(context.Background(), "org_1", "openai", liveKey)
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "hvs.wrong") || strings.Contains(err.Error(), liveKey) {
		t.Errorf("err = %v", err)
	}
}
