package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	testNow    = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
)

func testIssuer() TokenIssuer {
	return TokenIssuer{
		Secret:    testSecret,
		Algorithm: "HS256",
		Issuer:    "https://superagent.test",
		Audience:  "superagent-api",
		TTL:       15 * time.Minute,
		Now:       func() time.Time { return testNow },
	}
}

var testClaims = AccessClaims{UserID: "usr_1", OrgID: "org_1", SessionID: "ses_1"}

// wireClaims returns valid access claims as a map, to be altered by tests.
func wireClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://superagent.test",
		"aud": []string{"superagent-api"},
		"sub": "usr_1",
		"org": "org_1",
		"sid": "ses_1",
		"jti": "atk_1",
		"iat": testNow.Unix(),
		"nbf": testNow.Unix(),
		"exp": testNow.Add(time.Minute).Unix(),
	}
}

// sign signs claims with the given method and key, setting the typ header
// unless typ is empty.
func sign(t *testing.T, m jwt.SigningMethod, key any, typ string, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if typ == "" {
		delete(tok.Header, "typ")
	} else {
		tok.Header["typ"] = typ
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssueParseAccessRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ti := testIssuer()
			ti.Algorithm = alg
			ti.Secret = []byte(strings.Repeat("k", 64))
			tok, exp, err := ti.IssueAccess(testClaims)
			if err != nil {
				t.Fatal(err)
			}
			if want := testNow.Add(15 * time.Minute); !exp.Equal(want) {
				t.Errorf("expiresAt = %v, want %v", exp, want)
			}
			got, err := ti.ParseAccess(tok)
			if err != nil {
				t.Fatalf("ParseAccess: %v", err)
			}
			if got.UserID != "usr_1" || got.OrgID != "org_1" || got.SessionID != "ses_1" {
				t.Errorf("claims = %+v, want the issued user, org and session", got)
			}
			if !strings.HasPrefix(got.TokenID, "atk_") {
				t.Errorf("TokenID = %q, want a generated atk_ id", got.TokenID)
			}
			if !got.IssuedAt.Equal(testNow) || !got.NotBefore.Equal(testNow) || !got.ExpiresAt.Equal(exp) {
				t.Errorf("times = iat %v nbf %v exp %v; want %v, %v, %v", got.IssuedAt, got.NotBefore, got.ExpiresAt, testNow, testNow, exp)
			}
			tok2, _, _ := ti.IssueAccess(testClaims)
			if got2, _ := ti.ParseAccess(tok2); got2.TokenID == got.TokenID {
				t.Error("two tokens share a jti")
			}
		})
	}
}

func TestIssueAccessKeepsGivenTokenID(t *testing.T) {
	t.Parallel()
	ti := testIssuer()
	c := testClaims
	c.TokenID = "atk_given"
	tok, _, err := ti.IssueAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ti.ParseAccess(tok)
	if err != nil || got.TokenID != "atk_given" {
		t.Fatalf("ParseAccess = %+v, %v; want jti atk_given", got, err)
	}
}

func TestIssueAccessRequiresSubject(t *testing.T) {
	t.Parallel()
	for _, c := range []AccessClaims{
		{OrgID: "org_1", SessionID: "ses_1"},
		{UserID: "usr_1", SessionID: "ses_1"},
		{UserID: "usr_1", OrgID: "org_1"},
	} {
		if _, _, err := testIssuer().IssueAccess(c); err == nil {
			t.Errorf("IssueAccess(%+v) succeeded", c)
		}
	}
}

