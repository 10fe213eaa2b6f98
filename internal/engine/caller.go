package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
)

// CallWorkflow runs another workflow of the organization for an llm step's
// "workflow:<id>" tool and waits for its output. The call's idempotency key
// is stable across attempts of the calling step, so a retried step finds
// the execution its earlier attempt started. Nesting is bounded.
func (e *Engine) CallWorkflow(ctx context.Context, call agent.WorkflowCall) (any, error) {
	scope := domain.OrgScope(call.OrgID)
	depth := 0
	parent := call.ParentExecutionID
	for parent != "" {
		depth++
		if depth >= maxWorkflowDepth {
			return nil, &agent.StepError{Kind: "bad_request", Message: fmt.Sprintf("workflows may call workflows at most %d levels deep", maxWorkflowDepth)}
		}
		err := e.store.Read(ctx, scope, func(q domain.Queries) error {
			x, err := q.GetExecution(parent)
			if err != nil {
				return err
			}
			parent = x.ParentExecutionID
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	input, err := json.Marshal(call.Input)
	if err != nil {
		return nil, &agent.StepError{Kind: "bad_request", Message: "the tool arguments are not JSON"}
	}
	p := &domain.Principal{OrgID: call.OrgID, Role: domain.RoleAdmin, Permissions: domain.NewPermissionSet(domain.RoleAdmin, nil)}
	exe, _, err := e.Execute(ctx, p, ExecuteRequest{WorkflowID: call.WorkflowID, Input: input, Trigger: domain.TriggerWorkflow,
		ParentExecutionID: call.ParentExecutionID, IdempotencyKey: call.IdempotencyKey})
	if err != nil {
		return nil, &agent.StepError{Kind: "bad_request", Message: fmt.Sprintf("workflow %s could not start: %v", call.WorkflowID, err)}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, &agent.StepError{Kind: "internal", Message: "no deadline for the called workflow"}
	}
	exe, err = e.Wait(ctx, scope, exe.ID, deadline.Sub(e.now()))
	if err != nil {
		return nil, err
	}
	switch exe.Status {
	case domain.ExecutionSucceeded:
		var out any
		_ = json.Unmarshal(exe.Output, &out)
		return out, nil
	case domain.ExecutionFailed, domain.ExecutionCancelled:
		return nil, &agent.StepError{Kind: "bad_request", Message: fmt.Sprintf("workflow %s %s: %s", call.WorkflowID, exe.Status, exe.Error)}
	}
	return nil, &agent.StepError{Kind: "timeout", Message: fmt.Sprintf("workflow %s did not finish in time", call.WorkflowID), Retryable: true}
}

// DescribeWorkflow names a workflow tool for the model.
func (e *Engine) DescribeWorkflow(ctx context.Context, orgID, workflowID string) (*agent.WorkflowTool, error) {
	var t *agent.WorkflowTool
	err := e.store.Read(ctx, domain.OrgScope(orgID), func(q domain.Queries) error {
		wf, ver, err := q.RunnableVersion(workflowID, "", 0)
		if err != nil {
			return err
		}
		t = &agent.WorkflowTool{Name: wf.Name, Description: wf.Description, InputSchema: ver.Resolved.InputSchema}
		return nil
	})
	return t, err
}
