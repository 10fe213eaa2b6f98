package storetest

import (
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

func testSessions(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "sess")
	scope := domain.OrgScope(f.Org.ID)
	now := time.Now().UTC()
	s1 := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, ExpiresAt: now.Add(time.Hour), IPAddress: "203.0.113.7", UserAgent: "curl"}
	s2 := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, ExpiresAt: now.Add(time.Hour)}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		if err := tx.CreateSession(s1); err != nil {
			return err
		}
		return tx.CreateSession(s2)
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		// Within the gap nothing is written; beyond it last_used moves.
		if err := tx.TouchSession(s1.ID, s1.LastUsedAt.Add(10*time.Second), time.Minute); err != nil {
			return err
		}
		return tx.TouchSession(s2.ID, s2.LastUsedAt.Add(2*time.Minute), time.Minute)
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		g1, err := q.GetSession(s1.ID)
		if err != nil {
			return err
		}
		g2, err := q.GetSession(s2.ID)
		if err != nil {
			return err
		}
		if !sameInstant(g1.LastUsedAt, s1.LastUsedAt) {
			t.Errorf("touch within the gap wrote last_used_at")
		}
		if !sameInstant(g2.LastUsedAt, s2.LastUsedAt.Add(2*time.Minute)) {
			t.Errorf("touch beyond the gap did not write last_used_at: %v", g2.LastUsedAt)
		}
		if g1.IPAddress != "203.0.113.7" || !g1.Active(now) {
			t.Errorf("session = %+v", g1)
		}
		list, next, err := q.ListSessions(f.Admin.ID, domain.Page{})
		if len(list) != 2 || next != "" {
			t.Errorf("ListSessions = %d, next %q", len(list), next)
		}
		return err
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.RevokeSession(s1.ID, "logout", now) })
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		n, err := tx.RevokeUserSessions(f.Admin.ID, "password changed", now)
		if n != 1 {
			t.Errorf("RevokeUserSessions revoked %d, want the 1 still active", n)
		}
		return err
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		g1, _ := q.GetSession(s1.ID)
		if g1.RevokedReason != "logout" || g1.Active(now) {
			t.Errorf("revoked session = %+v", g1)
		}
		list, _, err := q.ListSessions(f.Admin.ID, domain.Page{})
		if len(list) != 0 {
			t.Errorf("active sessions after revoking all = %d", len(list))
		}
		return err
	})
	t.Run("Paging", func(t *testing.T) { testSessionPaging(t, s) })
}

// testSessionPaging pages a user's active sessions newest first with ties
// on created_at broken by id, skipping revoked, expired and other users'
// sessions.
func testSessionPaging(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "sess-page")
	scope := domain.OrgScope(f.Org.ID)
	now := time.Now().UTC().Truncate(time.Microsecond)
	base := now.Add(-time.Hour)
	other := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: "other-" + f.Org.ID[4:12] + "@sess-page.example",
		Username: "other-" + f.Org.ID[4:12], Role: domain.RoleViewer, IsActive: true}
	// Offsets in seconds from base; three sessions share base+2s.
	offsets := []int{3, 2, 2, 2, 1, 0}
	var want []domain.Session
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		if err := tx.CreateUser(other); err != nil {
			return err
		}
		for _, off := range offsets {
			se := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID,
				CreatedAt: base.Add(time.Duration(off) * time.Second), ExpiresAt: now.Add(time.Hour)}
			if err := tx.CreateSession(se); err != nil {
				return err
			}
			want = append(want, *se)
		}
		revoked := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, CreatedAt: base.Add(2 * time.Second),
			ExpiresAt: now.Add(time.Hour), RevokedAt: &now, RevokedReason: "logout"}
		expired := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, CreatedAt: base.Add(2 * time.Second),
			ExpiresAt: now.Add(-time.Minute)}
		theirs := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: other.ID, CreatedAt: base.Add(2 * time.Second),
			ExpiresAt: now.Add(time.Hour)}
		for _, se := range []*domain.Session{revoked, expired, theirs} {
			if err := tx.CreateSession(se); err != nil {
				return err
			}
		}
		return nil
	})
	sort.SliceStable(want, func(i, j int) bool {
		if !want[i].CreatedAt.Equal(want[j].CreatedAt) {
			return want[i].CreatedAt.After(want[j].CreatedAt)
		}
		return want[i].ID < want[j].ID
	})
	var got []string
	cursor, pages := "", 0
	for {
		var list []domain.Session
		var next string
		mustRead(t, s, scope, func(q domain.Queries) error {
			var err error
			list, next, err = q.ListSessions(f.Admin.ID, domain.Page{Limit: 2, Cursor: cursor})
			return err
		})
		pages++
		if len(list) > 2 {
			t.Fatalf("page %d has %d sessions, limit 2", pages, len(list))
		}
		for _, se := range list {
			got = append(got, se.ID)
		}
		if next == "" || pages > 10 {
			break
		}
		cursor = next
	}
	var wantIDs []string
	for _, se := range want {
		wantIDs = append(wantIDs, se.ID)
	}
	if !slices.Equal(got, wantIDs) || pages != 3 {
		t.Errorf("paged sessions over %d pages = %v, want %v over 3", pages, got, wantIDs)
	}
	err := s.Read(ctx, scope, func(q domain.Queries) error {
		_, _, err := q.ListSessions(f.Admin.ID, domain.Page{Cursor: "not-a-cursor!"})
		return err
	})
	wantCode(t, err, domain.ECodeBadRequest)
}

