package storetest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

func testProviderCredentials(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "creds-a")
	b := NewFixture(t, s, "creds-b")
	scopeA, scopeB := domain.OrgScope(a.Org.ID), domain.OrgScope(b.Org.ID)

	first := &domain.ProviderCredential{Provider: "openai", StoredKey: "v1:k1:sealed-one", KeyHint: "…abcd", CreatedBy: a.Admin.ID}
	var created bool
	mustWrite(t, s, scopeA, func(tx domain.Tx) (err error) {
		created, err = tx.PutProviderCredential(first)
		return err
	})
	if !created || first.ID == "" || first.OrgID != a.Org.ID || first.CreatedAt.IsZero() {
		t.Fatalf("first put: created %v, %+v", created, first)
	}

	// A second put replaces the key and base URL, keeps identity and author.
	second := &domain.ProviderCredential{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", StoredKey: "v1:k2:sealed-two",
		KeyHint: "…wxyz", CreatedBy: "usr_someoneelse"}
	mustWrite(t, s, scopeA, func(tx domain.Tx) (err error) {
		created, err = tx.PutProviderCredential(second)
		return err
	})
	if created || second.ID != first.ID || second.CreatedBy != a.Admin.ID || !sameInstant(second.CreatedAt, first.CreatedAt) {
		t.Errorf("replacing put: created %v, %+v (first %+v)", created, second, first)
	}
	mustWrite(t, s, scopeA, func(tx domain.Tx) error {
		_, err := tx.PutProviderCredential(&domain.ProviderCredential{Provider: "anthropic", StoredKey: "v1:k2:x", CreatedBy: a.Admin.ID})
		return err
	})
	mustRead(t, s, scopeA, func(q domain.Queries) error {
		got, err := q.GetProviderCredential("openai")
		if err != nil {
			return err
		}
		if got.StoredKey != "v1:k2:sealed-two" || got.BaseURL != "http://127.0.0.1:11434/v1" || got.KeyHint != "…wxyz" ||
			!sameInstant(got.UpdatedAt, second.UpdatedAt) {
			t.Errorf("get = %+v", got)
		}
		list, next, err := q.ListProviderCredentials(domain.Page{})
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].Provider != "anthropic" || list[1].Provider != "openai" || next != "" {
			t.Errorf("list = %+v, next %q", list, next)
		}
		return nil
	})

	// Another organization sees none of it and has its own namespace.
	mustRead(t, s, scopeB, func(q domain.Queries) error {
		_, err := q.GetProviderCredential("openai")
		wantCode(t, err, domain.ECodeNotFound)
		list, _, err := q.ListProviderCredentials(domain.Page{})
		if err != nil || len(list) != 0 {
			t.Errorf("other org lists %+v, %v", list, err)
		}
		return nil
	})
	err := s.Write(ctx, scopeB, func(tx domain.Tx) error { return tx.DeleteProviderCredential("openai") })
	wantCode(t, err, domain.ECodeNotFound)
	mustWrite(t, s, scopeB, func(tx domain.Tx) error {
		created, err := tx.PutProviderCredential(&domain.ProviderCredential{Provider: "openai", StoredKey: "v1:k1:b", CreatedBy: b.Admin.ID})
		if err == nil && !created {
			t.Error("the other organization's first put did not create")
		}
		return err
	})

	mustWrite(t, s, scopeA, func(tx domain.Tx) error { return tx.DeleteProviderCredential("openai") })
	mustRead(t, s, scopeA, func(q domain.Queries) error {
		_, err := q.GetProviderCredential("openai")
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
	err = s.Write(ctx, scopeA, func(tx domain.Tx) error { return tx.DeleteProviderCredential("openai") })
	wantCode(t, err, domain.ECodeNotFound)
	mustRead(t, s, scopeB, func(q domain.Queries) error {
		got, err := q.GetProviderCredential("openai")
		if err != nil || got.StoredKey != "v1:k1:b" {
			t.Errorf("deleting A's credential touched B's: %+v, %v", got, err)
		}
		return nil
	})
	t.Run("Paging", func(t *testing.T) { testProviderCredentialPaging(t, s) })
}

// testProviderCredentialPaging pages an organization's credentials by
// provider name, without another organization's.
func testProviderCredentialPaging(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "creds-page")
	g := NewFixture(t, s, "creds-page-other")
	names := []string{"vllm", "anthropic", "ollama", "openai", "groq"}
	for _, name := range names {
		mustWrite(t, s, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
			_, err := tx.PutProviderCredential(&domain.ProviderCredential{Provider: name, StoredKey: "v1:k1:" + name, CreatedBy: f.Admin.ID})
			return err
		})
	}
	// The other organization's "mistral" sorts between f's names.
	mustWrite(t, s, domain.OrgScope(g.Org.ID), func(tx domain.Tx) error {
		_, err := tx.PutProviderCredential(&domain.ProviderCredential{Provider: "mistral", StoredKey: "v1:k1:m", CreatedBy: g.Admin.ID})
		return err
	})
	var got []string
	cursor, pages := "", 0
	for {
		var list []domain.ProviderCredential
		var next string
		mustRead(t, s, domain.OrgScope(f.Org.ID), func(q domain.Queries) error {
			var err error
			list, next, err = q.ListProviderCredentials(domain.Page{Limit: 2, Cursor: cursor})
			return err
		})
		pages++
		if len(list) > 2 {
			t.Fatalf("page %d has %d credentials, limit 2", pages, len(list))
		}
		for _, c := range list {
			got = append(got, c.Provider)
		}
		if next == "" || pages > 10 {
			break
		}
		cursor = next
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("paged providers over %d pages = %v, want %v over 3", pages, got, want)
	}
	// An exact page ends without a cursor.
	mustRead(t, s, domain.OrgScope(f.Org.ID), func(q domain.Queries) error {
		list, next, err := q.ListProviderCredentials(domain.Page{Limit: len(names)})
		if err == nil && (len(list) != len(names) || next != "") {
			t.Errorf("one exact page = %d, next %q", len(list), next)
		}
		return err
	})
	for _, bad := range []string{"not-a-cursor!", strings.Repeat("A", 201)} {
		err := s.Read(ctx, domain.OrgScope(f.Org.ID), func(q domain.Queries) error {
			_, _, err := q.ListProviderCredentials(domain.Page{Cursor: bad})
			return err
		})
		wantCode(t, err, domain.ECodeBadRequest)
	}
}

