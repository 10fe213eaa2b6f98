package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// env is a real server on a real database for API tests.
type env struct {
	t     *testing.T
	kind  string
	store *sqlstore.Store
	srv   *httptest.Server
	cfg   *config.Config
}

// newEnv starts a server on a fresh database of the given kind.
func newEnv(t *testing.T, kind string, settings ...string) *env {
	t.Helper()
	db := dbtest.New(t, kind)
	s := dbtest.Open(t, db)
	cfg, err := config.Load(append([]string{"PASSWORD_HASH_PROFILE=test", "ENVIRONMENT=test"}, settings...), "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, kind: kind, store: s, cfg: cfg}
	e.srv = httptest.NewServer(httpapi.New(httpapi.Deps{Config: cfg, Store: s, Auth: testAuthenticator{s}}))
	t.Cleanup(e.srv.Close)
	return e
}

// orgFixture is an organization with one user per role.
type orgFixture struct {
	e     *env
	org   *domain.Organization
	team  *domain.Team
	users map[domain.Role]*domain.User
}

// newOrg creates an organization with a default team and one active user per role.
func (e *env) newOrg(name string) *orgFixture {
	e.t.Helper()
	limits, _ := domain.DefaultPlanLimits(domain.PlanPro)
	f := &orgFixture{e: e, users: map[domain.Role]*domain.User{},
		org:  &domain.Organization{ID: domain.NewID(domain.PrefixOrg), Name: name, Slug: strings.ToLower(name) + "-" + domain.NewID("x")[2:8], Plan: domain.PlanPro, Limits: limits, IsActive: true},
		team: &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Default"}}
	err := e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error {
		if err := tx.CreateOrganization(f.org); err != nil {
			return err
		}
		if err := tx.CreateTeam(f.team); err != nil {
			return err
		}
		for _, r := range domain.Roles {
			u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: fmt.Sprintf("%s-%s@%s.example", r, f.org.ID[4:10], strings.ToLower(name)),
				Username: fmt.Sprintf("%s-%s-%s", strings.ToLower(name), r, f.org.ID[4:10]), Role: r, IsActive: true, PasswordHash: "unused", TeamID: f.team.ID}
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			f.users[r] = u
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("new org: %v", err)
	}
	return f
}

// token returns a credential for the org's user with the role.
func (f *orgFixture) token(r domain.Role) string { return tokenFor(f.users[r]) }

func tokenFor(u *domain.User) string { return "test-user:" + u.OrgID + ":" + u.ID }

// testAuthenticator accepts "Bearer test-user:<org>:<user>" and resolves the
// user's current role and permissions from the store, as real
// authentication does on every request.
type testAuthenticator struct{ s domain.Store }

func (a testAuthenticator) Authenticate(ctx context.Context, c httpapi.Credentials, _ bool) (*domain.Principal, error) {
	tok, ok := strings.CutPrefix(c.Authorization, "Bearer test-user:")
	org, userID, ok2 := strings.Cut(tok, ":")
	if !ok || !ok2 {
		return nil, domain.Errorf(domain.ECodeUnauthorized, "missing or invalid credentials")
	}
	var p *domain.Principal
	err := a.s.Read(ctx, domain.OrgScope(org), func(q domain.Queries) error {
		u, err := q.GetUser(userID)
		if err != nil || !u.IsActive {
			return domain.Errorf(domain.ECodeUnauthorized, "missing or invalid credentials")
		}
		p = &domain.Principal{UserID: u.ID, OrgID: u.OrgID, TeamID: u.TeamID, Role: u.Role, Email: u.Email,
			Permissions: domain.NewPermissionSet(u.Role, u.Permissions)}
		return nil
	})
	return p, err
}

func (testAuthenticator) Denied(context.Context, *domain.Principal, domain.Permission, httpapi.Credentials, string, string) {
}

// do sends a request; body is marshalled as JSON unless it is a string.
func (e *env) do(method, path, token string, body any) *http.Response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// call sends a request, checks the status and decodes the JSON answer into out (when non-nil).
func (e *env) call(method, path, token string, body any, wantStatus int, out any) {
	e.t.Helper()
	res := e.do(method, path, token, body)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != wantStatus {
		e.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// eachDB runs fn against a fresh env per database kind.
func eachDB(t *testing.T, fn func(t *testing.T, e *env), settings ...string) {
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, kind, settings...))
		})
	}
}
