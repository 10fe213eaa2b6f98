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
	// CountExecutionStart counts in the same month's counter.
	var hour int
	mustWrite(t, s, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		month, lastHour, running, err := tx.CountExecutionStart(dec.Add(-time.Hour), dec, 1)
		if err == nil && (month != 3+workers*each || lastHour < 1 || running != 0) {
			t.Errorf("CountExecutionStart = %d, %d, %d; want %d this month, its own start in the hour, none running",
				month, lastHour, running, 3+workers*each)
		}
		hour = lastHour
		return err
	})
	// Several starts count at once; none is not a count.
	mustWrite(t, s, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		month, lastHour, _, err := tx.CountExecutionStart(dec.Add(-time.Hour), dec, 4)
		if err == nil && (month != 7+workers*each || lastHour != hour+4) {
			t.Errorf("4 starts: CountExecutionStart = %d this month, %d in the hour; want %d, %d", month, lastHour, 7+workers*each, hour+4)
		}
		return err
	})
	err = s.Write(ctx, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		_, _, _, err := tx.CountExecutionStart(dec.Add(-time.Hour), dec, 0)
		return err
	})
	if err == nil {
		t.Error("CountExecutionStart counted no starts")
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

// testExecutionStartsPerHour: the last hour's starts are counted per
// minute, per organization, only for starts that committed; the sweeper's
// prune drops old minutes and nothing newer.
func testExecutionStartsPerHour(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "hourlya")
	b := NewFixture(t, s, "hourlyb")
	// start counts a start at at as the engine does and returns the last
	// hour's starts it sees, its own included.
	start := func(f Fixture, at time.Time, fail bool) (lastHour int) {
		t.Helper()
		err := s.Write(ctx, domain.OrgScope(f.Org.ID), func(tx domain.Tx) error {
			var err error
			if _, lastHour, _, err = tx.CountExecutionStart(at.Add(-time.Hour), at, 1); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatal(err)
		}
		return lastHour
	}
	counts := func(f Fixture, hourStart time.Time) int {
		t.Helper()
		var n int
		mustRead(t, s, domain.OrgScope(f.Org.ID), func(q domain.Queries) error {
			var err error
			n, _, err = q.ExecutionCounts(hourStart, hourStart, 0)
			return err
		})
		return n
	}
	t0 := time.Date(2026, 11, 29, 10, 0, 30, 0, time.UTC)
	start(a, t0.Add(-90*time.Minute), false) // outside the hour
	start(a, t0.Add(-59*time.Minute), false)
	start(a, t0.Add(-time.Minute), false)
	start(a, t0, false)
	if n := start(a, t0.Add(time.Second), false); n != 4 { // same minute
		t.Errorf("the start at %s sees %d starts in its hour, want 4 (itself included)", t0.Add(time.Second), n)
	}
	start(a, t0, true) // rolled back
	start(b, t0, false)
	if n := counts(a, t0.Add(-time.Hour)); n != 4 {
		t.Errorf("a's last hour = %d, want 4", n)
	}
	if n := counts(a, t0); n != 2 {
		t.Errorf("a's starts since this minute = %d, want 2", n)
	}
	if n := counts(b, t0.Add(-time.Hour)); n != 1 {
		t.Errorf("b's last hour = %d, want 1 (counts are per organization)", n)
	}
	err := s.Write(ctx, domain.SystemScope(domain.SystemRetention), func(tx domain.Tx) error {
		n, err := tx.PruneExecutionStartMinutes(t0.Add(-time.Hour))
		if n != 1 {
			t.Errorf("pruned %d minutes, want the one older than the hour", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := counts(a, t0.Add(-2*time.Hour)); n != 4 {
		t.Errorf("after the prune a's two hours = %d, want 4", n)
	}
	err = s.Write(ctx, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		_, err := tx.PruneExecutionStartMinutes(t0)
		return err
	})
	if err == nil {
		t.Error("a tenant scope pruned every organization's counts")
	}
}

// testStartsKeepTheAuditChain: a start counted with CountExecutionStart
// (which on PostgreSQL takes the audit-chain head in the same round trip)
// chains its audit row correctly, concurrently with other starts and with
// other audited writes of the organization, and after a savepoint that
// counted a start was rolled back (which releases the head).
func testStartsKeepTheAuditChain(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "startchain")
	scope := domain.OrgScope(f.Org.ID)
	_, before := VerifyChain(t, s, f.Org.ID)
	at := time.Now().UTC()
	start := func(tx domain.Tx) error {
		if _, _, _, err := tx.CountExecutionStart(at.Add(-time.Hour), at, 1); err != nil {
			return err
		}
		tx.Audit(domain.AuditEvent{Action: "execution.started", ResourceType: "execution", Success: true})
		return nil
	}
	const workers, each = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for i := range workers {
		wg.Go(func() {
			for range each {
				if i%2 == 0 {
					errs <- s.Write(ctx, scope, start)
					continue
				}
				// An audited write that does not count a start.
				errs <- s.Write(ctx, scope, func(tx domain.Tx) error {
					tx.Audit(domain.AuditEvent{Action: "team.viewed", Success: true})
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// rolledBack counts a start in a savepoint that then rolls back.
	rolledBack := func(tx domain.Tx) {
		if err := tx.Savepoint(func() error {
			if err := start(tx); err != nil {
				return err
			}
			return errors.New("no room")
		}); err == nil {
			t.Error("the savepoint did not fail")
		}
	}
	// A counted start rolled back to its savepoint, then counted again.
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		rolledBack(tx)
		return start(tx)
	})
	extra := int64(0)
	if s.Kind() == "postgres" {
		// The rolled-back savepoint released the head: another writer
		// appends meanwhile, and this transaction's append must chain
		// after it. (SQLite's writer lock admits no other writer here.)
		mustWrite(t, s, scope, func(tx domain.Tx) error {
			rolledBack(tx)
			if err := s.Write(ctx, scope, func(other domain.Tx) error {
				other.Audit(domain.AuditEvent{Action: "team.viewed", Success: true})
				return nil
			}); err != nil {
				return err
			}
			tx.Audit(domain.AuditEvent{Action: "execution.started", ResourceType: "execution", Success: true})
			return nil
		})
		extra = 2
	}
	brk, checked := VerifyChain(t, s, f.Org.ID)
	if want := before + workers*each + 1 + extra; brk != nil || checked != want {
		t.Errorf("chain after concurrent starts: %+v after %d rows, want %d intact rows", brk, checked, want)
	}
}