func testSingleUseTokens(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "once")
	scope := domain.OrgScope(f.Org.ID)
	now := time.Now().UTC()
	sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: f.Admin.ID, ExpiresAt: now.Add(time.Hour)}
	rt := &domain.RefreshToken{ID: domain.NewID(domain.PrefixRefresh), SessionID: sess.ID, TokenHash: "hash-" + sess.ID, ExpiresAt: now.Add(time.Hour)}
	ott := &domain.OneTimeToken{ID: domain.NewID(domain.PrefixToken), UserID: f.Admin.ID, Purpose: domain.PurposePasswordReset,
		TokenHash: "ott-" + sess.ID, ExpiresAt: now.Add(time.Hour), Data: map[string]string{"email": "x"}}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		if err := tx.CreateSession(sess); err != nil {
			return err
		}
		if err := tx.CreateRefreshToken(rt); err != nil {
			return err
		}
		return tx.CreateOneTimeToken(ott)
	})
	mustRead(t, s, domain.SystemScope(domain.SystemTokenHash), func(q domain.Queries) error {
		got, err := q.GetRefreshTokenByHash(rt.TokenHash)
		if err != nil {
			return err
		}
		if got.SessionID != sess.ID || got.OrgID != f.Org.ID || got.UsedAt != nil {
			t.Errorf("refresh token = %+v", got)
		}
		o, err := q.GetOneTimeTokenByHash(ott.TokenHash)
		if err != nil {
			return err
		}
		if o.Purpose != domain.PurposePasswordReset || o.Data["email"] != "x" {
			t.Errorf("one-time token = %+v", o)
		}
		return nil
	})
	// Many concurrent claims: exactly one wins, for both kinds of token.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Write(ctx, scope, func(tx domain.Tx) error {
				ok1, err := tx.UseRefreshToken(rt.ID, now)
				if err != nil {
					return err
				}
				ok2, err := tx.UseOneTimeToken(ott.ID, now)
				mu.Lock()
				if ok1 {
					wins["refresh"]++
				}
				if ok2 {
					wins["ott"]++
				}
				mu.Unlock()
				return err
			})
		}()
	}
	wg.Wait()
	if wins["refresh"] != 1 || wins["ott"] != 1 {
		t.Errorf("single-use claims won %v times, want exactly once each", wins)
	}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		second := &domain.OneTimeToken{ID: domain.NewID(domain.PrefixToken), UserID: f.Admin.ID, Purpose: domain.PurposePasswordReset,
			TokenHash: "ott2-" + sess.ID, ExpiresAt: now.Add(time.Hour)}
		if err := tx.CreateOneTimeToken(second); err != nil {
			return err
		}
		if err := tx.InvalidateOneTimeTokens(f.Admin.ID, domain.PurposePasswordReset, now); err != nil {
			return err
		}
		ok, err := tx.UseOneTimeToken(second.ID, now)
		if ok {
			t.Errorf("an invalidated token could still be used")
		}
		return err
	})
}

