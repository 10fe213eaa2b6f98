package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/superagent-hq/superagent/internal/domain"
)

// The routes about the caller's own account in the access matrix. A
// signed-in user calls them as a stand-in account of its role, prepared so
// the call succeeds (and its audit row is checked) without changing the
// shared fixture users. API keys and anonymous callers send the bodies
// below as they are.
func init() {
	for op, c := range map[string]matrixCase{
		"end-session": {
			params: id(func(w *matrixWorld, _ *orgFixture) string {
				if w.self != nil {
					return w.self.session
				}
				return "ses_unknown"
			}),
			self: func(w *matrixWorld, r domain.Role) *matrixSelf {
				// The fixture user itself, ending a second session of its own.
				u := w.own.users[r]
				other := matrixLogin(w, u)
				var list struct {
					Sessions []struct {
						ID      string `json:"id"`
						Current bool   `json:"current"`
					} `json:"sessions"`
				}
				w.e.call(http.MethodGet, "/api/v1/auth/sessions", other, nil, http.StatusOK, &list)
				s := &matrixSelf{user: u, token: w.tokens[string(r)]}
				for _, se := range list.Sessions {
					if se.Current {
						s.session = se.ID
					}
				}
				if s.session == "" {
					w.e.t.Fatalf("the new session of %s is not among its sessions: %+v", r, list)
				}
				return s
			},
		},
		"resend-verification": {params: noID, self: func(w *matrixWorld, r domain.Role) *matrixSelf {
			return matrixStandIn(w, r, false)
		}},
		"change-password": {
			params: noID,
			body: func(w *matrixWorld, _ *orgFixture) any {
				if w.self != nil {
					return map[string]string{"current_password": testPassword, "new_password": "a changed passphrase for the matrix"}
				}
				return map[string]string{"current_password": "wrong", "new_password": "whatever else"}
			},
			self: func(w *matrixWorld, r domain.Role) *matrixSelf { return matrixStandIn(w, r, true) },
		},
		"mfa-confirm": {
			params: noID,
			body: func(w *matrixWorld, _ *orgFixture) any {
				if w.self != nil {
					code, err := totp.GenerateCode(w.self.secret, time.Now())
					if err != nil {
						w.e.t.Fatal(err)
					}
					return map[string]string{"code": code}
				}
				return map[string]string{"code": "000000"}
			},
			self: func(w *matrixWorld, r domain.Role) *matrixSelf {
				s := matrixStandIn(w, r, true)
				s.secret = matrixEnrollMFA(w, s)
				return s
			},
		},
		"mfa-disable": {
			params: noID,
			body: func(w *matrixWorld, _ *orgFixture) any {
				if w.self != nil {
					// A recovery code: a TOTP code of the step the
					// confirmation used would be refused as a replay.
					return map[string]string{"password": testPassword, "code": w.self.recovery[0]}
				}
				return map[string]string{"password": "x", "code": "0"}
			},
			self: func(w *matrixWorld, r domain.Role) *matrixSelf {
				s := matrixStandIn(w, r, true)
				secret := matrixEnrollMFA(w, s)
				code, err := totp.GenerateCode(secret, time.Now())
				if err != nil {
					w.e.t.Fatal(err)
				}
				var out struct {
					RecoveryCodes []string `json:"recovery_codes"`
				}
				w.e.call(http.MethodPost, "/api/v1/auth/mfa/confirm", s.token, map[string]string{"code": code}, http.StatusOK, &out)
				if len(out.RecoveryCodes) == 0 {
					w.e.t.Fatal("confirming MFA returned no recovery codes")
				}
				s.recovery = out.RecoveryCodes
				return s
			},
		},
	} {
		accessMatrix[op] = c
	}
}

// matrixStandIn creates an active user of role r in the own organization,
// with testPassword, its e-mail address verified or not, and signs it in.
func matrixStandIn(w *matrixWorld, r domain.Role, verified bool) *matrixSelf {
	if w.hash == "" {
		h, err := w.e.hasher.Hash(context.Background(), testPassword)
		if err != nil {
			w.e.t.Fatal(err)
		}
		w.hash = h
	}
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: strings.ToLower(domain.NewID("s")) + "@matrix.example",
		Username: strings.ToLower(domain.NewID("s")), Role: r, IsActive: true, PasswordHash: w.hash, TeamID: w.own.team.ID}
	if verified {
		now := time.Now().UTC()
		u.EmailVerifiedAt = &now
	}
	matrixWrite(w, w.own, func(tx domain.Tx) error { return tx.CreateUser(u) })
	return &matrixSelf{user: u, token: matrixLogin(w, u)}
}

// matrixLogin opens a new session of u's and returns its access token.
func matrixLogin(w *matrixWorld, u *domain.User) string {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	w.e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, http.StatusOK, &out)
	return out.AccessToken
}

// matrixEnrollMFA starts s's MFA enrolment and returns the TOTP secret.
func matrixEnrollMFA(w *matrixWorld, s *matrixSelf) string {
	var out struct {
		Secret string `json:"secret"`
	}
	w.e.call(http.MethodPost, "/api/v1/auth/mfa/enroll", s.token, map[string]any{}, http.StatusOK, &out)
	return out.Secret
}
