package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
)

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
		OrgID string `json:"org_id"`
	} `json:"user"`
}

func (e *env) form(path string, values url.Values) (*http.Response, []byte) {
	e.t.Helper()
	res, err := http.Post(e.srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(values.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func register(e *env, email, username, password, org string) tokenBody {
	e.t.Helper()
	var out tokenBody
	e.call(http.MethodPost, "/api/v1/auth/register", "", map[string]string{"email": email, "username": username,
		"password": password, "full_name": "Test User", "organization_name": org}, http.StatusCreated, &out)
	return out
}

// TestSeedCurlExamples runs the seed's three curl examples unchanged in
// shape: register with JSON, log in with a form, read the profile.
func TestSeedCurlExamples(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		// The seed's example password is one of the most common passwords: refused.
		res := e.do(http.MethodPost, "/api/v1/auth/register", "", map[string]string{"email": "test@example.com",
			"username": "testuser", "password": "password123", "full_name": "Test User", "organization_name": "Test Org"})
		p := decodeProblem(t, res)
		res.Body.Close()
		if res.StatusCode != 422 || len(p.Errors) != 1 || p.Errors[0].Pointer != "/password" {
			t.Fatalf("common password: %d %+v", res.StatusCode, p)
		}
		reg := register(e, "test@example.com", "testuser", "a much better passphrase", "Test Org")
		if reg.TokenType != "bearer" || reg.AccessToken == "" || reg.RefreshToken == "" || reg.User.Role != "admin" {
			t.Fatalf("register = %+v", reg)
		}
		// Duplicate e-mail and username: 409 with a clear message.
		res = e.do(http.MethodPost, "/api/v1/auth/register", "", map[string]string{"email": "TEST@example.com",
			"username": "other", "password": "a much better passphrase", "organization_name": "X"})
		p = decodeProblem(t, res)
		res.Body.Close()
		if res.StatusCode != 409 || !strings.Contains(p.Detail, "email") {
			t.Errorf("duplicate email: %d %q", res.StatusCode, p.Detail)
		}
		res, body := e.form("/api/v1/auth/login", url.Values{"username": {"test@example.com"}, "password": {"a much better passphrase"}})
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("login = %d %s (Cache-Control %q)", res.StatusCode, body, res.Header.Get("Cache-Control"))
		}
		var login tokenBody
		json.Unmarshal(body, &login)
		var me struct {
			User         struct{ Email string }      `json:"user"`
			Organization struct{ Name, Plan string } `json:"organization"`
			Team         *struct{ Name string }      `json:"team"`
			Role         string                      `json:"role"`
			Permissions  []string                    `json:"permissions"`
		}
		e.call(http.MethodGet, "/api/v1/auth/me", login.AccessToken, nil, 200, &me)
		if me.User.Email != "test@example.com" || me.Organization.Name != "Test Org" || me.Organization.Plan != "free" ||
			me.Team == nil || me.Role != "admin" || len(me.Permissions) != len(domain.Permissions) {
			t.Errorf("me = %+v", me)
		}
		// Username works as well as e-mail; JSON as well as a form.
		var viaJSON tokenBody
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "TestUser", "password": "a much better passphrase"}, 200, &viaJSON)
		// A verification mail went out through SMTP.
		m := e.waitMail()
		if m.To[0] != "test@example.com" || !strings.Contains(m.Subject, "Confirm") || !m.TLS {
			t.Errorf("verification mail: to %v subject %q tls %v", m.To, m.Subject, m.TLS)
		}
	})
}

