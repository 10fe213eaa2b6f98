package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
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
	e := newEnv(t, "sqlite")
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
	e := newEnv(t, "sqlite")
	f := e.newOrg("deltas")
	dev := f.token(domain.RoleDeveloper)
	wf := createWorkflow(e, dev, pipeline("deltas", 20000))
	var exe executionJSON
	e.call(http.MethodPost, "/api/v1/workflows/"+wf+"/execute", dev, map[string]any{"input": map[string]any{"word": "x"}}, 202, &exe)
	// Wait for the llm step to run, then stream some text as if the model did.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var cur executionJSON
		e.call(http.MethodGet, "/api/v1/executions/"+exe.ID, dev, nil, 200, &cur)
		if len(cur.Steps) == 2 && cur.Steps[1].Status == "running" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.engine.Bus().StepDelta(exe.ID, "echo", "partial ")
	e.engine.Bus().StepDelta(exe.ID, "echo", "text")
	events := readSSE(t, e, "/api/v1/executions/"+exe.ID+"/events", dev, "4", func(ev sseEvent) bool { return ev.Event == "step.delta" })
	last := events[len(events)-1]
	if last.Event != "step.delta" || last.Data["data"].(map[string]any)["text"] != "partial text" {
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
}
