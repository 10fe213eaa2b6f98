package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/llm"
)

// Built-in tool names as nodes list them. A workflow tool is listed as
// "workflow:<id>" and offered to the model as "workflow_<id>", since
// providers allow only letters, digits, '_' and '-' in tool names.
const (
	ToolHTTPRequest = "http_request"
	ToolJSONExtract = "json_extract"
	toolWorkflow    = "workflow:"
	wireWorkflow    = "workflow_"
)

// Bounds of tool results.
const (
	// maxToolResultChars bounds the result text sent back to the model and
	// recorded for one call; a longer result is cut and marked so.
	maxToolResultChars = 32 << 10
	// maxToolArgumentBytes bounds the recorded arguments of one call.
	maxToolArgumentBytes = 16 << 10
	// toolHTTPTimeout bounds one http_request call.
	toolHTTPTimeout = 30 * time.Second
)

const httpRequestSchema = `{"type":"object","properties":{
"method":{"type":"string","enum":["GET","POST","PUT","PATCH","DELETE","HEAD"],"description":"HTTP method (default GET)"},
"url":{"type":"string","description":"absolute http or https URL"},
"headers":{"type":"object","additionalProperties":{"type":"string"},"description":"request headers"},
"body":{"description":"request body: a string, or any JSON value to send as JSON"}},
"required":["url"]}`

const jsonExtractSchema = `{"type":"object","properties":{
"json":{"description":"a JSON value, or a string holding JSON text"},
"path":{"type":"string","description":"a JSON pointer such as /items/0/name, or a path such as items[0].name or items.0.name; empty for the whole value"}},
"required":["json","path"]}`

// WorkflowCallDescriber is optionally implemented by a WorkflowCaller to
// name and describe workflow tools as the calling step sees them (call
// names the step; Input and IdempotencyKey are unset): a workflow the step
// may not call is not found, like a missing one. It is preferred over
// WorkflowDescriber.
type WorkflowCallDescriber interface {
	DescribeWorkflowCall(ctx context.Context, call WorkflowCall) (*WorkflowTool, error)
}

// toolset is the tools of one llm step.
type toolset struct {
	r    *Runtime
	in   StepInput
	defs []llm.Tool
	// names maps the name offered to the model to the name the node lists.
	names map[string]string
	seq   int
}

func (r *Runtime) newToolset(ctx context.Context, in StepInput, names []string) (*toolset, *StepError) {
	ts := &toolset{r: r, in: in, names: map[string]string{}}
	for _, name := range names {
		switch {
		case name == ToolHTTPRequest:
			ts.add(name, name, "Make an HTTP request to a public URL and get its status, headers and body "+
				"(JSON bodies are parsed). Internal and private addresses are refused.", httpRequestSchema)
		case name == ToolJSONExtract:
			ts.add(name, name, "Extract the part of a JSON value at a path.", jsonExtractSchema)
		case strings.HasPrefix(name, toolWorkflow):
			id := strings.TrimPrefix(name, toolWorkflow)
			if !domain.ValidID(domain.PrefixWorkflow, id) {
				return nil, stepErr(KindBadRequest, nil, "tool %q does not name a workflow id", clipText(name, 80))
			}
			desc, params := fmt.Sprintf("Run workflow %s with the arguments as its input and get its output.", id), ""
			var wt *WorkflowTool
			var err error
			switch d := r.o.Workflows.(type) {
			case WorkflowCallDescriber:
				wt, err = d.DescribeWorkflowCall(ctx, WorkflowCall{OrgID: in.OrgID, ParentExecutionID: in.ExecutionID,
					ParentNodeID: in.NodeID, WorkflowID: id})
			case WorkflowDescriber:
				wt, err = d.DescribeWorkflow(ctx, in.OrgID, id)
			}
			if se, ok := errors.AsType[*StepError](err); ok {
				return nil, stepErr(se.Kind, err, "tool %q: %s", name, se.Message)
			}
			if err != nil {
				if domain.IsCode(err, domain.ECodeNotFound) {
					return nil, stepErr(KindBadRequest, err, "tool %q: the workflow does not exist", name)
				}
				return nil, stepErr(KindUnavailable, err, "tool %q: the workflow could not be loaded", name)
			}
			if wt != nil {
				desc = fmt.Sprintf("Run the workflow %q with the arguments as its input and get its output.", wt.Name)
				if wt.Description != "" {
					desc += " " + clipText(wt.Description, 1000)
				}
				if !isEmptyJSON(wt.InputSchema) && strings.HasPrefix(strings.TrimSpace(string(wt.InputSchema)), "{") {
					params = string(wt.InputSchema)
				}
			}
			if params == "" {
				params = `{"type":"object","additionalProperties":true}`
			}
			ts.add(wireWorkflow+id, name, desc, params)
		default:
			return nil, stepErr(KindBadRequest, nil, "unknown tool %q: use http_request, json_extract or workflow:<workflow id>", clipText(name, 80))
		}
	}
	return ts, nil
}

