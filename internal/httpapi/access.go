package httpapi

import (
	"context"
	"errors"
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
	// AuthenticateRead is Authenticate for a read-only request; it may
	// return a principal with a check the request must settle before it
	// is answered (domain.PrincipalCheck), or a nil check.
	AuthenticateRead(ctx context.Context, c Credentials, allowUnverified bool) (*domain.Principal, *domain.PrincipalCheck, error)
	// Confirm settles a check the request left pending.
	Confirm(ctx context.Context, c *domain.PrincipalCheck) error
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
	c := credentialsFrom(ctx.Context())
	c.Authorization, c.APIKey = ctx.Header("Authorization"), ctx.Header("X-API-Key")
	return c
}

// credentialsFrom returns who sent the request, without its secrets.
func credentialsFrom(ctx context.Context) Credentials {
	var c Credentials
	if ri := reqInfoFrom(ctx); ri != nil {
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
		var p *domain.Principal
		var check *domain.PrincipalCheck
		var err error
		if ctx.Method() == http.MethodGet {
			p, check, err = s.auth.AuthenticateRead(ctx.Context(), creds, a.AllowUnverified)
			if err == nil && check != nil && a.Permission != "" && !p.Can(a.Permission) {
				// Deny only on what the database says now.
				p, err = s.confirm(ctx.Context(), check, p)
				check = nil
			}
		} else {
			p, err = s.auth.Authenticate(ctx.Context(), creds, a.AllowUnverified)
		}
		if err != nil {
			writeHumaProblem(ctx, problemFor(ctx.Context(), s.log, err))
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
		if check != nil {
			guess := p
			// Settles the check before huma answers on its own (a refused
			// parameter, say): an ended session gets its 401 instead.
			settle := func(rc context.Context) *Problem {
				if _, err := s.confirm(rc, check, guess); err != nil {
					return problemFor(rc, s.log, err)
				}
				return nil
			}
			rc := domain.WithPrincipalCheck(ctx.Context(), check)
			ctx = huma.WithContext(ctx, context.WithValue(rc, settleKey, settle))
		}
		next(huma.WithValue(ctx, principalKey, p))
	}
}

// confirm settles a principal check now and returns the principal the
// request has: guess when unchanged, the current one when it changed.
func (s *Server) confirm(ctx context.Context, c *domain.PrincipalCheck, guess *domain.Principal) (*domain.Principal, error) {
	err := s.auth.Confirm(ctx, c)
	if errors.Is(err, domain.ErrPrincipalChanged) {
		_, current, _ := c.Settled()
		return current, nil
	}
	if err != nil {
		return nil, err
	}
	return guess, nil
}

// settled answers a read-only request that ran on a remembered principal
// only once its check is settled: as the handler answered when the
// principal was confirmed; 401 or 403 when it ended; and when it changed,
// authorised again with the current principal and run again.
func settled[I, O any](s *Server, ctx context.Context, a Access, path string, in *I, h func(context.Context, *I) (*O, error), out *O, herr error) (*O, error) {
	c := domain.PrincipalCheckFrom(ctx)
	if c == nil {
		return out, herr
	}
	p, err := s.confirm(ctx, c, PrincipalFrom(ctx))
	if err != nil {
		return nil, err
	}
	if p == PrincipalFrom(ctx) {
		return out, herr
	}
	ctx = domain.WithPrincipalCheck(ctx, nil)
	if a.Permission != "" && !p.Can(a.Permission) {
		s.auth.Denied(ctx, p, a.Permission, credentialsFrom(ctx), http.MethodGet, path)
		return nil, domain.Errorf(domain.ECodeForbidden, "this action requires the %s permission", a.Permission)
	}
	return h(context.WithValue(ctx, principalKey, p), in)
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
