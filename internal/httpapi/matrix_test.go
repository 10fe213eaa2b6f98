package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// matrixWorld holds two organizations and the principals that call every
// route in the access matrix.
type matrixWorld struct {
	e      *env
	own    *orgFixture
	other  *orgFixture
	tokens map[string]string // principal name → credential ("" for anonymous)
	perms  map[string]domain.PermissionSet
	// hiddenTeam is a team of the own organization no fixture user
	// belongs to: its objects are invisible to every role but admin.
	hiddenTeam string
	// who is the principal of the call being prepared; self is its
	// stand-in account when the case has one (see matrixCase.self).
	who  string
	self *matrixSelf
	hash string // of testPassword, for stand-in accounts
}

// matrixSelf is the account a call about the caller's own account is made
// as, and the state prepared for it.
type matrixSelf struct {
	user     *domain.User
	token    string
	secret   string   // a started MFA enrolment's TOTP secret
	recovery []string // recovery codes of a confirmed enrolment
	session  string   // another session of user's, to end
}

// matrixCase says how to call one operation: its path parameters for an
// object of the given organization (created fresh when the call may
// consume it) and a request body.
type matrixCase struct {
	params func(w *matrixWorld, f *orgFixture) map[string]string
	body   func(w *matrixWorld, f *orgFixture) any
	// self, when set, prepares the account a signed-in user calls the
	// route as (a route that changes the caller's own account), so the
	// call can succeed without disturbing the shared fixture users.
	self func(w *matrixWorld, r domain.Role) *matrixSelf
}

// staticRoutes are plain handlers outside the OpenAPI document: the
// documentation pages and the document itself, public by design.
var staticRoutes = map[string]bool{
	"GET /docs": true, "GET /docs/init.js": true, "GET /docs/swagger-ui.css": true, "GET /docs/swagger-ui-bundle.js": true,
	"GET /redoc": true, "GET /redoc/redoc.standalone.js": true,
	"GET /openapi.json": true, "GET /openapi.yaml": true, "GET /openapi-3.0.json": true, "GET /openapi-3.0.yaml": true,
	// Prometheus metrics: served only when METRICS_ENABLED, to no principal
	// but the holder of METRICS_TOKEN (required in production; compared in
	// constant time). It carries no tenant data. TestMetricsAccess covers it.
	"GET /metrics": true,
}

func id(f func(w *matrixWorld, f *orgFixture) string) func(w *matrixWorld, f *orgFixture) map[string]string {
	return func(w *matrixWorld, o *orgFixture) map[string]string { return map[string]string{"id": f(w, o)} }
}

func fixedBody(b any) func(*matrixWorld, *orgFixture) any {
	return func(*matrixWorld, *orgFixture) any { return b }
}

// freshUser creates a viewer in f that a call may change or delete.
func freshUser(w *matrixWorld, f *orgFixture) string {
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: strings.ToLower(domain.NewID("m")) + "@matrix.example",
		Username: strings.ToLower(domain.NewID("m")), Role: domain.RoleViewer, IsActive: true, PasswordHash: "x"}
	err := w.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateUser(u) })
	if err != nil {
		w.e.t.Fatal(err)
	}
	return u.ID
}

// freshInvitee creates a user in f who has not accepted an invitation yet.
func freshInvitee(w *matrixWorld, f *orgFixture) string {
	u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: strings.ToLower(domain.NewID("p")) + "@matrix.example",
		Username: strings.ToLower(domain.NewID("p")), Role: domain.RoleViewer, IsActive: true}
	err := w.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateUser(u) })
	if err != nil {
		w.e.t.Fatal(err)
	}
	return u.ID
}

func freshTeam(w *matrixWorld, f *orgFixture) string {
	t := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: domain.NewID("team")}
	err := w.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateTeam(t) })
	if err != nil {
		w.e.t.Fatal(err)
	}
	return t.ID
}

func freshAPIKey(w *matrixWorld, f *orgFixture) string {
	k := &domain.APIKey{ID: domain.NewID(domain.PrefixAPIKey), CreatedBy: f.users[domain.RoleViewer].ID, Name: "matrix",
		Prefix: "sak_x", SecretHash: domain.NewID("h"), Role: domain.RoleViewer}
	err := w.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateAPIKey(k) })
	if err != nil {
		w.e.t.Fatal(err)
	}
	return k.ID
}

func noID(*matrixWorld, *orgFixture) map[string]string { return nil }

