package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/domain"
)

func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("invite")
		admin := f.token(domain.RoleAdmin)
		var invited UserOutJSON
		e.call(http.MethodPost, "/api/v1/users/invite", admin, map[string]any{"email": "Grace@Invite.example", "role": "developer",
			"team_id": f.team.ID, "full_name": "Grace Hopper"}, 201, &invited)
		if !invited.Pending || invited.Email != "grace@invite.example" || invited.Role != "developer" {
			t.Fatalf("invited = %+v", invited)
		}
		m := e.waitMail()
		if m.To[0] != "grace@invite.example" || !strings.Contains(m.Text, "organization invite") || !strings.Contains(m.Subject, "invited you") {
			t.Errorf("invitation mail %q: %s", m.Subject, m.Text)
		}
		tok := mailToken(t, m.Text)
		// Pending users cannot sign in.
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "grace@invite.example", "password": "anything at all"}, 400, nil)
		e.call(http.MethodPost, "/api/v1/auth/invitations/accept", "", map[string]string{"token": tok, "username": "grace", "password": "123"}, 422, nil)
		var pair tokenBody
		e.call(http.MethodPost, "/api/v1/auth/invitations/accept", "", map[string]string{"token": tok, "username": "grace", "password": "compilers all the way"}, 200, &pair)
		if pair.User.Role != "developer" || pair.User.OrgID != f.org.ID {
			t.Errorf("accepted = %+v", pair.User)
		}
		e.call(http.MethodPost, "/api/v1/auth/invitations/accept", "", map[string]string{"token": tok, "username": "grace2", "password": "compilers all the way"}, 401, nil)
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "grace", "password": "compilers all the way"}, 200, nil)
		// A developer cannot invite an admin or grant extra permissions.
		e.call(http.MethodPost, "/api/v1/users/invite", pair.AccessToken, map[string]any{"email": "x@invite.example", "role": "viewer"}, 403, nil)
		acts := auditActions(t, e, f.org.ID)
		if !acts["user.invited"] || !acts["user.invitation_accepted"] {
			t.Errorf("invitation not audited: %v", acts)
		}
	})
}