func TestOAuth2ClientLibrary(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("oauth")
		conf := &oauth2.Config{ClientID: "superagent-cli", Endpoint: oauth2.Endpoint{TokenURL: e.srv.URL + "/api/v1/auth/login"}}
		ctx := context.Background()
		tok, err := conf.PasswordCredentialsToken(ctx, f.users[domain.RoleDeveloper].Email, testPassword)
		if err != nil {
			t.Fatalf("password credentials flow: %v", err)
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() || tok.TokenType != "bearer" {
			t.Fatalf("token = %+v", tok)
		}
		// The library's refresh goes to the same endpoint with grant_type=refresh_token.
		tok.Expiry = time.Now().Add(-time.Minute)
		fresh, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatalf("refresh through the library: %v", err)
		}
		if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == "" {
			t.Errorf("refresh did not rotate")
		}
		client := conf.Client(ctx, fresh)
		res, err := client.Get(e.srv.URL + "/api/v1/auth/me")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("me with the library's client = %d", res.StatusCode)
		}
		_, err = conf.PasswordCredentialsToken(ctx, f.users[domain.RoleDeveloper].Email, "wrong password")
		var re *oauth2.RetrieveError
		if !errorsAs(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
			t.Errorf("bad password through the library: %v", err)
		}
	})
}

func errorsAs(err error, target **oauth2.RetrieveError) bool {
	re, ok := err.(*oauth2.RetrieveError)
	if ok {
		*target = re
	}
	return ok
}

// misusableTokens are real tokens of every non-access kind, obtained from
// the flows that issue them and not yet used.
type misusableTokens struct {
	refresh, verification, reset, invitation, mfa, recoveryCode, apiKey string
}

// realNonAccessTokens runs the flows that issue each kind of non-access
// token: a sign-in (refresh), a registration (verification mail), a
// forgotten password (reset mail), an invitation (invitation mail), a
// sign-in with MFA (challenge) and an API key creation.
func realNonAccessTokens(t *testing.T, e *env, f *orgFixture) misusableTokens {
	t.Helper()
	var out misusableTokens
	var login tokenBody
	e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": f.users[domain.RoleAdmin].Email, "password": testPassword}, 200, &login)
	out.refresh = login.RefreshToken
	var key struct {
		Key string `json:"key"`
	}
	e.call(http.MethodPost, "/api/v1/api-keys", login.AccessToken, map[string]any{"name": "misuse", "role": "viewer"}, 201, &key)
	out.apiKey = key.Key

	register(e, "misuse@forge.example", "misuse", "a passphrase for misuse", "Misuse Org")
	out.verification = mailToken(t, e.waitMail().Text)
	e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "misuse@forge.example"}, 202, nil)
	out.reset = mailToken(t, e.waitMail().Text)
	e.call(http.MethodPost, "/api/v1/users/invite", login.AccessToken, map[string]any{"email": "invitee@forge.example", "role": "viewer"}, 201, nil)
	out.invitation = mailToken(t, e.waitMail().Text)

	var mfaLogin tokenBody
	e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": f.users[domain.RoleOperator].Email, "password": testPassword}, 200, &mfaLogin)
	var enroll struct{ Secret string }
	e.call(http.MethodPost, "/api/v1/auth/mfa/enroll", mfaLogin.AccessToken, nil, 200, &enroll)
	code, _ := totp.GenerateCode(enroll.Secret, time.Now())
	var rec struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	e.call(http.MethodPost, "/api/v1/auth/mfa/confirm", mfaLogin.AccessToken, map[string]string{"code": code}, 200, &rec)
	out.recoveryCode = rec.RecoveryCodes[0]
	var challenge struct {
		MFAToken string `json:"mfa_token"`
	}
	e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": f.users[domain.RoleOperator].Email, "password": testPassword}, 403, &challenge)
	out.mfa = challenge.MFAToken
	for name, tok := range map[string]string{"refresh": out.refresh, "verification": out.verification, "reset": out.reset,
		"invitation": out.invitation, "mfa": out.mfa, "api key": out.apiKey} {
		if tok == "" {
			t.Fatalf("no real %s token", name)
		}
	}
	return out
}

