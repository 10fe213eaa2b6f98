package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
)

// llmRoutes are the routes that need the agent runtime: provider
// credentials, usage and the agent generator.
type llmRoutes struct {
	s     *Server
	setup *agent.Setup
}

// registerLLMRoutes registers the provider credential, usage and agent
// generator routes. setup is the process's agent runtime; without one those
// routes answer 503.
func (s *Server) registerLLMRoutes(setup *agent.Setup) {
	r := &llmRoutes{s: s, setup: setup}
	r.registerProviderRoutes()
	r.registerUsageRoutes()
	r.registerGeneratorRoutes()
}

// runtime returns the agent setup, or a 503 naming the problem.
func (r *llmRoutes) runtime() (*agent.Setup, error) {
	if r.setup == nil {
		return nil, &domain.Error{Code: domain.ECodeUnavailable, Message: "the agent runtime is not configured"}
	}
	return r.setup, nil
}

// ProviderOut is an organization's credential for one provider as the API
// shows it: never the key, only its last characters.
type ProviderOut struct {
	Provider  string    `json:"provider" example:"openai"`
	BaseURL   string    `json:"base_url" doc:"\"\" for the provider's default endpoint"`
	HasKey    bool      `json:"has_key"`
	KeyHint   string    `json:"key_hint" example:"…a1b2" doc:"The key's last four characters"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func providerOut(c *domain.ProviderCredential) ProviderOut {
	return ProviderOut{Provider: c.Provider, BaseURL: c.BaseURL, HasKey: c.StoredKey != "", KeyHint: c.KeyHint,
		CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// ProviderIn sets a provider's credentials. Omitted fields keep their
// current value.
type ProviderIn struct {
	APIKey  *string `json:"api_key,omitempty" maxLength:"4096" doc:"The API key; stored encrypted, never shown again. Omit to keep the current one."`
	BaseURL *string `json:"base_url,omitempty" maxLength:"2048" doc:"An OpenAI-compatible base URL (required for providers other than openai and anthropic; may be a local server such as http://localhost:11434/v1); \"\" for the default endpoint."`
}

func (r *llmRoutes) registerProviderRoutes() {
	s := r.s
	tags := []string{"Providers"}
	type providerOutput struct {
		Body ProviderOut
	}
	set := func(ctx context.Context, provider string, in ProviderIn) (*providerOutput, error) {
		rt, err := r.runtime()
		if err != nil {
			return nil, err
		}
		p := principal(ctx)
		cred, _, err := rt.Credentials.Set(ctx, p.OrgID, p.UserID, agent.SetCredential{Provider: provider, APIKey: in.APIKey, BaseURL: in.BaseURL},
			auditEvent(ctx, "provider_credential.set", "provider_credential", "", nil))
		if err != nil {
			return nil, err
		}
		return &providerOutput{Body: providerOut(cred)}, nil
	}

	type setIn struct {
		Provider string `path:"provider" maxLength:"32" example:"openai"`
		Body     ProviderIn
	}
	register(s, huma.Operation{OperationID: "set-provider", Method: http.MethodPut, Path: "/api/v1/providers/{provider}", Tags: tags,
		Summary: "Set a provider's credentials",
		Description: "Creates or replaces the organization's API key and base URL for one provider (openai, anthropic, or an " +
			"OpenAI-compatible server under a name of your choice, such as ollama). The key is encrypted at rest and never returned.",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable}}, Requires(domain.PermSecretsManage),
		func(ctx context.Context, in *setIn) (*providerOutput, error) { return set(ctx, in.Provider, in.Body) })

	type createIn struct {
		Body struct {
			Provider string `json:"provider" minLength:"1" maxLength:"32" example:"anthropic"`
			ProviderIn
		}
	}
	register(s, huma.Operation{OperationID: "create-provider", Method: http.MethodPost, Path: "/api/v1/providers", Tags: tags,
		Summary: "Set a provider's credentials (provider in the body)", Description: "The same as PUT /api/v1/providers/{provider}.",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable}}, Requires(domain.PermSecretsManage),
		func(ctx context.Context, in *createIn) (*providerOutput, error) {
			return set(ctx, in.Body.Provider, in.Body.ProviderIn)
		})

	type listOut struct {
		Body struct {
			Providers  []ProviderOut `json:"providers"`
			NextCursor string        `json:"next_cursor,omitempty"`
			// InstallationFallback lists providers that work without keys of
			// the organization's own, through the installation's keys.
			InstallationFallback []string `json:"installation_fallback" doc:"Providers usable through the installation's keys when the organization has none"`
			KeyStore             string   `json:"key_store" enum:"database,vault" doc:"Where keys are kept"`
		}
	}
	register(s, huma.Operation{OperationID: "list-providers", Method: http.MethodGet, Path: "/api/v1/providers", Tags: tags,
		Summary: "List provider credentials (masked)", Description: "By provider name, one page at a time: pass next_cursor as cursor for the next page.",
		Errors: []int{http.StatusServiceUnavailable}}, Requires(domain.PermSecretsManage),
		func(ctx context.Context, in *pageQuery) (*listOut, error) {
			rt, err := r.runtime()
			if err != nil {
				return nil, err
			}
			creds, next, err := rt.Credentials.List(ctx, principal(ctx).OrgID, in.page())
			if err != nil {
				return nil, err
			}
			out := &listOut{}
			out.Body.NextCursor = next
			out.Body.Providers = make([]ProviderOut, 0, len(creds))
			for i := range creds {
				out.Body.Providers = append(out.Body.Providers, providerOut(&creds[i]))
			}
			out.Body.InstallationFallback = rt.Credentials.InstallationProviders()
			out.Body.KeyStore = rt.KeyStore
			return out, nil
		})

	type deleteIn struct {
		Provider string `path:"provider" maxLength:"32"`
	}
	register(s, huma.Operation{OperationID: "delete-provider", Method: http.MethodDelete, Path: "/api/v1/providers/{provider}", Tags: tags,
		Summary: "Delete a provider's credentials", DefaultStatus: http.StatusNoContent,
		Description: "Steps using the provider then fall back to the installation's key where allowed, or fail with auth_failed.",
		Errors:      []int{http.StatusServiceUnavailable}}, Requires(domain.PermSecretsManage),
		func(ctx context.Context, in *deleteIn) (*struct{}, error) {
			rt, err := r.runtime()
			if err != nil {
				return nil, err
			}
			return nil, rt.Credentials.Delete(ctx, principal(ctx).OrgID, in.Provider,
				auditEvent(ctx, "provider_credential.deleted", "provider_credential", "", nil))
		})
}
