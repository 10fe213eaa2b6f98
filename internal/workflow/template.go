package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// Data is what templates (prompts, URLs, headers, bodies, transform
// templates and the output template) see:
//
//	.input         the execution input
//	.nodes.<id>    the output of a completed upstream node (also index .nodes "<id>")
//	.execution_id  the execution's id
//	.node_id       the id of the node being rendered (empty for the output template)
//
// Values should be JSON-shaped, as for Env: templates may call the exported
// methods of any other value.
type Data struct {
	Input       any
	Nodes       map[string]any
	ExecutionID string
	NodeID      string
}

// Limits of one template rendering.
const (
	// MaxRenderedBytes caps what one rendering may produce.
	MaxRenderedBytes = 1 << 20
	// maxTemplateSteps bounds the work of range loops over one rendering:
	// every iteration costs the number of parse nodes in the loop body.
	maxTemplateSteps = 100_000
	// maxTemplateFuncBytes bounds the bytes template functions may build.
	maxTemplateFuncBytes = 16 << 20
)

// Internal template functions the parser inserts; user templates may call
// them, to no effect beyond their own budget.
const (
	tickFunc   = "__tick"
	outputFunc = "__out"
)

type parsedTemplate struct {
	tmpl *template.Template
	refs []string // node ids read as .nodes.<id>, $.nodes.<id> or index .nodes "<id>"
	err  error
}

var templateCache = newLRUCache[*parsedTemplate](1024, 16<<20)

// RenderTemplate renders a text/template over data. Parsed templates are
// cached by text.
//
// Beyond text/template:
//   - a missing value prints as nothing, never as "<no value>": a template
//     reading a skipped node (absent from data.Nodes, or nil) sees an empty
//     value and `.nodes.skipped.field` is empty too;
//   - an action printing a map or a list prints it as JSON; numbers print as
//     in JSON (1000000, not 1e+06);
//   - functions: json and toJSON (marshal), default (`default "x" .v` is "x"
//     when .v is missing, null, "" or an empty list or map), upper, lower,
//     trim, join (`join ", " .list`), truncate (`truncate 100 .s`, in
//     characters) next to the text/template builtins;
//   - {{define}}, {{block}} and {{template}} are rejected, so rendering cannot
//     recurse;
//   - the output is capped at MaxRenderedBytes, range loops and the bytes
//     built by functions have budgets: beyond them the error wraps
//     ErrBudgetExceeded.
func RenderTemplate(text string, data Data) (string, error) {
	p := parseTemplate(text)
	if p.err != nil {
		return "", p.err
	}
	st := &renderState{budget: newBudget(maxTemplateFuncBytes), steps: maxTemplateSteps}
	t, err := p.tmpl.Clone()
	if err != nil {
		return "", fmt.Errorf("clone template: %w", err)
	}
	t.Funcs(st.funcs())
	out := &cappedBuffer{max: MaxRenderedBytes}
	if err := t.Execute(out, data.templateData()); err != nil {
		// text/template quotes values in its errors; they may be large.
		return "", clipError(fmt.Errorf("render template: %w", err))
	}
	return out.buf.String(), nil
}

func (d Data) templateData() map[string]any {
	nodes := make(map[string]any, len(d.Nodes))
	for id, out := range d.Nodes {
		if out != nil { // nil chains into an error in text/template; absent prints empty
			nodes[id] = out
		}
	}
	return map[string]any{
		"input":        d.Input,
		"nodes":        nodes,
		"execution_id": d.ExecutionID,
		"node_id":      d.NodeID,
	}
}

// parseTemplate parses text once and caches the result, errors included.
func parseTemplate(text string) *parsedTemplate {
	if p, ok := templateCache.get(text); ok {
		return p
	}
	p := &parsedTemplate{}
	p.tmpl, p.refs, p.err = parseAndGuard(text)
	templateCache.add(text, p)
	return p
}

func parseAndGuard(text string) (*template.Template, []string, error) {
	t, err := template.New("template").Funcs((&renderState{}).funcs()).Parse(text)
	if err != nil {
		return nil, nil, fmt.Errorf("parse template: %w", err)
	}
	if len(t.Templates()) > 1 {
		return nil, nil, errors.New("parse template: {{define}} and {{block}} are not supported")
	}
	if t.Tree == nil || t.Root == nil {
		return t, nil, nil
	}
	g := &treeGuard{}
	g.walk(t.Root, true)
	if g.err != nil {
		return nil, nil, g.err
	}
	return t, g.refs, nil
}

// treeGuard walks a parsed template once: it collects node references,
// rejects {{template}}, makes every printing action go through outputFunc
// and makes every range iteration pay tickFunc.
type treeGuard struct {
	refs []string
	err  error
}

