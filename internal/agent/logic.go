package agent

import (
	"bytes"
	"encoding/json"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// runTransform renders the template (its result parsed as JSON when it is
// JSON) or evaluates the expression.
func (r *Runtime) runTransform(in StepInput, c *domain.TransformConfig) (*StepResult, error) {
	if c.Template != "" {
		text, err := workflow.RenderTemplate(c.Template, in.Data)
		if err != nil {
			return nil, stepErr(KindBadRequest, err, "transform template: %v", err)
		}
		return &StepResult{Output: parseIfJSON(text), CostKnown: true}, nil
	}
	v, err := workflow.EvalExpression(c.Expression, workflow.Env{Input: in.Data.Input, Nodes: in.Data.Nodes})
	if err != nil {
		return nil, stepErr(KindBadRequest, err, "transform %v", err)
	}
	out, err := jsonShaped(v)
	if err != nil {
		return nil, stepErr(KindBadRequest, err, "transform expression: the result is not representable as JSON")
	}
	return &StepResult{Output: out, CostKnown: true}, nil
}

// parseIfJSON returns text parsed when it is one JSON value (surrounding
// space allowed), else text itself.
func parseIfJSON(text string) any {
	trimmed := bytes.TrimSpace([]byte(text))
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return text
	}
	var v any
	if err := json.Unmarshal(trimmed, &v); err != nil {
		return text
	}
	return v
}

// runRouter evaluates the routes in order; the first that holds chooses
// the target, else the default.
func (r *Runtime) runRouter(in StepInput, c *domain.RouterConfig) (*StepResult, error) {
	env := workflow.Env{Input: in.Data.Input, Nodes: in.Data.Nodes}
	for i, route := range c.Routes {
		ok, err := workflow.EvalCondition(route.Condition, env)
		if err != nil {
			return nil, stepErr(KindBadRequest, err, "route %d: %v", i+1, err)
		}
		if ok {
			return &StepResult{Output: map[string]any{"route": route.To}, Route: route.To, CostKnown: true}, nil
		}
	}
	if c.Default != "" {
		return &StepResult{Output: map[string]any{"route": c.Default}, Route: c.Default, CostKnown: true}, nil
	}
	return nil, stepErr(KindNoRoute, nil, "no route condition held and the router has no default")
}
