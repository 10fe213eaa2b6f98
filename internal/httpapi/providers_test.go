package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/superagent-hq/superagent/internal/agent/vaulttest"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/llm/llmtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

const providerKey = "sk-proj-SECRETVALUE-0123456789-WXYZ"

type providerView struct {
	Provider  string `json:"provider"`
	BaseURL   string `json:"base_url"`
	HasKey    bool   `json:"has_key"`
	KeyHint   string `json:"key_hint"`
	CreatedBy string `json:"created_by"`
}

type providerList struct {
	Providers            []providerView `json:"providers"`
	InstallationFallback []string       `json:"installation_fallback"`
	KeyStore             string         `json:"key_store"`
}

// rawTable reads every row of table as stored, bypassing the store (on
// PostgreSQL under the system setting that row-level security accepts).
func rawTable(t *testing.T, s *sqlstore.Store, table string) string {
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

// rawCall sends a request and returns the status and the raw body.
func (e *env) rawCall(method, path, token string, body any) (int, string) {
	e.t.Helper()
	res := e.do(method, path, token, body)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestProviderCredentialsAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("providers")
		other := e.newOrg("otherproviders")
		admin := f.token(domain.RoleAdmin)

		status, body := e.rawCall(http.MethodPut, "/api/v1/providers/openai", admin, map[string]string{"api_key": providerKey})
		if status != http.StatusOK || strings.Contains(body, providerKey) || !strings.Contains(body, `"key_hint":"…WXYZ"`) {
			t.Fatalf("PUT = %d %s", status, body)
		}
		var local providerView
		e.call(http.MethodPost, "/api/v1/providers", admin, map[string]string{"provider": "ollama", "base_url": "http://127.0.0.1:11434/v1/"},
			http.StatusOK, &local)
		if local.Provider != "ollama" || local.BaseURL != "http://127.0.0.1:11434/v1" || local.HasKey || local.CreatedBy != f.users[domain.RoleAdmin].ID {
			t.Errorf("POST = %+v", local)
		}

		status, body = e.rawCall(http.MethodGet, "/api/v1/providers", admin, nil)
		var list providerList
		e.call(http.MethodGet, "/api/v1/providers", admin, nil, http.StatusOK, &list)
		if status != http.StatusOK || strings.Contains(body, providerKey) || len(list.Providers) != 2 || list.Providers[1].Provider != "openai" ||
			!list.Providers[1].HasKey || list.KeyStore != "database" || len(list.InstallationFallback) != 0 {
			t.Errorf("list = %d %s", status, body)
		}

		// A raw database read shows no plaintext key, nor does the audit log.
		creds, audit := rawTable(t, e.store, "provider_credentials"), rawTable(t, e.store, "audit_logs")
		if strings.Contains(creds, providerKey) || strings.Contains(creds, "SECRETVALUE") || !strings.Contains(creds, "v1:dev:") {
			t.Errorf("provider_credentials as stored: %s", creds)
		}
		if strings.Contains(audit, "SECRETVALUE") || !strings.Contains(audit, "provider_credential.set") {
			t.Errorf("audit rows: %s", audit)
		}

		// Only holders of secrets.manage; other organizations see nothing.
		e.call(http.MethodPut, "/api/v1/providers/openai", f.token(domain.RoleDeveloper), map[string]string{"api_key": "sk-dev-000000000000"}, http.StatusForbidden, nil)
		e.call(http.MethodGet, "/api/v1/providers", f.token(domain.RoleViewer), nil, http.StatusForbidden, nil)
		var otherList providerList
		e.call(http.MethodGet, "/api/v1/providers", other.token(domain.RoleAdmin), nil, http.StatusOK, &otherList)
		if len(otherList.Providers) != 0 {
			t.Errorf("another organization lists %+v", otherList.Providers)
		}
		e.call(http.MethodDelete, "/api/v1/providers/openai", other.token(domain.RoleAdmin), nil, http.StatusNotFound, nil)

		// Invalid input names the field.
		for _, tt := range []struct {
			path string
			body map[string]string
			ptr  string
		}{
			{"/api/v1/providers/mock", map[string]string{"api_key": "x"}, "/provider"},
			{"/api/v1/providers/Open%20AI", map[string]string{"api_key": "sk-000000000000"}, "/provider"},
			{"/api/v1/providers/groq", map[string]string{"api_key": "gsk-000000000000"}, "/base_url"},
			{"/api/v1/providers/anthropic", map[string]string{}, "/api_key"},
			{"/api/v1/providers/openai", map[string]string{"base_url": "http://user:pw@proxy.example.com/v1"}, "/base_url"},
		} {
			var p httpapi.Problem
			e.call(http.MethodPut, tt.path, admin, tt.body, http.StatusUnprocessableEntity, &p)
			if len(p.Errors) == 0 || p.Errors[0].Pointer != tt.ptr {
				t.Errorf("PUT %s %v: problems %+v, want one at %s", tt.path, tt.body, p.Errors, tt.ptr)
			}
		}

		e.call(http.MethodDelete, "/api/v1/providers/openai", admin, nil, http.StatusNoContent, nil)
		e.call(http.MethodDelete, "/api/v1/providers/openai", admin, nil, http.StatusNotFound, nil)
		e.call(http.MethodGet, "/api/v1/providers", admin, nil, http.StatusOK, &list)
		if len(list.Providers) != 1 || list.Providers[0].Provider != "ollama" {
			t.Errorf("after delete: %+v", list.Providers)
		}
		if audit := rawTable(t, e.store, "audit_logs"); !strings.Contains(audit, "provider_credential.deleted") {
			t.Errorf("no deletion audit row: %s", audit)
		}
	})
}

