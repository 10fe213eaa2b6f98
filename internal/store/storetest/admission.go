package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// testExecutionStarts: the month's counter adds per organization, restarts
// in a new month, is not moved back by an older month, and counts every
// concurrent start exactly once.
func testExecutionStarts(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "startsa")
	b := NewFixture(t, s, "startsb")
	count := func(f Fixture, at time.Time, add int) int {
		t.Helper()
		var n int
		err := s.Write(ctx, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
			var err error
			n, err = tx.CountExecutionStarts(at, add)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	nov := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	dec := time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	if n := count(a, nov, 0); n != 0 {
		t.Errorf("a fresh organization's count = %d, want 0", n)
	}
	for want := 1; want <= 3; want++ {
		if n := count(a, nov, 1); n != want {
			t.Errorf("start %d: count = %d", want, n)
		}
	}
	if n := count(b, nov, 1); n != 1 {
		t.Errorf("another organization's count = %d, want 1 (counters are per organization)", n)
	}
	if n := count(a, dec, 1); n != 1 {
		t.Errorf("first start of December = %d, want 1", n)
	}
	if n := count(a, nov, 1); n != 2 {
		t.Errorf("a start stamped a moment before the turn of the month = %d, want 2 (added to December)", n)
	}
	// A start that rolls back is not counted.
	err := s.Write(ctx, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		if _, err := tx.CountExecutionStarts(dec, 1); err != nil {
			return err
		}
		return errors.New("refused")
	})
	if err == nil {
		t.Fatal("the failing write succeeded")
	}
	const workers, each = 8, 5
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_ = s.Write(ctx, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
					_, err := tx.CountExecutionStarts(dec, 1)
					return err
				})
			}
		})
	}
	wg.Wait()
	if n := count(a, dec, 0); n != 2+workers*each {
		t.Errorf("after %d concurrent starts the count = %d, want %d", workers*each, n, 2+workers*each)
	}
}

// testSavepoint: a failed savepoint undoes its own writes, audit events and
// after-commit functions and nothing else; a successful one commits with
// the transaction.
func testSavepoint(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "savepoint")
	boom := errors.New("boom")
	ran := map[string]int{}
	team := func(tx domain.Tx, name string) error {
		tx.Audit(domain.AuditEvent{Action: "team.created", Success: true, Details: map[string]any{"name": name}})
		tx.AfterCommit(func() { ran[name]++ })
		return tx.CreateTeam(&domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: name})
	}
	err := s.Write(ctx, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
		if err := team(tx, "Before"); err != nil {
			return err
		}
		if err := tx.Savepoint(func() error {
			if err := team(tx, "Undone"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Errorf("failed savepoint returned %v, want its error", err)
		}
		if err := tx.Savepoint(func() error { return team(tx, "Kept") }); err != nil {
			return err
		}
		// The name is free again: the undone insert is gone.
		return team(tx, "Undone")
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRead(t, s, domain.OrgScope(f.Org.ID), func(q domain.Queries) error {
		n, err := q.CountTeams()
		if n != 4 {
			t.Errorf("%d teams, want 4 (Default, Before, Kept, Undone once)", n)
		}
		return err
	})
	if ran["Before"] != 1 || ran["Kept"] != 1 || ran["Undone"] != 1 {
		t.Errorf("after-commit functions ran for %v", ran)
	}
	if brk, checked := VerifyChain(t, s, f.Org.ID); brk != nil || checked != 3 {
		t.Errorf("chain: %+v after %d rows, want 3 intact rows (the undone event dropped)", brk, checked)
	}
}
