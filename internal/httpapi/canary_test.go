package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// TestSecretsNeverReachAuditOrLogs drives the flows that handle secrets
// with recognisable canary values, then searches every audit row and every
// log line for them.
func TestSecretsNeverReachAuditOrLogs(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		canaries := map[string]string{}
		pw := "canary-password-7f3a9c"
		canaries["registration password"] = pw
		reg := register(e, "canary@canary.example", "canary", pw, "Canary Org")
		canaries["access token"], canaries["refresh token"] = reg.AccessToken, reg.RefreshToken
		// A wrong password at login is a secret too.
		canaries["wrong password"] = "canary-wrong-password-1b2c"
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "canary", "password": canaries["wrong password"]}, 400, nil)
		var fresh tokenBody
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": reg.RefreshToken}, 200, &fresh)
		canaries["rotated refresh token"] = fresh.RefreshToken
		var key struct {
			Key string `json:"key"`
		}
		e.call(http.MethodPost, "/api/v1/api-keys", fresh.AccessToken, map[string]any{"name": "canary"}, 201, &key)
		canaries["API key"] = key.Key
		e.call(http.MethodGet, "/api/v1/auth/me", key.Key, nil, 200, nil)
		var enroll struct{ Secret string }
		e.call(http.MethodPost, "/api/v1/auth/mfa/enroll", fresh.AccessToken, nil, 200, &enroll)
		canaries["TOTP secret"] = enroll.Secret
		verify := mailToken(t, e.waitMail().Text)
		canaries["verification token"] = verify
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": verify}, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "canary@canary.example"}, 202, nil)
		reset := mailToken(t, e.waitMail().Text)
		canaries["reset token"], canaries["new password"] = reset, "canary-new-password-9d8e"
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": reset, "password": canaries["new password"]}, 204, nil)

		var rows []string
		err := e.store.Read(context.Background(), domain.SystemScope(domain.SystemAuditCheck), func(q domain.Queries) error {
			orgs, err := q.AuditChainOrgs()
			if err != nil {
				return err
			}
			for _, org := range orgs {
				evs, err := q.AuditChain(org, 0, 5000)
				if err != nil {
					return err
				}
				for _, ev := range evs {
					rows = append(rows, fmt.Sprintf("%+v", ev))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) < 8 {
			t.Fatalf("only %d audit rows: the flows above should have written more", len(rows))
		}
		all := strings.Join(rows, "\n")
		logs := e.logs.String()
		if !strings.Contains(logs, `"msg":"request"`) {
			t.Fatalf("no request log lines were captured, so the log check would prove nothing")
		}
		for name, secret := range canaries {
			if secret == "" {
				t.Fatalf("canary %s is empty", name)
			}
			if strings.Contains(all, secret) {
				t.Errorf("the %s appears in the audit log", name)
			}
			if strings.Contains(logs, secret) {
				t.Errorf("the %s appears in the logs", name)
			}
		}
	})
}