// TestProviderKeysAreUsedAndNeverLogged sets an organization's key for a
// provider on a loopback address (allowed for configured providers), uses
// it through the agent generator, and checks the key appears in no log line,
// including those of failed calls.
func TestProviderKeysAreUsedAndNeverLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Settings: httpSettings(t, e.cfg), Store: e.store, Auth: httpapi.NewAuthenticator(e.auth),
		AuthService: e.auth, Agents: newAgents(t, e.cfg, e.store, nil, log), Log: log}))
	t.Cleanup(srv.Close)
	e.srv = srv
	f := e.newOrg("keyuse")
	admin := f.token(domain.RoleAdmin)

	fake := llmtest.NewOpenAI(t, llmtest.WithAPIKey(providerKey))
	e.call(http.MethodPut, "/api/v1/providers/openai", admin, map[string]string{"api_key": providerKey, "base_url": fake.URL()}, http.StatusOK, nil)
	fake.Push(llmtest.Reply{Text: `{"type": "transform", "name": "Shape", "description": "Picks the title", "transform": {"expression": "input.title"}}`})
	var out struct {
		Draft struct {
			Type string `json:"type"`
		} `json:"draft"`
	}
	e.call(http.MethodPost, "/api/v1/agents/generate", admin, map[string]any{"description": "Pick the title", "model": "openai:gpt-4o-mini"}, http.StatusOK, &out)
	if out.Draft.Type != "transform" || fake.LastRequest().Header.Get("Authorization") != "Bearer "+providerKey {
		t.Errorf("draft %+v; the provider saw %q", out, fake.LastRequest().Header.Get("Authorization"))
	}

	// Failures are logged; the key is not.
	fake.Handle(func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: http.StatusInternalServerError, ErrorMessage: "upstream failed for key " + providerKey}
	})
	e.call(http.MethodPost, "/api/v1/agents/generate", admin, map[string]any{"description": "Pick the title", "model": "openai:gpt-4o-mini"},
		http.StatusServiceUnavailable, nil)
	status, body := e.rawCall(http.MethodPost, "/api/v1/agents/generate", admin, map[string]any{"description": "x", "model": "openai:gpt-4o-mini"})
	if strings.Contains(body, providerKey) {
		t.Errorf("a response quotes the key: %d %s", status, body)
	}
	if strings.Contains(logs.String(), providerKey) || strings.Contains(logs.String(), "SECRETVALUE") {
		t.Errorf("the logs hold the key:\n%s", logs.String())
	}
	if logs.Len() == 0 {
		t.Error("nothing was logged: the check above proves nothing")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
func (s *syncBuffer) Len() int       { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Len() }

// TestProviderKeyRotation adds a new primary encryption key: keys sealed
// under the old one stay usable, and the next write re-seals them.
func TestProviderKeyRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := randomKey(), randomKey()
	e := newEnv(t, "sqlite", "ENCRYPTION_KEYS=k1:"+k1)
	f := e.newOrg("rotation")
	fake := llmtest.NewOpenAI(t, llmtest.WithAPIKey(providerKey))
	e.call(http.MethodPut, "/api/v1/providers/openai", f.token(domain.RoleAdmin), map[string]string{"api_key": providerKey}, http.StatusOK, nil)
	if creds := rawTable(t, e.store, "provider_credentials"); !strings.Contains(creds, "v1:k1:") {
		t.Fatalf("not sealed under k1: %s", creds)
	}

	// A process configured with k2 first and k1 still present.
	restart := func(keys string) {
		cfg, err := config.Load([]string{"PASSWORD_HASH_PROFILE=test", "ENVIRONMENT=test", "ENCRYPTION_KEYS=" + keys,
			"API_RATE_LIMIT_PER_MINUTE=10000"}, "")
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(httpapi.New(httpapi.Deps{Settings: httpSettings(t, cfg), Store: e.store, Auth: httpapi.NewAuthenticator(e.auth),
			AuthService: e.auth, Agents: newAgents(t, cfg, e.store, nil, nil)}))
		t.Cleanup(srv.Close)
		e.srv = srv
	}
	generate := func(want int) {
		t.Helper()
		fake.Push(llmtest.Reply{Text: `{"type": "transform", "name": "T", "description": "", "transform": {"template": "{{.input}}"}}`})
		e.call(http.MethodPost, "/api/v1/agents/generate", f.token(domain.RoleAdmin), map[string]any{"description": "d", "model": "openai:gpt-4o-mini"}, want, nil)
	}
	restart("k2:" + k2 + ",k1:" + k1)
	// The base URL changes; the key, left out, is re-sealed under k2.
	e.call(http.MethodPut, "/api/v1/providers/openai", f.token(domain.RoleAdmin), map[string]string{"base_url": fake.URL()}, http.StatusOK, nil)
	if creds := rawTable(t, e.store, "provider_credentials"); !strings.Contains(creds, "v1:k2:") || strings.Contains(creds, "v1:k1:") {
		t.Fatalf("not re-sealed under k2: %s", creds)
	}
	restart("k2:" + k2) // k1 retired
	generate(http.StatusOK)
	if fake.LastRequest().Header.Get("Authorization") != "Bearer "+providerKey {
		t.Errorf("after rotation the provider saw %q", fake.LastRequest().Header.Get("Authorization"))
	}
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func TestProviderCredentialsInVault(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t, "secret")
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("vaulted")
		admin := f.token(domain.RoleAdmin)
		e.call(http.MethodPut, "/api/v1/providers/anthropic", admin, map[string]string{"api_key": providerKey}, http.StatusOK, nil)
		path := "superagent/orgs/" + f.org.ID + "/providers/anthropic"
		if data, ok := v.Latest(path); !ok || data["api_key"] != providerKey {
			t.Fatalf("vault holds %v at %s", data, path)
		}
		if creds := rawTable(t, e.store, "provider_credentials"); strings.Contains(creds, "SECRETVALUE") || !strings.Contains(creds, "vault:kv2") {
			t.Errorf("the database row: %s", creds)
		}
		var list providerList
		e.call(http.MethodGet, "/api/v1/providers", admin, nil, http.StatusOK, &list)
		if list.KeyStore != "vault" || len(list.Providers) != 1 || !list.Providers[0].HasKey || list.Providers[0].KeyHint != "…WXYZ" {
			t.Errorf("list = %+v", list)
		}
		e.call(http.MethodDelete, "/api/v1/providers/anthropic", admin, nil, http.StatusNoContent, nil)
		if v.Versions(path) != 0 {
			t.Errorf("vault keeps %d versions after delete", v.Versions(path))
		}
	}, "VAULT_ENABLED=true", "VAULT_URL="+v.URL(), "VAULT_TOKEN="+vaulttest.Token, "VAULT_MOUNT=secret")
}