// walk visits n; rootDot tells whether dot is still the template's data
// (range and with rebind it).
func (g *treeGuard) walk(n parse.Node, rootDot bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			g.walk(c, rootDot)
		}
	case *parse.ActionNode:
		g.pipe(n.Pipe, rootDot)
		if len(n.Pipe.Decl) == 0 {
			n.Pipe.Cmds = append(n.Pipe.Cmds, command(n.Pos, parse.NewIdentifier(outputFunc).SetPos(n.Pos)))
		}
	case *parse.IfNode:
		g.pipe(n.Pipe, rootDot)
		g.walk(n.List, rootDot)
		g.walk(n.ElseList, rootDot)
	case *parse.WithNode:
		g.pipe(n.Pipe, rootDot)
		g.walk(n.List, false)
		g.walk(n.ElseList, rootDot)
	case *parse.RangeNode:
		g.pipe(n.Pipe, rootDot)
		weight := countNodes(n.List)
		g.walk(n.List, false)
		g.walk(n.ElseList, rootDot)
		tick := &parse.ActionNode{NodeType: parse.NodeAction, Pos: n.Pos, Line: n.Line, Pipe: &parse.PipeNode{
			NodeType: parse.NodePipe, Pos: n.Pos, Line: n.Line,
			Cmds: []*parse.CommandNode{command(n.Pos,
				parse.NewIdentifier(tickFunc).SetPos(n.Pos),
				&parse.NumberNode{NodeType: parse.NodeNumber, Pos: n.Pos, IsInt: true, Int64: int64(weight), Text: strconv.Itoa(weight)},
			)},
		}}
		if n.List == nil {
			n.List = &parse.ListNode{NodeType: parse.NodeList, Pos: n.Pos}
		}
		n.List.Nodes = append([]parse.Node{tick}, n.List.Nodes...)
	case *parse.TemplateNode:
		if g.err == nil {
			g.err = fmt.Errorf("parse template: {{template %q}} is not supported", n.Name)
		}
	}
}

func (g *treeGuard) pipe(p *parse.PipeNode, rootDot bool) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		if isIndexOfNodes(c, rootDot) {
			if s, ok := c.Args[2].(*parse.StringNode); ok {
				g.refs = append(g.refs, s.Text)
			}
		}
		for _, a := range c.Args {
			g.arg(a, rootDot)
		}
	}
}

func (g *treeGuard) arg(n parse.Node, rootDot bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		if rootDot && len(n.Ident) >= 2 && n.Ident[0] == "nodes" {
			g.refs = append(g.refs, n.Ident[1])
		}
	case *parse.VariableNode:
		if len(n.Ident) >= 3 && n.Ident[0] == "$" && n.Ident[1] == "nodes" {
			g.refs = append(g.refs, n.Ident[2])
		}
	case *parse.ChainNode:
		g.arg(n.Node, rootDot)
	case *parse.PipeNode:
		g.pipe(n, rootDot)
	}
}

// isIndexOfNodes matches `index .nodes "<id>" …` and `index $.nodes "<id>" …`.
func isIndexOfNodes(c *parse.CommandNode, rootDot bool) bool {
	if len(c.Args) < 3 {
		return false
	}
	if id, ok := c.Args[0].(*parse.IdentifierNode); !ok || id.Ident != "index" {
		return false
	}
	switch m := c.Args[1].(type) {
	case *parse.FieldNode:
		return rootDot && len(m.Ident) == 1 && m.Ident[0] == "nodes"
	case *parse.VariableNode:
		return len(m.Ident) == 2 && m.Ident[0] == "$" && m.Ident[1] == "nodes"
	}
	return false
}

func command(pos parse.Pos, args ...parse.Node) *parse.CommandNode {
	return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: args}
}

// countNodes counts the parse nodes under n (at least 1): the work of one
// pass over a range body is proportional to it.
func countNodes(n parse.Node) int {
	count := 1
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				count += countNodes(c)
			}
		}
	case *parse.ActionNode:
		count += countNodes(n.Pipe)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				count += len(c.Args)
			}
		}
	case *parse.IfNode:
		count += countNodes(n.Pipe) + countNodes(n.List) + countNodes(n.ElseList)
	case *parse.WithNode:
		count += countNodes(n.Pipe) + countNodes(n.List) + countNodes(n.ElseList)
	case *parse.RangeNode:
		count += countNodes(n.Pipe) + countNodes(n.List) + countNodes(n.ElseList)
	}
	return count
}

// renderState is the budget of one rendering, shared by its functions.
type renderState struct {
	budget *budget
	steps  int64
}

func (st *renderState) funcs() template.FuncMap {
	return template.FuncMap{
		tickFunc:   st.tick,
		outputFunc: st.text,
		"json":     st.json,
		"toJSON":   st.json,
		"default":  defaultValue,
		"upper":    func(v any) (string, error) { return st.mapString(v, strings.ToUpper) },
		"lower":    func(v any) (string, error) { return st.mapString(v, strings.ToLower) },
		"trim":     st.trim,
		"join":     st.join,
		"truncate": st.truncate,
		// The text/template builtins that build strings, under the budget.
		"print":    st.guard("print", fmt.Sprint, 2),
		"println":  st.guard("println", fmt.Sprintln, 2),
		"html":     st.guard("html", template.HTMLEscaper, 6),
		"js":       st.guard("js", template.JSEscaper, 6),
		"urlquery": st.guard("urlquery", template.URLQueryEscaper, 3),
		"printf":   st.printf,
	}
}