func testAPIKeys(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "keys")
	scope := domain.OrgScope(f.Org.ID)
	exp := time.Now().UTC().Add(24 * time.Hour)
	k := &domain.APIKey{ID: domain.NewID(domain.PrefixAPIKey), CreatedBy: f.Admin.ID, Name: "ci", Prefix: "sak_abcd",
		SecretHash: "secret-hash-" + f.Org.ID, Role: domain.RoleOperator, Permissions: []domain.Permission{domain.PermWorkflowsRead}, ExpiresAt: &exp}
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateAPIKey(k) })
	mustRead(t, s, domain.SystemScope(domain.SystemTokenHash), func(q domain.Queries) error {
		got, err := q.GetAPIKeyByHash(k.SecretHash)
		if err != nil {
			return err
		}
		if got.ID != k.ID || got.Role != domain.RoleOperator || len(got.Permissions) != 1 || got.ExpiresAt == nil {
			t.Errorf("api key = %+v", got)
		}
		return nil
	})
	now := time.Now().UTC()
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		if err := tx.TouchAPIKey(k.ID, now, time.Minute); err != nil {
			return err
		}
		return tx.RevokeAPIKey(k.ID, now)
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		keys, _, err := q.ListAPIKeys(domain.Page{})
		if err != nil {
			return err
		}
		if len(keys) != 1 || keys[0].RevokedAt == nil || keys[0].LastUsedAt == nil {
			t.Errorf("keys = %+v", keys)
		}
		return nil
	})
	other := NewFixture(t, s, "keysother")
	err := s.Write(ctx, domain.OrgScope(other.Org.ID), func(tx domain.Tx) error { return tx.RevokeAPIKey(k.ID, now) })
	wantCode(t, err, domain.ECodeNotFound)
}

func testRecoveryCodes(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "mfa")
	scope := domain.OrgScope(f.Org.ID)
	now := time.Now().UTC()
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		return tx.ReplaceRecoveryCodes(f.Admin.ID, []string{"h1", "h2", "h3"}, now)
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		ok, err := tx.UseRecoveryCode(f.Admin.ID, "h2", now)
		if !ok || err != nil {
			t.Errorf("first use of a code: %v %v", ok, err)
		}
		ok, err = tx.UseRecoveryCode(f.Admin.ID, "h2", now)
		if ok || err != nil {
			t.Errorf("a recovery code worked twice (%v)", err)
		}
		n, err := tx.CountRecoveryCodes(f.Admin.ID)
		if n != 2 {
			t.Errorf("remaining codes = %d", n)
		}
		return err
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		return tx.ReplaceRecoveryCodes(f.Admin.ID, []string{"n1"}, now)
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		n, err := q.CountRecoveryCodes(f.Admin.ID)
		if n != 1 {
			t.Errorf("after replace = %d codes", n)
		}
		return err
	})
}

// testSessionPrincipal: the one-statement read of authentication returns
// the user, session and organization of its own organization only, and
// sees a revocation and a deactivation at once.
func testSessionPrincipal(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "principala")
	b := NewFixture(t, s, "principalb")
	now := time.Now().UTC()
	sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: a.Admin.ID, ExpiresAt: now.Add(time.Hour)}
	mustWrite(t, s, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error { return tx.CreateSession(sess) })
	u, got, org, err := s.SessionPrincipal(ctx, a.Org.ID, a.Admin.ID, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != a.Admin.ID || u.Role != domain.RoleAdmin || u.TeamID != a.Team.ID || !u.IsActive ||
		got.ID != sess.ID || got.OrgID != a.Org.ID || !got.Active(now) || org.ID != a.Org.ID || !org.IsActive || org.Plan != a.Org.Plan {
		t.Errorf("principal = %+v %+v %+v", u, got, org)
	}
	for _, c := range []struct{ name, org, user, session string }{
		{"another organization's scope", b.Org.ID, a.Admin.ID, sess.ID},
		{"another organization's user", a.Org.ID, b.Admin.ID, sess.ID},
		{"an unknown session", a.Org.ID, a.Admin.ID, domain.NewID(domain.PrefixSession)},
		{"no organization", "", a.Admin.ID, sess.ID},
	} {
		if _, _, _, err := s.SessionPrincipal(ctx, c.org, c.user, c.session); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("%s: %v, want not found", c.name, err)
		}
	}
	mustWrite(t, s, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error {
		if err := tx.RevokeSession(sess.ID, "logout", tx.Now()); err != nil {
			return err
		}
		usr, err := tx.GetUser(a.Admin.ID)
		if err != nil {
			return err
		}
		usr.Role = domain.RoleViewer
		return tx.UpdateUser(usr)
	})
	u, got, _, err = s.SessionPrincipal(ctx, a.Org.ID, a.Admin.ID, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Active(time.Now()) || got.RevokedAt == nil || u.Role != domain.RoleViewer {
		t.Errorf("after revocation and demotion: session active %v, role %s", got.Active(time.Now()), u.Role)
	}
}