func TestForgedAndMisusedTokens(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("forge")
		u := f.users[domain.RoleAdmin]
		good := f.token(domain.RoleAdmin)
		parts := strings.Split(good, ".")
		var claims map[string]any
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(payload, &claims)

		sign := func(method jwt.SigningMethod, key any, mutate func(jwt.MapClaims), typ string) string {
			c := jwt.MapClaims{}
			for k, v := range claims {
				c[k] = v
			}
			if mutate != nil {
				mutate(c)
			}
			tok := jwt.NewWithClaims(method, c)
			if typ != "" {
				tok.Header["typ"] = typ
			}
			s, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		secret := []byte(e.cfg.SecretKey)
		noneTok := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, "at+jwt")
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), u.ID, f.users[domain.RoleViewer].ID, 1))) + "." + parts[2]

		// Real tokens of each non-access kind, from the flows that issue them.
		real := realNonAccessTokens(t, e, f)
		unknownKey, _ := auth.NewOpaqueToken(auth.PrefixAPIKey)

		cases := map[string]string{
			"alg none":           noneTok,
			"wrong key":          sign(jwt.SigningMethodHS256, []byte("another-secret-key-that-is-long-enough!!"), nil, "at+jwt"),
			"HS512 not allowed":  sign(jwt.SigningMethodHS512, append(secret, secret...), nil, "at+jwt"),
			"expired":            sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, "at+jwt"),
			"missing exp":        sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { delete(c, "exp") }, "at+jwt"),
			"wrong issuer":       sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["iss"] = "evil" }, "at+jwt"),
			"wrong audience":     sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["aud"] = "other-api" }, "at+jwt"),
			"wrong type":         sign(jwt.SigningMethodHS256, secret, nil, "JWT"),
			"tampered payload":   tampered,
			"garbage":            "not-a-token",
			"refresh token":      real.refresh,
			"verification token": real.verification,
			"reset token":        real.reset,
			"invitation token":   real.invitation,
			"mfa token":          real.mfa,
			"unknown api key":    unknownKey,
		}
		// The untouched token works, so the cases below fail for their defect only.
		e.call(http.MethodGet, "/api/v1/auth/me", good, nil, 200, nil)
		for name, tok := range cases {
			res := e.do(http.MethodGet, "/api/v1/auth/me", tok, nil)
			p := decodeProblem(t, res)
			res.Body.Close()
			if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s as an access token: status %d (%s), want 401 with WWW-Authenticate", name, res.StatusCode, p.Detail)
			}
		}
		res := e.do(http.MethodGet, "/api/v1/auth/me", "", nil)
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("no credentials: %d", res.StatusCode)
		}

		// Each real token presented to a flow it does not belong to is refused…
		misuses := []struct {
			name, path string
			body       map[string]string
		}{
			{"access token as refresh token", "/api/v1/auth/refresh", map[string]string{"refresh_token": good}},
			{"mfa token as refresh token", "/api/v1/auth/refresh", map[string]string{"refresh_token": real.mfa}},
			{"api key as refresh token", "/api/v1/auth/refresh", map[string]string{"refresh_token": real.apiKey}},
			{"reset token as verification", "/api/v1/auth/verify-email", map[string]string{"token": real.reset}},
			{"refresh token as verification", "/api/v1/auth/verify-email", map[string]string{"token": real.refresh}},
			{"verification token as reset", "/api/v1/auth/password/reset", map[string]string{"token": real.verification, "password": "a fresh passphrase here"}},
			{"invitation token as reset", "/api/v1/auth/password/reset", map[string]string{"token": real.invitation, "password": "a fresh passphrase here"}},
			{"reset token as invitation", "/api/v1/auth/invitations/accept", map[string]string{"token": real.reset, "username": "intruder", "password": "a fresh passphrase here"}},
			{"invitation token as mfa token", "/api/v1/auth/mfa/verify", map[string]string{"mfa_token": real.invitation, "code": real.recoveryCode}},
			{"refresh token as mfa token", "/api/v1/auth/mfa/verify", map[string]string{"mfa_token": real.refresh, "code": real.recoveryCode}},
		}
		for _, m := range misuses {
			res := e.do(http.MethodPost, m.path, "", m.body)
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("%s: status %d, want 401", m.name, res.StatusCode)
			}
		}
		// …and each still works where it belongs: the refusals above were for the kind, not a broken token.
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": real.refresh}, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": real.verification}, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": real.reset, "password": "a fresh passphrase here"}, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/invitations/accept", "", map[string]string{"token": real.invitation, "username": "invitee", "password": "a fresh passphrase here"}, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/mfa/verify", "", map[string]string{"mfa_token": real.mfa, "code": real.recoveryCode}, 200, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", real.apiKey, nil, 200, nil)
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("refresh")
		u := f.users[domain.RoleOperator]
		var first tokenBody
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, 200, &first)
		var second tokenBody
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}, 200, &second)
		if second.RefreshToken == first.RefreshToken {
			t.Fatal("refresh did not rotate the token")
		}
		// Within the grace window the used token is refused without revoking.
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}, 401, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", second.AccessToken, nil, 200, nil)
		var third tokenBody
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}, 200, &third)

		// Outside the grace window, reuse revokes the whole family.
		backdateRefreshUse(t, e, first.RefreshToken)
		var p struct{ Detail string }
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}, 401, &p)
		if !strings.Contains(p.Detail, "reuse") {
			t.Errorf("reuse answer: %q", p.Detail)
		}
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken}, 401, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", third.AccessToken, nil, 401, nil)
		events := auditActions(t, e, f.org.ID)
		if !events["auth.refresh_reuse_detected"] {
			t.Errorf("reuse was not audited: %v", events)
		}
	})
}