func testProviderCredentialConcurrentPuts(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "creds-race")
	scope := domain.OrgScope(f.Org.ID)
	const writers = 6
	errs := make([]error, writers)
	createdBy := make([]bool, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Write(ctx, scope, func(tx domain.Tx) (err error) {
				createdBy[i], err = tx.PutProviderCredential(&domain.ProviderCredential{Provider: "anthropic",
					StoredKey: fmt.Sprintf("v1:k1:%d", i), CreatedBy: f.Admin.ID})
				return err
			})
		}()
	}
	wg.Wait()
	creators := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		if createdBy[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d writers created the credential, want 1", creators)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		list, _, err := q.ListProviderCredentials(domain.Page{})
		if err == nil && len(list) != 1 {
			t.Errorf("concurrent puts left %d rows", len(list))
		}
		return err
	})
}

// usageStep is a recorded step, written the way the engine records one.
type usageStep struct {
	execution, node, model string
	in, out, cached        int64
	cost                   float64
	finished               *time.Time
}

func insertUsageStep(tx domain.Tx, orgID string, st usageStep) error {
	var finished any
	if st.finished != nil {
		finished = st.finished.UTC()
	}
	_, err := tx.SQL().ExecContext(ctx, `INSERT INTO execution_steps (id, org_id, execution_id, node_id, node_type, status,
		model, tokens_in, tokens_out, tokens_cached, cost_usd, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		domain.NewID(domain.PrefixStep), orgID, st.execution, st.node, "llm", "succeeded",
		st.model, st.in, st.out, st.cached, st.cost, finished)
	return err
}

func testUsage(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "usage-a")
	b := NewFixture(t, s, "usage-b")
	scope := domain.OrgScope(a.Org.ID)
	other := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Other"}
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateTeam(other) })
	triage := NewWorkflow(t, s, scope, a.Admin.ID, a.Team.ID, "Triage")
	digest := NewWorkflow(t, s, scope, a.Admin.ID, other.ID, "Digest")
	foreign := NewWorkflow(t, s, domain.OrgScope(b.Org.ID), b.Admin.ID, "", "Foreign")

	day1 := time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)
	day2 := time.Date(2026, 3, 2, 0, 0, 1, 0, time.UTC)
	before := time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC)
	since, until := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)

	exec := func(scope domain.Scope, w *domain.Workflow) string {
		e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), TeamID: w.TeamID, WorkflowID: w.ID, WorkflowVersion: 1,
			Status: domain.ExecutionSucceeded, Trigger: domain.TriggerManual}
		mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateExecution(e) })
		return e.ID
	}
	e1, e2, e3 := exec(scope, triage), exec(scope, digest), exec(scope, triage)
	eb := exec(domain.OrgScope(b.Org.ID), foreign)
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		for _, st := range []usageStep{
			{e1, "classify", "openai:gpt-4o-mini", 1000, 200, 400, 0.000255, &day1},
			{e1, "shape", "", 0, 0, 0, 0, &day1}, // a transform: counted as a step, no model
			{e1, "summarize", "anthropic:claude-haiku-4-5", 300, 100, 0, 0.0008, &day2},
			{e2, "digest", "openai:gpt-4o-mini", 5000, 1000, 0, 0.00135, &day2},
			{e3, "classify", "openai:gpt-4o-mini", 9999, 9999, 0, 1, &before}, // before the range
			{e3, "running", "openai:gpt-4o-mini", 7, 7, 0, 1, nil},            // not finished
		} {
			if err := insertUsageStep(tx, a.Org.ID, st); err != nil {
				return err
			}
		}
		return nil
	})
	mustWrite(t, s, domain.OrgScope(b.Org.ID), func(tx domain.Tx) error {
		return insertUsageStep(tx, b.Org.ID, usageStep{eb, "x", "openai:gpt-4o", 1, 1, 0, 5, &day1})
	})

	var r *domain.UsageReport
	mustRead(t, s, scope, func(q domain.Queries) (err error) {
		r, err = q.Usage(domain.UsageFilter{Since: since, Until: until})
		return err
	})
	wantTotals := func(what string, got domain.UsageTotals, in, out, cached int64, cost float64, steps, executions int64) {
		t.Helper()
		if got.TokensIn != in || got.TokensOut != out || got.TokensCached != cached || math.Abs(got.CostUSD-cost) > 1e-12 ||
			got.Steps != steps || got.Executions != executions {
			t.Errorf("%s = %+v, want in %d out %d cached %d cost %g steps %d executions %d", what, got, in, out, cached, cost, steps, executions)
		}
	}
	wantTotals("totals", r.Totals, 6300, 1300, 400, 0.002405, 4, 2)
	if len(r.ByDay) != 2 || r.ByDay[0].Day != "2026-03-01" || r.ByDay[1].Day != "2026-03-02" {
		t.Fatalf("by day = %+v", r.ByDay)
	}
	wantTotals("2026-03-01", r.ByDay[0].UsageTotals, 1000, 200, 400, 0.000255, 2, 1)
	wantTotals("2026-03-02", r.ByDay[1].UsageTotals, 5300, 1100, 0, 0.00215, 2, 2)
	if len(r.ByWorkflow) != 2 || r.ByWorkflow[0].WorkflowID != digest.ID || r.ByWorkflow[0].WorkflowName != "Digest" ||
		r.ByWorkflow[1].WorkflowName != "Triage" {
		t.Fatalf("by workflow = %+v", r.ByWorkflow)
	}
	wantTotals("Triage", r.ByWorkflow[1].UsageTotals, 1300, 300, 400, 0.001055, 3, 1)
	if len(r.ByModel) != 2 || r.ByModel[0].Model != "openai:gpt-4o-mini" || r.ByModel[1].Model != "anthropic:claude-haiku-4-5" {
		t.Fatalf("by model = %+v", r.ByModel)
	}
	wantTotals("gpt-4o-mini", r.ByModel[0].UsageTotals, 6000, 1200, 400, 0.001605, 2, 2)

	// One workflow; and a member of the first team, who does not see the
	// other team's executions.
	mustRead(t, s, scope, func(q domain.Queries) (err error) {
		r, err = q.Usage(domain.UsageFilter{Since: since, Until: until, WorkflowID: digest.ID})
		return err
	})
	wantTotals("digest only", r.Totals, 5000, 1000, 0, 0.00135, 1, 1)
	mustRead(t, s, domain.Scope{OrgID: a.Org.ID, TeamID: a.Team.ID}, func(q domain.Queries) (err error) {
		r, err = q.Usage(domain.UsageFilter{Since: since, Until: until})
		return err
	})
	wantTotals("team member", r.Totals, 1300, 300, 400, 0.001055, 3, 1)

	// An empty range is all zeros with empty (not nil) lists.
	mustRead(t, s, scope, func(q domain.Queries) (err error) {
		r, err = q.Usage(domain.UsageFilter{Since: until, Until: until.Add(time.Hour)})
		return err
	})
	wantTotals("empty range", r.Totals, 0, 0, 0, 0, 0, 0)
	if r.ByDay == nil || r.ByWorkflow == nil || r.ByModel == nil || len(r.ByDay)+len(r.ByWorkflow)+len(r.ByModel) != 0 {
		t.Errorf("empty report = %+v", r)
	}
}
