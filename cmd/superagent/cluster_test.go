package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// cluster is several superagent processes on one PostgreSQL database.
type cluster struct {
	t     *testing.T
	db    dbtest.DB
	env   []string
	api   *proc
	token string
	store *sqlstore.Store
}

func newCluster(t *testing.T, extraEnv ...string) *cluster {
	t.Helper()
	db := dbtest.New(t, sqlstore.KindPostgres)
	c := &cluster{t: t, db: db, env: append([]string{"DATABASE_URL=" + db.AppDSN, "DATABASE_MIGRATE_URL=" + db.OwnerDSN,
		"RESCUE_AFTER=10s", "SHUTDOWN_TIMEOUT=5s", "QUEUE_MAX_WORKERS=4", "AUTH_RATE_LIMIT_PER_MINUTE=1000"}, extraEnv...)}
	c.store = dbtest.Open(t, db)
	return c
}

func (c *cluster) serve() *proc {
	p := start(c.t, c.t.TempDir(), c.env, "serve", "--port", "0")
	if c.api == nil {
		c.api = p
	}
	return p
}

// worker starts `superagent worker` and waits until its queue runs.
func (c *cluster) worker() *proc {
	p := startUntil(c.t, c.t.TempDir(), c.env, "River client started", "worker")
	return p
}

// call sends a JSON request to the API process.
func (c *cluster) call(method, path string, body any, want int, out any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.api.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s = %d: %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
}

// signUp registers an organization and keeps its admin's token.
func (c *cluster) signUp() string {
	var reg struct {
		AccessToken string `json:"access_token"`
		User        struct {
			OrgID string `json:"org_id"`
		} `json:"user"`
	}
	c.call(http.MethodPost, "/api/v1/auth/register", map[string]string{"email": "ops@cluster.example", "username": "ops",
		"password": "cluster of processes", "organization_name": "Cluster"}, 201, &reg)
	c.token = reg.AccessToken
	mustOrgExec(c, reg.User.OrgID, "UPDATE organizations SET max_concurrent_executions = 100, max_executions_per_month = 100000 WHERE id = $1", reg.User.OrgID)
	return reg.User.OrgID
}