// accessMatrix lists every operation the server registers. Adding a route
// without adding it here fails TestAccessMatrix.
var accessMatrix = map[string]matrixCase{
	"health":            {params: noID},
	"ready":             {params: noID},
	"register":          {params: noID, body: fixedBody(map[string]string{"email": "not-an-email"})},
	"login":             {params: noID},
	"mfa-verify":        {params: noID, body: fixedBody(map[string]string{"mfa_token": "x", "code": "1"})},
	"refresh":           {params: noID, body: fixedBody(map[string]string{"refresh_token": "x"})},
	"me":                {params: noID},
	"logout":            {params: noID},
	"list-sessions":     {params: noID},
	"verify-email":      {params: noID, body: fixedBody(map[string]string{"token": "x"})},
	"forgot-password":   {params: noID, body: fixedBody(map[string]string{"email": "x@y.example"})},
	"reset-password":    {params: noID, body: fixedBody(map[string]string{"token": "x", "password": "y"})},
	"mfa-enroll":        {params: noID},
	"accept-invitation": {params: noID, body: fixedBody(map[string]string{"token": "x", "username": "abc", "password": "x"})},
	"create-api-key":    {params: noID, body: fixedBody(map[string]any{"name": "k", "permissions": []string{"workflows.read"}})},
	"list-api-keys":     {params: noID},
	"revoke-api-key":    {params: id(freshAPIKey)},
	"list-roles":        {params: noID},
	"list-permissions":  {params: noID},
	"get-org":           {params: noID},
	"update-org":        {params: noID, body: fixedBody(map[string]any{"settings": map[string]any{"theme": "dark"}})},
	"list-teams":        {params: noID},
	"get-team":          {params: id(func(_ *matrixWorld, f *orgFixture) string { return f.team.ID })},
	"create-team":       {params: noID, body: func(*matrixWorld, *orgFixture) any { return map[string]string{"name": domain.NewID("t")} }},
	"update-team":       {params: id(freshTeam), body: fixedBody(map[string]string{"description": "d"})},
	"delete-team":       {params: id(freshTeam)},
	"list-users":        {params: noID},
	"get-user":          {params: id(freshUser)},
	"invite-user": {params: noID, body: func(*matrixWorld, *orgFixture) any {
		return map[string]string{"email": strings.ToLower(domain.NewID("i")) + "@matrix.example", "role": "viewer"}
	}},
	"resend-invitation": {params: id(freshInvitee)},
	"update-user":       {params: id(freshUser), body: fixedBody(map[string]string{"full_name": "Renamed"})},
	"deactivate-user":   {params: id(freshUser)},
	"reactivate-user":   {params: id(freshUser)},
	"delete-user":       {params: id(freshUser)},
	"end-user-sessions": {params: id(freshUser)},
	"list-audit-logs":   {params: noID},
	"export-audit-logs": {params: noID},
	"verify-audit-logs": {params: noID},
}

// Where the audit row of a route names its resource.
const (
	idPath      = iota // the {id} of the path
	idBody             // the "id" of the answer
	idCaller           // the calling user
	idOrg              // the caller's organization
	idNone             // no resource id (nothing was stored)
	idUnchecked        // an id the test does not know (a session, a credential)
)

type auditedRoute struct {
	action, resourceType string
	id                   int
}

