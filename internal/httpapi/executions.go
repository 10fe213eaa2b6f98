package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
)

// ExecutionOut is an execution as the API shows it.
type ExecutionOut struct {
	ID                string                  `json:"id"`
	WorkflowID        string                  `json:"workflow_id"`
	WorkflowVersion   int                     `json:"workflow_version"`
	TeamID            string                  `json:"team_id,omitempty"`
	Status            domain.ExecutionStatus  `json:"status" enum:"pending,running,succeeded,failed,cancelled"`
	Trigger           domain.ExecutionTrigger `json:"trigger" enum:"manual,schedule,workflow"`
	TriggeredBy       string                  `json:"triggered_by,omitempty"`
	APIKeyID          string                  `json:"api_key_id,omitempty"`
	ScheduleID        string                  `json:"schedule_id,omitempty"`
	ParentExecutionID string                  `json:"parent_execution_id,omitempty"`
	Input             json.RawMessage         `json:"input"`
	Output            json.RawMessage         `json:"output,omitempty"`
	Error             string                  `json:"error,omitempty"`
	ErrorKind         string                  `json:"error_kind,omitempty"`
	Totals            ExecutionTotals         `json:"totals"`
	CreatedAt         time.Time               `json:"created_at"`
	StartedAt         *time.Time              `json:"started_at,omitempty"`
	CompletedAt       *time.Time              `json:"completed_at,omitempty"`
	DeadlineAt        *time.Time              `json:"deadline_at,omitempty"`
	Steps             []StepOut               `json:"steps,omitempty"`
}

// ExecutionTotals sums an execution's steps.
type ExecutionTotals struct {
	TokensIn     int64   `json:"tokens_in"`
	TokensOut    int64   `json:"tokens_out"`
	TokensCached int64   `json:"tokens_cached"`
	CostUSD      float64 `json:"cost_usd"`
	DurationMS   *int64  `json:"duration_ms,omitempty"`
	NodesTotal   int     `json:"nodes_total"`
	NodesDone    int     `json:"nodes_done"`
}

// StepOut is one agent's result within an execution.
type StepOut struct {
	NodeID       string            `json:"node_id"`
	NodeType     domain.NodeType   `json:"node_type"`
	Status       domain.StepStatus `json:"status"`
	Attempts     int               `json:"attempts"`
	Input        json.RawMessage   `json:"input,omitempty" doc:"What the agent received: the execution input, the outputs of the agents upstream of it (skipped ones absent) and, for llm agents, the rendered prompts; above 64 KiB a clipped preview {truncated, bytes, preview}"`
	Output       json.RawMessage   `json:"output,omitempty"`
	Error        string            `json:"error,omitempty"`
	ErrorKind    string            `json:"error_kind,omitempty"`
	Model        string            `json:"model,omitempty"`
	TokensIn     int64             `json:"tokens_in"`
	TokensOut    int64             `json:"tokens_out"`
	TokensCached int64             `json:"tokens_cached"`
	CostUSD      float64           `json:"cost_usd"`
	ToolCalls    json.RawMessage   `json:"tool_calls,omitempty"`
	StartedAt    *time.Time        `json:"started_at,omitempty"`
	FinishedAt   *time.Time        `json:"finished_at,omitempty"`
	DurationMS   *int64            `json:"duration_ms,omitempty"`
}

func executionOut(e *domain.Execution, steps []domain.Step) ExecutionOut {
	out := ExecutionOut{ID: e.ID, WorkflowID: e.WorkflowID, WorkflowVersion: e.WorkflowVersion, TeamID: e.TeamID,
		Status: e.Status, Trigger: e.Trigger, TriggeredBy: e.TriggeredBy, APIKeyID: e.APIKeyID, ScheduleID: e.ScheduleID,
		ParentExecutionID: e.ParentExecutionID, Input: e.Input, Output: e.Output, Error: e.Error, ErrorKind: e.ErrorKind,
		Totals: ExecutionTotals{TokensIn: e.TokensIn, TokensOut: e.TokensOut, TokensCached: e.TokensCached, CostUSD: e.CostUSD,
			DurationMS: e.DurationMS, NodesTotal: e.NodesTotal, NodesDone: e.NodesDone},
		CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, CompletedAt: e.CompletedAt, DeadlineAt: e.DeadlineAt}
	for _, s := range steps {
		out.Steps = append(out.Steps, StepOut{NodeID: s.NodeID, NodeType: s.NodeType, Status: s.Status, Attempts: s.Attempts,
			Input: s.Input, Output: s.Output, Error: s.Error, ErrorKind: s.ErrorKind, Model: s.Model, TokensIn: s.TokensIn, TokensOut: s.TokensOut,
			TokensCached: s.TokensCached, CostUSD: s.CostUSD, ToolCalls: s.ToolCalls, StartedAt: s.StartedAt,
			FinishedAt: s.FinishedAt, DurationMS: s.DurationMS})
	}
	return out
}

