package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
)

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IPAddress  string    `json:"ip_address"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

// loginAs signs in with a chosen User-Agent and returns the token pair.
func loginAs(t *testing.T, e *env, login, password, userAgent string) tokenBody {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": login, "password": password})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/auth/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("login as %s = %d: %s", login, res.StatusCode, raw)
	}
	var tb tokenBody
	if err := json.Unmarshal(raw, &tb); err != nil {
		t.Fatal(err)
	}
	return tb
}

func listSessions(e *env, token string) []sessionJSON {
	var out struct {
		Sessions []sessionJSON `json:"sessions"`
	}
	e.call(http.MethodGet, "/api/v1/auth/sessions", token, nil, 200, &out)
	return out.Sessions
}

func TestSessionsListAndEndOne(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("sessions")
		u := f.users[domain.RoleDeveloper]
		before := time.Now().Add(-time.Second)
		laptop := loginAs(t, e, u.Email, testPassword, "laptop-browser/1.0")
		phone := loginAs(t, e, u.Email, testPassword, "phone-app/2.0")

		list := listSessions(e, laptop.AccessToken)
		if len(list) != 2 {
			t.Fatalf("sessions = %+v, want the two sign-ins", list)
		}
		var mine, other sessionJSON
		for _, s := range list {
			if s.Current {
				mine = s
			} else {
				other = s
			}
		}
		if mine.UserAgent != "laptop-browser/1.0" || other.UserAgent != "phone-app/2.0" {
			t.Errorf("user agents: current %q, other %q", mine.UserAgent, other.UserAgent)
		}
		for _, s := range list {
			if s.ID == "" || s.IPAddress != "127.0.0.1" || s.CreatedAt.Before(before) || s.LastUsedAt.Before(s.CreatedAt) ||
				!s.ExpiresAt.After(s.CreatedAt.Add(24*time.Hour)) {
				t.Errorf("session fields = %+v", s)
			}
		}

		// Another user cannot end this user's session; the route answers as if it did not exist.
		e.call(http.MethodDelete, "/api/v1/auth/sessions/"+other.ID, f.token(domain.RoleAdmin), nil, 404, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", phone.AccessToken, nil, 200, nil)

		// Ending the phone's session from the laptop: the phone's access and refresh stop at once.
		e.call(http.MethodDelete, "/api/v1/auth/sessions/"+other.ID, laptop.AccessToken, nil, 204, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", phone.AccessToken, nil, 401, nil)
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}, 401, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", laptop.AccessToken, nil, 200, nil)
		if list := listSessions(e, laptop.AccessToken); len(list) != 1 || list[0].ID != mine.ID {
			t.Errorf("after ending one: %+v", list)
		}
		e.call(http.MethodDelete, "/api/v1/auth/sessions/"+other.ID, laptop.AccessToken, nil, 204, nil) // ending an ended session is harmless
		wantAudit(t, e, f.org.ID, "auth.session_revoked", "", true, u.ID)
	})
}

// TestSessionLastUsedWrittenAtMostOncePerMinute: using a session moves its
// last-used time forward, but not more often than once a minute.
func TestSessionLastUsedWrittenAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("lastused")
		u := f.users[domain.RoleViewer]
		pair := loginAs(t, e, u.Email, testPassword, "lastused-test")
		sess := listSessions(e, pair.AccessToken)[0]
		old := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
		mustExec(t, e, f.org.ID, "UPDATE sessions SET last_used_at = $1 WHERE id = $2", old, sess.ID)

		e.call(http.MethodGet, "/api/v1/auth/me", pair.AccessToken, nil, 200, nil)
		touched := listSessions(e, pair.AccessToken)[0]
		if !touched.LastUsedAt.After(old.Add(9 * time.Minute)) {
			t.Fatalf("last used %v: not moved forward from %v by a request", touched.LastUsedAt, old)
		}
		e.call(http.MethodGet, "/api/v1/auth/me", pair.AccessToken, nil, 200, nil)
		if again := listSessions(e, pair.AccessToken)[0]; !again.LastUsedAt.Equal(touched.LastUsedAt) {
			t.Errorf("last used rewritten within a minute: %v then %v", touched.LastUsedAt, again.LastUsedAt)
		}
	})
}

func TestAdminEndsAUsersSessions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("endall")
		dev := f.users[domain.RoleDeveloper]
		a := loginAs(t, e, dev.Email, testPassword, "a")
		b := loginAs(t, e, dev.Email, testPassword, "b")
		admin := loginAs(t, e, f.users[domain.RoleAdmin].Email, testPassword, "admin")

		// Only holders of users.manage may; the developer cannot end the admin's sessions.
		e.call(http.MethodPost, "/api/v1/users/"+f.users[domain.RoleAdmin].ID+"/sessions/revoke", a.AccessToken, nil, 403, nil)
		other := e.newOrg("endallother")
		e.call(http.MethodPost, "/api/v1/users/"+dev.ID+"/sessions/revoke", other.token(domain.RoleAdmin), nil, 404, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", a.AccessToken, nil, 200, nil)

		var out struct {
			SessionsEnded int `json:"sessions_ended"`
		}
		e.call(http.MethodPost, "/api/v1/users/"+dev.ID+"/sessions/revoke", admin.AccessToken, nil, 200, &out)
		if out.SessionsEnded != 2 {
			t.Errorf("sessions_ended = %d, want 2", out.SessionsEnded)
		}
		for _, p := range []tokenBody{a, b} {
			e.call(http.MethodGet, "/api/v1/auth/me", p.AccessToken, nil, 401, nil)
			e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}, 401, nil)
		}
		e.call(http.MethodGet, "/api/v1/auth/me", admin.AccessToken, nil, 200, nil)
		// The user can sign in again.
		loginAs(t, e, dev.Email, testPassword, "c")
		if ev := wantAudit(t, e, f.org.ID, "user.sessions_revoked", "", true, f.users[domain.RoleAdmin].ID); ev != nil && ev.ResourceID != dev.ID {
			t.Errorf("sessions_revoked names %q, want the developer", ev.ResourceID)
		}
	})
}

func TestResendVerificationMail(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		reg := register(e, "resend@verify.example", "resender", "one more mail please", "Resend Org")
		first := e.waitMail()
		firstTok := mailToken(t, first.Text)

		e.call(http.MethodPost, "/api/v1/auth/verify-email/resend", reg.AccessToken, nil, 202, nil)
		second := e.waitMail()
		if second.To[0] != "resend@verify.example" || !strings.Contains(second.Subject, "Confirm") || !second.TLS {
			t.Errorf("resent mail: to %v subject %q tls %v", second.To, second.Subject, second.TLS)
		}
		secondTok := mailToken(t, second.Text)
		if secondTok == firstTok {
			t.Fatal("the resent mail carries the same token")
		}
		// The new link replaces the old one.
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": firstTok}, 401, nil)
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": secondTok}, 204, nil)
		wantAudit(t, e, reg.User.OrgID, "auth.verification_sent", "", true, reg.User.ID)

		// Once verified there is nothing to resend, and no mail goes out.
		e.call(http.MethodPost, "/api/v1/auth/verify-email/resend", reg.AccessToken, nil, 409, nil)
		e.call(http.MethodPost, "/api/v1/auth/verify-email/resend", "", nil, 401, nil)
		if n := len(e.smtp.Messages()); n != 2 {
			t.Errorf("%d mails sent, want 2", n)
		}
	})
}

func TestLoginUpdatesLastLogin(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("lastlogin")
		u := f.users[domain.RoleOperator]
		type meJSON struct {
			User struct {
				LastLogin *time.Time `json:"last_login"`
			} `json:"user"`
		}
		old := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
		mustExec(t, e, f.org.ID, "UPDATE users SET last_login = $1 WHERE id = $2", old, u.ID)
		// A failed attempt does not count as a login.
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": "not the password"}, 400, nil)
		pair := loginAs(t, e, u.Email, testPassword, "lastlogin")
		var me meJSON
		e.call(http.MethodGet, "/api/v1/auth/me", pair.AccessToken, nil, 200, &me)
		if me.User.LastLogin == nil || !me.User.LastLogin.After(old.Add(47*time.Hour)) {
			t.Errorf("last_login = %v after a login (was %v)", me.User.LastLogin, old)
		}
	})
}

// TestPasswordRehashOnLogin: a password stored with weaker argon2id
// parameters than the installation's is rehashed at the next successful
// login, and only then.
func TestPasswordRehashOnLogin(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("rehash")
		u := f.users[domain.RoleDeveloper]
		weaker := auth.TestParams
		weaker.MemoryKiB /= 2
		old, err := auth.NewHasher(weaker, 1)
		if err != nil {
			t.Fatal(err)
		}
		weakHash, err := old.Hash(context.Background(), testPassword)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, e, f.org.ID, "UPDATE users SET password_hash = $1 WHERE id = $2", weakHash, u.ID)
		storedHash := func() string {
			var h string
			err := e.store.Read(context.Background(), domain.OrgScope(f.org.ID), func(q domain.Queries) error {
				got, err := q.GetUser(u.ID)
				if err == nil {
					h = got.PasswordHash
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}

		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": "not the password"}, 400, nil)
		if storedHash() != weakHash {
			t.Fatal("a failed login changed the stored hash")
		}
		loginAs(t, e, u.Email, testPassword, "rehash")
		now := storedHash()
		if now == weakHash {
			t.Fatal("the weaker hash was not replaced at login")
		}
		if ok, rehash, err := e.hasher.Verify(context.Background(), testPassword, now); !ok || rehash || err != nil {
			t.Errorf("new hash: matches %v, still below the parameters %v, error %v (%s)", ok, rehash, err, now)
		}
		if !strings.HasPrefix(now, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("new hash %q is not at the installation's parameters", now)
		}
		// At current parameters a login leaves the hash alone.
		loginAs(t, e, u.Email, testPassword, "rehash")
		if storedHash() != now {
			t.Error("a hash at current parameters was rewritten")
		}
	})
}

func TestSignupClosed(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("closed")
		res := e.do(http.MethodPost, "/api/v1/auth/register", "", map[string]string{"email": "eve@closed.example", "username": "eve",
			"password": "let me in regardless", "full_name": "Eve", "organization_name": "Eve Inc"})
		p := decodeProblem(t, res)
		res.Body.Close()
		if res.StatusCode != 403 || !strings.Contains(p.Detail, "sign-up is closed") {
			t.Errorf("register with sign-up closed = %d %q", res.StatusCode, p.Detail)
		}
		err := e.store.Read(context.Background(), domain.SystemScope(domain.SystemLogin), func(q domain.Queries) error {
			_, err := q.FindUserByLogin("eve@closed.example")
			return err
		})
		if !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("an account was created with sign-up closed: %v", err)
		}
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "eve@closed.example", "password": "let me in regardless"}, 400, nil)
		// Existing users still sign in, and admins can still invite.
		admin := loginAs(t, e, f.users[domain.RoleAdmin].Email, testPassword, "closed")
		e.call(http.MethodPost, "/api/v1/users/invite", admin.AccessToken, map[string]any{"email": "friend@closed.example", "role": "viewer"}, 201, nil)
		if m := e.waitMail(); m.To[0] != "friend@closed.example" {
			t.Errorf("invitation went to %v", m.To)
		}
	}, "SIGNUP_ENABLED=false")
}
