package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/httprate"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Access is who may call a route: nobody needs to be signed in (Public), any
// signed-in principal (Permission ""), or holders of one permission.
type Access struct {
	Public     bool
	Permission domain.Permission
	// AllowUnverified lets through a user who still has to verify an e-mail
	// address or enrol MFA (profile, verification, MFA enrolment, logout).
	AllowUnverified bool
	// RateLimited routes count against the per-client-IP limit on sign-in
	// endpoints (AUTH_RATE_LIMIT_PER_MINUTE).
	RateLimited bool
}

// Public routes need no credentials.
func Public() Access { return Access{Public: true} }

// Authenticated routes need any valid principal.
func Authenticated() Access { return Access{} }

// Requires routes need the permission.
func Requires(p domain.Permission) Access { return Access{Permission: p} }

// Credentials are what a request presented.
type Credentials struct {
	Authorization string // the Authorization header
	APIKey        string // the X-API-Key header
	IP            string
	UserAgent     string
	RequestID     string
}

// Authenticator resolves credentials to a principal. It returns an
// ECodeUnauthorized error for missing or bad credentials, and
// ECodeForbidden when the principal exists but may not proceed (for example
// an unverified e-mail where verification is required).
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials, allowUnverified bool) (*domain.Principal, error)
	// Denied records an attempt at a privileged action the principal lacks
	// the permission for.
	Denied(ctx context.Context, p *domain.Principal, perm domain.Permission, c Credentials, method, path string)
}

// PrincipalFrom returns the authenticated principal of the request.
func PrincipalFrom(ctx context.Context) *domain.Principal {
	p, _ := ctx.Value(principalKey).(*domain.Principal)
	return p
}

func credentialsOf(ctx huma.Context) Credentials {
	c := Credentials{Authorization: ctx.Header("Authorization"), APIKey: ctx.Header("X-API-Key")}
	if ri := reqInfoFrom(ctx.Context()); ri != nil {
		c.IP, c.UserAgent, c.RequestID = ri.ip, ri.userAgent, ri.id
	}
	return c
}

// gate authenticates and authorises before the request body is read or
// anything is looked up: 401 without valid credentials, 403 without the
// route's permission.
func (s *Server) gate(a Access) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		creds := credentialsOf(ctx)
		if a.RateLimited && s.limited(ctx, s.authLimiter, "ip:"+creds.IP) {
			return
		}
		if a.Public {
			next(ctx)
			return
		}
		if s.auth == nil {
			writeHumaProblem(ctx, problemFor(ctx.Context(), s.log, domain.Errorf(domain.ECodeUnauthorized, "authentication is not available")))
			return
		}
		p, err := s.auth.Authenticate(ctx.Context(), creds, a.AllowUnverified)
		if err != nil {
			prob := problemFor(ctx.Context(), s.log, err)
			if prob.Status == http.StatusUnauthorized {
				ctx.SetHeader("WWW-Authenticate", `Bearer realm="superagent"`)
			}
			writeHumaProblem(ctx, prob)
			return
		}
		key := "user:" + p.UserID
		if p.APIKeyID != "" {
			key = "key:" + p.APIKeyID
		}
		if s.limited(ctx, s.apiLimiter, key) {
			return
		}
		if a.Permission != "" && !p.Can(a.Permission) {
			s.auth.Denied(ctx.Context(), p, a.Permission, creds, ctx.Method(), ctx.Operation().Path)
			prob := newProblem(ctx.Context(), http.StatusForbidden, "this action requires the "+string(a.Permission)+" permission")
			prob.Code = string(domain.ECodeForbidden)
			writeHumaProblem(ctx, prob)
			return
		}
		next(huma.WithValue(ctx, principalKey, p))
	}
}

// limited applies a rate limiter and, when over it, answers 429 with
// Retry-After and a problem body.
func (s *Server) limited(ctx huma.Context, l *httprate.RateLimiter, key string) bool {
	if l == nil {
		return false
	}
	r, w := humachi.Unwrap(ctx)
	if !l.OnLimit(w, r, key) {
		return false
	}
	p := newProblem(ctx.Context(), http.StatusTooManyRequests, "too many requests: slow down and retry after the time in Retry-After")
	p.Code = string(domain.ECodeLimitExceeded)
	writeHumaProblem(ctx, p)
	return true
}
