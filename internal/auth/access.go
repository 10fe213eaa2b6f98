package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/superagent-hq/superagent/internal/domain"
)

// AccessTokenType is the JOSE "typ" header of access tokens (RFC 9068). A JWT
// without it, e.g. an ID token or another service's token signed with the
// same secret, is never accepted as an access token.
const AccessTokenType = "at+jwt"

// accessTokenIDPrefix prefixes the jti of access tokens.
const accessTokenIDPrefix = "atk"

// ClockLeeway is the clock skew tolerated when checking exp, nbf and iat.
const ClockLeeway = 10 * time.Second

// ErrInvalidToken is returned (wrapped) by ParseAccess for any token it does
// not accept. Its message is safe to show; the wrapped cause is for logs.
var ErrInvalidToken = &domain.Error{Code: domain.ECodeUnauthorized, Message: "invalid or expired access token"}

// ErrTokenExpired is wrapped, next to ErrInvalidToken, when a token was valid
// but has expired: the client should refresh it.
var ErrTokenExpired = errors.New("access token expired")

// ErrTokenConfig is wrapped by every error caused by a bad TokenIssuer.
var ErrTokenConfig = errors.New("invalid access token configuration")

// TokenIssuer issues and checks short-lived access tokens: JWTs signed with
// HMAC. The zero value is not usable; Validate tells what is missing.
type TokenIssuer struct {
	// Secret is the HMAC key; it must be at least as long as the hash output
	// (32, 48 or 64 bytes for HS256, HS384, HS512; RFC 7518 section 3.2).
	Secret []byte
	// Algorithm is "HS256", "HS384" or "HS512". Anything else, "none"
	// included, is a configuration error.
	Algorithm string
	Issuer    string        // iss: issued and required
	Audience  string        // aud: issued and required
	TTL       time.Duration // lifetime of a new token
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// AccessClaims is what an access token says. IssueAccess takes UserID,
// OrgID and SessionID and fills in the rest (TokenID when empty).
type AccessClaims struct {
	UserID    string // sub
	OrgID     string // org
	SessionID string // sid: the refresh-token family the token belongs to
	TokenID   string // jti
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// accessJWT is the wire form of AccessClaims.
type accessJWT struct {
	jwt.RegisteredClaims
	Org string `json:"org"`
	Sid string `json:"sid"`
}

// Validate adds the claims that jwt's validator does not require to its
// checks; jwt.Parser calls it after the signature checks out.
func (c accessJWT) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.Org == "":
		return errors.New("missing org")
	case c.Sid == "":
		return errors.New("missing sid")
	case c.ID == "":
		return errors.New("missing jti")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	}
	return nil
}

var hmacMethods = map[string]*jwt.SigningMethodHMAC{
	"HS256": jwt.SigningMethodHS256,
	"HS384": jwt.SigningMethodHS384,
	"HS512": jwt.SigningMethodHS512,
}

// Validate reports whether ti can issue and check tokens.
func (ti TokenIssuer) Validate() error {
	m, ok := hmacMethods[ti.Algorithm]
	if !ok {
		return fmt.Errorf("%w: algorithm %q is not one of HS256, HS384, HS512", ErrTokenConfig, ti.Algorithm)
	}
	if minLen := m.Hash.Size(); len(ti.Secret) < minLen {
		return fmt.Errorf("%w: %s needs a secret of at least %d bytes, got %d", ErrTokenConfig, ti.Algorithm, minLen, len(ti.Secret))
	}
	switch {
	case ti.Issuer == "":
		return fmt.Errorf("%w: issuer is empty", ErrTokenConfig)
	case ti.Audience == "":
		return fmt.Errorf("%w: audience is empty", ErrTokenConfig)
	case ti.TTL <= 0:
		return fmt.Errorf("%w: TTL must be positive", ErrTokenConfig)
	}
	return nil
}

// String describes ti without its secret, so that logging it is harmless.
func (ti TokenIssuer) String() string {
	return fmt.Sprintf("TokenIssuer{Algorithm: %s, Issuer: %q, Audience: %q, TTL: %s, Secret: [%d bytes]}",
		ti.Algorithm, ti.Issuer, ti.Audience, ti.TTL, len(ti.Secret))
}

func (ti TokenIssuer) now() time.Time {
	if ti.Now != nil {
		return ti.Now()
	}
	return time.Now()
}

// IssueAccess signs an access token for c.UserID in c.OrgID within session
// c.SessionID, valid from now for ti.TTL. It returns the token and its
// expiry. It fails on a bad configuration or missing claims.
func (ti TokenIssuer) IssueAccess(c AccessClaims) (token string, expiresAt time.Time, err error) {
	if err := ti.Validate(); err != nil {
		return "", time.Time{}, fmt.Errorf("issue access token: %w", err)
	}
	if c.UserID == "" || c.OrgID == "" || c.SessionID == "" {
		return "", time.Time{}, errors.New("issue access token: user, organization and session are required")
	}
	if c.TokenID == "" {
		c.TokenID = domain.NewID(accessTokenIDPrefix)
	}
	// JWT times have whole seconds; truncate so that what the caller is told
	// is exactly what the token says.
	now := ti.now().UTC().Truncate(time.Second)
	expiresAt = now.Add(ti.TTL)
	claims := accessJWT{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    ti.Issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{ti.Audience},
			ExpiresAt: jwt.NewNumericDate(expiresAt),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        c.TokenID,
		},
		Org: c.OrgID,
		Sid: c.SessionID,
	}
	t := jwt.NewWithClaims(hmacMethods[ti.Algorithm], claims)
	t.Header["typ"] = AccessTokenType
	token, err = t.SignedString(ti.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue access token: sign: %w", err)
	}
	return token, expiresAt, nil
}

// ParseAccess checks an access token and returns its claims. It accepts only
// tokens with typ "at+jwt", signed with exactly the configured algorithm and
// secret, with this issuer and audience, not expired (exp is required), not
// used before nbf or iat, and carrying sub, org, sid and jti. Every refusal
// wraps ErrInvalidToken (and ErrTokenExpired when the token only expired); a
// bad configuration wraps ErrTokenConfig instead.
func (ti TokenIssuer) ParseAccess(token string) (AccessClaims, error) {
	if err := ti.Validate(); err != nil {
		return AccessClaims{}, fmt.Errorf("parse access token: %w", err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{ti.Algorithm}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(ti.Issuer),
		jwt.WithAudience(ti.Audience),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockLeeway),
		jwt.WithTimeFunc(ti.now),
		jwt.WithStrictDecoding(),
	)
	var claims accessJWT
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != AccessTokenType {
			return nil, fmt.Errorf("typ header %q is not %q", typ, AccessTokenType)
		}
		return ti.Secret, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return AccessClaims{}, fmt.Errorf("parse access token: %w: %w: %w", ErrInvalidToken, ErrTokenExpired, err)
		}
		return AccessClaims{}, fmt.Errorf("parse access token: %w: %w", ErrInvalidToken, err)
	}
	out := AccessClaims{
		UserID:    claims.Subject,
		OrgID:     claims.Org,
		SessionID: claims.Sid,
		TokenID:   claims.ID,
		IssuedAt:  claims.IssuedAt.UTC(),
		ExpiresAt: claims.ExpiresAt.UTC(),
	}
	if claims.NotBefore != nil {
		out.NotBefore = claims.NotBefore.UTC()
	}
	return out, nil
}
