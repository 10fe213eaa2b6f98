package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// TestPrincipalMemoFollowsTheDatabase: a SQLite reader connection settles
// a principal check from its memory only while the database is unchanged;
// a change committed by the store's own writer, by another process's
// connections to the same file, or to any other row is seen by the next
// check, which reads the principal's rows again.
func TestPrincipalMemoFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t, sqlstore.KindSQLite)
	// One reader connection, so consecutive reads share its memory.
	s, err := sqlstore.Open(ctx, sqlstore.Options{Kind: db.Kind, Path: db.Path, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	other := dbtest.Open(t, db) // another process's connections
	f := storetest.NewFixture(t, s, "memo")
	scope := domain.OrgScope(f.Org.ID)
	sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.Write(ctx, scope, func(tx domain.Tx) error { return tx.CreateSession(sess) }); err != nil {
		t.Fatal(err)
	}
	errEnded := errors.New("session ended")

	// confirm reads with a principal check and returns the role its rows
	// made and whether the memory settled it.
	confirm := func(t *testing.T) (domain.Role, bool, error) {
		t.Helper()
		c := domain.NewPrincipalCheck(f.Org.ID, f.Admin.ID, sess.ID, func(u *domain.User, ss *domain.Session, o *domain.Organization) (*domain.Principal, error) {
			if u == nil || ss.RevokedAt != nil || !u.IsActive || !o.IsActive {
				return nil, errEnded
			}
			return &domain.Principal{UserID: u.ID, Role: u.Role}, nil
		})
		hits := s.MemoHits()
		err := s.Read(domain.WithPrincipalCheck(ctx, c), scope, func(q domain.Queries) error {
			_, err := q.GetWorkflow("missing") // the read's own statement runs after the check
			if domain.IsCode(err, domain.ECodeNotFound) {
				return nil
			}
			return err
		})
		settled, p, cerr := c.Settled()
		if !settled {
			t.Fatalf("the read did not settle the check (read: %v)", err)
		}
		if !errors.Is(err, cerr) {
			t.Fatalf("read returned %v, check %v", err, cerr)
		}
		var role domain.Role
		if p != nil {
			role = p.Role
		}
		return role, s.MemoHits() > hits, err
	}
	expect := func(t *testing.T, step string, wantRole domain.Role, wantMemo bool, wantErr error) {
		t.Helper()
		role, memo, err := confirm(t)
		if role != wantRole || memo != wantMemo || !errors.Is(err, wantErr) {
			t.Errorf("%s: role %q, from memory %v, error %v; want %q, %v, %v", step, role, memo, err, wantRole, wantMemo, wantErr)
		}
	}
	setRole := func(t *testing.T, st *sqlstore.Store, role domain.Role) {
		t.Helper()
		if err := st.Write(ctx, scope, func(tx domain.Tx) error {
			u, err := tx.GetUser(f.Admin.ID)
			if err != nil {
				return err
			}
			u.Role = role
			return tx.UpdateUser(u)
		}); err != nil {
			t.Fatal(err)
		}
	}

	expect(t, "first check", domain.RoleAdmin, false, nil)
	expect(t, "second check", domain.RoleAdmin, true, nil)

	setRole(t, other, domain.RoleViewer)
	expect(t, "after another process changed the role", domain.RoleViewer, false, nil)
	expect(t, "again", domain.RoleViewer, true, nil)

	setRole(t, s, domain.RoleDeveloper)
	expect(t, "after this store changed the role", domain.RoleDeveloper, false, nil)
	expect(t, "again", domain.RoleDeveloper, true, nil)

	// A commit to unrelated rows empties the memory as well.
	storetest.NewFixture(t, other, "memo-unrelated")
	expect(t, "after an unrelated commit", domain.RoleDeveloper, false, nil)

	if err := other.Write(ctx, scope, func(tx domain.Tx) error {
		return tx.RevokeSession(sess.ID, "test", time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	expect(t, "after the session was revoked", "", false, errEnded)
	expect(t, "again", "", true, errEnded) // the memory holds rows, not verdicts
}

// BenchmarkPrincipalCheckRead is a GET's read on SQLite: a transaction
// that settles the request's principal check and reads one row, with the
// database unchanged since the previous read (the connection's memory
// settles the check) and changed by a commit before each read (the
// principal statement runs).
func BenchmarkPrincipalCheckRead(b *testing.B) {
	for _, changed := range []bool{false, true} {
		name := "unchanged"
		if changed {
			name = "changed"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := dbtest.Open(b, dbtest.New(b, sqlstore.KindSQLite))
			f := storetest.NewFixture(&testing.T{}, s, "memobench")
			scope := domain.OrgScope(f.Org.ID)
			sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.Write(ctx, scope, func(tx domain.Tx) error { return tx.CreateSession(sess) }); err != nil {
				b.Fatal(err)
			}
			hits := s.MemoHits()
			b.ResetTimer()
			for i := range b.N {
				if changed {
					b.StopTimer()
					// A commit that changes nothing leaves the database's
					// data version, and the memory, as they were.
					if _, err := s.DB().ExecContext(ctx, `UPDATE organizations SET name = $2 WHERE id = $1`, f.Org.ID, fmt.Sprint("memobench ", i)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				c := domain.NewPrincipalCheck(f.Org.ID, f.Admin.ID, sess.ID, func(*domain.User, *domain.Session, *domain.Organization) (*domain.Principal, error) {
					return &domain.Principal{}, nil
				})
				if err := s.Read(domain.WithPrincipalCheck(ctx, c), scope, func(q domain.Queries) error {
					_, err := q.GetUser(f.Admin.ID)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.MemoHits()-hits)/float64(b.N), "memo-hits/op")
		})
	}
}
