package workflow

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Validate checks a definition and returns every problem it finds, each
// located by a JSON pointer into the request body (nodes are under
// /agents/<index>, edges under /edges/<index>); nil when def is valid.
//
// Validate takes the resolved definition: a node that names a library agent
// (agent_id) and leaves its type configuration empty is valid only once
// Resolve has merged the library agent into it.
//
// For a definition far beyond the limits (more than 2000 agents or
// domain.MaxEdges edges), Validate still reports the problems of each node
// and edge but skips checking node references against paths of edges, so
// that its cost stays proportional to the size of def.
func Validate(def *domain.Definition, lim Limits) []domain.FieldError {
	if def == nil {
		return []domain.FieldError{{Pointer: "", Message: "a workflow definition is required"}}
	}
	v := &validator{def: def, lim: lim.withDefaults()}
	v.validate()
	return v.problems
}

// Bounded work beyond the limits: Validate never walks paths of a graph
// larger than this, and reports at most this many cycles.
const (
	maxGraphForPathChecks = 2000
	maxReportedCycles     = 20
)

var nodeIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

var modelPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}:[^\s:][^\s]{0,199}$`)

// httpMethods lists the methods an http agent may use.
const httpMethods = "GET, POST, PUT, PATCH, DELETE, HEAD"

type validator struct {
	def       *domain.Definition
	lim       Limits
	problems  []domain.FieldError
	graph     *Graph
	pathCheck bool                    // whether node references are checked against paths
	ancestors map[int][]bool          // memoized Graph.ancestorSet
	nodes     map[string]*domain.Node // first node of each id
}

func (v *validator) addf(ptr, format string, args ...any) {
	v.problems = append(v.problems, domain.FieldError{Pointer: ptr, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) validate() {
	def := v.def
	if len(def.Nodes) == 0 {
		v.addf("/agents", "a workflow needs at least one agent")
	}
	if len(def.Nodes) > v.lim.MaxAgents {
		v.addf("/agents", "a workflow may have at most %d agents (%s); this one has %d", v.lim.MaxAgents, v.lim.MaxAgentsLimit, len(def.Nodes))
	}
	if len(def.Edges) > domain.MaxEdges {
		v.addf("/edges", "a workflow may have at most %d edges; this one has %d", domain.MaxEdges, len(def.Edges))
	}
	v.graph, _ = buildGraph(def, false)
	v.pathCheck = len(def.Nodes) <= maxGraphForPathChecks && len(def.Edges) <= domain.MaxEdges
	v.ancestors = map[int][]bool{}
	v.nodes = make(map[string]*domain.Node, len(def.Nodes))
	for i := range def.Nodes {
		if _, dup := v.nodes[def.Nodes[i].ID]; !dup {
			v.nodes[def.Nodes[i].ID] = &def.Nodes[i]
		}
	}

	v.checkNodeIDs()
	for i := range def.Nodes {
		v.checkNode(i, &def.Nodes[i])
	}
	v.checkEdges()
	v.checkCycles()
	if def.OutputTemplate != "" {
		v.checkTemplate("/output_template", def.OutputTemplate, "")
	}
	if def.InputSchema != nil {
		v.checkSchema("/input_schema", def.InputSchema)
	}
}

func (v *validator) checkNodeIDs() {
	first := map[string]int{}
	for i, n := range v.def.Nodes {
		ptr := pointer("agents", strconv.Itoa(i), "id")
		switch {
		case n.ID == "":
			v.addf(ptr, "an agent id is required")
		case !nodeIDPattern.MatchString(n.ID):
			v.addf(ptr, "agent id %q must be 1 to %d lower-case letters, digits, '-' or '_', starting with a letter or digit", clip(n.ID), domain.MaxNodeIDLen)
		}
		if j, dup := first[n.ID]; dup && n.ID != "" {
			v.addf(ptr, "duplicate agent id %q (also /agents/%d)", clip(n.ID), j)
		} else {
			first[n.ID] = i
		}
	}
}

func (v *validator) checkNode(i int, n *domain.Node) {
	base := pointer("agents", strconv.Itoa(i))
	v.checkText(base+"/name", n.Name, domain.MaxNameLen)
	v.checkText(base+"/description", n.Description, domain.MaxDescriptionLen)
	if n.AgentID != "" && !domain.ValidID(domain.PrefixAgent, n.AgentID) {
		v.addf(base+"/agent_id", "%q is not a library agent id", clip(n.AgentID))
	}

	blocks := []struct {
		typ     domain.NodeType
		present bool
	}{
		{domain.NodeLLM, n.LLM != nil},
		{domain.NodeHTTP, n.HTTP != nil},
		{domain.NodeTransform, n.Transform != nil},
		{domain.NodeRouter, n.Router != nil},
	}
	known := false
	for _, b := range blocks {
		known = known || b.typ == n.Type
	}
	switch {
	case n.Type == "":
		v.addf(base+"/type", "an agent type is required: llm, http, transform or router")
	case !known:
		v.addf(base+"/type", "unknown agent type %q: use llm, http, transform or router", clip(string(n.Type)))
	default:
		for _, b := range blocks {
			if b.typ == n.Type && !b.present {
				v.addf(base+"/"+string(b.typ), "the %q block is required for %s agents", b.typ, n.Type)
			}
			if b.typ != n.Type && b.present {
				v.addf(base+"/"+string(b.typ), "the %q block is only allowed on %s agents", b.typ, b.typ)
			}
		}
	}

	if n.LLM != nil && n.Type == domain.NodeLLM {
		v.checkLLM(base+"/llm", n.ID, n.LLM)
	}
	if n.HTTP != nil && n.Type == domain.NodeHTTP {
		v.checkHTTP(base+"/http", n.ID, n.HTTP)
	}
	if n.Transform != nil && n.Type == domain.NodeTransform {
		v.checkTransform(base+"/transform", n.ID, n.Transform)
	}
	if n.Router != nil && n.Type == domain.NodeRouter {
		v.checkRouter(base+"/router", n.ID, n.Router)
	}
	if n.Retry != nil {
		v.checkRetry(base+"/retry", n.Retry)
	}
	v.checkTimeout(base+"/timeout_seconds", n.TimeoutSeconds)
}

func (v *validator) checkLLM(base, nodeID string, c *domain.LLMConfig) {
	switch {
	case c.Model == "":
		v.addf(base+"/model", "a model is required, as \"provider:model\" (e.g. \"openai:gpt-4o-mini\")")
	case !modelPattern.MatchString(c.Model):
		v.addf(base+"/model", "model %q must be \"provider:model\" (e.g. \"openai:gpt-4o-mini\")", clip(c.Model))
	}
	if strings.TrimSpace(c.Prompt) == "" {
		v.addf(base+"/prompt", "a prompt is required")
	} else {
		v.checkTemplate(base+"/prompt", c.Prompt, nodeID)
	}
	if c.SystemPrompt != "" {
		v.checkTemplate(base+"/system_prompt", c.SystemPrompt, nodeID)
	}
	if t := c.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		v.addf(base+"/temperature", "temperature must be between 0 and 2")
	}
	if c.MaxTokens < 0 || c.MaxTokens > MaxLLMTokens {
		v.addf(base+"/max_tokens", "max_tokens must be between 1 and %d (0: the model's default)", MaxLLMTokens)
	}
	if len(c.Tools) > MaxTools {
		v.addf(base+"/tools", "at most %d tools are allowed", MaxTools)
	}
	seen := map[string]bool{}
	for k, tool := range c.Tools {
		ptr := fmt.Sprintf("%s/tools/%d", base, k)
		switch {
		case seen[tool]:
			v.addf(ptr, "tool %q is listed twice", clip(tool))
		case tool == "http_request" || tool == "json_extract":
		case strings.HasPrefix(tool, "workflow:"):
			if id := strings.TrimPrefix(tool, "workflow:"); !domain.ValidID(domain.PrefixWorkflow, id) {
				v.addf(ptr, "tool %q must name a workflow id, e.g. \"workflow:wf_…\"", clip(tool))
			}
		default:
			v.addf(ptr, "unknown tool %q: use http_request, json_extract or workflow:<workflow id>", clip(tool))
		}
		seen[tool] = true
	}
	if c.MaxToolRounds < 0 || c.MaxToolRounds > MaxToolRounds {
		v.addf(base+"/max_tool_rounds", "max_tool_rounds must be between 1 and %d (0: 5)", MaxToolRounds)
	}
	switch c.OutputFormat {
	case "", "text", "json":
	default:
		v.addf(base+"/output_format", "output_format must be \"text\" or \"json\"")
	}
	if c.OutputSchema != nil {
		if c.OutputFormat != "json" && !isEmptySchema(c.OutputSchema) {
			v.addf(base+"/output_schema", "an output_schema needs output_format \"json\"")
		}
		v.checkSchema(base+"/output_schema", c.OutputSchema)
	}
	if c.Mock != nil {
		v.checkMock(base+"/mock", c.Mock)
	}
}

func (v *validator) checkMock(base string, m *domain.MockOptions) {
	v.checkText(base+"/response", m.Response, domain.MaxTemplateLen)
	if len(m.Responses) > MaxMockResponses {
		v.addf(base+"/responses", "at most %d responses are allowed", MaxMockResponses)
	}
	for k, r := range m.Responses {
		v.checkText(fmt.Sprintf("%s/responses/%d", base, k), r, domain.MaxTemplateLen)
	}
	if len(m.ToolCalls) > MaxMockResponses {
		v.addf(base+"/tool_calls", "at most %d tool calls are allowed", MaxMockResponses)
	}
	for k, tc := range m.ToolCalls {
		if tc.Name == "" {
			v.addf(fmt.Sprintf("%s/tool_calls/%d/name", base, k), "a tool name is required")
		}
		if len(tc.Arguments) > 0 && !json.Valid(tc.Arguments) {
			v.addf(fmt.Sprintf("%s/tool_calls/%d/arguments", base, k), "arguments must be JSON")
		}
	}
	maxLatency := v.lim.MaxStepTimeout.Milliseconds()
	for _, f := range []struct {
		name  string
		value int64
		max   int64
	}{
		{"latency_ms", int64(m.LatencyMS), maxLatency},
		{"fail_first", int64(m.FailFirst), domain.MaxRetryAttempts},
		{"input_tokens", m.InputTokens, MaxLLMTokens * 10},
		{"output_tokens", m.OutputTokens, MaxLLMTokens},
		{"stream_chunk_chars", int64(m.StreamChunkChars), domain.MaxTemplateLen},
	} {
		if f.value < 0 || f.value > f.max {
			v.addf(base+"/"+f.name, "%s must be between 0 and %d", f.name, f.max)
		}
	}
}

func (v *validator) checkHTTP(base, nodeID string, c *domain.HTTPConfig) {
	if !slices.Contains(strings.Split(httpMethods, ", "), c.Method) {
		v.addf(base+"/method", "method must be one of %s", httpMethods)
	}
	switch {
	case strings.TrimSpace(c.URL) == "":
		v.addf(base+"/url", "a URL is required")
	case !strings.Contains(c.URL, "{{"):
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.addf(base+"/url", "URL must be an absolute http or https URL")
		}
	default:
		v.checkTemplate(base+"/url", c.URL, nodeID)
	}
	if len(c.Headers) > MaxHeaders {
		v.addf(base+"/headers", "at most %d headers are allowed", MaxHeaders)
	}
	for _, name := range sortedKeys(c.Headers) {
		ptr := base + "/headers/" + escapePointer(name)
		if !validHeaderName(name) {
			v.addf(ptr, "%q is not a valid header name", clip(name))
			continue
		}
		v.checkTemplate(ptr, c.Headers[name], nodeID)
	}
	if c.Body != "" {
		v.checkTemplate(base+"/body", c.Body, nodeID)
	}
	v.checkTimeout(base+"/timeout_seconds", c.TimeoutSeconds)
}

func (v *validator) checkTransform(base, nodeID string, c *domain.TransformConfig) {
	switch {
	case c.Template == "" && c.Expression == "":
		v.addf(base, "a transform needs a template or an expression")
	case c.Template != "" && c.Expression != "":
		v.addf(base, "a transform takes a template or an expression, not both")
	case c.Template != "":
		v.checkTemplate(base+"/template", c.Template, nodeID)
	default:
		v.checkExpression(base+"/expression", kindExpression, c.Expression, nodeID, false)
	}
}

func (v *validator) checkRouter(base, nodeID string, c *domain.RouterConfig) {
	if len(c.Routes) == 0 {
		v.addf(base+"/routes", "a router needs at least one route")
	}
	if len(c.Routes) > MaxRoutes {
		v.addf(base+"/routes", "a router may have at most %d routes", MaxRoutes)
	}
	for k, r := range c.Routes {
		rp := fmt.Sprintf("%s/routes/%d", base, k)
		if strings.TrimSpace(r.Condition) == "" {
			v.addf(rp+"/condition", "a route needs a condition")
		} else {
			v.checkExpression(rp+"/condition", kindCondition, r.Condition, nodeID, false)
		}
		v.checkRouteTarget(rp+"/to", nodeID, r.To, true)
	}
	if c.Default != "" {
		v.checkRouteTarget(base+"/default", nodeID, c.Default, false)
	}
}

func (v *validator) checkRouteTarget(ptr, router, target string, required bool) {
	switch {
	case target == "":
		if required {
			v.addf(ptr, "a route needs a target agent")
		}
	case !v.graph.Has(target):
		v.addf(ptr, "unknown agent %q", clip(target))
	case !slices.Contains(v.graph.Children(router), target):
		v.addf(ptr, "%q is not a direct successor of router %q: add an edge from %q to %q", target, router, router, target)
	}
}

func (v *validator) checkRetry(base string, r *domain.RetryPolicy) {
	if r.MaxAttempts < 0 || r.MaxAttempts > domain.MaxRetryAttempts {
		v.addf(base+"/max_attempts", "max_attempts must be between 1 and %d (0: %d)", domain.MaxRetryAttempts, DefaultMaxAttempts)
	}
	if r.InitialBackoffMS < 0 || r.InitialBackoffMS > MaxBackoffMS {
		v.addf(base+"/initial_backoff_ms", "initial_backoff_ms must be between 1 and %d (0: %d)", MaxBackoffMS, DefaultInitialBackoff.Milliseconds())
	}
	if r.MaxBackoffMS < 0 || r.MaxBackoffMS > MaxBackoffMS {
		v.addf(base+"/max_backoff_ms", "max_backoff_ms must be between 1 and %d (0: %d)", MaxBackoffMS, DefaultMaxBackoff.Milliseconds())
	}
	if r.InitialBackoffMS > 0 && r.MaxBackoffMS > 0 && r.InitialBackoffMS > r.MaxBackoffMS {
		v.addf(base+"/initial_backoff_ms", "initial_backoff_ms must not exceed max_backoff_ms")
	}
	if m := r.Multiplier; math.IsNaN(m) || m != 0 && (m < 1 || m > MaxBackoffMultiplier) {
		v.addf(base+"/multiplier", "multiplier must be between 1 and %d (0: %g)", MaxBackoffMultiplier, DefaultMultiplier)
	}
}

func (v *validator) checkTimeout(ptr string, seconds int) {
	maxSecs := int(v.lim.MaxStepTimeout.Seconds())
	if seconds < 0 || seconds > maxSecs {
		v.addf(ptr, "timeout_seconds must be between 1 and %d (0: %d)", maxSecs, int(DefaultStepTimeout.Seconds()))
	}
}

func (v *validator) checkEdges() {
	first := map[[2]string]int{}
	for i, e := range v.def.Edges {
		base := pointer("edges", strconv.Itoa(i))
		fromOK, toOK := v.graph.Has(e.From), v.graph.Has(e.To)
		if !fromOK {
			v.addf(base+"/from", "unknown agent %q", clip(e.From))
		}
		if !toOK {
			v.addf(base+"/to", "unknown agent %q", clip(e.To))
		}
		if e.From == e.To && fromOK {
			v.addf(base, "an edge from %q to itself would be a cycle", e.From)
		}
		key := [2]string{e.From, e.To}
		if j, dup := first[key]; dup {
			v.addf(base, "duplicate edge from %q to %q (also /edges/%d)", clip(e.From), clip(e.To), j)
		} else {
			first[key] = i
		}
		if e.Condition != "" {
			v.checkExpression(base+"/condition", kindCondition, e.Condition, e.From, true)
		}
		if from := v.nodes[e.From]; fromOK && toOK && from.Type == domain.NodeRouter && from.Router != nil {
			if !routesTo(from.Router, e.To) {
				v.addf(base+"/to", "router %q never takes this edge: %q is neither one of its routes nor its default", e.From, e.To)
			}
		}
	}
}

func (v *validator) checkCycles() {
	cycles := v.graph.cycles()
	for k, c := range cycles {
		if k == maxReportedCycles {
			v.addf("/edges", "and %d more cycles", len(cycles)-k)
			return
		}
		ptr := "/edges"
		for i, e := range v.def.Edges {
			if e.From == c.closing.From && e.To == c.closing.To {
				ptr = pointer("edges", strconv.Itoa(i))
				break
			}
		}
		v.addf(ptr, "the edges form a cycle: %s", c.text)
	}
}

// checkTemplate checks a template's size, syntax and node references.
// user is the id of the node rendering it, which may read only its
// ancestors; "" (the output template) may read every node.
func (v *validator) checkTemplate(ptr, text, user string) {
	if len(text) > domain.MaxTemplateLen {
		v.addf(ptr, "a template may be at most %d bytes long; this one is %d", domain.MaxTemplateLen, len(text))
		return
	}
	p := parseTemplate(text)
	if p.err != nil {
		v.addf(ptr, "template does not parse: %s", templateProblem(p.err))
		return
	}
	v.checkRefs(ptr, p.refs, user, false)
}

// checkExpression checks an expression's size, compilation and node
// references; user is the node whose upstream outputs it may read, and
// selfOK allows it to read user's own output (edge conditions do).
func (v *validator) checkExpression(ptr string, kind exprKind, src, user string, selfOK bool) {
	if len(src) > domain.MaxExpressionLen {
		v.addf(ptr, "an expression may be at most %d bytes long; this one is %d", domain.MaxExpressionLen, len(src))
		return
	}
	c := compileExpr(kind, src)
	if c.err != nil {
		v.addf(ptr, "expression does not compile: %s", exprProblem(c.err))
		return
	}
	v.checkRefs(ptr, c.refs, user, selfOK)
}

func (v *validator) checkRefs(ptr string, refs []string, user string, selfOK bool) {
	seen := map[string]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		switch {
		case !v.graph.Has(ref):
			v.addf(ptr, "reads agent %q, which does not exist", clip(ref))
		case user == "" || !v.pathCheck || !v.graph.Has(user):
		case ref == user:
			if !selfOK {
				v.addf(ptr, "reads the output of its own agent %q", ref)
			}
		case !v.isAncestor(ref, user):
			v.addf(ptr, "reads agent %q, which does not run before %q (no path of edges leads from it)", ref, user)
		}
	}
}

func (v *validator) isAncestor(a, b string) bool {
	ib := v.graph.index[b]
	set, ok := v.ancestors[ib]
	if !ok {
		set = v.graph.ancestorSet(ib)
		v.ancestors[ib] = set
	}
	return set[v.graph.index[a]]
}

func (v *validator) checkSchema(ptr string, raw json.RawMessage) {
	if len(raw) > domain.MaxSchemaBytes {
		v.addf(ptr, "a schema may be at most %d bytes long; this one is %d", domain.MaxSchemaBytes, len(raw))
		return
	}
	if isEmptySchema(raw) {
		return
	}
	if _, err := compileSchema(raw); err != nil {
		v.addf(ptr, "schema is invalid: %s", err)
	}
}

// checkText bounds a human-readable text by characters.
func (v *validator) checkText(ptr, s string, maxChars int) {
	if !utf8.ValidString(s) {
		v.addf(ptr, "text must be valid UTF-8")
		return
	}
	if n := utf8.RuneCountInString(s); n > maxChars {
		v.addf(ptr, "at most %d characters are allowed; this text has %d", maxChars, n)
	}
}

func routesTo(r *domain.RouterConfig, target string) bool {
	if r.Default == target {
		return true
	}
	for _, route := range r.Routes {
		if route.To == target {
			return true
		}
	}
	return false
}

// validHeaderName reports whether name is an HTTP header field name token
// (RFC 9110 section 5.1).
func validHeaderName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MaxCalledWorkflows bounds how many different workflows the
// "workflow:<id>" tools of one workflow may name (library agents included).
const MaxCalledWorkflows = 64

// CalledWorkflow is what checking a "workflow:<id>" tool needs to know
// about the workflow it names.
type CalledWorkflow struct {
	TeamID   string // "" = organization-wide
	Archived bool
}

// CanCall reports whether a workflow of callerTeam may call one of
// calledTeam ("" = organization-wide): the called workflow must belong to
// the caller's team or to the whole organization. An organization-wide
// workflow may call only organization-wide ones.
func CanCall(callerTeam, calledTeam string) bool {
	return calledTeam == "" || calledTeam == callerTeam
}

// CalledWorkflowIDs returns the workflows def's llm nodes name in
// "workflow:<id>" tools, each once, in order of first mention. Malformed
// ids, which Validate reports, are left out.
func CalledWorkflowIDs(def *domain.Definition) []string {
	var ids []string
	seen := map[string]bool{}
	for _, n := range def.Nodes {
		if n.LLM == nil {
			continue
		}
		for _, tool := range n.LLM.Tools {
			id, ok := strings.CutPrefix(tool, "workflow:")
			if ok && !seen[id] && domain.ValidID(domain.PrefixWorkflow, id) {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// CheckWorkflowTools checks the "workflow:<id>" tools of def, the resolved
// definition of a workflow of team teamID ("" = organization-wide), against
// the workflows they name. called maps ids to what the saving user can see
// of them: nil for a workflow that is missing or that the user cannot see.
// A workflow that is missing, archived, invisible or of a team the workflow
// may not call (see CanCall) gets one and the same problem, at the tool, so
// that it tells nothing about workflows of other teams. An id absent from
// called was not looked up because def names more than MaxCalledWorkflows.
func CheckWorkflowTools(def *domain.Definition, teamID string, called map[string]*CalledWorkflow) []domain.FieldError {
	var problems []domain.FieldError
	order := map[string]int{}
	for i, n := range def.Nodes {
		if n.LLM == nil || n.Type != domain.NodeLLM {
			continue
		}
		for k, tool := range n.LLM.Tools {
			id, ok := strings.CutPrefix(tool, "workflow:")
			if !ok || !domain.ValidID(domain.PrefixWorkflow, id) {
				continue
			}
			if _, seen := order[id]; !seen {
				order[id] = len(order)
			}
			ptr := fmt.Sprintf("/agents/%d/llm/tools/%d", i, k)
			c, looked := called[id]
			switch {
			case order[id] >= MaxCalledWorkflows || !looked:
				problems = append(problems, domain.FieldError{Pointer: ptr,
					Message: fmt.Sprintf("a workflow may call at most %d different workflows", MaxCalledWorkflows)})
			case c == nil || c.Archived || !CanCall(teamID, c.TeamID):
				problems = append(problems, domain.FieldError{Pointer: ptr,
					Message: fmt.Sprintf("workflow %q does not exist, or this workflow may not call it: it must belong to this workflow's team or to the whole organization", id)})
			}
		}
	}
	return problems
}
