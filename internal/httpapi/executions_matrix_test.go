package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// The execution routes in the access matrix.
func init() {
	for op, c := range map[string]matrixCase{
		"execute-workflow": {params: id(freshWorkflow), body: fixedBody(map[string]any{"input": map[string]any{}})},
		"list-executions":  {params: noID},
		"get-execution":    {params: id(freshExecution)},
		"cancel-execution": {params: id(cancellableExecution)},
		"execution-events": {params: id(freshExecution)},
	} {
		accessMatrix[op] = c
	}
}

// freshExecution starts an execution of a fresh workflow in f and waits
// for it to end (so an event stream over it ends too).
func freshExecution(w *matrixWorld, f *orgFixture) string {
	admin := f.users[domain.RoleAdmin]
	p := &domain.Principal{UserID: admin.ID, OrgID: f.org.ID, Role: domain.RoleAdmin, Permissions: domain.NewPermissionSet(domain.RoleAdmin, nil)}
	exe, _, err := w.e.engine.Execute(context.Background(), p, engine.ExecuteRequest{WorkflowID: freshWorkflow(w, f), Input: json.RawMessage(`{}`)})
	if err != nil {
		w.e.t.Fatal(err)
	}
	if _, err := w.e.engine.Wait(context.Background(), p.Scope(), exe.ID, 20e9); err != nil {
		w.e.t.Fatal(err)
	}
	return exe.ID
}

// cancellableExecution is, for a caller allowed to cancel executions of
// the own organization, a running execution (a mock LLM step that waits
// far longer than the test takes) that the call then cancels; otherwise
// an ended one, which no refused call needs to outlast.
func cancellableExecution(w *matrixWorld, f *orgFixture) string {
	if f != w.own || !w.perms[w.who].Has(domain.PermExecutionsCancel) {
		return freshExecution(w, f)
	}
	admin := f.token(domain.RoleAdmin)
	var wf struct {
		ID string `json:"id"`
	}
	w.e.call(http.MethodPost, "/api/v1/workflows", admin, map[string]any{"name": "cancel me", "agents": []any{
		map[string]any{"id": "wait", "type": "llm", "llm": map[string]any{"model": "mock:echo", "prompt": "hi",
			"mock": map[string]any{"latency_ms": 120000}}},
	}, "edges": []any{}}, http.StatusCreated, &wf)
	var exe struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	w.e.call(http.MethodPost, "/api/v1/workflows/"+wf.ID+"/execute", admin, map[string]any{"input": map[string]any{}}, http.StatusAccepted, &exe)
	// A guard against a hang, not a speed check: the step should start at once.
	deadline := time.Now().Add(30 * time.Second)
	for exe.Status != string(domain.ExecutionRunning) {
		if exe.Status != string(domain.ExecutionPending) || time.Now().After(deadline) {
			w.e.t.Fatalf("execution %s to cancel is %s, want it running", exe.ID, exe.Status)
		}
		time.Sleep(20 * time.Millisecond)
		w.e.call(http.MethodGet, "/api/v1/executions/"+exe.ID, admin, nil, http.StatusOK, &exe)
	}
	return exe.ID
}