// auditedRoutes is the audit row each state-changing route must write
// when it succeeds. A state-changing route absent from it fails the matrix.
var auditedRoutes = map[string]auditedRoute{
	"logout":              {"auth.logout", "session", idUnchecked},
	"end-session":         {"auth.session_revoked", "session", idPath},
	"change-password":     {"auth.password_changed", "user", idCaller},
	"resend-verification": {"auth.verification_sent", "user", idCaller},
	"mfa-enroll":          {"auth.mfa_enrollment_started", "user", idCaller},
	"mfa-confirm":         {"auth.mfa_enrolled", "user", idCaller},
	"mfa-disable":         {"auth.mfa_disabled", "user", idCaller},
	"create-api-key":      {"api_key.created", "api_key", idBody},
	"revoke-api-key":      {"api_key.revoked", "api_key", idPath},
	"update-org":          {"organization.updated", "organization", idOrg},
	"create-team":         {"team.created", "team", idBody},
	"update-team":         {"team.updated", "team", idPath},
	"delete-team":         {"team.deleted", "team", idPath},
	"invite-user":         {"user.invited", "user", idBody},
	"resend-invitation":   {"user.invitation_resent", "user", idPath},
	"update-user":         {"user.updated", "user", idPath},
	"deactivate-user":     {"user.deactivated", "user", idPath},
	"reactivate-user":     {"user.reactivated", "user", idPath},
	"delete-user":         {"user.deleted", "user", idPath},
	"end-user-sessions":   {"user.sessions_revoked", "user", idPath},
	"create-workflow":     {"workflow.created", "workflow", idBody},
	"import-workflow":     {"workflow.imported", "workflow", idBody},
	"update-workflow":     {"workflow.updated", "workflow", idPath},
	"delete-workflow":     {"workflow.deleted", "workflow", idPath},
	"publish-workflow":    {"workflow.published", "workflow", idPath},
	"rollback-workflow":   {"workflow.rolled_back", "workflow", idPath},
	"execute-workflow":    {"execution.started", "execution", idBody},
	"cancel-execution":    {"execution.cancelled", "execution", idPath},
	"create-agent":        {"agent.created", "agent", idBody},
	"update-agent":        {"agent.updated", "agent", idPath},
	"delete-agent":        {"agent.deleted", "agent", idPath},
	"generate-agent":      {"agent.generated", "agent", idNone},
	"create-schedule":     {"schedule.created", "schedule", idBody},
	"update-schedule":     {"schedule.updated", "schedule", idPath},
	"delete-schedule":     {"schedule.deleted", "schedule", idPath},
	"set-provider":        {"provider_credential.set", "provider_credential", idUnchecked},
	"create-provider":     {"provider_credential.set", "provider_credential", idUnchecked},
	"delete-provider":     {"provider_credential.deleted", "provider_credential", idUnchecked},
}

// TestAccessMatrix calls every route as admin, developer, operator, viewer,
// an API key and anonymously, against objects of the caller's organization
// and of another, and checks the status the route's declared access
// implies: 401 without credentials, 403 without the permission (before
// anything is looked up), 404 for another organization's objects, and
// neither for a permitted call on one's own.
//
// It runs on both databases: on PostgreSQL row-level security stands
// behind every lookup.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	eachDB(t, runAccessMatrix, "AUTH_RATE_LIMIT_PER_MINUTE=100000")
}

