package httpapi_test

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

type usageTotals struct {
	TokensIn     int64   `json:"tokens_in"`
	TokensOut    int64   `json:"tokens_out"`
	TokensCached int64   `json:"tokens_cached"`
	CostUSD      float64 `json:"cost_usd"`
	Steps        int64   `json:"steps"`
	Executions   int64   `json:"executions"`
}

type usageView struct {
	Since  time.Time   `json:"since"`
	Until  time.Time   `json:"until"`
	Totals usageTotals `json:"totals"`
	ByDay  []struct {
		Day string `json:"day"`
		usageTotals
	} `json:"by_day"`
	ByWorkflow []struct {
		WorkflowID   string `json:"workflow_id"`
		WorkflowName string `json:"workflow_name"`
		usageTotals
	} `json:"by_workflow"`
	ByModel []struct {
		Model string `json:"model"`
		usageTotals
	} `json:"by_model"`
}

// recordStep writes a finished step the way the engine records one.
func recordStep(t *testing.T, e *env, orgID, execID, node, model string, in, out int64, cost float64, finished time.Time) {
	t.Helper()
	err := e.store.Write(context.Background(), domain.OrgScope(orgID), func(tx domain.Tx) error {
		_, err := tx.SQL().ExecContext(context.Background(), `INSERT INTO execution_steps (id, org_id, execution_id, node_id, node_type,
			status, model, tokens_in, tokens_out, cost_usd, finished_at) VALUES ($1, $2, $3, $4, 'llm', 'succeeded', $5, $6, $7, $8, $9)`,
			domain.NewID(domain.PrefixStep), orgID, execID, node, model, in, out, cost, finished.UTC())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newExecution(t *testing.T, e *env, f *orgFixture, w *domain.Workflow) string {
	t.Helper()
	x := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), TeamID: w.TeamID, WorkflowID: w.ID, WorkflowVersion: 1,
		Status: domain.ExecutionSucceeded, Trigger: domain.TriggerManual, TriggeredBy: f.users[domain.RoleAdmin].ID}
	if err := e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateExecution(x) }); err != nil {
		t.Fatal(err)
	}
	return x.ID
}

func TestUsageAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("usage")
		other := e.newOrg("otherusage")
		scope := domain.OrgScope(f.org.ID)
		teamFlow := storetest.NewWorkflow(t, e.store, scope, f.users[domain.RoleAdmin].ID, f.team.ID, "Team flow")
		secondTeam := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Second"}
		if err := e.store.Write(context.Background(), scope, func(tx domain.Tx) error { return tx.CreateTeam(secondTeam) }); err != nil {
			t.Fatal(err)
		}
		hidden := storetest.NewWorkflow(t, e.store, scope, f.users[domain.RoleAdmin].ID, secondTeam.ID, "Other team's flow")
		x1, x2 := newExecution(t, e, f, teamFlow), newExecution(t, e, f, hidden)
		now := time.Now().UTC()
		recordStep(t, e, f.org.ID, x1, "a", "openai:gpt-4o-mini", 1000, 100, 0.00021, now.Add(-2*time.Hour))
		recordStep(t, e, f.org.ID, x1, "b", "anthropic:claude-haiku-4-5", 500, 50, 0.00075, now.Add(-time.Hour))
		recordStep(t, e, f.org.ID, x2, "a", "openai:gpt-4o-mini", 2000, 200, 0.00042, now.Add(-time.Hour))
		recordStep(t, e, f.org.ID, x1, "old", "openai:gpt-4o-mini", 9, 9, 9, now.Add(-40*24*time.Hour)) // outside the default 30 days
		ox := newExecution(t, e, other, storetest.NewWorkflow(t, e.store, domain.OrgScope(other.org.ID), other.users[domain.RoleAdmin].ID, "", "Theirs"))
		recordStep(t, e, other.org.ID, ox, "a", "openai:gpt-4o", 7, 7, 7, now.Add(-time.Hour))

		// Admins see the whole organization over the last 30 days by default.
		var u usageView
		e.call(http.MethodGet, "/api/v1/usage", f.token(domain.RoleAdmin), nil, http.StatusOK, &u)
		if u.Totals.TokensIn != 3500 || u.Totals.TokensOut != 350 || math.Abs(u.Totals.CostUSD-0.00138) > 1e-12 || u.Totals.Steps != 3 ||
			u.Totals.Executions != 2 || len(u.ByWorkflow) != 2 || len(u.ByModel) != 2 || u.ByModel[0].Model != "anthropic:claude-haiku-4-5" {
			t.Errorf("admin usage = %+v", u)
		}
		if d := u.Until.Sub(u.Since); d != 30*24*time.Hour {
			t.Errorf("default range = %s", d)
		}

		// A viewer in the first team sees its workflows only.
		e.call(http.MethodGet, "/api/v1/usage", f.token(domain.RoleViewer), nil, http.StatusOK, &u)
		if u.Totals.TokensIn != 1500 || len(u.ByWorkflow) != 1 || u.ByWorkflow[0].WorkflowName != "Team flow" {
			t.Errorf("viewer usage = %+v", u)
		}

		// Explicit range and workflow; dates are UTC midnights.
		q := url.Values{"since": {now.Add(-90 * time.Minute).Format(time.RFC3339)}, "until": {now.Add(time.Minute).Format(time.RFC3339)},
			"workflow_id": {teamFlow.ID}}
		e.call(http.MethodGet, "/api/v1/usage?"+q.Encode(), f.token(domain.RoleAdmin), nil, http.StatusOK, &u)
		if u.Totals.TokensIn != 500 || u.Totals.Steps != 1 || len(u.ByDay) != 1 || u.ByDay[0].Day != u.Since.Format(time.DateOnly) &&
			u.ByDay[0].Day != now.Format(time.DateOnly) {
			t.Errorf("ranged usage = %+v", u)
		}
		q = url.Values{"since": {now.AddDate(0, 0, -45).Format(time.DateOnly)}, "until": {now.AddDate(0, 0, 1).Format(time.DateOnly)}}
		e.call(http.MethodGet, "/api/v1/usage?"+q.Encode(), f.token(domain.RoleAdmin), nil, http.StatusOK, &u)
		if u.Totals.Steps != 4 || u.Since.Hour() != 0 {
			t.Errorf("usage by dates = %+v", u.Totals)
		}

		// The other organization's usage is its own.
		e.call(http.MethodGet, "/api/v1/usage", other.token(domain.RoleAdmin), nil, http.StatusOK, &u)
		if u.Totals.TokensIn != 7 || u.Totals.Steps != 1 {
			t.Errorf("other organization's usage = %+v", u.Totals)
		}

		for _, bad := range []string{"since=yesterday", "since=2026-01-02&until=2026-01-01", "since=2024-01-01&until=2026-01-01", "workflow_id=nope"} {
			e.call(http.MethodGet, "/api/v1/usage?"+bad, f.token(domain.RoleAdmin), nil, http.StatusUnprocessableEntity, nil)
		}
	})
}