func (ts *toolset) add(wire, name, description, schema string) {
	ts.defs = append(ts.defs, llm.Tool{Name: wire, Description: description, Parameters: json.RawMessage(schema)})
	ts.names[wire] = name
}

// run executes one tool call the model made in model call round, records
// it, and returns the text to send back to the model. A failing tool does
// not fail the step: the model is told what went wrong.
func (ts *toolset) run(ctx context.Context, tc llm.ToolCall, round int, records *[]ToolCallRecord) string {
	ts.seq++
	name, offered := ts.names[tc.Name]
	rec := ToolCallRecord{ID: tc.ID, Name: name, Arguments: clipArguments(tc.Arguments), Round: round}
	if !offered {
		rec.Name = clipText(tc.Name, 100)
	}
	start := time.Now()
	var result any
	var err error
	switch {
	case !offered:
		err = fmt.Errorf("there is no tool called %q", clipText(tc.Name, 100))
	case name == ToolHTTPRequest:
		result, err = ts.httpRequest(ctx, tc.Arguments)
	case name == ToolJSONExtract:
		result, err = jsonExtract(tc.Arguments)
	default:
		result, err = ts.callWorkflow(ctx, strings.TrimPrefix(name, toolWorkflow), tc.Arguments)
	}
	rec.DurationMS = time.Since(start).Milliseconds()

	var content string
	if err == nil {
		if result, err = jsonShaped(result); err != nil {
			err = errors.New("the result is not representable as JSON")
		}
	}
	if err != nil {
		rec.Error = clipText(err.Error(), 1000)
		b, _ := json.Marshal(map[string]string{"error": rec.Error})
		content = string(b)
	} else {
		b, _ := json.Marshal(result)
		content = string(b)
		rec.Result = result
		if len(content) > maxToolResultChars {
			content = clipText(content, maxToolResultChars) + " [result truncated]"
			rec.Result = content
		}
	}
	*records = append(*records, rec)
	return content
}

func clipArguments(args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	if len(args) <= maxToolArgumentBytes {
		return args
	}
	b, _ := json.Marshal(clipText(string(args), maxToolArgumentBytes) + " [arguments truncated]")
	return b
}

// httpRequest is the http_request tool: the same guarded client as http
// nodes; any status is a result the model can read.
func (ts *toolset) httpRequest(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, fmt.Errorf("the arguments are not valid: %v", err)
	}
	if strings.TrimSpace(args.URL) == "" {
		return nil, errors.New("a url is required")
	}
	req := httpRequest{Method: args.Method, URL: strings.TrimSpace(args.URL), Headers: args.Headers, Timeout: toolHTTPTimeout}
	if len(args.Body) > 0 && string(args.Body) != "null" {
		var s string
		if json.Unmarshal(args.Body, &s) == nil {
			req.Body = s
		} else {
			req.Body = string(args.Body)
		}
	}
	if ts.in.ExecutionID != "" {
		req.IdempotencyKey = fmt.Sprintf("%s:%s:%d", ts.in.ExecutionID, ts.in.NodeID, ts.seq)
	}
	ans, serr := ts.r.doHTTP(ctx, req)
	if serr != nil {
		return nil, errors.New(serr.Message)
	}
	return ans.Output, nil
}

// callWorkflow is a workflow tool.
func (ts *toolset) callWorkflow(ctx context.Context, workflowID string, raw json.RawMessage) (any, error) {
	if ts.r.o.Workflows == nil {
		return nil, errors.New("calling workflows is not available here")
	}
	var input any
	if err := json.Unmarshal(raw, &input); err != nil {
		return nil, fmt.Errorf("the arguments are not valid JSON: %v", err)
	}
	call := WorkflowCall{OrgID: ts.in.OrgID, ParentExecutionID: ts.in.ExecutionID, ParentNodeID: ts.in.NodeID,
		WorkflowID: workflowID, Input: input}
	if ts.in.ExecutionID != "" {
		call.IdempotencyKey = fmt.Sprintf("%s:%s:%d", ts.in.ExecutionID, ts.in.NodeID, ts.seq)
	}
	out, err := ts.r.o.Workflows.CallWorkflow(ctx, call)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return nil, errors.New(de.Message)
		}
		if se, ok := errors.AsType[*StepError](err); ok {
			return nil, errors.New(se.Message)
		}
		if ctx.Err() != nil {
			return nil, errors.New("the workflow did not finish in time")
		}
		ts.r.log.WarnContext(ctx, "workflow tool failed", "org_id", ts.in.OrgID, "workflow_id", workflowID, "error", err)
		return nil, errors.New("the workflow failed")
	}
	return out, nil
}