func runAccessMatrix(t *testing.T, e *env) {
	w := &matrixWorld{e: e, own: e.newOrg("matrix"), other: e.newOrg("othermatrix"), tokens: map[string]string{}, perms: map[string]domain.PermissionSet{}}
	w.hiddenTeam = freshTeam(w, w.own)
	// The matrix creates many workflows; a plan limit would stop the
	// later creating routes (import) before they could be audited.
	w.own.org.Limits.MaxWorkflows = 100000
	matrixWrite(w, w.own, func(tx domain.Tx) error { return tx.UpdateOrganization(w.own.org) })
	for _, r := range domain.Roles {
		w.tokens[string(r)] = w.own.token(r)
		w.perms[string(r)] = domain.NewPermissionSet(r, nil)
	}
	var key struct {
		Key string `json:"key"`
	}
	e.call(http.MethodPost, "/api/v1/api-keys", w.own.token(domain.RoleAdmin), map[string]any{"name": "matrix key", "role": "operator"}, 201, &key)
	w.tokens["api_key"], w.perms["api_key"] = key.Key, domain.NewPermissionSet(domain.RoleOperator, nil)
	w.tokens["anonymous"] = ""

	srv := e.handler()
	seen := map[string]bool{}
	for _, route := range srv.Routes() {
		seen[route.Method+" "+route.Path] = true
		c, ok := accessMatrix[route.OperationID]
		if !ok {
			t.Errorf("route %s %s (%s) is not in the access matrix", route.Method, route.Path, route.OperationID)
			continue
		}
		names := make([]string, 0, len(w.tokens))
		for n := range w.tokens {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, who := range names {
			checkCall(t, w, route, c, who)
		}
	}
	_ = srv.WalkRoutes(func(method, path string) {
		if method == http.MethodOptions || method == http.MethodHead {
			return
		}
		if !seen[method+" "+path] && !staticRoutes[method+" "+path] {
			t.Errorf("%s %s is served but neither an operation in the matrix nor a known static page", method, path)
		}
	})
	for opID := range accessMatrix {
		found := false
		for _, r := range srv.Routes() {
			found = found || r.OperationID == opID
		}
		if !found {
			t.Errorf("the matrix lists %s, which the server does not register", opID)
		}
	}
}

func checkCall(t *testing.T, w *matrixWorld, route httpapi.Route, c matrixCase, who string) {
	t.Helper()
	a := route.Access
	tok := w.tokens[who]
	w.who, w.self = who, nil
	caller := w.own.users[domain.Role(who)]
	if u, ok := w.own.users[domain.Role(who)]; ok && c.self != nil {
		w.self = c.self(w, u.Role)
		tok, caller = w.self.token, w.self.user
	}
	defer func() { w.who, w.self = "", nil }()
	if route.OperationID == "logout" && who != "anonymous" && who != "api_key" {
		// Logging out ends the session; use a throwaway one.
		var out struct {
			AccessToken string `json:"access_token"`
		}
		w.e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": w.own.users[domain.Role(who)].Email,
			"password": testPassword}, http.StatusOK, &out)
		tok = out.AccessToken
	}
	var params map[string]string // of the last call
	prepare := func(f *orgFixture) (string, any) {
		path := route.Path
		params = c.params(w, f)
		for k, v := range params {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
		var body any
		if c.body != nil {
			body = c.body(w, f)
		}
		if route.Method == http.MethodPost || route.Method == http.MethodPatch || route.Method == http.MethodPut {
			if body == nil {
				body = map[string]any{}
			}
		}
		return path, body
	}
	send := func(path string, body any) (int, string) {
		if route.OperationID == "login" {
			res, b := w.e.form(path, map[string][]string{"username": {"nobody@x.example"}, "password": {"wrong"}})
			return res.StatusCode, string(b)
		}
		res := w.e.do(route.Method, path, tok, body)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	call := func(f *orgFixture) (int, string) { return send(prepare(f)) }
	name := fmt.Sprintf("%s %s as %s", route.Method, route.Path, who)
	// Prepare first: the objects a case creates may write audit rows of
	// their own before the call.
	path, reqBody := prepare(w.own)
	before := w.auditHead()
	status, body := send(path, reqBody)
	switch {
	case a.Public:
		if status >= 500 {
			t.Errorf("%s: public route answered %d: %s", name, status, body)
		}
	case who == "anonymous":
		if status != 401 {
			t.Errorf("%s: %d, want 401: %s", name, status, body)
		}
	case a.Permission != "" && !w.perms[who].Has(a.Permission):
		if status != 403 {
			t.Errorf("%s: %d, want 403 (lacks %s): %s", name, status, a.Permission, body)
		}
	default:
		if status == 401 || status == 403 || status >= 500 {
			t.Errorf("%s: %d, want the call to be allowed: %s", name, status, body)
		}
		if route.Method != http.MethodGet && status < 300 {
			w.checkAudited(t, name, before, route, who, caller, params, body)
		}
		if strings.Contains(route.Path, "{id}") && route.OperationID != "end-session" {
			if s2, b2 := call(w.other); s2 != 404 {
				t.Errorf("%s on another organization's object: %d, want 404: %s", name, s2, b2)
			}
		}
		if hidden, ok := hiddenTeamObjects[route.OperationID]; ok && who != "admin" && who != "api_key" {
			// Another team's object is as missing as one that never existed.
			path := route.Path
			for k, v := range hidden(w) {
				path = strings.ReplaceAll(path, "{"+k+"}", v)
			}
			head := w.auditHead()
			var body any
			if c.body != nil {
				body = c.body(w, w.own)
			} else if route.Method != http.MethodGet && route.Method != http.MethodDelete {
				body = map[string]any{}
			}
			res := w.e.do(route.Method, path, tok, body)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 404 {
				t.Errorf("%s on an object of a team %s cannot see: %d, want 404: %s", name, who, res.StatusCode, b)
			}
			if after := w.auditHead(); after != head && route.Method != http.MethodGet {
				t.Errorf("%s on a hidden team's object wrote %d audit rows", name, after-head)
			}
		}
	}
}

// Objects of the hidden team, per operation that takes one.
var hiddenTeamObjects = map[string]func(w *matrixWorld) map[string]string{
	"get-workflow":           hiddenWorkflow,
	"update-workflow":        hiddenWorkflow,
	"delete-workflow":        hiddenWorkflow,
	"list-workflow-versions": hiddenWorkflow,
	"get-workflow-version": func(w *matrixWorld) map[string]string {
		return map[string]string{"id": hiddenWorkflow(w)["id"], "version": "1"}
	},
	"diff-workflow-versions": hiddenWorkflow,
	"rollback-workflow":      hiddenWorkflow,
	"publish-workflow":       hiddenWorkflow,
	"export-workflow":        hiddenWorkflow,
	"execute-workflow":       hiddenWorkflow,
	"get-agent":              hiddenAgent,
	"update-agent":           hiddenAgent,
	"delete-agent":           hiddenAgent,
	"get-schedule":           hiddenSchedule,
	"update-schedule":        hiddenSchedule,
	"delete-schedule":        hiddenSchedule,
	"preview-schedule":       hiddenSchedule,
}

func hiddenWorkflow(w *matrixWorld) map[string]string {
	wf := storetest.NewWorkflow(w.e.t, w.e.store, domain.OrgScope(w.own.org.ID), w.own.users[domain.RoleAdmin].ID, w.hiddenTeam, "hidden")
	return map[string]string{"id": wf.ID}
}

func hiddenAgent(w *matrixWorld) map[string]string {
	a := &domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), TeamID: w.hiddenTeam, Name: "hidden", CreatedBy: w.own.users[domain.RoleAdmin].ID,
		Node: domain.Node{Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: "input"}}}
	matrixWrite(w, w.own, func(tx domain.Tx) error { return tx.CreateAgent(a, 0) })
	return map[string]string{"id": a.ID}
}

