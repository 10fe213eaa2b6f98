package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Workflows the scenarios run.
const (
	wfChain   = "chain"   // 2: a chain of transform nodes
	wfFanout  = "fanout"  // 2: one root, parallel branches, one join
	wfHandoff = "handoff" // 3: a long chain of transform nodes
	wfMemory  = "memory"  // 7: one mock model call with latency
)

// fixture is the organization, user and workflows the scenarios use,
// created through the real API like a user would.
type fixture struct {
	email, password string
	token           string // the latest access token
	orgID           string
	workflows       map[string]string // name → workflow id
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newFixture registers a user (and with it an organization), lifts the
// organization's plan limits as an operator would (`superagent org
// set-plan`), and creates the workflows through the API.
func newFixture(ctx context.Context, p *Process, sz Sizes, only ...string) (*fixture, error) {
	suffix := randomHex(4)
	fx := &fixture{email: "bench-" + suffix + "@example.com", password: "Bench-" + randomHex(12) + "-pw",
		workflows: map[string]string{}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := call(ctx, p.BaseURL, http.MethodPost, "/api/v1/auth/register", "", map[string]any{
		"email": fx.email, "username": "bench_" + suffix, "password": fx.password, "full_name": "Bench User",
		"organization_name": "Bench " + suffix}, http.StatusCreated, &tok); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	fx.token = tok.AccessToken
	pr, err := p.Authenticate(ctx, fx.token)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	fx.orgID = pr.OrgID
	err = p.Store.Write(ctx, domain.SystemScope(domain.SystemOperator), func(tx domain.Tx) error {
		o, err := tx.GetOrganization(fx.orgID)
		if err != nil {
			return err
		}
		o.Plan = domain.PlanEnterprise
		o.Limits = domain.PlanLimits{MaxWorkflows: 1000, MaxAgents: 1000, MaxTeams: 100, MaxExecutionsPerMonth: 100_000_000,
			MaxConcurrentExecutions: 1_000_000, MaxAgentsPerWorkflow: 1000}
		if err := tx.UpdateOrganization(o); err != nil {
			return err
		}
		tx.Audit(domain.AuditEvent{OrgID: o.ID, Action: "organization.plan_changed", ResourceType: "organization", ResourceID: o.ID,
			Success: true, Details: map[string]any{"by": "superagent bench", "plan": string(o.Plan)}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lift plan limits: %w", err)
	}
	defs := map[string]domain.Definition{
		wfChain:   chainDefinition(sz.ChainLength),
		wfFanout:  fanoutDefinition(sz.FanoutWidth),
		wfHandoff: chainDefinition(sz.HandoffLength),
		wfMemory:  memoryDefinition(sz.MemoryLatency),
	}
	for _, name := range []string{wfChain, wfFanout, wfHandoff, wfMemory} {
		if len(only) > 0 && !contains(only, name) {
			continue
		}
		var out struct {
			ID string `json:"id"`
		}
		def := defs[name]
		if err := call(ctx, p.BaseURL, http.MethodPost, "/api/v1/workflows", fx.token, map[string]any{
			"name": "bench " + name, "status": "active", "agents": def.Nodes, "edges": def.Edges},
			http.StatusCreated, &out); err != nil {
			return nil, fmt.Errorf("create workflow %s: %w", name, err)
		}
		fx.workflows[name] = out.ID
	}
	return fx, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// principal signs in again (access tokens expire; a run can outlast one)
// and resolves the token as the API's gate does.
func (fx *fixture) principal(ctx context.Context, p *Process) (*domain.Principal, error) {
	tok, err := login(ctx, http.DefaultClient, p.BaseURL, fx.email, fx.password)
	if err != nil {
		return nil, err
	}
	fx.token = tok
	return p.Authenticate(ctx, tok)
}

// login runs the OAuth2 password grant and returns the access token.
func login(ctx context.Context, c *http.Client, base, user, password string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login: %s: %s", resp.Status, truncate(b))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("login: no access token in %s", truncate(b))
	}
	return tok.AccessToken, nil
}

// call sends a JSON request and decodes the answer, which must have the
// expected status.
func call(ctx context.Context, base, method, path, token string, body any, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, truncate(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}

func transformNode(id, expr string) domain.Node {
	return domain.Node{ID: id, Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: expr}}
}

// chainDefinition is n transform nodes, each adding one to its parent.
func chainDefinition(n int) domain.Definition {
	d := domain.Definition{Edges: []domain.Edge{}}
	for i := range n {
		if i == 0 {
			d.Nodes = append(d.Nodes, transformNode("s0", "input.n"))
			continue
		}
		id, parent := "s"+strconv.Itoa(i), "s"+strconv.Itoa(i-1)
		d.Nodes = append(d.Nodes, transformNode(id, "nodes."+parent+" + 1"))
		d.Edges = append(d.Edges, domain.Edge{From: parent, To: id})
	}
	return d
}

// fanoutDefinition is a root, width parallel branches and a join summing them.
func fanoutDefinition(width int) domain.Definition {
	d := domain.Definition{Nodes: []domain.Node{transformNode("root", "input.n")}}
	var sum []string
	for i := range width {
		id := "b" + strconv.Itoa(i)
		d.Nodes = append(d.Nodes, transformNode(id, "nodes.root + "+strconv.Itoa(i)))
		d.Edges = append(d.Edges, domain.Edge{From: "root", To: id}, domain.Edge{From: id, To: "join"})
		sum = append(sum, "nodes."+id)
	}
	d.Nodes = append(d.Nodes, transformNode("join", strings.Join(sum, " + ")))
	return d
}

// memoryDefinition is one call of the built-in mock model that takes latency.
func memoryDefinition(latency time.Duration) domain.Definition {
	return domain.Definition{Nodes: []domain.Node{{ID: "model", Type: domain.NodeLLM, LLM: &domain.LLMConfig{
		Model: "mock:echo", Prompt: "count {{ .input.n }}",
		Mock: &domain.MockOptions{Response: "ok", LatencyMS: int(latency.Milliseconds())}}}}, Edges: []domain.Edge{}}
}