func TestParseAccessRejects(t *testing.T) {
	t.Parallel()
	ti := testIssuer()
	valid, _, err := ti.IssueAccess(testClaims)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	at := AccessTokenType
	without := func(name string) jwt.MapClaims { c := wireClaims(); delete(c, name); return c }
	with := func(name string, v any) jwt.MapClaims { c := wireClaims(); c[name] = v; return c }

	other := ti
	other.Issuer = "https://evil.test"
	wrongIss, _, _ := other.IssueAccess(testClaims)
	other = ti
	other.Audience = "another-api"
	wrongAud, _, _ := other.IssueAccess(testClaims)
	other = ti
	other.Now = func() time.Time { return testNow.Add(-16 * time.Minute) }
	expired, _, _ := other.IssueAccess(testClaims)

	// Tampered: swap the payload for one naming another org, keep the signature.
	parts := strings.Split(valid, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"org_1"`, `"org_2"`, 1)))
	tampered := strings.Join(parts, ".")

	apiKey, _ := NewOpaqueToken(PrefixAPIKey)
	refresh, _ := NewOpaqueToken(PrefixRefreshToken)

	tests := []struct {
		name        string
		token       string
		wantExpired bool
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, at, wireClaims()), false},
		{"HS512 when HS256 is configured", sign(t, jwt.SigningMethodHS512, testSecret, at, wireClaims()), false},
		{"HS384 when HS256 is configured", sign(t, jwt.SigningMethodHS384, testSecret, at, wireClaims()), false},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, at, wireClaims()), false},
		{"wrong key", sign(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes long..!"), at, wireClaims()), false},
		{"expired", expired, true},
		{"expired beyond leeway", sign(t, jwt.SigningMethodHS256, testSecret, at, with("exp", testNow.Add(-ClockLeeway-time.Second).Unix())), true},
		{"missing exp", sign(t, jwt.SigningMethodHS256, testSecret, at, without("exp")), false},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, testSecret, at, with("nbf", testNow.Add(time.Minute).Unix())), false},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, testSecret, at, with("iat", testNow.Add(time.Minute).Unix())), false},
		{"missing iat", sign(t, jwt.SigningMethodHS256, testSecret, at, without("iat")), false},
		{"wrong iss", wrongIss, false},
		{"missing iss", sign(t, jwt.SigningMethodHS256, testSecret, at, without("iss")), false},
		{"wrong aud", wrongAud, false},
		{"missing aud", sign(t, jwt.SigningMethodHS256, testSecret, at, without("aud")), false},
		{"missing sub", sign(t, jwt.SigningMethodHS256, testSecret, at, without("sub")), false},
		{"missing org", sign(t, jwt.SigningMethodHS256, testSecret, at, without("org")), false},
		{"missing sid", sign(t, jwt.SigningMethodHS256, testSecret, at, without("sid")), false},
		{"missing jti", sign(t, jwt.SigningMethodHS256, testSecret, at, without("jti")), false},
		{"tampered payload", tampered, false},
		{"typ JWT", sign(t, jwt.SigningMethodHS256, testSecret, "JWT", wireClaims()), false},
		{"no typ", sign(t, jwt.SigningMethodHS256, testSecret, "", wireClaims()), false},
		{"garbage", "not.a.jwt", false},
		{"empty", "", false},
		{"truncated", valid[:len(valid)-5], false},
		{"API key", apiKey, false},
		{"refresh token", refresh, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ti.ParseAccess(tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ParseAccess = %+v, %v; want ErrInvalidToken", got, err)
			}
			if errors.Is(err, ErrTokenExpired) != tt.wantExpired {
				t.Errorf("errors.Is(err, ErrTokenExpired) = %v, want %v (err: %v)", !tt.wantExpired, tt.wantExpired, err)
			}
			if got != (AccessClaims{}) {
				t.Errorf("claims returned with an error: %+v", got)
			}
		})
	}
}

func TestParseAccessLeeway(t *testing.T) {
	t.Parallel()
	ti := testIssuer()
	tok := sign(t, jwt.SigningMethodHS256, testSecret, AccessTokenType, func() jwt.MapClaims {
		c := wireClaims()
		c["exp"] = testNow.Add(-ClockLeeway / 2).Unix()
		return c
	}())
	if _, err := ti.ParseAccess(tok); err != nil {
		t.Fatalf("token expired within the clock leeway was refused: %v", err)
	}
}

func TestTokenIssuerValidate(t *testing.T) {
	t.Parallel()
	mod := func(f func(*TokenIssuer)) TokenIssuer { ti := testIssuer(); f(&ti); return ti }
	tests := []struct {
		name    string
		ti      TokenIssuer
		wantErr string
	}{
		{"valid", testIssuer(), ""},
		{"alg none", mod(func(ti *TokenIssuer) { ti.Algorithm = "none" }), `algorithm "none"`},
		{"alg RS256", mod(func(ti *TokenIssuer) { ti.Algorithm = "RS256" }), `algorithm "RS256"`},
		{"alg lower case", mod(func(ti *TokenIssuer) { ti.Algorithm = "hs256" }), `algorithm "hs256"`},
		{"alg empty", mod(func(ti *TokenIssuer) { ti.Algorithm = "" }), `algorithm ""`},
		{"short secret", mod(func(ti *TokenIssuer) { ti.Secret = []byte("short") }), "at least 32 bytes"},
		{"HS512 with 32-byte secret", mod(func(ti *TokenIssuer) { ti.Algorithm = "HS512" }), "at least 64 bytes"},
		{"no issuer", mod(func(ti *TokenIssuer) { ti.Issuer = "" }), "issuer"},
		{"no audience", mod(func(ti *TokenIssuer) { ti.Audience = "" }), "audience"},
		{"no TTL", mod(func(ti *TokenIssuer) { ti.TTL = 0 }), "TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.ti.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTokenConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want ErrTokenConfig mentioning %q", err, tt.wantErr)
			}
			if _, _, err := tt.ti.IssueAccess(testClaims); !errors.Is(err, ErrTokenConfig) {
				t.Errorf("IssueAccess with bad config = %v, want ErrTokenConfig", err)
			}
			if _, err := tt.ti.ParseAccess("x.y.z"); !errors.Is(err, ErrTokenConfig) {
				t.Errorf("ParseAccess with bad config = %v, want ErrTokenConfig", err)
			}
		})
	}
}

func TestTokenIssuerStringHidesSecret(t *testing.T) {
	t.Parallel()
	if s := testIssuer().String(); strings.Contains(s, string(testSecret)) || !strings.Contains(s, "32 bytes") {
		t.Fatalf("String() = %q: must not contain the secret", s)
	}
}