func TestConcurrentRefreshYieldsOnePair(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("race")
		u := f.users[domain.RoleViewer]
		var first tokenBody
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, 200, &first)
		const n = 6
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []tokenBody
		statuses := map[int]int{}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.do(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
				defer res.Body.Close()
				var tb tokenBody
				json.NewDecoder(res.Body).Decode(&tb)
				mu.Lock()
				statuses[res.StatusCode]++
				if res.StatusCode == 200 {
					winners = append(winners, tb)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(winners) != 1 || statuses[401] != n-1 {
			t.Fatalf("concurrent refreshes: %v, want one 200", statuses)
		}
		// No lock-out: the winner's pair keeps working.
		e.call(http.MethodGet, "/api/v1/auth/me", winners[0].AccessToken, nil, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": winners[0].RefreshToken}, 200, nil)
	})
}

func TestLogoutAndPasswordChangeEndSessions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("logout")
		u := f.users[domain.RoleDeveloper]
		login := func() tokenBody {
			var tb tokenBody
			e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, 200, &tb)
			return tb
		}
		a, b := login(), login()
		var sessions struct {
			Sessions []struct {
				ID      string `json:"id"`
				Current bool   `json:"current"`
			} `json:"sessions"`
		}
		e.call(http.MethodGet, "/api/v1/auth/sessions", a.AccessToken, nil, 200, &sessions)
		if len(sessions.Sessions) < 2 {
			t.Fatalf("sessions = %+v", sessions)
		}
		e.call(http.MethodPost, "/api/v1/auth/logout", a.AccessToken, nil, 204, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", a.AccessToken, nil, 401, nil)
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": a.RefreshToken}, 401, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", b.AccessToken, nil, 200, nil)

		c := login()
		var changed tokenBody
		e.call(http.MethodPost, "/api/v1/auth/password/change", b.AccessToken, map[string]string{"current_password": "wrong one",
			"new_password": "a completely new passphrase"}, 422, nil)
		e.call(http.MethodPost, "/api/v1/auth/password/change", b.AccessToken, map[string]string{"current_password": testPassword,
			"new_password": "a completely new passphrase"}, 200, &changed)
		for _, old := range []string{b.AccessToken, c.AccessToken} {
			e.call(http.MethodGet, "/api/v1/auth/me", old, nil, 401, nil)
		}
		e.call(http.MethodGet, "/api/v1/auth/me", changed.AccessToken, nil, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": "a completely new passphrase"}, 200, nil)
	})
}