func (st *renderState) tick(weight int) (string, error) {
	st.steps -= int64(max(weight, 1))
	if st.steps < 0 {
		return "", fmt.Errorf("%w: range loops ran more than %d steps", ErrBudgetExceeded, maxTemplateSteps)
	}
	return "", nil
}

// text formats a value as printing actions and text functions see it:
// nothing for a missing or null value, strings as they are, scalars as JSON
// prints them, maps and lists as JSON.
func (st *renderState) text(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return x.String(), nil
	case int, int64, int32, uint, uint64, uint32:
		return fmt.Sprint(x), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	case fmt.Stringer:
		return x.String(), nil
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Float64, reflect.Float32, reflect.Pointer:
		s, err := st.json(v)
		if errors.Is(err, ErrBudgetExceeded) {
			return "", err
		}
		if err == nil {
			return s, nil
		}
	}
	if err := st.budget.charge(2 * deepSize(v, st.budget.left)); err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}

func (st *renderState) json(v any) (string, error) {
	if err := st.budget.charge(6 * deepSize(v, st.budget.left/6+1)); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func (st *renderState) mapString(v any, f func(string) string) (string, error) {
	s, err := st.text(v)
	if err != nil {
		return "", err
	}
	if err := st.budget.charge(2 * int64(len(s))); err != nil {
		return "", err
	}
	return f(s), nil
}

func (st *renderState) trim(v any) (string, error) {
	s, err := st.text(v)
	return strings.TrimSpace(s), err
}

// join joins the elements of list (formatted as by text) with sep; it takes
// the list last so that `.list | join ", "` works.
func (st *renderState) join(sep string, list any) (string, error) {
	rv := reflect.ValueOf(list)
	if !rv.IsValid() {
		return "", nil
	}
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return "", fmt.Errorf("join: %s is not a list", rv.Type())
	}
	if err := st.budget.charge(deepSize(list, st.budget.left) + int64(rv.Len())*int64(len(sep)+elementSize)); err != nil {
		return "", fmt.Errorf("join: %w", err)
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		s, err := st.text(rv.Index(i).Interface())
		if err != nil {
			return "", fmt.Errorf("join: %w", err)
		}
		parts[i] = s
	}
	return strings.Join(parts, sep), nil
}

// truncate keeps the first n characters of v.
func (st *renderState) truncate(n int, v any) (string, error) {
	s, err := st.text(v)
	if err != nil || n <= 0 {
		return "", err
	}
	for i := range s {
		if n == 0 {
			return s[:i], nil
		}
		n--
	}
	return s, nil
}

// guard wraps a text/template builtin that prints its arguments so that it
// first charges growth times their printed size.
func (st *renderState) guard(name string, f func(...any) string, growth int64) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		if err := st.budget.charge(growth * deepSize(args, st.budget.left/growth+1)); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return f(args...), nil
	}
}

// printf charges an upper bound of what fmt.Sprintf may print: every verb
// may print the largest argument (escaped) padded to the largest width.
func (st *renderState) printf(format string, args ...any) (string, error) {
	verbs := int64(strings.Count(format, "%"))
	var largest int64
	for _, a := range args {
		largest = max(largest, deepSize(a, st.budget.left))
	}
	estimate := int64(len(format)) + verbs*(4*largest+widestPadding(format)) + 4*deepSize(args, st.budget.left)
	if err := st.budget.charge(estimate); err != nil {
		return "", fmt.Errorf("printf: %w", err)
	}
	return fmt.Sprintf(format, args...), nil
}

// widestPadding is the largest width or precision a format may ask for; fmt
// refuses more than 1e6, and takes '*' from the arguments.
func widestPadding(format string) int64 {
	const fmtMax = 1_000_000
	if strings.Contains(format, "*") {
		return fmtMax
	}
	var widest, cur int64
	for i := 0; i < len(format); i++ {
		if c := format[i]; c >= '0' && c <= '9' {
			cur = min(cur*10+int64(c-'0'), fmtMax)
			widest = max(widest, cur)
		} else {
			cur = 0
		}
	}
	return widest
}

// defaultValue returns d when v is missing, null, "" or an empty list or
// map, and v otherwise. Zero and false are values, not missing.
func defaultValue(d, v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return d
	}
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		if rv.Len() == 0 {
			return d
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return d
		}
	}
	return v
}

// cappedBuffer fails writes beyond max bytes.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, fmt.Errorf("%w: output larger than %d bytes", ErrBudgetExceeded, b.max)
	}
	return b.buf.Write(p)
}

// templateProblem turns a template parse error into a shorter message.
func templateProblem(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "parse template: ")
	msg = strings.TrimPrefix(msg, "template: template:")
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "?")
	}
	return msg
}
