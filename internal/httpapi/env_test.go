package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/mail"
	"github.com/superagent-hq/superagent/internal/mail/mailtest"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// env is a real server on a real database for API tests: real
// authentication, a running job queue, and a real SMTP server receiving
// the mails.
type env struct {
	t      *testing.T
	kind   string
	store  *sqlstore.Store
	srv    *httptest.Server
	cfg    *config.Config
	auth   *auth.Service
	smtp   *mailtest.Server
	hasher *auth.Hasher
	queue  *queue.Queue
	api    *httpapi.Server
	engine *engine.Engine
	agents *agent.Setup
	logs   lockedBuffer
}

// lockedBuffer collects log output from concurrent goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logger records everything the server and services log, so tests can
// check that no secret is ever logged.
func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// handler is the server under test.
func (e *env) handler() *httpapi.Server { return e.api }

// newEnv starts a server on a fresh database of the given kind. settings
// are extra KEY=VALUE configuration lines.
func newEnv(t *testing.T, kind string, settings ...string) *env {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t, kind)
	s := dbtest.Open(t, db)
	cfg, err := config.Load(append([]string{"PASSWORD_HASH_PROFILE=test", "ENVIRONMENT=test",
		"AUTH_RATE_LIMIT_PER_MINUTE=1000", "API_RATE_LIMIT_PER_MINUTE=10000"}, settings...), "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, kind: kind, store: s, cfg: cfg, smtp: mailtest.NewServer(t, mailtest.WithSTARTTLS())}
	e.hasher, err = auth.NewHasher(auth.TestParams, 0)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{Host: e.smtp.Host(), Port: e.smtp.Port(), From: "Super Agent <no-reply@superagent.test>",
		TLS: mail.TLSStartTLS, RootCAs: e.smtp.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	mailWorker := &auth.MailWorker{Sender: sender}
	workers := river.NewWorkers()
	river.AddWorker(workers, mailWorker)
	bus := engine.NewBus("", e.logger())
	if db.Kind == sqlstore.KindPostgres {
		bus = engine.NewBus(db.AppDSN, e.logger())
	}
	e.engine = engine.New(engine.Options{Store: s, Bus: bus, Log: e.logger(), ExecutionTimeout: cfg.ExecutionTimeout,
		RescueAfter: cfg.RescueAfter, MaxExecutionsPerHour: cfg.MaxWorkflowExecutionsPerHour})
	e.agents = newAgents(t, cfg, s, e.engine, e.logger())
	e.engine.SetRunner(e.agents.Runtime)
	e.engine.AddWorkers(workers)
	e.queue, err = queue.New(ctx, queue.Options{Kind: db.Kind, DB: s.DB(), ListenerDSN: db.AppDSN, Workers: workers, Logger: e.logger(),
		RescueAfter: time.Minute, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.engine.SetQueue(e.queue.Client)
	busCtx, stopBus := context.WithCancel(ctx)
	go bus.Run(busCtx, domain.NewID("proc"))
	t.Cleanup(stopBus)
	e.auth, err = auth.NewService(auth.Options{Store: s, Hasher: e.hasher, Keyring: testKeyring(t, cfg), Jobs: enqueuer{e.queue.Client}, Logger: e.logger(),
		Tokens: auth.TokenIssuer{Secret: []byte(cfg.SecretKey), Algorithm: cfg.Algorithm, Issuer: cfg.TokenIssuer,
			Audience: cfg.TokenAudience, TTL: time.Duration(cfg.AccessTokenExpireMinutes) * time.Minute},
		Settings: auth.Settings{RefreshTTL: time.Duration(cfg.RefreshTokenExpireDays) * 24 * time.Hour, SignupEnabled: cfg.SignupEnabled,
			RequireEmailVerification: cfg.RequireEmailVerification, MultiTenancy: cfg.EnableMultiTenancy,
			AuthDisabled: !cfg.EnableAuth, DevUserEmail: cfg.DevUserEmail, PublicURL: cfg.PublicURL}})
	if err != nil {
		t.Fatal(err)
	}
	mailWorker.Service = e.auth
	if !cfg.EnableMultiTenancy {
		if _, err := e.auth.EnsureSingleOrganization(ctx, "Default Organization"); err != nil {
			t.Fatal(err)
		}
	}
	if !cfg.EnableAuth {
		if err := e.auth.EnsureDevelopmentAdmin(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.queue.Stop(stopCtx)
		e.queue.Close()
	})
	e.api = httpapi.New(httpapi.Deps{Settings: httpSettings(t, cfg), Store: s, Log: e.logger(), Auth: httpapi.NewAuthenticator(e.auth), AuthService: e.auth,
		Engine: e.engine, Agents: e.agents})
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	return e
}

type enqueuer struct{ c *queue.Client }

func (q enqueuer) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := q.c.InsertTx(ctx, tx, args, opts)
	return err
}

// testPassword is the password of every fixture user.
const testPassword = "fixture passphrase for tests"

// orgFixture is an organization with one user per role.
type orgFixture struct {
	e      *env
	org    *domain.Organization
	team   *domain.Team
	users  map[domain.Role]*domain.User
	tokens map[string]string
}

// newOrg creates an organization (pro plan) with a default team and one
// active, verified user per role, all with testPassword.
func (e *env) newOrg(name string) *orgFixture {
	e.t.Helper()
	hash, err := e.hasher.Hash(context.Background(), testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	limits, _ := domain.DefaultPlanLimits(domain.PlanPro)
	f := &orgFixture{e: e, users: map[domain.Role]*domain.User{}, tokens: map[string]string{},
		org:  &domain.Organization{ID: domain.NewID(domain.PrefixOrg), Name: name, Slug: strings.ToLower(name) + "-" + domain.NewID("x")[2:8], Plan: domain.PlanPro, Limits: limits, IsActive: true},
		team: &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Default"}}
	err = e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error {
		if err := tx.CreateOrganization(f.org); err != nil {
			return err
		}
		if err := tx.CreateTeam(f.team); err != nil {
			return err
		}
		now := tx.Now()
		for _, r := range domain.Roles {
			u := &domain.User{ID: domain.NewID(domain.PrefixUser), Email: fmt.Sprintf("%s-%s@%s.example", r, f.org.ID[4:10], strings.ToLower(name)),
				Username: fmt.Sprintf("%s-%s-%s", strings.ToLower(name), r, f.org.ID[4:10]), Role: r, IsActive: true,
				PasswordHash: hash, TeamID: f.team.ID, EmailVerifiedAt: &now}
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

// token signs in as the org's user with the role (once) and returns the access token.
func (f *orgFixture) token(r domain.Role) string { return f.e.tokenFor(f.users[r]) }

var tokenCache sync.Map // user id → access token

// tokenFor signs in as u (password testPassword) and returns an access token.
func (e *env) tokenFor(u *domain.User) string {
	e.t.Helper()
	if tok, ok := tokenCache.Load(u.ID); ok {
		return tok.(string)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.Email, "password": testPassword}, http.StatusOK, &out)
	tokenCache.Store(u.ID, out.AccessToken)
	return out.AccessToken
}

// waitMail waits for the next mail to arrive at the SMTP server.
func (e *env) waitMail() mailtest.Received {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := e.smtp.WaitForMessage(ctx)
	if err != nil {
		e.t.Fatalf("no mail arrived: %v", err)
	}
	return m
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
