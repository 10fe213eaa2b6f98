package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// pipeline is a workflow body: shout (transform) → echo (streaming mock LLM).
func pipeline(name string, latencyMS int) map[string]any {
	return map[string]any{
		"name": name,
		"agents": []any{
			map[string]any{"id": "shout", "type": "transform", "transform": map[string]any{"expression": "upper(input.word)"}},
			map[string]any{"id": "echo", "type": "llm", "llm": map[string]any{"model": "mock:echo", "prompt": "{{ .nodes.shout }} and again",
				"mock": map[string]any{"stream_chunk_chars": 3, "latency_ms": latencyMS, "input_tokens": 12, "output_tokens": 5}}},
		},
		"edges":        []any{map[string]any{"from": "shout", "to": "echo"}},
		"input_schema": map[string]any{"type": "object", "required": []string{"word"}, "properties": map[string]any{"word": map[string]any{"type": "string"}}},
	}
}

type executionJSON struct {
	ID     string          `json:"id"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Totals struct {
		TokensIn  int64 `json:"tokens_in"`
		TokensOut int64 `json:"tokens_out"`
		NodesDone int   `json:"nodes_done"`
	} `json:"totals"`
	Steps []struct {
		NodeID   string `json:"node_id"`
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
		Model    string `json:"model"`
	} `json:"steps"`
}

func createWorkflow(e *env, token string, body map[string]any) string {
	e.t.Helper()
	var wf struct{ ID string }
	e.call(http.MethodPost, "/api/v1/workflows", token, body, 201, &wf)
	return wf.ID
}

func TestExecuteAndReadResults(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("exec")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("echo", 0))
		var done executionJSON
		e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", f.token(domain.RoleOperator),
			map[string]any{"input": map[string]any{"word": "hello"}, "wait_seconds": 20}, 200, &done)
		if done.Status != "succeeded" || string(done.Output) != `"HELLO and again"` {
			t.Fatalf("execution = %+v", done)
		}
		if done.Totals.TokensIn != 12 || done.Totals.TokensOut != 5 || done.Totals.NodesDone != 2 || len(done.Steps) != 2 ||
			done.Steps[1].Model != "mock:echo" {
			t.Errorf("totals and steps = %+v", done)
		}
		// Without waiting: 202 and a Location.
		res := e.do(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", dev, map[string]any{"input": map[string]any{"word": "later"}})
		var pending executionJSON
		json.NewDecoder(res.Body).Decode(&pending)
		res.Body.Close()
		if res.StatusCode != 202 || res.Header.Get("Location") != "/api/v1/executions/"+pending.ID {
			t.Errorf("execute without wait = %d, Location %q", res.StatusCode, res.Header.Get("Location"))
		}
		// Input checked against the schema, with a pointer into the input.
		var p struct {
			Errors []struct{ Pointer string } `json:"errors"`
		}
		e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", dev, map[string]any{"input": map[string]any{"word": 7}}, 422, &p)
		if len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Pointer, "/input") {
			t.Errorf("schema problem = %+v", p)
		}
		e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", f.token(domain.RoleViewer), map[string]any{"input": map[string]any{}}, 403, nil)
		// Listing, filtering and another organization's view.
		var list struct {
			Executions []executionJSON `json:"executions"`
		}
		e.call(http.MethodGet, "/api/v1/executions?workflow_id="+wf+"&status=succeeded", f.token(domain.RoleViewer), nil, 200, &list)
		if len(list.Executions) < 1 || list.Executions[0].Status != "succeeded" {
			t.Errorf("list = %+v", list)
		}
		other := e.newOrg("execother")
		e.call(http.MethodGet, "/api/v1/executions/"+done.ID, other.token(domain.RoleAdmin), nil, 404, nil)
		e.call(http.MethodGet, "/api/v1/executions?workflow_id="+wf, other.token(domain.RoleAdmin), nil, 200, &list)
		if len(list.Executions) != 0 {
			t.Errorf("another organization lists %d executions", len(list.Executions))
		}
	})
}

func TestIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("idemhttp")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("idem", 0))
		send := func(word string) (int, executionJSON) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/workflows/"+wf+"/execute",
				strings.NewReader(`{"input":{"word":"`+word+`"}}`))
			req.Header.Set("Authorization", "Bearer "+dev)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "order-42")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var x executionJSON
			json.NewDecoder(res.Body).Decode(&x)
			return res.StatusCode, x
		}
		s1, a := send("one")
		s2, b := send("one")
		s3, _ := send("two")
		if s1 >= 300 || s2 >= 300 || a.ID != b.ID || s3 != 422 {
			t.Errorf("idempotent repeats: %d %d (same id %v), different body %d", s1, s2, a.ID == b.ID, s3)
		}
	})
}

type sseEvent struct {
	ID    string
	Event string
	Data  map[string]any
}

// readSSE reads events until the stream ends or stop says so.
func readSSE(t *testing.T, e *env, path, token, lastID string, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
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
			if stop != nil && stop(cur) {
				return out
			}
			cur = sseEvent{}
		}
	}
	return out
}

func TestEventStreamOrderAndReplay(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("sse")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("sse", 300))
		var exe executionJSON
		e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", dev, map[string]any{"input": map[string]any{"word": "stream"}}, 202, &exe)
		events := readSSE(t, e, "/api/v1/executions/"+exe.ID+"/events", f.token(domain.RoleViewer), "", nil)
		var lifecycle []string
		text := ""
		lastSeq := 0
		for _, ev := range events {
			if ev.Event == "step.delta" {
				text += ev.Data["data"].(map[string]any)["text"].(string)
				continue
			}
			seq := int(ev.Data["seq"].(float64))
			if ev.ID == "" || seq != lastSeq+1 {
				t.Errorf("event %s has id %q seq %d after %d", ev.Event, ev.ID, seq, lastSeq)
			}
			lastSeq = seq
			lifecycle = append(lifecycle, ev.Event+":"+nodeOf(ev))
		}
		want := "execution.started:,step.started:shout,step.completed:shout,step.started:echo,step.completed:echo,execution.completed:"
		if strings.Join(lifecycle, ",") != want {
			t.Errorf("lifecycle = %v\nwant %s", lifecycle, want)
		}
		if text != "STREAM and again" {
			t.Errorf("streamed text = %q", text)
		}
		// Reconnecting after the third event replays the rest only.
		replay := readSSE(t, e, "/api/v1/executions/"+exe.ID+"/events", dev, "3", nil)
		if len(replay) != 3 || replay[0].ID != "4" || replay[2].Event != "execution.completed" {
			var ids []string
			for _, r := range replay {
				ids = append(ids, r.ID+":"+r.Event)
			}
			t.Errorf("replay after 3 = %v", ids)
		}
		e.call(http.MethodGet, "/api/v1/executions/"+exe.ID+"/events", e.newOrg("sseother").token(domain.RoleAdmin), nil, 404, nil)
	})
}

func nodeOf(ev sseEvent) string {
	if n, ok := ev.Data["node_id"].(string); ok {
		return n
	}
	return ""
}

func TestReplayIncludesTextStreamedSoFar(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("deltas")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("deltas", 20000))
		var exe executionJSON
		e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", dev, map[string]any{"input": map[string]any{"word": "x"}}, 202, &exe)
		// Wait for the llm step to run, then stream some text as if the model did.
		deadline := time.Now().Add(20 * time.Second)
		for {
			var cur executionJSON
			e.call(http.MethodGet, "/api/v1/executions/"+exe.ID, dev, nil, 200, &cur)
			if len(cur.Steps) == 2 && cur.Steps[1].Status == "running" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the echo step is not running after 20s: %+v", cur)
			}
			time.Sleep(50 * time.Millisecond)
		}
		e.engine.Bus().StepDelta(exe.ID, "echo", "partial ")
		e.engine.Bus().StepDelta(exe.ID, "echo", "text")
		events := readSSE(t, e, "/api/v1/executions/"+exe.ID+"/events", dev, "4", func(ev sseEvent) bool { return ev.Event == "step.delta" })
		if len(events) == 0 {
			t.Fatal("the replay sent no event")
		}
		last := events[len(events)-1]
		if data, _ := last.Data["data"].(map[string]any); last.Event != "step.delta" || data["text"] != "partial text" || data["replay"] != true {
			t.Errorf("replay = %+v", events)
		}
		e.call(http.MethodPost, "/api/v1/executions/"+exe.ID+"/cancel", f.token(domain.RoleOperator), nil, 200, nil)
		var after executionJSON
		e.call(http.MethodGet, "/api/v1/executions/"+exe.ID, dev, nil, 200, &after)
		if after.Status != "cancelled" {
			t.Errorf("after cancel = %s", after.Status)
		}
		acts := auditActions(t, e, f.org.ID)
		if !acts["execution.started"] || !acts["execution.cancelled"] {
			t.Errorf("execution start and cancel not audited: %v", acts)
		}
	})
}

// TestListExecutionsFilters: GET /api/v1/executions filters by trigger
// and by a created-at range (since inclusive, until exclusive, any zone
// offset), alone and combined, newest first.
func TestListExecutionsFilters(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("execlist")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("listed", 0))
		base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second)
		triggers := []domain.ExecutionTrigger{domain.TriggerManual, domain.TriggerSchedule, domain.TriggerWorkflow}
		type row struct {
			id      string
			at      time.Time
			trigger domain.ExecutionTrigger
		}
		var rows []row // oldest first
		add := func(at time.Time, trigger domain.ExecutionTrigger) {
			x := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), TeamID: f.team.ID, WorkflowID: wf, WorkflowVersion: 1,
				Status: domain.ExecutionSucceeded, Trigger: trigger, TriggeredBy: f.users[domain.RoleAdmin].ID, CreatedAt: at}
			if err := e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateExecution(x) }); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row{x.ID, at, trigger})
		}
		for i := range 12 {
			add(base.Add(time.Duration(i)*time.Hour), triggers[i%3])
		}
		// Three more created at the same instant: ordered by id.
		for range 3 {
			add(base.Add(20*time.Hour), domain.TriggerManual)
		}
		// newestFirst lists the ids of the rows that match, as the API orders them.
		newestFirst := func(match func(r row) bool) []string {
			var m []row
			for _, r := range rows {
				if match(r) {
					m = append(m, r)
				}
			}
			sort.Slice(m, func(i, j int) bool {
				if !m[i].at.Equal(m[j].at) {
					return m[i].at.After(m[j].at)
				}
				return m[i].id > m[j].id
			})
			ids := []string{}
			for _, r := range m {
				ids = append(ids, r.id)
			}
			return ids
		}
		type page struct {
			Executions []struct {
				ID      string `json:"id"`
				Trigger string `json:"trigger"`
			} `json:"executions"`
			NextCursor string `json:"next_cursor"`
		}
		list := func(query url.Values) []string {
			t.Helper()
			query.Set("workflow_id", wf)
			query.Set("limit", "200")
			var p page
			e.call(http.MethodGet, "/api/v1/executions?"+query.Encode(), dev, nil, http.StatusOK, &p)
			if p.NextCursor != "" {
				t.Errorf("%v: a next cursor after %d of 15 executions", query, len(p.Executions))
			}
			ids := []string{}
			for _, x := range p.Executions {
				ids = append(ids, x.ID)
			}
			return ids
		}
		at := func(h int) string { return base.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
		cases := []struct {
			name  string
			query url.Values
			match func(r row) bool
		}{
			{"everything", url.Values{}, func(row) bool { return true }},
			{"trigger=schedule", url.Values{"trigger": {"schedule"}}, func(r row) bool { return r.trigger == domain.TriggerSchedule }},
			{"trigger=workflow", url.Values{"trigger": {"workflow"}}, func(r row) bool { return r.trigger == domain.TriggerWorkflow }},
			{"trigger=manual", url.Values{"trigger": {"manual"}}, func(r row) bool { return r.trigger == domain.TriggerManual }},
			{"since and until", url.Values{"since": {at(3)}, "until": {at(7)}}, func(r row) bool {
				return !r.at.Before(base.Add(3*time.Hour)) && r.at.Before(base.Add(7*time.Hour))
			}},
			{"since only", url.Values{"since": {at(9)}}, func(r row) bool { return !r.at.Before(base.Add(9 * time.Hour)) }},
			{"until only", url.Values{"until": {at(2)}}, func(r row) bool { return r.at.Before(base.Add(2 * time.Hour)) }},
			{"until excludes its instant", url.Values{"since": {at(20)}, "until": {at(20)}}, func(row) bool { return false }},
			{"trigger and range", url.Values{"trigger": {"manual"}, "since": {at(4)}, "until": {at(21)}}, func(r row) bool {
				return r.trigger == domain.TriggerManual && !r.at.Before(base.Add(4*time.Hour))
			}},
			{"a zone offset", url.Values{"since": {base.Add(5 * time.Hour).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)}},
				func(r row) bool { return !r.at.Before(base.Add(5 * time.Hour)) }},
		}
		for _, c := range cases {
			want := newestFirst(c.match)
			if got := list(c.query); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: got %d executions %v\nwant %d %v", c.name, len(got), got, len(want), want)
			}
		}
		e.call(http.MethodGet, "/api/v1/executions?trigger=cron", dev, nil, http.StatusUnprocessableEntity, nil)
		e.call(http.MethodGet, "/api/v1/executions?since=yesterday", dev, nil, http.StatusUnprocessableEntity, nil)
	})
}
