package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
)

// VerifyChain verifies an organization's chain from its checkpoint and
// returns the first break (nil when intact) and the rows checked.
func VerifyChain(t *testing.T, s domain.Store, orgID string) (*audit.Break, int64) {
	t.Helper()
	rep, err := audit.VerifyChain(ctx, s, domain.SystemScope(domain.SystemAuditCheck), orgID)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep.Break, rep.Checked
}

func testAuditChain(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "chain")
	scope := domain.OrgScope(f.Org.ID)
	for i := range 5 {
		mustWrite(t, s, scope, func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{UserID: f.Admin.ID, Action: "workflow.created", ResourceType: "workflow",
				ResourceID: fmt.Sprintf("wf_%d", i), Success: true,
				Details: map[string]any{"name": "flow", "i": i, "nested": map[string]any{"z": 1, "a": []any{true, nil, 2.5}}}})
			if i == 2 {
				tx.Audit(domain.AuditEvent{Action: "workflow.updated", Success: true, OrgID: "org_someone_else"})
			}
			return nil
		})
	}
	brk, checked := VerifyChain(t, s, f.Org.ID)
	if brk != nil || checked != 6 {
		t.Fatalf("verify = %+v after %d rows, want intact after 6", brk, checked)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		rows, err := q.ListAudit(domain.AuditFilter{})
		if err != nil {
			return err
		}
		if len(rows) != 6 || rows[0].Seq != 6 || rows[5].Seq != 1 {
			t.Fatalf("ListAudit returned %d rows, want 6 newest first", len(rows))
		}
		for _, r := range rows {
			if r.OrgID != f.Org.ID {
				t.Errorf("a tenant transaction wrote into chain %q", r.OrgID)
			}
		}
		if rows[5].Details["nested"].(map[string]any)["z"] != 1.0 {
			t.Errorf("details round trip = %v", rows[5].Details)
		}
		return nil
	})
	// The installation chain is written from the system scope.
	mustWrite(t, s, domain.SystemScope(domain.SystemLogin), func(tx domain.Tx) error {
		tx.Audit(domain.AuditEvent{OrgID: domain.InstallationOrgID, Action: "auth.login_failed", ErrorMessage: "unknown user"})
		return nil
	})
	if brk, checked := VerifyChain(t, s, domain.InstallationOrgID); brk != nil || checked < 1 {
		t.Errorf("installation chain: %+v, %d rows", brk, checked)
	}
}

func testAuditRollsBack(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "rollback")
	scope := domain.OrgScope(f.Org.ID)
	boom := errors.New("boom")
	err := s.Write(ctx, scope, func(tx domain.Tx) error {
		if err := tx.CreateTeam(&domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Ghost"}); err != nil {
			return err
		}
		tx.Audit(domain.AuditEvent{Action: "team.created", Success: true})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		rows, err := q.ListAudit(domain.AuditFilter{})
		if len(rows) != 0 {
			t.Errorf("a rolled-back change left %d audit rows", len(rows))
		}
		n, _ := q.CountTeams()
		if n != 1 {
			t.Errorf("a rolled-back change left its team")
		}
		return err
	})
}

func testAuditConcurrent(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "concurrent")
	scope := domain.OrgScope(f.Org.ID)
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Write(ctx, scope, func(tx domain.Tx) error {
				tx.Audit(domain.AuditEvent{Action: "auth.login", Success: true, Details: map[string]any{"writer": i}})
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent audit write: %v", err)
		}
	}
	brk, checked := VerifyChain(t, s, f.Org.ID)
	if brk != nil || checked != writers {
		t.Fatalf("after %d concurrent writers: break %+v, %d rows", writers, brk, checked)
	}
}