func TestLockoutAndNoEnumeration(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("lock")
		u := f.users[domain.RoleViewer]
		bodyOf := func(user, pw string) (int, string) {
			res, b := e.form("/api/v1/auth/login", url.Values{"username": {user}, "password": {pw}})
			return res.StatusCode, string(b)
		}
		s1, b1 := bodyOf(u.Email, "wrong password 1")
		s2, b2 := bodyOf("nobody@lock.example", "wrong password 1")
		if s1 != 400 || s1 != s2 || b1 != b2 || !strings.Contains(b1, `"invalid_grant"`) {
			t.Fatalf("wrong password %d %s vs unknown user %d %s: must be identical", s1, b1, s2, b2)
		}
		for i := range 6 {
			bodyOf(u.Email, "wrong password "+string(rune('a'+i)))
		}
		// Locked: even the right password is refused, with the same answer.
		s3, b3 := bodyOf(u.Email, testPassword)
		if s3 != 400 || b3 != b1 {
			t.Errorf("locked account with the right password: %d %s", s3, b3)
		}
		actions := auditActions(t, e, f.org.ID)
		if !actions["auth.lockout"] || !actions["auth.login_failed"] {
			t.Errorf("lockout not audited: %v", actions)
		}
		// The lock lifts after its delay; simulate the passage of time.
		mustExec(t, e, f.org.ID, "UPDATE users SET locked_until = NULL WHERE id = $1", u.ID)
		if s, _ := bodyOf(u.Email, testPassword); s != 200 {
			t.Errorf("after the lock lifted: %d", s)
		}
	})
}

func TestAuthRateLimitPerIP(t *testing.T) {
	t.Parallel()
	loginFrom := func(e *env, forwardedFor string) *http.Response {
		e.t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/auth/login",
			strings.NewReader(url.Values{"username": {"x@y.example"}, "password": {"whatever you like"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	eachDB(t, func(t *testing.T, e *env) {
		codes := []int{}
		for range 5 {
			res := loginFrom(e, "")
			codes = append(codes, res.StatusCode)
			if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
		if codes[0] != 400 || codes[3] != 429 || codes[4] != 429 {
			t.Errorf("statuses %v: want the 4th and 5th to be 429", codes)
		}
		// Without TRUSTED_PROXIES a forwarded-for header is the client's word: it does not escape the limit.
		if res := loginFrom(e, "198.51.100.7"); res.StatusCode != 429 {
			t.Errorf("a spoofed X-Forwarded-For escaped the limit: %d", res.StatusCode)
		}
	}, "AUTH_RATE_LIMIT_PER_MINUTE=3")

	// Behind a trusted proxy the limit is per client address, not per proxy.
	e := newEnv(t, "sqlite", "AUTH_RATE_LIMIT_PER_MINUTE=3", "TRUSTED_PROXIES=127.0.0.1")
	for i := range 4 {
		if res := loginFrom(e, "198.51.100.7"); (i < 3) != (res.StatusCode == 400) {
			t.Errorf("request %d from the first client: %d", i+1, res.StatusCode)
		}
	}
	if res := loginFrom(e, "198.51.100.8"); res.StatusCode != 400 {
		t.Errorf("another client behind the same proxy was limited: %d", res.StatusCode)
	}
}

var tokenInMail = regexp.MustCompile(`#token=([A-Za-z0-9_%-]+)`)

func mailToken(t *testing.T, text string) string {
	t.Helper()
	m := tokenInMail.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no token link in mail: %s", text)
	}
	tok, _ := url.QueryUnescape(m[1])
	return tok
}

func TestEmailVerificationAndPasswordReset(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		reg := register(e, "ada@reset.example", "ada", "analytical engine notes", "Engines")
		verify := e.waitMail()
		tok := mailToken(t, verify.Text)
		if !strings.Contains(verify.HTML, "#token=") {
			t.Errorf("the HTML part lacks the link")
		}
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": tok}, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": tok}, 401, nil) // single use
		var me struct {
			User struct {
				EmailVerified bool `json:"email_verified"`
			} `json:"user"`
		}
		e.call(http.MethodGet, "/api/v1/auth/me", reg.AccessToken, nil, 200, &me)
		if !me.User.EmailVerified {
			t.Errorf("not verified after the link")
		}

		// Forgot: 202 for known and unknown addresses alike; only the known one gets mail.
		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "nobody@reset.example"}, 202, nil)
		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "ADA@reset.example"}, 202, nil)
		reset := e.waitMail()
		if reset.To[0] != "ada@reset.example" || !strings.Contains(strings.ToLower(reset.Subject), "password") {
			t.Fatalf("reset mail to %v: %q", reset.To, reset.Subject)
		}
		rtok := mailToken(t, reset.Text)
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": rtok, "password": "123456789"}, 422, nil)
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": rtok, "password": "difference engine designs"}, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": rtok, "password": "difference engine designs 2"}, 401, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", reg.AccessToken, nil, 401, nil) // sessions ended
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "ada", "password": "difference engine designs"}, 200, nil)
		if n := len(e.smtp.Messages()); n != 2 {
			t.Errorf("%d mails sent, want 2 (verification, reset for the known address only)", n)
		}
	})
}