type executionBody struct {
	Location string `header:"Location"`
	Body     ExecutionOut
}

func (s *Server) loadExecution(ctx context.Context, scope domain.Scope, id string) (*ExecutionOut, error) {
	var out ExecutionOut
	err := s.store.Read(ctx, scope, func(q domain.Queries) error {
		e, err := q.GetExecution(id)
		if err != nil {
			return err
		}
		steps, err := q.ListSteps(id)
		if err != nil {
			return err
		}
		// Steps in the order they could run: started first, then by node id.
		sort.SliceStable(steps, func(i, j int) bool {
			a, b := steps[i].StartedAt, steps[j].StartedAt
			switch {
			case a != nil && b != nil && !a.Equal(*b):
				return a.Before(*b)
			case (a == nil) != (b == nil):
				return a != nil
			}
			return steps[i].NodeID < steps[j].NodeID
		})
		out = executionOut(e, steps)
		return nil
	})
	return &out, err
}

func engineMeta(ctx context.Context) engine.RequestMeta {
	m := meta(ctx)
	return engine.RequestMeta{IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID}
}

func (s *Server) registerExecutionRoutes() {
	eng := s.engine
	tags := []string{"Executions"}
	type executeRequest struct {
		ID             string `path:"id" maxLength:"64"`
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Repeat a request safely: the same key returns the same execution for 24 hours"`
		Body           struct {
			Input       json.RawMessage    `json:"input,omitempty" doc:"The execution input; checked against the workflow's input schema"`
			Environment domain.Environment `json:"environment,omitempty" enum:"dev,staging,prod," doc:"Run the version pinned to this environment"`
			Version     int                `json:"version,omitempty" minimum:"0" doc:"Run this version"`
			WaitSeconds int                `json:"wait_seconds,omitempty" minimum:"0" maximum:"60" doc:"Wait up to this long for the result (200 when it finished, else 202)"`
		}
	}
	type executeResponse struct {
		Status   int
		Location string `header:"Location"`
		Body     ExecutionOut
	}
	register(s, huma.Operation{OperationID: "execute-workflow", Method: http.MethodPost, Path: "/api/v1/workflows/{id}/execute",
		Tags: tags, Summary: "Start an execution", DefaultStatus: http.StatusAccepted,
		Description: "Records the execution and enqueues its first steps in one transaction. Answers 202 with the execution, " +
			"or 200 with its output when it finishes within wait_seconds.",
		Errors: []int{http.StatusTooManyRequests, http.StatusConflict}},
		Requires(domain.PermWorkflowsExecute),
		func(ctx context.Context, in *executeRequest) (*executeResponse, error) {
			p := principal(ctx)
			if in.Body.Environment != "" && in.Body.Version > 0 {
				return nil, domain.Invalid("choose an environment or a version, not both", domain.FieldError{Pointer: "/version", Message: "conflicts with environment"})
			}
			exe, existing, err := eng.Execute(ctx, p, engine.ExecuteRequest{WorkflowID: in.ID, Input: in.Body.Input,
				Environment: in.Body.Environment, Version: in.Body.Version, IdempotencyKey: in.IdempotencyKey, Meta: engineMeta(ctx)})
			if err != nil {
				return nil, err
			}
			if in.Body.WaitSeconds > 0 && !exe.Final() {
				if _, err := eng.Wait(ctx, p.Scope(), exe.ID, time.Duration(in.Body.WaitSeconds)*time.Second); err != nil {
					return nil, err
				}
			}
			out, err := s.loadExecution(ctx, p.Scope(), exe.ID)
			if err != nil {
				return nil, err
			}
			status := http.StatusAccepted
			if out.Status == domain.ExecutionSucceeded || out.Status == domain.ExecutionFailed || out.Status == domain.ExecutionCancelled {
				status = http.StatusOK
			}
			_ = existing
			return &executeResponse{Status: status, Location: "/api/v1/executions/" + exe.ID, Body: *out}, nil
		})

	type listRequest struct {
		PageQuery
		WorkflowID string    `query:"workflow_id" maxLength:"64"`
		Status     string    `query:"status" enum:"pending,running,succeeded,failed,cancelled,"`
		Trigger    string    `query:"trigger" enum:"manual,schedule,workflow,"`
		Since      time.Time `query:"since" doc:"Created at or after (RFC 3339)"`
		Until      time.Time `query:"until" doc:"Created before (RFC 3339)"`
	}
	type listResponse struct {
		Body struct {
			Executions []ExecutionOut `json:"executions"`
			NextCursor string         `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-executions", Method: http.MethodGet, Path: "/api/v1/executions", Tags: tags,
		Summary: "List executions, newest first"}, Requires(domain.PermExecutionsRead),
		func(ctx context.Context, in *listRequest) (*listResponse, error) {
			f := domain.ExecutionFilter{WorkflowID: in.WorkflowID, Status: domain.ExecutionStatus(in.Status),
				Trigger: domain.ExecutionTrigger(in.Trigger), Page: in.page()}
			if !in.Since.IsZero() {
				f.Since = &in.Since
			}
			if !in.Until.IsZero() {
				f.Until = &in.Until
			}
			out := &listResponse{}
			out.Body.Executions = []ExecutionOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				list, next, err := q.ListExecutions(f)
				for i := range list {
					out.Body.Executions = append(out.Body.Executions, executionOut(&list[i], nil))
				}
				out.Body.NextCursor = next
				return err
			})
			return out, err
		})

	register(s, huma.Operation{OperationID: "get-execution", Method: http.MethodGet, Path: "/api/v1/executions/{id}", Tags: tags,
		Summary: "An execution with every agent's result and the totals"}, Requires(domain.PermExecutionsRead),
		func(ctx context.Context, in *idPath) (*executionBody, error) {
			out, err := s.loadExecution(ctx, principal(ctx).Scope(), in.ID)
			if err != nil {
				return nil, err
			}
			return &executionBody{Body: *out}, nil
		})

	register(s, huma.Operation{OperationID: "cancel-execution", Method: http.MethodPost, Path: "/api/v1/executions/{id}/cancel",
		Tags: tags, Summary: "Cancel an execution: running steps stop, pending ones never start"}, Requires(domain.PermExecutionsCancel),
		func(ctx context.Context, in *idPath) (*executionBody, error) {
			p := principal(ctx)
			if _, err := eng.Cancel(ctx, p, in.ID, engineMeta(ctx)); err != nil {
				return nil, err
			}
			out, err := s.loadExecution(ctx, p.Scope(), in.ID)
			if err != nil {
				return nil, err
			}
			return &executionBody{Body: *out}, nil
		})

	type eventsRequest struct {
		ID          string `path:"id" maxLength:"64"`
		LastEventID string `header:"Last-Event-ID" maxLength:"20" doc:"Resume after this event"`
	}
	register(s, huma.Operation{OperationID: "execution-events", Method: http.MethodGet, Path: "/api/v1/executions/{id}/events",
		Tags: tags, Summary: "Live events as Server-Sent Events",
		Description: "execution.started, step.started, step.delta (streamed LLM text), step.retrying, step.completed, step.failed, " +
			"step.skipped, execution.completed/failed/cancelled — in order. Each stored event's `id` is its sequence number; " +
			"reconnect with Last-Event-ID to replay what was missed (a replay also sends the text streamed so far). " +
			"The stream ends after the execution's final event."},
		Requires(domain.PermExecutionsRead),
		func(ctx context.Context, in *eventsRequest) (*huma.StreamResponse, error) {
			p := principal(ctx)
			after := int64(0)
			if in.LastEventID != "" {
				v, err := strconv.ParseInt(in.LastEventID, 10, 64)
				if err != nil || v < 0 {
					return nil, domain.Errorf(domain.ECodeBadRequest, "Last-Event-ID must be an event id from this stream")
				}
				after = v
			}
			// Visibility first: 404 before any stream starts.
			if err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
				_, err := q.GetExecution(in.ID)
				return err
			}); err != nil {
				return nil, err
			}
			return &huma.StreamResponse{Body: func(hctx huma.Context) {
				s.streamEvents(ctx, hctx, p.Scope(), in.ID, after)
			}}, nil
		})
}

// sseHeartbeat keeps idle streams (and proxies) alive.
const sseHeartbeat = 15 * time.Second

// endSignalWait bounds how long a stream that read the execution's end
// from the database waits for the bus to carry it.
const endSignalWait = 5 * time.Second

// streamEvents writes an execution's events as SSE: stored events after
// `after`, the text streamed so far for running steps, then live events
// until the final one.
func (s *Server) streamEvents(ctx context.Context, hctx huma.Context, scope domain.Scope, id string, after int64) {
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-store")
	hctx.SetHeader("X-Accel-Buffering", "no")
	hctx.SetStatus(http.StatusOK)
	w := hctx.BodyWriter()
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	sub := s.engine.Bus().Subscribe(id)
	defer sub.Close()
	write := func(idField, event string, data any) bool {
		b, _ := json.Marshal(data)
		var err error
		if idField != "" {
			_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", idField, event, b)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		}
		flush()
		return err == nil
	}
	writeEvent := func(ev domain.ExecutionEvent) bool {
		var data any = map[string]any{}
		if len(ev.Data) > 0 {
			_ = json.Unmarshal(ev.Data, &data)
		}
		payload := map[string]any{"type": ev.Type, "seq": ev.Seq, "at": ev.CreatedAt, "data": data}
		if ev.NodeID != "" {
			payload["node_id"] = ev.NodeID
		}
		if !write(strconv.FormatInt(ev.Seq, 10), ev.Type, payload) {
			return false
		}
		after = ev.Seq
		return true
	}
	final := false
	// Once the stream is live, the final event is held back until the bus
	// carried the execution's end (see below the loop).
	live := false
	var held *domain.ExecutionEvent
	sendStored := func() bool {
		for {
			var events []domain.ExecutionEvent
			if err := s.store.Read(ctx, scope, func(q domain.Queries) error {
				var err error
				events, err = q.ListEvents(id, after, 500)
				return err
			}); err != nil {
				return false
			}
			for _, ev := range events {
				switch ev.Type {
				case domain.EventExecutionCompleted, domain.EventExecutionFailed, domain.EventExecutionCancelled:
					final = true
					if live {
						held = &ev
						return true
					}
				}
				if !writeEvent(ev) {
					return false
				}
			}
			if len(events) < 500 {
				return true
			}
		}
	}
	if !sendStored() {
		return
	}
	for node, text := range s.engine.Bus().DeltasSoFar(id) {
		if text != "" && !write("", domain.EventStepDelta, map[string]any{"type": domain.EventStepDelta, "node_id": node,
			"data": map[string]any{"text": text, "replay": true}}) {
			return
		}
	}
	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(2 * time.Second) // a lost wake-up costs at most this
	defer poll.Stop()
	sendDelta := func(d engine.Delta) bool {
		return write("", domain.EventStepDelta, map[string]any{"type": domain.EventStepDelta, "node_id": d.NodeID,
			"data": map[string]any{"text": d.Text}})
	}
	// drainDeltas sends text that arrived before a wake-up first: a step's
	// text is published before its completion commits.
	drainDeltas := func() bool {
		for {
			select {
			case d := <-sub.Deltas:
				if !sendDelta(d) {
					return false
				}
			default:
				return true
			}
		}
	}
	live = !final
	for !final {
		select {
		case <-ctx.Done():
			return
		case <-sub.Wake:
			if !drainDeltas() || !sendStored() {
				return
			}
		case <-poll.C:
			if !drainDeltas() || !sendStored() {
				return
			}
		case d := <-sub.Deltas:
			if !sendDelta(d) {
				return
			}
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flush()
		}
	}
	if held == nil {
		return // opened after the end: its events and text are sent
	}
	// The end was read from the database (after a poll, or a wake-up from
	// something else), maybe before the bus carried it: text a step
	// published just before it completed may still be on its way from the
	// process that ran it, ahead of the end's signal, which that process
	// sends after it (engine.Subscription.Ended). The final event waits
	// for the signal (a few seconds at most: a process may die between
	// its commit and its signal), after the text that came before it.
	select {
	case <-sub.Ended:
	case <-time.After(endSignalWait):
	case <-ctx.Done():
		return
	}
	if drainDeltas() {
		writeEvent(*held)
	}
}
