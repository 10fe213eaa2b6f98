package httpapi_test

import (
	"context"
	"encoding/json"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// The execution routes in the access matrix.
func init() {
	for op, c := range map[string]matrixCase{
		"execute-workflow": {params: id(freshWorkflow), body: fixedBody(map[string]any{"input": map[string]any{}})},
		"list-executions":  {params: noID},
		"get-execution":    {params: id(freshExecution)},
		"cancel-execution": {params: id(freshExecution)},
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