func hiddenSchedule(w *matrixWorld) map[string]string {
	next := time.Now().Add(time.Hour).UTC()
	sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), TeamID: w.hiddenTeam, WorkflowID: hiddenWorkflow(w)["id"],
		CronExpression: "@hourly", Timezone: "UTC", Active: true, NextRunAt: &next, CreatedBy: w.own.users[domain.RoleAdmin].ID}
	matrixWrite(w, w.own, func(tx domain.Tx) error { return tx.CreateSchedule(sc) })
	return map[string]string{"id": sc.ID}
}

// auditHead is the own organization's current chain head.
func (w *matrixWorld) auditHead() int64 {
	var seq int64
	_ = w.e.store.Read(context.Background(), domain.OrgScope(w.own.org.ID), func(q domain.Queries) error {
		var err error
		seq, _, err = q.AuditHead(w.own.org.ID)
		return err
	})
	return seq
}

// checkAudited asserts that a successful state change wrote exactly one
// audit row, with the caller as actor, a successful outcome, and the
// action and resource the route's entry in auditedRoutes names.
func (w *matrixWorld) checkAudited(t *testing.T, name string, before int64, route httpapi.Route, who string, caller *domain.User,
	params map[string]string, body string) {
	t.Helper()
	var rows []domain.AuditEvent
	_ = w.e.store.Read(context.Background(), domain.OrgScope(w.own.org.ID), func(q domain.Queries) error {
		var err error
		rows, err = q.AuditChain(w.own.org.ID, before, 100)
		return err
	})
	if len(rows) != 1 {
		var acts []string
		for _, r := range rows {
			acts = append(acts, r.Action)
		}
		t.Errorf("%s: %d audit rows %v, want exactly one", name, len(rows), acts)
		return
	}
	r := rows[0]
	wantUser := ""
	if caller != nil {
		wantUser = caller.ID
	} else if who == "api_key" {
		wantUser = w.own.users[domain.RoleAdmin].ID
	}
	if r.UserID != wantUser || !r.Success || r.Action == "" || r.RequestID == "" || r.IPAddress == "" {
		t.Errorf("%s: audit row %+v: want actor %s, success, action, request id and IP", name, r, wantUser)
	}
	if who == "api_key" && r.APIKeyID == "" {
		t.Errorf("%s: an API key's change is not attributed to the key", name)
	}
	want, ok := auditedRoutes[route.OperationID]
	if !ok {
		t.Errorf("%s: %s changes state but has no entry in auditedRoutes (it wrote %s on %s %s)", name, route.OperationID,
			r.Action, r.ResourceType, r.ResourceID)
		return
	}
	if r.Action != want.action || r.ResourceType != want.resourceType {
		t.Errorf("%s: audit row says %s on %s, want %s on %s", name, r.Action, r.ResourceType, want.action, want.resourceType)
	}
	wantID, check := "", true
	switch want.id {
	case idPath:
		wantID = params["id"]
	case idBody:
		var out struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(body), &out)
		wantID = out.ID
	case idCaller:
		if caller != nil {
			wantID = caller.ID
		}
	case idOrg:
		wantID = w.own.org.ID
	case idNone:
	case idUnchecked:
		check = false
	}
	if check && (r.ResourceID != wantID || (want.id != idNone && wantID == "")) {
		t.Errorf("%s: audit row names resource %q, want %q", name, r.ResourceID, wantID)
	}
}
