package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
)

// auditChain returns every row of an organization's audit chain (the
// installation chain for domain.InstallationOrgID), oldest first.
func auditChain(t *testing.T, e *env, orgID string) []domain.AuditEvent {
	t.Helper()
	var out []domain.AuditEvent
	err := e.store.Read(context.Background(), domain.SystemScope(domain.SystemAuditCheck), func(q domain.Queries) error {
		var err error
		out, err = q.AuditChain(orgID, 0, 5000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// findAudit returns the newest row of the chain with the action whose
// details carry the reason ("" matches any).
func findAudit(rows []domain.AuditEvent, action, reason string) *domain.AuditEvent {
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Action == action && (reason == "" || fmt.Sprint(rows[i].Details["reason"]) == reason) {
			return &rows[i]
		}
	}
	return nil
}

// wantAudit fails unless the chain has a row with the action and reason,
// of the given outcome and user, and returns it.
func wantAudit(t *testing.T, e *env, orgID, action, reason string, success bool, userID string) *domain.AuditEvent {
	t.Helper()
	ev := findAudit(auditChain(t, e, orgID), action, reason)
	if ev == nil {
		t.Errorf("no %s audit row (reason %q) in chain %q", action, reason, orgID)
		return nil
	}
	if ev.Success != success || ev.UserID != userID || ev.IPAddress == "" {
		t.Errorf("%s (%s): success %v user %q ip %q, want success %v user %q and the client's address", action, reason,
			ev.Success, ev.UserID, ev.IPAddress, success, userID)
	}
	return ev
}

// waitAudit waits for a row written off the request path (by a job).
func waitAudit(t *testing.T, e *env, orgID, action, reason string) *domain.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ev := findAudit(auditChain(t, e, orgID), action, reason); ev != nil {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s audit row (reason %q) in chain %q", action, reason, orgID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noSecretsInAudit fails when any audit row of any chain contains one of the secrets.
func noSecretsInAudit(t *testing.T, e *env, secrets map[string]string) {
	t.Helper()
	var all strings.Builder
	err := e.store.Read(context.Background(), domain.SystemScope(domain.SystemAuditCheck), func(q domain.Queries) error {
		orgs, err := q.AuditChainOrgs()
		if err != nil {
			return err
		}
		for _, org := range append(orgs, domain.InstallationOrgID) {
			rows, err := q.AuditChain(org, 0, 5000)
			if err != nil {
				return err
			}
			for _, r := range rows {
				fmt.Fprintf(&all, "%+v\n", r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range secrets {
		if s == "" {
			t.Fatalf("secret %s is empty, so the check would prove nothing", name)
		}
		if strings.Contains(all.String(), s) {
			t.Errorf("the %s appears in the audit log", name)
		}
	}
}

func TestRefreshIsAudited(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("refaudit")
		u := f.users[domain.RoleDeveloper]
		login := func() tokenBody {
			var tb tokenBody
			e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, 200, &tb)
			return tb
		}
		first := login()
		var second tokenBody
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}, 200, &second)
		if ev := wantAudit(t, e, f.org.ID, "auth.token_refreshed", "", true, u.ID); ev != nil && (ev.ResourceType != "session" || ev.ResourceID == "") {
			t.Errorf("refresh row names %s %q, want the session", ev.ResourceType, ev.ResourceID)
		}

		// Unknown and malformed tokens belong to no organization: the installation chain.
		unknown, _ := auth.NewOpaqueToken(auth.PrefixRefreshToken)
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": unknown}, 401, nil)
		wantAudit(t, e, domain.InstallationOrgID, "auth.refresh_failed", "unknown refresh token", false, "")
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.AccessToken}, 401, nil)
		wantAudit(t, e, domain.InstallationOrgID, "auth.refresh_failed", "malformed token or token of another kind", false, "")

		// Inside the grace window a rotated token is refused, and that is recorded.
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}, 401, nil)
		wantAudit(t, e, f.org.ID, "auth.refresh_failed", "refresh token already rotated, within the grace window", false, u.ID)

		// A logged-out session's token.
		e.call(http.MethodPost, "/api/v1/auth/logout", second.AccessToken, nil, 204, nil)
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}, 401, nil)
		wantAudit(t, e, f.org.ID, "auth.refresh_failed", "session revoked", false, u.ID)

		// An expired refresh token.
		third := login()
		err := e.store.Write(context.Background(), domain.SystemScope(domain.SystemTokenHash), func(tx domain.Tx) error {
			_, err := tx.SQL().ExecContext(context.Background(), "UPDATE refresh_tokens SET expires_at = $1 WHERE token_hash = $2",
				time.Now().UTC().Add(-time.Minute), auth.HashToken(third.RefreshToken))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken}, 401, nil)
		wantAudit(t, e, f.org.ID, "auth.refresh_failed", "refresh token expired", false, u.ID)

		// A deactivated user's token.
		fourth := login()
		mustExec(t, e, f.org.ID, "UPDATE users SET is_active = false WHERE id = $1", u.ID)
		e.call(http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": fourth.RefreshToken}, 401, nil)
		wantAudit(t, e, f.org.ID, "auth.refresh_failed", "account inactive", false, u.ID)

		noSecretsInAudit(t, e, map[string]string{"refresh token": first.RefreshToken, "rotated refresh token": second.RefreshToken,
			"unknown refresh token": unknown, "expired refresh token": third.RefreshToken, "inactive user's refresh token": fourth.RefreshToken})
	})
}

