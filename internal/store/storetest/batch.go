package storetest

import (
	"errors"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// testWriteBatch: items of different organizations share one transaction,
// each in its own scope; a failing item rolls back alone, and the next
// item of the same organization still writes under its scope. A batch of
// one works and fails like a transaction.
func testWriteBatch(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "batcha")
	b := NewFixture(t, s, "batchb")
	boom := errors.New("boom")
	team := func(name string) func(tx domain.Tx) error {
		return func(tx domain.Tx) error {
			tx.Audit(domain.AuditEvent{Action: "team.created", Success: true})
			return tx.CreateTeam(&domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: name})
		}
	}
	items := []domain.BatchItem{
		{Scope: domain.OrgScope(a.Org.ID), Fn: team("One")},
		{Scope: domain.OrgScope(b.Org.ID), Fn: func(tx domain.Tx) error {
			if err := team("Lost")(tx); err != nil {
				return err
			}
			return boom
		}},
		{Scope: domain.OrgScope(b.Org.ID), Fn: team("Two")},
		{Scope: domain.OrgScope(a.Org.ID), Fn: func(tx domain.Tx) error {
			// Writing into another organization's team is refused by scope.
			_, err := tx.GetTeam(b.Team.ID)
			return err
		}},
	}
	if err := s.WriteBatch(ctx, items); err != nil {
		t.Fatal(err)
	}
	if items[0].Err != nil || !errors.Is(items[1].Err, boom) || items[2].Err != nil || !domain.IsCode(items[3].Err, domain.ECodeNotFound) {
		t.Fatalf("item errors = %v, %v, %v, %v", items[0].Err, items[1].Err, items[2].Err, items[3].Err)
	}
	for _, c := range []struct {
		f     Fixture
		teams int
	}{{a, 2}, {b, 2}} {
		mustRead(t, s, domain.OrgScope(c.f.Org.ID), func(q domain.Queries) error {
			n, err := q.CountTeams()
			if n != c.teams {
				t.Errorf("%s has %d teams, want %d (the failed item rolled back alone)", c.f.Org.Name, n, c.teams)
			}
			return err
		})
		if brk, checked := VerifyChain(t, s, c.f.Org.ID); brk != nil || checked != 1 {
			t.Errorf("%s chain: %+v after %d rows, want 1 intact row", c.f.Org.Name, brk, checked)
		}
	}

	one := []domain.BatchItem{{Scope: domain.OrgScope(a.Org.ID), Fn: func(tx domain.Tx) error {
		if err := team("Alone lost")(tx); err != nil {
			return err
		}
		return boom
	}}}
	if err := s.WriteBatch(ctx, one); err != nil || !errors.Is(one[0].Err, boom) {
		t.Fatalf("a failing batch of one: %v, item %v", err, one[0].Err)
	}
	one = []domain.BatchItem{{Scope: domain.OrgScope(a.Org.ID), Fn: team("Alone")}}
	if err := s.WriteBatch(ctx, one); err != nil || one[0].Err != nil {
		t.Fatalf("a batch of one: %v, item %v", err, one[0].Err)
	}
	mustRead(t, s, domain.OrgScope(a.Org.ID), func(q domain.Queries) error {
		n, err := q.CountTeams()
		if n != 3 {
			t.Errorf("%d teams after the batches of one, want 3 (the failed one wrote nothing)", n)
		}
		return err
	})
	if brk, checked := VerifyChain(t, s, a.Org.ID); brk != nil || checked != 2 {
		t.Errorf("chain after the batches of one: %+v after %d rows, want 2 intact rows", brk, checked)
	}
}
