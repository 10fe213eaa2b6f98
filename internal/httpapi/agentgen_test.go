package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

type generated struct {
	Draft struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Type        string          `json:"type"`
		LLM         json.RawMessage `json:"llm"`
		HTTP        json.RawMessage `json:"http"`
	} `json:"draft"`
	Saved *struct {
		ID        string `json:"id"`
		TeamID    string `json:"team_id"`
		Name      string `json:"name"`
		CreatedBy string `json:"created_by"`
	} `json:"saved"`
	Model string `json:"model"`
	Usage struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
	CostUSD float64 `json:"cost_usd"`
}

func (e *env) agentCount(orgID string) int {
	e.t.Helper()
	var n int
	if err := e.store.Read(context.Background(), domain.OrgScope(orgID), func(q domain.Queries) error {
		as, _, err := q.ListAgents(domain.AgentFilter{})
		n = len(as)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) auditActions(orgID, action string) []domain.AuditEvent {
	e.t.Helper()
	var rows []domain.AuditEvent
	if err := e.store.Read(context.Background(), domain.OrgScope(orgID), func(q domain.Queries) (err error) {
		rows, err = q.ListAudit(domain.AuditFilter{Action: action, Limit: 100})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func TestGenerateAgentWithTheMock(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("generator")
		dev := f.token(domain.RoleDeveloper)
		body := map[string]any{"description": "Summarize support tickets by urgency, then suggest a reply.", "model": "mock:echo"}

		var a, b generated
		e.call(http.MethodPost, "/api/v1/agents/generate", dev, body, http.StatusOK, &a)
		e.call(http.MethodPost, "/api/v1/agents/generate", dev, body, http.StatusOK, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("the mock is not deterministic:\n%+v\n%+v", a, b)
		}
		var llmCfg domain.LLMConfig
		if err := json.Unmarshal(a.Draft.LLM, &llmCfg); err != nil {
			t.Fatal(err)
		}
		if a.Draft.Type != "llm" || a.Draft.Name != "Summarize support tickets by urgency" || llmCfg.Model != "mock:echo" ||
			!strings.Contains(llmCfg.SystemPrompt, "suggest a reply") || a.Saved != nil || a.Model != "mock:echo" || a.Usage.InputTokens == 0 {
			t.Errorf("draft = %+v (llm %+v)", a, llmCfg)
		}
		if n := e.agentCount(f.org.ID); n != 0 {
			t.Errorf("a draft was saved: %d agents", n)
		}

		// The draft is a valid body for the agents API as it stands.
		var created struct {
			ID string `json:"id"`
		}
		e.call(http.MethodPost, "/api/v1/agents", dev, map[string]any{"name": a.Draft.Name, "description": a.Draft.Description,
			"type": a.Draft.Type, "llm": a.Draft.LLM}, http.StatusCreated, &created)

		// Saved on request, with org, author and team.
		var s generated
		e.call(http.MethodPost, "/api/v1/agents/generate", dev, map[string]any{"description": "Translate French e-mails into English",
			"model": "mock:echo", "save": true, "name": "Translator"}, http.StatusOK, &s)
		if s.Saved == nil || s.Saved.Name != "Translator" || s.Draft.Name != "Translator" || s.Saved.CreatedBy != f.users[domain.RoleDeveloper].ID ||
			s.Saved.TeamID != f.team.ID {
			t.Fatalf("saved = %+v", s)
		}
		var stored *domain.LibraryAgent
		if err := e.store.Read(context.Background(), domain.OrgScope(f.org.ID), func(q domain.Queries) (err error) {
			stored, err = q.GetAgent(s.Saved.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if stored.OrgID != f.org.ID || stored.Node.Type != domain.NodeLLM || stored.Node.LLM.Model != "mock:echo" {
			t.Errorf("stored agent = %+v", stored)
		}

		// Every generation is audited; the saved one names its agent.
		rows := e.auditActions(f.org.ID, "agent.generated")
		if len(rows) != 3 || rows[0].ResourceID != s.Saved.ID || rows[0].Details["saved"] != true || rows[1].Details["saved"] != false ||
			rows[0].UserID != f.users[domain.RoleDeveloper].ID || rows[0].Details["model"] != "mock:echo" {
			t.Errorf("audit rows = %+v", rows)
		}

		// Viewers may not; bad input is refused before any model call.
		e.call(http.MethodPost, "/api/v1/agents/generate", f.token(domain.RoleViewer), body, http.StatusForbidden, nil)
		var p httpapi.Problem
		e.call(http.MethodPost, "/api/v1/agents/generate", dev, map[string]any{"description": "x", "model": "gpt-4o"}, http.StatusUnprocessableEntity, &p)
		if len(p.Errors) == 0 || p.Errors[0].Pointer != "/model" {
			t.Errorf("malformed model: %+v", p)
		}
		e.call(http.MethodPost, "/api/v1/agents/generate", dev, map[string]any{"model": "mock:echo"}, http.StatusUnprocessableEntity, nil)
	})
}

func TestGenerateAgentWithAProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	f := e.newOrg("provgen")
	admin := f.token(domain.RoleAdmin)
	fake := llmtest.NewOpenAI(t)
	e.call(http.MethodPut, "/api/v1/providers/openai", admin, map[string]string{"api_key": fake.APIKey(), "base_url": fake.URL()}, http.StatusOK, nil)
	gen := func(want int, out any) {
		t.Helper()
		e.call(http.MethodPost, "/api/v1/agents/generate", f.token(domain.RoleDeveloper),
			map[string]any{"description": "Fetch the weather for a city", "model": "openai:gpt-4o-mini"}, want, out)
	}

	fake.Push(llmtest.Reply{Text: `{"type": "http", "name": "Weather", "description": "Fetches the weather",
		"http": {"method": "GET", "url": "https://api.weather.example/v1/now?city={{.input.city}}"}}`, InputTokens: 1000, OutputTokens: 100})
	var g generated
	gen(http.StatusOK, &g)
	if g.Draft.Type != "http" || !strings.Contains(string(g.Draft.HTTP), "api.weather.example") || g.Usage.InputTokens != 1000 ||
		g.CostUSD <= 0 {
		t.Errorf("draft = %+v", g)
	}
	req := fake.LastRequest()
	if !req.JSONMode || !strings.Contains(string(req.JSONSchema), `"transform"`) || !strings.Contains(req.System, "Super Agent") ||
		!strings.Contains(req.LastUserText(), "Fetch the weather for a city") || req.Model != "gpt-4o-mini" {
		t.Errorf("request = %+v", req)
	}

	// A draft that fits the schema but not the rules: 422 naming the field.
	fake.Push(llmtest.Reply{Text: `{"type": "http", "name": "Bad", "description": "", "http": {"method": "GET", "url": "not a url"}}`})
	var p httpapi.Problem
	gen(http.StatusUnprocessableEntity, &p)
	if len(p.Errors) == 0 || p.Errors[0].Pointer != "/draft/http/url" {
		t.Errorf("invalid draft: %+v", p)
	}
	// Not JSON, even after the repair round trip.
	fake.Push(llmtest.Reply{Text: "I would rather chat."}, llmtest.Reply{Text: "Still chatting."})
	before := len(fake.Requests())
	gen(http.StatusUnprocessableEntity, &p)
	if len(fake.Requests())-before != 2 || !strings.Contains(p.Detail, "not valid JSON") {
		t.Errorf("after %d calls: %+v", len(fake.Requests())-before, p)
	}
	// Throttled by the provider: 429 with its Retry-After.
	fake.Push(llmtest.Reply{Status: 429, RetryAfter: "60", ErrorMessage: "slow down"})
	res := e.do(http.MethodPost, "/api/v1/agents/generate", f.token(domain.RoleDeveloper),
		map[string]any{"description": "x", "model": "openai:gpt-4o-mini"})
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" {
		t.Errorf("throttled: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// No key for the provider: 422 saying what to configure.
	e.call(http.MethodPost, "/api/v1/agents/generate", f.token(domain.RoleDeveloper),
		map[string]any{"description": "x", "model": "anthropic:claude-haiku-4-5"}, http.StatusUnprocessableEntity, &p)
	if !strings.Contains(p.Detail, "PUT /api/v1/providers/anthropic") {
		t.Errorf("no key: %+v", p)
	}
	if n := e.agentCount(f.org.ID); n != 0 {
		t.Errorf("%d agents saved without save", n)
	}
	if rows := e.auditActions(f.org.ID, "agent.generated"); len(rows) != 1 {
		t.Errorf("%d agent.generated rows, want 1 (failed generations change nothing)", len(rows))
	}
}

func TestGenerateAgentWithInstallationKeys(t *testing.T) {
	t.Parallel()
	fake := llmtest.NewOpenAI(t)
	e := newEnv(t, "sqlite", "ALLOW_INSTALLATION_LLM_KEYS=true", "OPENAI_API_KEY="+fake.APIKey(), "OPENAI_BASE_URL="+fake.URL())
	f := e.newOrg("instkeys")
	fake.Push(llmtest.Reply{Text: `{"type": "transform", "name": "Upper", "description": "", "transform": {"expression": "upper(input.text)"}}`})
	var g generated
	e.call(http.MethodPost, "/api/v1/agents/generate", f.token(domain.RoleDeveloper),
		map[string]any{"description": "Upper-case the text", "model": "openai:gpt-4o-mini"}, http.StatusOK, &g)
	if g.Draft.Type != "transform" || fake.LastRequest().Header.Get("Authorization") != "Bearer "+fake.APIKey() {
		t.Errorf("draft %+v, auth %q", g, fake.LastRequest().Header.Get("Authorization"))
	}
	var list providerList
	e.call(http.MethodGet, "/api/v1/providers", f.token(domain.RoleAdmin), nil, http.StatusOK, &list)
	if !reflect.DeepEqual(list.InstallationFallback, []string{"openai"}) {
		t.Errorf("installation fallback = %v", list.InstallationFallback)
	}
}