func TestOneTimeTokenFailuresAreAudited(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		reg := register(e, "grace@tokaudit.example", "grace", "cobol was a good idea", "Audited Tokens")
		org, uid := reg.User.OrgID, reg.User.ID
		verify := mailToken(t, e.waitMail().Text)

		// Verification: an unknown token (installation chain), then a used one (the user's organization).
		unknownVerify, _ := auth.NewOpaqueToken(auth.PrefixVerification)
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": unknownVerify}, 401, nil)
		wantAudit(t, e, domain.InstallationOrgID, "auth.email_verification_failed", "unknown token", false, "")
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": verify}, 204, nil)
		wantAudit(t, e, org, "auth.email_verified", "", true, uid)
		e.call(http.MethodPost, "/api/v1/auth/verify-email", "", map[string]string{"token": verify}, 401, nil)
		wantAudit(t, e, org, "auth.email_verification_failed", "token already used", false, uid)

		// Forgot password for an address with no account: no mail, but a row in the installation chain.
		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "Nobody@TokAudit.example"}, 202, nil)
		ev := waitAudit(t, e, domain.InstallationOrgID, "auth.password_reset_request_failed", "unknown address")
		if ev.Success || ev.Details["email"] != "nobody@tokaudit.example" || ev.IPAddress == "" {
			t.Errorf("unknown-address row = %+v", ev)
		}
		// A username is not an address: the same answer and the same row.
		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "grace"}, 202, nil)
		waitAudit(t, e, domain.InstallationOrgID, "auth.password_reset_request_failed", "unknown address")

		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "grace@tokaudit.example"}, 202, nil)
		reset := mailToken(t, e.waitMail().Text)
		wantAudit(t, e, org, "auth.password_reset_requested", "", true, uid)

		// Reset: unknown, of another kind, then used.
		unknownReset, _ := auth.NewOpaqueToken(auth.PrefixPasswordReset)
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": unknownReset, "password": "punched cards forever"}, 401, nil)
		wantAudit(t, e, domain.InstallationOrgID, "auth.password_reset_failed", "unknown token", false, "")
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": verify, "password": "punched cards forever"}, 401, nil)
		wantAudit(t, e, domain.InstallationOrgID, "auth.password_reset_failed", "malformed token or token of another kind", false, "")
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": reset, "password": "punched cards forever"}, 204, nil)
		wantAudit(t, e, org, "auth.password_reset_completed", "", true, uid)
		e.call(http.MethodPost, "/api/v1/auth/password/reset", "", map[string]string{"token": reset, "password": "punched cards forever 2"}, 401, nil)
		wantAudit(t, e, org, "auth.password_reset_failed", "token already used", false, uid)

		// A request for a deactivated account sends nothing and is recorded in its organization.
		mustExec(t, e, org, "UPDATE users SET is_active = false WHERE id = $1", uid)
		e.call(http.MethodPost, "/api/v1/auth/password/forgot", "", map[string]string{"email": "grace@tokaudit.example"}, 202, nil)
		if ev := waitAudit(t, e, org, "auth.password_reset_request_failed", "account inactive"); ev.UserID != uid || ev.Details["email"] != nil {
			t.Errorf("inactive-account row = %+v", ev)
		}
		if n := len(e.smtp.Messages()); n != 2 {
			t.Errorf("%d mails sent, want 2 (verification and one reset)", n)
		}

		noSecretsInAudit(t, e, map[string]string{"verification token": verify, "reset token": reset, "unknown verification token": unknownVerify,
			"unknown reset token": unknownReset, "new password": "punched cards forever"})
	})
}