func testAuditFilters(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "filters")
	scope := domain.OrgScope(f.Org.ID)
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		tx.Audit(domain.AuditEvent{Action: "workflow.created", ResourceType: "workflow", ResourceID: "wf_1", UserID: "usr_a", Success: true})
		tx.Audit(domain.AuditEvent{Action: "workflow.deleted", ResourceType: "workflow", ResourceID: "wf_1", UserID: "usr_b", Success: true})
		tx.Audit(domain.AuditEvent{Action: "auth.login_failed", UserID: "usr_a", Success: false})
		tx.Audit(domain.AuditEvent{Action: "workflow_x.created", Success: true})
		return nil
	})
	cases := []struct {
		name string
		f    domain.AuditFilter
		want int
	}{
		{"exact action", domain.AuditFilter{Action: "workflow.created"}, 1},
		{"prefix with star", domain.AuditFilter{Action: "workflow.*"}, 2},
		{"prefix with dot", domain.AuditFilter{Action: "workflow."}, 2},
		{"underscore is literal", domain.AuditFilter{Action: "workflow_*"}, 1},
		{"user", domain.AuditFilter{UserID: "usr_a"}, 2},
		{"resource", domain.AuditFilter{ResourceType: "workflow", ResourceID: "wf_1"}, 2},
		{"failures", domain.AuditFilter{Success: ptr(false)}, 1},
		{"cursor", domain.AuditFilter{BeforeSeq: 3}, 2},
		{"limit", domain.AuditFilter{Limit: 1}, 1},
		{"future", domain.AuditFilter{Since: ptr(time.Now().Add(time.Hour))}, 0},
	}
	for _, c := range cases {
		mustRead(t, s, scope, func(q domain.Queries) error {
			rows, err := q.ListAudit(c.f)
			if len(rows) != c.want {
				t.Errorf("%s: %d rows, want %d", c.name, len(rows), c.want)
			}
			return err
		})
	}
	other := NewFixture(t, s, "filtersother")
	mustRead(t, s, domain.OrgScope(other.Org.ID), func(q domain.Queries) error {
		rows, err := q.ListAudit(domain.AuditFilter{})
		if len(rows) != 0 {
			t.Errorf("another organization sees %d audit rows", len(rows))
		}
		if _, err := q.AuditChain(f.Org.ID, 0, 10); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("reading another organization's chain: %v", err)
		}
		return err
	})
}

func testAuditRetention(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "retention")
	scope := domain.OrgScope(f.Org.ID)
	for i := range 4 {
		mustWrite(t, s, scope, func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{Action: "team.updated", Success: true, Details: map[string]any{"i": i}})
			return nil
		})
	}
	var cutoff time.Time
	mustRead(t, s, scope, func(q domain.Queries) error {
		rows, err := q.ListAudit(domain.AuditFilter{})
		cutoff = rows[1].CreatedAt // rows are newest first: keep the newest two... and anything at the same instant
		return err
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		tx.Audit(domain.AuditEvent{Action: "team.updated", Success: true})
		return nil
	})
	var removed int64
	mustWrite(t, s, domain.SystemScope(domain.SystemRetention), func(tx domain.Tx) error {
		var err error
		removed, err = tx.PruneAudit(cutoff)
		return err
	})
	if removed < 1 {
		t.Fatalf("retention removed %d rows", removed)
	}
	brk, checked := VerifyChain(t, s, f.Org.ID)
	if brk != nil {
		t.Fatalf("verification after pruning: %+v", brk)
	}
	if checked+removed != 5 {
		t.Errorf("checked %d + removed %d != 5 rows written", checked, removed)
	}
}

// testAuditManyRows: one transaction appending more rows than one
// statement can carry on PostgreSQL (65,535 parameters, 17 a row) links
// them all into an intact chain, and the next transaction continues it.
func testAuditManyRows(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "bulkaudit")
	scope := domain.OrgScope(f.Org.ID)
	const n = 4000
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		for i := range n {
			tx.Audit(domain.AuditEvent{UserID: f.Admin.ID, Action: "user.updated", ResourceType: "user",
				ResourceID: fmt.Sprintf("usr_%d", i), Success: true})
		}
		return nil
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		tx.Audit(domain.AuditEvent{UserID: f.Admin.ID, Action: "team.created", Success: true})
		return nil
	})
	if brk, checked := VerifyChain(t, s, f.Org.ID); brk != nil || checked != n+1 {
		t.Fatalf("verify = %+v after %d rows, want intact after %d", brk, checked, n+1)
	}
}