func TestRequireEmailVerification(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		reg := register(e, "unverified@v.example", "unverified", "waiting for the mail", "V")
		e.call(http.MethodGet, "/api/v1/auth/me", reg.AccessToken, nil, 200, nil)
		e.call(http.MethodGet, "/api/v1/api-keys", reg.AccessToken, nil, 403, nil)
		// A fresh sign-in is allowed, and still held to the rule.
		var login tokenBody
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "unverified", "password": "waiting for the mail"}, 200, &login)
		e.call(http.MethodGet, "/api/v1/api-keys", login.AccessToken, nil, 403, nil)
		tok := mailToken(t, e.waitMail().Text)
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": tok}, 204, nil)
		e.call(http.MethodGet, "/api/v1/api-keys", reg.AccessToken, nil, 200, nil)
		e.call(http.MethodGet, "/api/v1/api-keys", login.AccessToken, nil, 200, nil)
	}, "REQUIRE_EMAIL_VERIFICATION=true")
}

func TestMFA(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("mfa")
		u := f.users[domain.RoleDeveloper]
		tok := f.token(domain.RoleDeveloper)
		var enroll struct {
			Secret     string `json:"secret"`
			OTPAuthURI string `json:"otpauth_uri"`
			QRCodePNG  string `json:"qr_code_png"`
		}
		e.call(http.MethodPost, "/api/v1/auth/mfa/enroll", tok, nil, 200, &enroll)
		png, _ := base64.StdEncoding.DecodeString(enroll.QRCodePNG)
		if !strings.HasPrefix(enroll.OTPAuthURI, "otpauth://totp/") || len(png) < 100 || string(png[1:4]) != "PNG" {
			t.Fatalf("enrolment = %+v", enroll)
		}
		e.call(http.MethodPost, "/api/v1/auth/mfa/confirm", tok, map[string]string{"code": "000000"}, 422, nil)
		code, _ := totp.GenerateCode(enroll.Secret, time.Now())
		var rec struct {
			RecoveryCodes []string `json:"recovery_codes"`
		}
		e.call(http.MethodPost, "/api/v1/auth/mfa/confirm", tok, map[string]string{"code": code}, 200, &rec)
		if len(rec.RecoveryCodes) != 10 {
			t.Fatalf("recovery codes = %v", rec.RecoveryCodes)
		}
		// The stored hash has older, weaker parameters: it is upgraded when
		// the sign-in completes, not after the password step alone.
		weak, err := auth.NewHasher(auth.Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)
		if err != nil {
			t.Fatal(err)
		}
		weakHash, err := weak.Hash(context.Background(), testPassword)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, e, f.org.ID, "UPDATE users SET password_hash = $1 WHERE id = $2", weakHash, u.ID)
		// Password alone now yields mfa_required and no access token.
		res, body := e.form("/api/v1/auth/login", url.Values{"username": {u.Email}, "password": {testPassword}})
		var challenge struct {
			Error     string `json:"error"`
			MFAToken  string `json:"mfa_token"`
			ExpiresIn int    `json:"expires_in"`
			Access    string `json:"access_token"`
		}
		json.Unmarshal(body, &challenge)
		if res.StatusCode != 403 || challenge.Error != "mfa_required" || challenge.MFAToken == "" || challenge.Access != "" {
			t.Fatalf("login with MFA = %d %s", res.StatusCode, body)
		}
		// The code used for enrolment cannot be replayed.
		e.call(http.MethodPost, "/api/v1/auth/mfa/verify", "", map[string]string{"mfa_token": challenge.MFAToken, "code": code}, 401, nil)
		if h := passwordHash(t, e, f.org.ID, u.ID); h != weakHash {
			t.Errorf("the hash changed before the second factor: %s", h)
		}
		// A recovery code works once.
		var pair tokenBody
		e.call(http.MethodPost, "/api/v1/auth/mfa/verify", "", map[string]string{"mfa_token": challenge.MFAToken, "code": rec.RecoveryCodes[0]}, 200, &pair)
		if h := passwordHash(t, e, f.org.ID, u.ID); h == weakHash || !strings.Contains(h, fmt.Sprintf("m=%d,", e.hasher.Params().MemoryKiB)) {
			t.Errorf("after the sign-in completed the hash is %s, want one at the current parameters", h)
		}
		e.call(http.MethodGet, "/api/v1/auth/me", pair.AccessToken, nil, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/mfa/verify", "", map[string]string{"mfa_token": challenge.MFAToken, "code": rec.RecoveryCodes[1]}, 401, nil) // challenge spent
		_, body = e.form("/api/v1/auth/login", url.Values{"username": {u.Email}, "password": {testPassword}})
		json.Unmarshal(body, &challenge)
		e.call(http.MethodPost, "/api/v1/auth/mfa/verify", "", map[string]string{"mfa_token": challenge.MFAToken, "code": rec.RecoveryCodes[0]}, 401, nil)
		e.call(http.MethodPost, "/api/v1/auth/mfa/verify", "", map[string]string{"mfa_token": challenge.MFAToken, "code": rec.RecoveryCodes[2]}, 200, nil)
		actions := auditActions(t, e, f.org.ID)
		for _, a := range []string{"auth.mfa_enrolled", "auth.mfa_failed", "auth.login"} {
			if !actions[a] {
				t.Errorf("%s not audited", a)
			}
		}
		// Disabling needs the password and a code.
		e.call(http.MethodPost, "/api/v1/auth/mfa/disable", pair.AccessToken, map[string]string{"password": "nope nope nope", "code": rec.RecoveryCodes[3]}, 422, nil)
		e.call(http.MethodPost, "/api/v1/auth/mfa/disable", pair.AccessToken, map[string]string{"password": testPassword, "code": rec.RecoveryCodes[3]}, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, 200, nil)
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("keys")
		dev := f.token(domain.RoleDeveloper)
		var created struct {
			ID          string   `json:"id"`
			Key         string   `json:"key"`
			Role        string   `json:"role"`
			Permissions []string `json:"permissions"`
		}
		// A developer cannot grant admin permissions.
		e.call(http.MethodPost, "/api/v1/api-keys", dev, map[string]any{"name": "too much", "role": "admin"}, 422, nil)
		e.call(http.MethodPost, "/api/v1/api-keys", dev, map[string]any{"name": "ci", "permissions": []string{"workflows.read", "api_keys.manage"}}, 201, &created)
		if !strings.HasPrefix(created.Key, "sak_") {
			t.Fatalf("key = %+v", created)
		}
		var me struct {
			Permissions []string `json:"permissions"`
			APIKeyID    string   `json:"api_key_id"`
		}
		e.call(http.MethodGet, "/api/v1/auth/me", created.Key, nil, 200, &me)
		if me.APIKeyID != created.ID || strings.Join(me.Permissions, ",") != "api_keys.manage,workflows.read" {
			t.Errorf("key principal = %+v", me)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/api-keys", nil)
		req.Header.Set("X-API-Key", created.Key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			APIKeys []map[string]any `json:"api_keys"`
		}
		json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		if res.StatusCode != 200 || len(list.APIKeys) != 1 || list.APIKeys[0]["key"] != nil || list.APIKeys[0]["last_used_at"] == nil {
			t.Errorf("list via X-API-Key = %d %+v", res.StatusCode, list)
		}
		// Demoting the creator caps the key at once.
		mustExec(t, e, f.org.ID, "UPDATE users SET role = 'viewer' WHERE id = $1", f.users[domain.RoleDeveloper].ID)
		e.call(http.MethodGet, "/api/v1/api-keys", created.Key, nil, 403, nil)
		mustExec(t, e, f.org.ID, "UPDATE users SET role = 'developer', is_active = false WHERE id = $1", f.users[domain.RoleDeveloper].ID)
		e.call(http.MethodGet, "/api/v1/auth/me", created.Key, nil, 401, nil)
		mustExec(t, e, f.org.ID, "UPDATE users SET is_active = true WHERE id = $1", f.users[domain.RoleDeveloper].ID)
		e.call(http.MethodGet, "/api/v1/auth/me", created.Key, nil, 200, nil)
		// Revoked keys stop working; another org's admin cannot revoke it.
		other := e.newOrg("keysother")
		e.call(http.MethodDelete, "/api/v1/api-keys/"+created.ID, other.token(domain.RoleAdmin), nil, 404, nil)
		e.call(http.MethodDelete, "/api/v1/api-keys/"+created.ID, f.token(domain.RoleAdmin), nil, 204, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", created.Key, nil, 401, nil)
		actions := auditActions(t, e, f.org.ID)
		if !actions["api_key.created"] || !actions["api_key.revoked"] {
			t.Errorf("API key changes not audited: %v", actions)
		}
	})
}