// testPrincipalCheckInTransaction: a request's principal check is settled
// by the first transaction in its organization, with the rows of its own
// organization only, before the transaction runs anything else; a failed
// check fails the transaction; a system-scope or other organization's
// transaction leaves it pending.
func testPrincipalCheckInTransaction(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "checka")
	b := NewFixture(t, s, "checkb")
	sess := &domain.Session{ID: domain.NewID(domain.PrefixSession), UserID: a.Admin.ID, ExpiresAt: time.Now().UTC().Add(time.Hour)}
	mustWrite(t, s, domain.OrgScope(a.Org.ID), func(tx domain.Tx) error { return tx.CreateSession(sess) })

	var seen []string
	check := func(user, session string, verdict error) *domain.PrincipalCheck {
		return domain.NewPrincipalCheck(a.Org.ID, user, session, func(u *domain.User, ss *domain.Session, o *domain.Organization) (*domain.Principal, error) {
			if u == nil {
				seen = append(seen, "none")
				return nil, domain.Errorf(domain.ECodeUnauthorized, "no session")
			}
			seen = append(seen, u.ID+"/"+ss.ID+"/"+o.ID+"/"+string(u.Role))
			return &domain.Principal{UserID: u.ID}, verdict
		})
	}
	read := func(c *domain.PrincipalCheck, scope domain.Scope) (ran bool, err error) {
		err = s.Read(domain.WithPrincipalCheck(ctx, c), scope, func(q domain.Queries) error {
			ran = true
			if scope.IsSystem() {
				return nil
			}
			// The tenant scope is set as well: the organization's own rows
			// are visible (row-level security hides them otherwise).
			users, _, err := q.ListUsers(domain.UserFilter{})
			if err == nil && len(users) == 0 {
				err = errors.New("no users visible in the transaction's scope")
			}
			return err
		})
		return ran, err
	}

	// Confirmed: settled once, in the first transaction of the organization.
	c := check(a.Admin.ID, sess.ID, nil)
	if ran, err := read(c, domain.SystemScope("test")); err != nil || !ran {
		t.Fatalf("system scope: %v %v", ran, err)
	}
	if ran, err := read(c, domain.OrgScope(b.Org.ID)); err != nil || !ran {
		t.Fatalf("another organization: %v %v", ran, err)
	}
	if done, _, _ := c.Settled(); done || len(seen) != 0 {
		t.Fatalf("settled outside its organization: %v %v", done, seen)
	}
	if ran, err := read(c, domain.OrgScope(a.Org.ID)); err != nil || !ran {
		t.Fatalf("its organization: %v %v", ran, err)
	}
	want := a.Admin.ID + "/" + sess.ID + "/" + a.Org.ID + "/admin"
	if done, p, err := c.Settled(); !done || err != nil || p == nil || len(seen) != 1 || seen[0] != want {
		t.Fatalf("settled = %v %v %v, rows %v, want %s", done, p, err, seen, want)
	}
	if err := s.Write(domain.WithPrincipalCheck(ctx, c), domain.OrgScope(a.Org.ID), func(domain.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 {
		t.Errorf("a settled check was settled again: %v", seen)
	}

	// Refused: the transaction fails before its function runs, in a
	// write as in a read.
	refused := domain.Errorf(domain.ECodeUnauthorized, "refused")
	if ran, err := read(check(a.Admin.ID, sess.ID, refused), domain.OrgScope(a.Org.ID)); ran || !errors.Is(err, refused) {
		t.Errorf("refused check: ran %v, %v", ran, err)
	}
	wrote := false
	err := s.Write(domain.WithPrincipalCheck(ctx, check(a.Admin.ID, sess.ID, refused)), domain.OrgScope(a.Org.ID), func(domain.Tx) error {
		wrote = true
		return nil
	})
	if wrote || !errors.Is(err, refused) {
		t.Errorf("refused check in a write: ran %v, %v", wrote, err)
	}

	// Rows of another organization or an unknown session are none.
	seen = nil
	for _, c := range []*domain.PrincipalCheck{check(b.Admin.ID, sess.ID, nil), check(a.Admin.ID, domain.NewID(domain.PrefixSession), nil)} {
		if ran, err := read(c, domain.OrgScope(a.Org.ID)); ran || !domain.IsCode(err, domain.ECodeUnauthorized) {
			t.Errorf("no principal: ran %v, %v", ran, err)
		}
	}
	if len(seen) != 2 || seen[0] != "none" || seen[1] != "none" {
		t.Errorf("rows for another organization's user or an unknown session: %v", seen)
	}
}
