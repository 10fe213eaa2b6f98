package main

import (
	"bufio"
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

// callOn sends a JSON request to process p.
func (c *cluster) callOn(p *proc, method, path string, body any, want int, out any) {
	c.t.Helper()
	api := c.api
	c.api = p
	defer func() { c.api = api }()
	c.call(method, path, body, want, out)
}

// clientID is the River client id process p logged at start.
func clientID(t *testing.T, p *proc) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := clientIDLine.FindStringSubmatch(p.log()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no River client id in the log:\n%s", p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runnerOf waits until node's step job of the execution runs and returns
// the process running it and the other one.
func (c *cluster) runnerOf(exeID, node string, procs ...*proc) (runner, other *proc) {
	c.t.Helper()
	ids := map[string]*proc{}
	for _, p := range procs {
		ids[clientID(c.t, p)] = p
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var id string
		_ = c.store.DB().QueryRowContext(context.Background(), `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
			WHERE kind = 'superagent.step' AND state = 'running' AND args->>'node_id' = $2 AND args->>'execution_id' = $1`, exeID, node).Scan(&id)
		if p := ids[id]; p != nil {
			for _, q := range procs {
				if q != p {
					return p, q
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("step %s of %s never ran on one of the processes", node, exeID)
	return nil, nil
}

// busLines is what a process logged about its bus, for a failure's message.
func busLines(p *proc) string {
	var out []string
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, "bus") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "(nothing)"
	}
	return strings.Join(out, "\n")
}

type clusterEvent struct {
	ID    string
	Event string
	Data  map[string]any
}

// events streams an execution's events from process p until the final
// one (at most 60 s); opened runs once the first event arrived.
func (c *cluster) events(p *proc, exeID string, opened func()) []clusterEvent {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/executions/"+exeID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		c.t.Fatalf("events = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var out []clusterEvent
	var cur clusterEvent
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.Data)
		case line == "" && cur.Event != "":
			out = append(out, cur)
			if len(out) == 1 && opened != nil {
				opened()
			}
			if strings.HasPrefix(cur.Event, "execution.") && cur.Event != "execution.started" {
				return out
			}
			cur = clusterEvent{}
		}
	}
	c.t.Fatalf("the stream ended without a final event (%v) after %d events", sc.Err(), len(out))
	return nil
}

func (c *cluster) stepStatus(orgID, exeID, node string) domain.StepStatus {
	c.t.Helper()
	var st domain.StepStatus
	_ = c.store.Read(context.Background(), domain.OrgScope(orgID), func(q domain.Queries) error {
		steps, err := q.ListSteps(exeID)
		for _, s := range steps {
			if s.NodeID == node {
				st = s.Status
			}
		}
		return err
	})
	return st
}

// TestEventsStreamAcrossProcesses: two serve processes on one PostgreSQL
// database; the events of an execution whose step runs in one process are
// streamed by the other: every lifecycle event in order, the text the
// model streams live (it reaches the other process only through the bus),
// and the final event.
func TestEventsStreamAcrossProcesses(t *testing.T) {
	t.Parallel()
	dbtest.AdminURL(t)
	c := newCluster(t)
	p1, p2 := c.serve(), c.serve()
	org := c.signUp()
	wf := map[string]any{"name": "streamed", "agents": []any{
		map[string]any{"id": "a", "type": "llm", "timeout_seconds": 7, "retry": map[string]any{"max_attempts": 1},
			"llm": map[string]any{"model": "mock:echo", "prompt": "{{ .input.word }} across processes",
				"mock": map[string]any{"latency_ms": 4000, "stream_chunk_chars": 4}}},
		map[string]any{"id": "b", "type": "transform", "transform": map[string]any{"expression": "upper(nodes.a)"}},
	}, "edges": []any{map[string]any{"from": "a", "to": "b"}}}
	var w struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows", wf, 201, &w)
	var exe struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows/"+w.ID+"/execute", map[string]any{"input": map[string]any{"word": "text"}}, 202, &exe)
	runner, other := c.runnerOf(exe.ID, "a", p1, p2)
	// The model's text is produced after the latency, just before the
	// step completes: while a has not completed, none of it reached the
	// other process yet.
	var atOpen domain.StepStatus
	events := c.events(other, exe.ID, func() { atOpen = c.stepStatus(org, exe.ID, "a") })
	if atOpen != domain.StepQueued && atOpen != domain.StepRunning {
		t.Fatalf("step a was %q when the stream opened: nothing shows the bus carried its text (4 s of mock latency were not enough)", atOpen)
	}
	var lifecycle []string
	live, replayed := "", ""
	lastSeq := 0
	for _, ev := range events {
		data, _ := ev.Data["data"].(map[string]any)
		if ev.Event == "step.delta" {
			if data["replay"] == true {
				replayed += fmt.Sprint(data["text"])
			} else {
				live += fmt.Sprint(data["text"])
			}
			continue
		}
		seq, _ := ev.Data["seq"].(float64)
		if ev.ID != fmt.Sprint(lastSeq+1) || int(seq) != lastSeq+1 {
			t.Errorf("%s has id %q seq %v after %d", ev.Event, ev.ID, seq, lastSeq)
		}
		lastSeq = int(seq)
		node, _ := ev.Data["node_id"].(string)
		lifecycle = append(lifecycle, ev.Event+":"+node)
	}
	want := "execution.started:,step.started:a,step.completed:a,step.started:b,step.completed:b,execution.completed:"
	if strings.Join(lifecycle, ",") != want {
		t.Errorf("streamed by the other process: %v\nwant %s", lifecycle, want)
	}
	// Text replayed on connect was also carried by the bus: this process
	// only knows what the other one streamed through it.
	if live+replayed != "text across processes" {
		t.Errorf("streamed text: live %q, replayed %q; want %q\nrunner's bus: %s\nstreamer's bus: %s", live, replayed,
			"text across processes", busLines(runner), busLines(other))
	}
	if got := c.waitExecution(org, exe.ID, 20*time.Second); got.Status != domain.ExecutionSucceeded {
		t.Errorf("execution = %s %s", got.Status, got.Error)
	}
}

// TestCancelAcrossProcesses: a cancel requested through one serve process
// stops a slow step running in the other; the execution ends cancelled and
// the step's job stops instead of sleeping out its minute.
func TestCancelAcrossProcesses(t *testing.T) {
	t.Parallel()
	dbtest.AdminURL(t)
	c := newCluster(t, "RESCUE_AFTER=2m")
	p1, p2 := c.serve(), c.serve()
	org := c.signUp()
	wf := map[string]any{"name": "slow", "agents": []any{
		map[string]any{"id": "slow", "type": "llm", "timeout_seconds": 60, "retry": map[string]any{"max_attempts": 1},
			"llm": map[string]any{"model": "mock:echo", "prompt": "{{ .input.word }}", "mock": map[string]any{"latency_ms": 60000}}},
		map[string]any{"id": "next", "type": "transform", "transform": map[string]any{"expression": `"never"`}},
	}, "edges": []any{map[string]any{"from": "slow", "to": "next"}}}
	var w struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows", wf, 201, &w)
	var exe struct{ ID string }
	c.call(http.MethodPost, "/api/v1/workflows/"+w.ID+"/execute", map[string]any{"input": map[string]any{"word": "stop"}}, 202, &exe)
	_, other := c.runnerOf(exe.ID, "slow", p1, p2)
	var cancelled struct{ Status string }
	c.callOn(other, http.MethodPost, "/api/v1/executions/"+exe.ID+"/cancel", nil, 200, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Errorf("cancel answered %s", cancelled.Status)
	}
	if got := c.waitExecution(org, exe.ID, 20*time.Second); got.Status != domain.ExecutionCancelled {
		t.Fatalf("execution = %s, want cancelled", got.Status)
	}
	// The running step stops in the other process: its job leaves the
	// running state long before its 60 s latency (bounded generously).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var running int
		if err := c.store.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM river_job
			WHERE kind = 'superagent.step' AND state = 'running' AND args->>'execution_id' = $1`, exe.ID).Scan(&running); err != nil {
			t.Fatal(err)
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow step still runs 20 s after the cancel")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := c.stepStatus(org, exe.ID, "slow"); s != domain.StepCancelled {
		t.Errorf("slow = %s, want cancelled", s)
	}
	if s := c.stepStatus(org, exe.ID, "next"); s != domain.StepCancelled {
		t.Errorf("next = %s, want cancelled (never started)", s)
	}
	events := c.events(other, exe.ID, nil)
	if last := events[len(events)-1]; last.Event != "execution.cancelled" {
		t.Errorf("last event = %s", last.Event)
	}
}

var probeLine = regexp.MustCompile(`worker probes listening.*address=(http://\S+)`)

// TestWorkerServesProbes: a worker started with a probe port answers
// /health, /ready and /metrics (behind METRICS_TOKEN, with the process's
// own figures) there, and nothing of the API; without one it listens on
// nothing.
func TestWorkerServesProbes(t *testing.T) {
	t.Parallel()
	dbtest.AdminURL(t)
	const token = "probe-token-of-the-cluster-test"
	c := newCluster(t, "METRICS_TOKEN="+token)
	w := startUntil(t, t.TempDir(), c.env, "River client started", "worker", "--probe-port", "0")
	m := probeLine.FindStringSubmatch(w.log())
	if m == nil {
		t.Fatalf("the worker did not log its probe address:\n%s", w.log())
	}
	base := m[1]
	get := func(path, bearer string, want int) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("GET %s = %d, want %d: %s", path, res.StatusCode, want, body)
		}
		return string(body)
	}
	if body := get("/health", "", http.StatusOK); !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/health: %s", body)
	}
	if body := get("/ready", "", http.StatusOK); !strings.Contains(body, `"database":"postgres"`) {
		t.Errorf("/ready: %s", body)
	}
	get("/metrics", "", http.StatusUnauthorized)
	get("/metrics", "wrong-token-of-the-same-length!", http.StatusUnauthorized)
	metrics := get("/metrics", token, http.StatusOK)
	for _, want := range []string{"superagent_build_info", "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, path := range []string{"/api/v1/workflows", "/docs", "/openapi.json"} {
		get(path, "", http.StatusNotFound)
	}

	// Without a probe port the worker serves nothing.
	quiet := c.worker()
	if strings.Contains(quiet.log(), "probes listening") {
		t.Errorf("a worker without a probe port listens:\n%s", quiet.log())
	}
}
