package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
)

// CallWorkflow runs another workflow for an llm step's "workflow:<id>"
// tool and waits for its output.
//
// The called workflow must be visible to the calling workflow's team: one
// of that team or an organization-wide one (an organization-wide caller
// may call only organization-wide workflows). Any other workflow is "not
// found", exactly like a missing one, and never runs. The child runs with
// the calling execution's identity: its team's visibility, the user and
// API key that started the caller, and the caller as its parent.
//
// A child is admitted whatever the organization's concurrency limit (its
// caller holds a slot while it waits, see createExecutionWithID), and
// counts toward the hourly and monthly limits. The call's idempotency key
// is stable across attempts of the calling step, so a retried step finds
// the execution its earlier attempt started. Nesting is bounded.
func (e *Engine) CallWorkflow(ctx context.Context, call agent.WorkflowCall) (any, error) {
	p, err := e.callerPrincipal(ctx, call, true)
	if err != nil {
		return nil, err
	}
	input, err := json.Marshal(call.Input)
	if err != nil {
		return nil, &agent.StepError{Kind: agent.KindBadRequest, Message: "the tool arguments are not JSON"}
	}
	exe, _, err := e.Execute(ctx, p, ExecuteRequest{WorkflowID: call.WorkflowID, Input: input, Trigger: domain.TriggerWorkflow,
		ParentExecutionID: call.ParentExecutionID, IdempotencyKey: call.IdempotencyKey})
	switch {
	case domain.IsCode(err, domain.ECodeNotFound):
		return nil, notCallable(call.WorkflowID)
	case err != nil:
		return nil, &agent.StepError{Kind: agent.KindBadRequest, Message: fmt.Sprintf("workflow %s could not start: %v", call.WorkflowID, err)}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, &agent.StepError{Kind: "internal", Message: "no deadline for the called workflow"}
	}
	exe, err = e.Wait(ctx, domain.OrgScope(call.OrgID), exe.ID, deadline.Sub(e.now()))
	if err != nil {
		return nil, err
	}
	switch exe.Status {
	case domain.ExecutionSucceeded:
		var out any
		_ = json.Unmarshal(exe.Output, &out)
		return out, nil
	case domain.ExecutionFailed, domain.ExecutionCancelled:
		return nil, &agent.StepError{Kind: agent.KindBadRequest, Message: fmt.Sprintf("workflow %s %s: %s", call.WorkflowID, exe.Status, exe.Error)}
	}
	return nil, &agent.StepError{Kind: agent.KindTimeout, Message: fmt.Sprintf("workflow %s did not finish in time", call.WorkflowID), Retryable: true}
}

// notCallable is the one answer for a workflow that is missing, archived
// or of a team the caller cannot see.
func notCallable(workflowID string) *agent.StepError {
	return &agent.StepError{Kind: agent.KindBadRequest, Message: fmt.Sprintf("workflow %s does not exist", workflowID)}
}

// callerPrincipal is who a workflow tool call acts as: the calling
// execution's organization, team, user and API key. Its role is operator
// (the least role that may run workflows), never admin, so the principal's
// scope sees only the calling team's workflows and organization-wide ones.
// With starting, it also bounds nesting (the call fails when the caller
// is already maxWorkflowDepth-1 calls deep) and requires the caller to be
// running, which its child's admission relies on.
func (e *Engine) callerPrincipal(ctx context.Context, call agent.WorkflowCall, starting bool) (*domain.Principal, error) {
	if call.ParentExecutionID == "" {
		return nil, &agent.StepError{Kind: agent.KindBadRequest, Message: "workflow tools can only be used in a running execution"}
	}
	var caller *domain.Execution
	depth := 0
	err := e.store.Read(ctx, domain.OrgScope(call.OrgID), func(q domain.Queries) error {
		for id := call.ParentExecutionID; id != ""; {
			depth++
			if depth >= maxWorkflowDepth {
				return nil
			}
			x, err := q.GetExecution(id)
			if err != nil {
				return err
			}
			if caller == nil {
				caller = x
			}
			if !starting {
				return nil
			}
			id = x.ParentExecutionID
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case depth >= maxWorkflowDepth:
		return nil, &agent.StepError{Kind: agent.KindBadRequest, Message: fmt.Sprintf("workflows may call workflows at most %d levels deep", maxWorkflowDepth)}
	case starting && caller.Status != domain.ExecutionRunning:
		return nil, &agent.StepError{Kind: agent.KindBadRequest, Message: fmt.Sprintf("the calling execution is %s", caller.Status)}
	}
	return &domain.Principal{OrgID: call.OrgID, TeamID: caller.TeamID, UserID: caller.TriggeredBy, APIKeyID: caller.APIKeyID,
		Role: domain.RoleOperator, Permissions: domain.NewPermissionSet(domain.RoleOperator, nil)}, nil
}

// DescribeWorkflowCall names a workflow tool for the model, as the calling
// step sees it: a workflow it may not call is not found, like a missing one.
func (e *Engine) DescribeWorkflowCall(ctx context.Context, call agent.WorkflowCall) (*agent.WorkflowTool, error) {
	p, err := e.callerPrincipal(ctx, call, false)
	if err != nil {
		return nil, err
	}
	var t *agent.WorkflowTool
	err = e.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
		wf, ver, err := q.RunnableVersion(call.WorkflowID, "", 0)
		if err != nil {
			return err
		}
		t = &agent.WorkflowTool{Name: wf.Name, Description: wf.Description, InputSchema: ver.Resolved.InputSchema}
		return nil
	})
	return t, err
}