// UserOutJSON mirrors the API's user shape for tests.
type UserOutJSON struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	Username    string   `json:"username"`
	FullName    string   `json:"full_name"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
	TeamID      string   `json:"team_id"`
	IsActive    bool     `json:"is_active"`
	Pending     bool     `json:"pending"`
	Deleted     bool     `json:"deleted"`
}

func TestRoleChangesApplyOnTheNextRequest(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("roles")
		admin := f.token(domain.RoleAdmin)
		viewer := f.users[domain.RoleViewer]
		vtok := f.token(domain.RoleViewer)
		e.call(http.MethodPost, "/api/v1/teams", vtok, map[string]string{"name": "Nope"}, 403, nil)
		// Extra permission, no new login: effective at once.
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"permissions": []string{"teams.manage"}}, 200, nil)
		e.call(http.MethodPost, "/api/v1/teams", vtok, map[string]string{"name": "Now allowed"}, 201, nil)
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"permissions": []string{}, "role": "operator"}, 200, nil)
		e.call(http.MethodPost, "/api/v1/teams", vtok, map[string]string{"name": "Again nope"}, 403, nil)
		var me struct{ Role string }
		e.call(http.MethodGet, "/api/v1/auth/me", vtok, nil, 200, &me)
		if me.Role != "operator" {
			t.Errorf("role after change = %s", me.Role)
		}
		// Unknown fields are refused; ids and org cannot be assigned.
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"org_id": "org_other"}, 422, nil)
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"permissions": []string{"not.a.permission"}}, 422, nil)
		acts := auditActions(t, e, f.org.ID)
		if !acts["user.permissions_changed"] {
			t.Errorf("permission change not audited")
		}
	})
}

func TestLastAdminRuleAndDeactivation(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("lastadmin")
		admin := f.users[domain.RoleAdmin]
		atok := f.token(domain.RoleAdmin)
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPatch, "/api/v1/users/" + admin.ID, map[string]string{"role": "viewer"}},
			{http.MethodPost, "/api/v1/users/" + admin.ID + "/deactivate", nil},
			{http.MethodDelete, "/api/v1/users/" + admin.ID, nil},
		} {
			var p struct{ Detail string }
			e.call(req.method, req.path, atok, req.body, 409, &p)
			if !strings.Contains(p.Detail, "last active admin") {
				t.Errorf("%s %s: %q", req.method, req.path, p.Detail)
			}
		}
		// Deactivation ends sessions at once; reactivation lets the user sign in again.
		dev := f.users[domain.RoleDeveloper]
		dtok := f.token(domain.RoleDeveloper)
		e.call(http.MethodPost, "/api/v1/users/"+dev.ID+"/deactivate", atok, nil, 200, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", dtok, nil, 401, nil)
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": dev.Email, "password": testPassword}, 400, nil)
		e.call(http.MethodPost, "/api/v1/users/"+dev.ID+"/reactivate", atok, nil, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": dev.Email, "password": testPassword}, 200, nil)
		// Deleting anonymises; the id stays readable.
		e.call(http.MethodDelete, "/api/v1/users/"+dev.ID, atok, nil, 204, nil)
		var gone UserOutJSON
		e.call(http.MethodGet, "/api/v1/users/"+dev.ID, atok, nil, 200, &gone)
		if !gone.Deleted || gone.IsActive || strings.Contains(gone.Email, "lastadmin") || gone.FullName != "" {
			t.Errorf("deleted user = %+v", gone)
		}
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": dev.Email, "password": testPassword}, 400, nil)
		// With a second admin, the first can step down.
		e.call(http.MethodPatch, "/api/v1/users/"+f.users[domain.RoleOperator].ID, atok, map[string]string{"role": "admin"}, 200, nil)
		e.call(http.MethodPatch, "/api/v1/users/"+admin.ID, atok, map[string]string{"role": "viewer"}, 200, nil)
	})
}

func TestTeamsAndPlanLimits(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("teams")
		admin := f.token(domain.RoleAdmin)
		mustExec(t, e, f.org.ID, "UPDATE organizations SET max_teams = 3 WHERE id = $1", f.org.ID)
		var team struct{ ID string }
		e.call(http.MethodPost, "/api/v1/teams", admin, map[string]string{"name": "Sales"}, 201, &team)
		e.call(http.MethodPost, "/api/v1/teams", admin, map[string]string{"name": "Sales"}, 409, nil)
		e.call(http.MethodPost, "/api/v1/teams", admin, map[string]string{"name": "Support"}, 201, nil)
		var p struct {
			Code       string `json:"code"`
			Limit      string `json:"limit"`
			LimitValue int    `json:"limit_value"`
			Detail     string
		}
		e.call(http.MethodPost, "/api/v1/teams", admin, map[string]string{"name": "Ops"}, 429, &p)
		if p.Code != string(domain.ECodeLimitExceeded) || p.Limit != "max_teams" || p.LimitValue != 3 {
			t.Errorf("plan limit problem = %+v", p)
		}
		e.call(http.MethodPatch, "/api/v1/teams/"+team.ID, admin, map[string]string{"name": "Sales EMEA"}, 200, nil)
		var list struct {
			Teams []struct{ Name string } `json:"teams"`
		}
		e.call(http.MethodGet, "/api/v1/teams?limit=1", f.token(domain.RoleViewer), nil, 200, &list)
		if len(list.Teams) != 1 {
			t.Errorf("page size not honoured: %d", len(list.Teams))
		}
		e.call(http.MethodGet, "/api/v1/teams?limit=5000", admin, nil, 422, nil)
		e.call(http.MethodDelete, "/api/v1/teams/"+team.ID, admin, nil, 204, nil)
		e.call(http.MethodGet, "/api/v1/teams/"+team.ID, admin, nil, 404, nil)
		other := e.newOrg("teamsother")
		e.call(http.MethodGet, "/api/v1/teams/"+other.team.ID, admin, nil, 404, nil)
	})
}

func TestOrganizationSettings(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("orgset")
		var o struct {
			Name       string
			Plan       string
			RequireMFA bool `json:"require_mfa"`
			Limits     struct {
				MaxWorkflows int `json:"max_workflows"`
			}
		}
		admin := f.token(domain.RoleAdmin)
		// Requiring MFA needs the requiring admin to have it, or they would lock themselves out.
		e.call(http.MethodPatch, "/api/v1/org", admin, map[string]any{"require_mfa": true}, 409, nil)
		var enroll struct{ Secret string }
		e.call(http.MethodPost, "/api/v1/auth/mfa/enroll", admin, nil, 200, &enroll)
		code, _ := totp.GenerateCode(enroll.Secret, time.Now())
		e.call(http.MethodPost, "/api/v1/auth/mfa/confirm", admin, map[string]string{"code": code}, 200, nil)
		e.call(http.MethodPatch, "/api/v1/org", admin, map[string]any{"name": "Renamed", "require_mfa": true}, 200, &o)
		if o.Name != "Renamed" || !o.RequireMFA {
			t.Errorf("org = %+v", o)
		}
		// The plan is the operator's business, not the tenant's.
		e.call(http.MethodPatch, "/api/v1/org", admin, map[string]any{"plan": "enterprise"}, 422, nil)
		e.call(http.MethodPatch, "/api/v1/org", f.token(domain.RoleDeveloper), map[string]any{"name": "x"}, 403, nil)
		// With MFA required, members without it are held to enrolment.
		var fresh struct {
			AccessToken string `json:"access_token"`
		}
		e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": f.users[domain.RoleViewer].Email, "password": testPassword}, 200, &fresh)
		e.call(http.MethodGet, "/api/v1/teams", fresh.AccessToken, nil, 403, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", fresh.AccessToken, nil, 200, nil)
		e.call(http.MethodPost, "/api/v1/auth/mfa/enroll", fresh.AccessToken, nil, 200, nil)
	})
}

func TestSingleOrganizationMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", "ENABLE_MULTI_TENANCY=false")
	first := register(e, "first@single.example", "first", "the very first user", "")
	second := register(e, "second@single.example", "second", "the second user here", "Ignored Org")
	if first.User.Role != "admin" || second.User.Role != "viewer" || first.User.OrgID != second.User.OrgID {
		t.Errorf("single-org sign-ups: %+v / %+v", first.User, second.User)
	}
}

// TestReadsConfirmTheirPrincipal: a GET may run on the principal its token
// had on the previous request (auth.AuthenticateRead), confirmed by its own
// transaction or before it is answered; revocation, demotion and promotion
// still apply on the very next request, with or without a tenant read.
func TestReadsConfirmTheirPrincipal(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("confirm")
		admin := f.token(domain.RoleAdmin)
		viewer := f.users[domain.RoleViewer]
		tok := loginAs(t, e, viewer.Email, testPassword, "confirm").AccessToken
		e.call(http.MethodGet, "/api/v1/workflows", tok, nil, 200, nil)
		// The next read runs on that principal, with a check pending.
		p, check, err := e.auth.AuthenticateRead(context.Background(), "Bearer "+tok, "", auth.Meta{}, false)
		if err != nil || check == nil || p.Role != domain.RoleViewer {
			t.Fatalf("AuthenticateRead after a request = %+v, check %v, %v", p, check, err)
		}

		// Promotion: the remembered principal would deny; the database allows.
		e.call(http.MethodGet, "/api/v1/audit-logs", tok, nil, 403, nil)
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"permissions": []string{"audit.read"}}, 200, nil)
		e.call(http.MethodGet, "/api/v1/audit-logs", tok, nil, 200, nil)
		// Demotion: the remembered principal would allow; the request's own
		// transaction reads the change, and the request is authorised again.
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"permissions": []string{}}, 200, nil)
		e.call(http.MethodGet, "/api/v1/audit-logs", tok, nil, 403, nil)
		if ev := wantAudit(t, e, f.org.ID, "access.denied", "", false, viewer.ID); ev == nil {
			t.Error("the denial after a demotion was not audited")
		}
		// A team change applies to the next read.
		var team struct{ ID string }
		e.call(http.MethodPost, "/api/v1/teams", admin, map[string]string{"name": "Elsewhere"}, 201, &team)
		var me struct {
			Team *struct{ ID string } `json:"team"`
		}
		e.call(http.MethodGet, "/api/v1/auth/me", tok, nil, 200, &me)
		e.call(http.MethodPatch, "/api/v1/users/"+viewer.ID, admin, map[string]any{"team_id": team.ID}, 200, nil)
		e.call(http.MethodGet, "/api/v1/auth/me", tok, nil, 200, &me)
		if me.Team == nil || me.Team.ID != team.ID {
			t.Errorf("me.team after the move = %+v, want %s", me.Team, team.ID)
		}

		// Revocation, on a route with a tenant read, on one without, and
		// on a request huma refuses before any handler runs.
		for _, path := range []string{"/api/v1/workflows", "/api/v1/roles", "/api/v1/agents?limit=100000"} {
			tok := loginAs(t, e, viewer.Email, testPassword, "revoked").AccessToken
			want := 200
			if strings.Contains(path, "limit=") {
				want = 422
			}
			e.call(http.MethodGet, path, tok, nil, want, nil)
			e.call(http.MethodGet, path, tok, nil, want, nil)
			e.call(http.MethodPost, "/api/v1/auth/logout", tok, nil, 204, nil)
			res := e.do(http.MethodGet, path, tok, nil)
			res.Body.Close()
			if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("GET %s after logout = %d (WWW-Authenticate %q), want 401", path, res.StatusCode, res.Header.Get("WWW-Authenticate"))
			}
		}
		// Deactivation.
		e.call(http.MethodGet, "/api/v1/workflows", tok, nil, 200, nil)
		e.call(http.MethodPost, "/api/v1/users/"+viewer.ID+"/deactivate", admin, nil, 200, nil)
		e.call(http.MethodGet, "/api/v1/workflows", tok, nil, 401, nil)
		e.call(http.MethodGet, "/api/v1/roles", tok, nil, 401, nil)
	})
}