func mustOrgExec(c *cluster, orgID, q string, args ...any) {
	c.t.Helper()
	if err := c.store.Write(context.Background(), domain.OrgScope(orgID), func(tx domain.Tx) error {
		_, err := tx.SQL().ExecContext(context.Background(), q, args...)
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) waitExecution(orgID, id string, within time.Duration) *domain.Execution {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var exe *domain.Execution
		err := c.store.Read(context.Background(), domain.OrgScope(orgID), func(q domain.Queries) error {
			var err error
			exe, err = q.GetExecution(id)
			return err
		})
		if err != nil {
			c.t.Fatal(err)
		}
		if exe.Final() {
			return exe
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("execution %s still %s after %s", id, exe.Status, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stepJobRunners returns, per River client id, how many step jobs it ran.
func (c *cluster) stepJobRunners() map[string]int {
	c.t.Helper()
	out := map[string]int{}
	rows, err := c.store.DB().QueryContext(context.Background(),
		`SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job WHERE kind = 'superagent.step' AND state = 'completed'`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		out[id]++
	}
	return out
}

func mockWorkflow(latencyMS int, extra ...map[string]any) map[string]any {
	agents := []any{
		map[string]any{"id": "a", "type": "llm", "timeout_seconds": 7, "retry": map[string]any{"max_attempts": 3, "initial_backoff_ms": 100},
			"llm": map[string]any{"model": "mock:echo", "prompt": "{{ .input.word }}", "mock": map[string]any{"latency_ms": latencyMS}}},
		map[string]any{"id": "b", "type": "transform", "transform": map[string]any{"expression": "upper(nodes.a)"}},
	}
	edges := []any{map[string]any{"from": "a", "to": "b"}}
	for _, x := range extra {
		agents = append(agents, x)
		edges = append(edges, map[string]any{"from": "b", "to": x["id"]})
	}
	return map[string]any{"name": "cluster", "agents": agents, "edges": edges}
}

// TestProcessesShareWork: a serve and a worker process on one PostgreSQL
// both run steps of the same executions.
func TestProcessesShareWork(t *testing.T) {
	t.Parallel()
	dbtest.AdminURL(t)
	c := newCluster(t)
	c.serve()
	c.worker()
	org := c.signUp()
	var wf struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows", mockWorkflow(150), 201, &wf)
	var ids []string
	for i := range 16 {
		var exe struct{ ID string }
		c.call(http.MethodPost, "/api/v1/workflows/"+wf.ID+"/execute", map[string]any{"input": map[string]any{"word": fmt.Sprint("w", i)}}, 202, &exe)
		ids = append(ids, exe.ID)
	}
	for _, id := range ids {
		if exe := c.waitExecution(org, id, 60*time.Second); exe.Status != domain.ExecutionSucceeded {
			t.Errorf("%s = %s %s", id, exe.Status, exe.Error)
		}
	}
	runners := c.stepJobRunners()
	if len(runners) < 2 {
		t.Errorf("steps ran on %v: want both processes to share the work", runners)
	}
}

var clientIDLine = regexp.MustCompile(`River client started.*client_id=(\S+)`)

// TestWorkerKilledMidStep kills the process running a step with SIGKILL.
// The other process rescues the step after the rescue horizon and runs it
// again; the execution completes with every node completed exactly once
// (the downstream HTTP call is counted by its Idempotency-Key).
func TestWorkerKilledMidStep(t *testing.T) {
	t.Parallel()
	dbtest.AdminURL(t)
	var mu sync.Mutex
	calls := map[string]int{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		fmt.Fprint(w, `{"stored":true}`)
	}))
	defer sink.Close()
	c := newCluster(t, "HTTP_ALLOWED_HOSTS="+strings.TrimPrefix(sink.URL, "http://"))
	api := c.serve()
	w := c.worker()
	org := c.signUp()
	notify := map[string]any{"id": "notify", "type": "http", "http": map[string]any{"method": "POST", "url": sink.URL + "/done", "body": "{{ .nodes.b }}"}}
	var wf struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows", mockWorkflow(4000, notify), 201, &wf)
	var exe struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows/"+wf.ID+"/execute", map[string]any{"input": map[string]any{"word": "survive"}}, 202, &exe)

	// Find who runs step a, and kill that process mid-step.
	runner := ""
	deadline := time.Now().Add(20 * time.Second)
	for runner == "" && time.Now().Before(deadline) {
		_ = c.store.DB().QueryRowContext(context.Background(), `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
			WHERE kind = 'superagent.step' AND state = 'running' AND args->>'node_id' = 'a' AND args->>'execution_id' = $1`, exe.ID).Scan(&runner)
		time.Sleep(50 * time.Millisecond)
	}
	if runner == "" {
		t.Fatal("step a never started running")
	}
	victim, survivor := api, w
	if m := clientIDLine.FindStringSubmatch(w.log()); m != nil && m[1] == runner {
		victim, survivor = w, api
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	got := c.waitExecution(org, exe.ID, 120*time.Second)
	if got.Status != domain.ExecutionSucceeded {
		t.Fatalf("after the kill: %s %s\nsurvivor log:\n%s", got.Status, got.Error, survivor.log())
	}
	var completed map[string]int = map[string]int{}
	_ = c.store.Read(context.Background(), domain.OrgScope(org), func(q domain.Queries) error {
		events, err := q.ListEvents(exe.ID, 0, 1000)
		for _, ev := range events {
			if ev.Type == domain.EventStepCompleted {
				completed[ev.NodeID]++
			}
		}
		steps, _ := q.ListSteps(exe.ID)
		for _, s := range steps {
			if s.NodeID == "a" && s.Attempts < 2 {
				t.Errorf("step a ran %d times; the kill should have cost one attempt", s.Attempts)
			}
		}
		return err
	})
	for _, n := range []string{"a", "b", "notify"} {
		if completed[n] != 1 {
			t.Errorf("node %s completed %d times", n, completed[n])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[exe.ID+":notify"] != 1 {
		t.Errorf("the downstream call ran %d times", calls[exe.ID+":notify"])
	}
	survivor.stop(t)
}

// TestGracefulStopHandsStepsBack: SIGTERM gives running steps
// SHUTDOWN_TIMEOUT to finish, then hands them back; another process runs
// them at once (no rescue wait) and the execution completes.
func TestGracefulStopHandsStepsBack(t *testing.T) {
	t.Parallel()
	dbtest.AdminURL(t)
	c := newCluster(t, "SHUTDOWN_TIMEOUT=1s")
	api := c.serve()
	w := c.worker()
	org := c.signUp()
	var wf struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows", mockWorkflow(5000), 201, &wf)
	var exe struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows/"+wf.ID+"/execute", map[string]any{"input": map[string]any{"word": "handover"}}, 202, &exe)
	runner := ""
	deadline := time.Now().Add(20 * time.Second)
	for runner == "" && time.Now().Before(deadline) {
		_ = c.store.DB().QueryRowContext(context.Background(), `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
			WHERE kind = 'superagent.step' AND state = 'running' AND args->>'execution_id' = $1`, exe.ID).Scan(&runner)
		time.Sleep(50 * time.Millisecond)
	}
	victim, survivor := api, w
	if m := clientIDLine.FindStringSubmatch(w.log()); m != nil && m[1] == runner {
		victim, survivor = w, api
	}
	start := time.Now()
	victim.stop(t)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("graceful stop took %s with SHUTDOWN_TIMEOUT=1s", d)
	}
	got := c.waitExecution(org, exe.ID, 30*time.Second)
	if got.Status != domain.ExecutionSucceeded {
		t.Fatalf("after the stop: %s %s\n%s", got.Status, got.Error, survivor.log())
	}
	survivor.stop(t)
}