func TestDevelopmentModeWithoutAuth(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		var me struct {
			Role string                 `json:"role"`
			User struct{ Email string } `json:"user"`
		}
		e.call(http.MethodGet, "/api/v1/auth/me", "", nil, 200, &me)
		if me.Role != "admin" || me.User.Email != "dev@localhost" {
			t.Errorf("development principal = %+v", me)
		}
		// Writes go through as the development admin too.
		e.call(http.MethodPost, "/api/v1/api-keys", "", map[string]any{"name": "dev"}, 201, nil)
	}, "ENABLE_AUTH=false")
}

// auditActions returns the set of audit actions recorded for an organization.
func auditActions(t *testing.T, e *env, orgID string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := e.store.Read(context.Background(), domain.OrgScope(orgID), func(q domain.Queries) error {
		rows, err := q.ListAudit(domain.AuditFilter{Limit: 1000})
		for _, r := range rows {
			out[r.Action] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustExec changes rows directly, standing in for time passing or for
// changes made through routes tested elsewhere.
// passwordHash reads a user's stored password hash.
func passwordHash(t *testing.T, e *env, orgID, userID string) string {
	t.Helper()
	var h string
	err := e.store.Write(context.Background(), domain.OrgScope(orgID), func(tx domain.Tx) error {
		return tx.SQL().QueryRowContext(context.Background(), "SELECT password_hash FROM users WHERE id = $1", userID).Scan(&h)
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustExec(t *testing.T, e *env, orgID, query string, args ...any) {
	t.Helper()
	err := e.store.Write(context.Background(), domain.OrgScope(orgID), func(tx domain.Tx) error {
		_, err := tx.SQL().ExecContext(context.Background(), query, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// backdateRefreshUse moves a used refresh token's rotation time out of the grace window.
func backdateRefreshUse(t *testing.T, e *env, token string) {
	t.Helper()
	sum := sha256Hex(token)
	err := e.store.Write(context.Background(), domain.SystemScope(domain.SystemTokenHash), func(tx domain.Tx) error {
		_, err := tx.SQL().ExecContext(context.Background(), "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2",
			time.Now().UTC().Add(-time.Minute), sum)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(s string) string { return auth.HashToken(s) }
