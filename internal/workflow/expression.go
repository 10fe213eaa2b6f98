package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// Env is what edge conditions, router conditions and transform expressions
// see, as the variables `input`, `nodes` and `output`. Values should be
// JSON-shaped (what encoding/json decodes into an any: maps, lists, strings,
// float64 numbers, booleans, nil): expressions may call the exported methods
// of any other value.
type Env struct {
	// Input is the execution input.
	Input any
	// Nodes maps node ids to the outputs of completed upstream nodes. A
	// skipped node is absent; read it with `nodes.x?.field` or `??`.
	Nodes map[string]any
	// Output is the output of the edge's source node; nil where there is none.
	Output any
}

// Limits of one expression evaluation.
const (
	// maxExprNodes bounds the syntax tree of one expression.
	maxExprNodes = 5000
	// maxExprIterations is expr's VM memory budget: it bounds the elements of
	// ranges, array and map literals and the iterations of map/filter/all/…
	// over one evaluation.
	maxExprIterations = 200_000
	// maxExprBytes bounds the bytes one evaluation may allocate through
	// string concatenation and string- or collection-building builtins.
	maxExprBytes = 16 << 20
)

// Names the guard injects into expressions. They contain '#', which the
// expr lexer never puts into an identifier, so user text cannot name them.
const (
	exprBudgetVar = "budget#"
	exprAddFunc   = "add#"
	exprCallFunc  = "call#"
	exprChargeFn  = "charge#"
)

// exprEnv is the environment expressions are compiled against and run with.
type exprEnv struct {
	Input  any            `expr:"input"`
	Nodes  map[string]any `expr:"nodes"`
	Output any            `expr:"output"`
	Budget *budget        `expr:"budget#"`
}

// compiledExpr is a cached compilation of one expression text.
type compiledExpr struct {
	program *vm.Program
	refs    []string // node ids read as nodes.<id> or nodes["<id>"]
	err     error
}

// exprCache holds compiled expressions by kind and text; compile errors are
// cached too, so a broken expression costs one compilation.
var exprCache = newLRUCache[*compiledExpr](4096, 8<<20)

// exprKind distinguishes conditions (which must be boolean) from transform
// expressions (any value).
type exprKind byte

const (
	kindCondition  exprKind = 'c'
	kindExpression exprKind = 'e'
)

// EvalCondition evaluates an edge or router condition. An empty (or blank)
// condition holds. A condition that does not compile, fails at run time,
// exceeds its budget (ErrBudgetExceeded) or yields a non-boolean value is an
// error. Compiled programs are cached by text.
func EvalCondition(condition string, env Env) (bool, error) {
	if strings.TrimSpace(condition) == "" {
		return true, nil
	}
	out, err := run(kindCondition, condition, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", clip(condition), err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q: result is %s, not a boolean", clip(condition), typeName(out))
	}
	return b, nil
}

// EvalExpression evaluates a transform expression and returns its value.
// Errors are as for EvalCondition. Builtins behave as documented by
// expr-lang, except that toJSON returns compact JSON.
func EvalExpression(expression string, env Env) (any, error) {
	out, err := run(kindExpression, expression, env)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", clip(expression), err)
	}
	return out, nil
}

func run(kind exprKind, src string, env Env) (any, error) {
	c := compileExpr(kind, src)
	if c.err != nil {
		return nil, oneLine(c.err)
	}
	machine := vm.VM{MemoryBudget: maxExprIterations}
	out, err := machine.Run(c.program, exprEnv{
		Input:  env.Input,
		Nodes:  env.Nodes,
		Output: env.Output,
		Budget: newBudget(maxExprBytes),
	})
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) && strings.Contains(fe.Message, "memory budget exceeded") {
			return nil, fmt.Errorf("%w: too many elements or iterations", ErrBudgetExceeded)
		}
		return nil, clipError(oneLine(err))
	}
	return out, nil
}

// compileExpr compiles src once per kind and caches the result. It compiles
// twice: once as written, to report type errors exactly as expr-lang does and
// to find node references, and once with the guard that charges allocations
// to the evaluation's budget; only the guarded program ever runs.
func compileExpr(kind exprKind, src string) *compiledExpr {
	key := string(kind) + src
	if c, ok := exprCache.get(key); ok {
		return c
	}
	c := &compiledExpr{}
	opts := []expr.Option{expr.Env(exprEnv{}), expr.MaxNodes(maxExprNodes)}
	plainOpts := opts
	if kind == kindCondition {
		// Only for the static check: at run time EvalCondition reports a
		// non-boolean result itself, more clearly than expr's cast.
		plainOpts = append(plainOpts[:len(plainOpts):len(plainOpts)], expr.AsBool())
	}
	plain, err := expr.Compile(src, plainOpts...)
	if err != nil {
		c.err = err
	} else {
		c.refs = exprNodeRefs(plain.Node())
		guarded := append(opts[:len(opts):len(opts)],
			expr.Patch(&exprGuard{}),
			expr.Function(exprAddFunc, guardedAdd),
			expr.Function(exprCallFunc, guardedBuiltin),
			expr.Function(exprChargeFn, chargeResult),
		)
		c.program, err = expr.Compile(src, guarded...)
		if err != nil {
			c.err = fmt.Errorf("guard expression: %w", err)
		}
	}
	exprCache.add(key, c)
	return c
}

// exprNodeRefs lists the node ids an expression reads as nodes.<id> or
// nodes["<id>"].
func exprNodeRefs(root ast.Node) []string {
	var v nodeRefCollector
	ast.Walk(&root, &v)
	return v.refs
}

type nodeRefCollector struct{ refs []string }

func (v *nodeRefCollector) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "nodes" {
		return
	}
	if p, ok := m.Property.(*ast.StringNode); ok {
		v.refs = append(v.refs, p.Value)
	}
}

// exprGuard rewrites a checked syntax tree so that everything that can
// allocate in proportion to data goes through a function that charges the
// evaluation's budget:
//
//   - string concatenation (a + b where either side may be a string),
//   - builtins that build strings or collections (allocationEstimate),
//   - method calls (on dates and durations, e.g. Format).
//
// expr's own VM budget counts only collection elements and loop iterations;
// without the guard, `let a = "xx"; let b = a + a; …` or
// `repeat(repeat("x", 1e6), 1e6)` exhaust the process.
type exprGuard struct{}

func (exprGuard) Visit(node *ast.Node) {
	budgetArg := func() ast.Node { return &ast.IdentifierNode{Value: exprBudgetVar} }
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator == "+" && maybeString(n.Left) && maybeString(n.Right) {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: exprAddFunc},
				Arguments: []ast.Node{budgetArg(), n.Left, n.Right},
			})
		}
	case *ast.BuiltinNode:
		if _, ok := allocationEstimate(n.Name, nil, 0); ok {
			args := append([]ast.Node{budgetArg(), &ast.StringNode{Value: n.Name}}, n.Arguments...)
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: exprCallFunc}, Arguments: args})
		}
	case *ast.CallNode:
		if _, isMethod := n.Callee.(*ast.MemberNode); isMethod {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: exprChargeFn},
				Arguments: []ast.Node{budgetArg(), n},
			})
		}
	}
}

// maybeString reports whether a checked node may evaluate to a string.
func maybeString(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String
}

func guardedAdd(params ...any) (any, error) {
	b := params[0].(*budget)
	x, y := params[1], params[2]
	if xs, ok := x.(string); ok {
		if ys, ok := y.(string); ok {
			if err := b.charge(int64(len(xs)) + int64(len(ys))); err != nil {
				return nil, fmt.Errorf("string concatenation: %w", err)
			}
			return xs + ys, nil
		}
	}
	return runtime.Add(x, y), nil
}

func chargeResult(params ...any) (any, error) {
	b, out := params[0].(*budget), params[1]
	if err := b.charge(shallowSize(out)); err != nil {
		return nil, fmt.Errorf("method call: %w", err)
	}
	return out, nil
}

// guardedBuiltin charges an estimate of what a builtin will allocate, from
// its arguments and before it runs, then runs it.
func guardedBuiltin(params ...any) (any, error) {
	b, name, args := params[0].(*budget), params[1].(string), params[2:]
	estimate, _ := allocationEstimate(name, args, b.left)
	if err := b.charge(estimate); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if name == "toJSON" {
		out, err := json.Marshal(args[0])
		if err != nil {
			return nil, fmt.Errorf("toJSON: %w", err)
		}
		return string(out), nil
	}
	fn := builtin.Builtins[builtin.Index[name]]
	switch {
	case fn.Func != nil:
		return fn.Func(args...)
	case fn.Safe != nil:
		out, _, err := fn.Safe(args...)
		return out, err
	case fn.Fast != nil && len(args) == 1:
		return fn.Fast(args[0]), nil
	}
	return nil, fmt.Errorf("%s: unsupported call with %d arguments", name, len(args))
}

// allocationEstimate estimates, from its arguments, the bytes an expr
// builtin allocates when it builds a string or a collection. ok is false
// for builtins that allocate nothing in proportion to their data, which run
// unguarded. An estimate may walk the arguments, but never much past limit.
func allocationEstimate(name string, a []any, limit int64) (n int64, ok bool) {
	first := arg(a, 0)
	switch name {
	case "upper", "lower", "toBase64":
		return 2 * lenOf(first), true
	case "fromBase64":
		return lenOf(first), true
	case "fromJSON":
		return 4 * lenOf(first), true
	case "string":
		return 2 * deepSize(first, limit), true
	case "toJSON":
		return 6 * deepSize(first, limit/6+1), true
	case "split", "splitAfter":
		return estimateSplit(a), true
	case "replace":
		return estimateReplace(a), true
	case "repeat":
		return estimateRepeat(a, limit), true
	case "join":
		return estimateJoin(a), true
	case "keys", "values", "reverse", "sort", "median":
		return elementSize * lenOf(first), true
	case "toPairs":
		return 4 * elementSize * lenOf(first), true
	case "fromPairs", "uniq":
		return 2 * entrySize * lenOf(first), true
	case "concat":
		for _, x := range a {
			n += lenOf(x)
		}
		return elementSize * n, true
	case "flatten":
		return elementSize * leafCount(reflect.ValueOf(first), limit/elementSize+1), true
	}
	return 0, false
}

func arg(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// lenOf is the length of a string, slice, array or map, and 0 otherwise.
func lenOf(v any) int64 {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return int64(rv.Len())
	}
	return 0
}

func estimateSplit(a []any) int64 {
	s, _ := arg(a, 0).(string)
	sep, _ := arg(a, 1).(string)
	parts := int64(utf8.RuneCountInString(s)) + 1
	if sep != "" {
		parts = int64(strings.Count(s, sep)) + 1
	}
	return parts * 2 * elementSize
}

func estimateReplace(a []any) int64 {
	s, _ := arg(a, 0).(string)
	old, _ := arg(a, 1).(string)
	repl, _ := arg(a, 2).(string)
	growth := int64(len(repl) - len(old))
	if growth <= 0 {
		return int64(len(s))
	}
	count := int64(utf8.RuneCountInString(s)) + 1
	if old != "" {
		count = int64(strings.Count(s, old))
	}
	return int64(len(s)) + count*growth
}

func estimateRepeat(a []any, limit int64) int64 {
	s, _ := arg(a, 0).(string)
	var n float64
	switch x := arg(a, 1).(type) {
	case int:
		n = float64(x)
	case int64:
		n = float64(x)
	case float64:
		n = x
	}
	if n <= 0 || len(s) == 0 {
		return 0
	}
	if n > float64(limit/int64(len(s))+1) {
		return limit + 1
	}
	return int64(len(s)) * int64(n)
}

func estimateJoin(a []any) int64 {
	sep, _ := arg(a, 1).(string)
	rv := reflect.ValueOf(arg(a, 0))
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return 0
	}
	n := int64(rv.Len())
	total := n * (elementSize + int64(len(sep)))
	for i := 0; i < rv.Len(); i++ {
		total += lenOf(rv.Index(i).Interface())
	}
	return total
}

// leafCount counts the non-collection values reached through nested slices,
// stopping once the count passes limit.
func leafCount(v reflect.Value, limit int64) int64 {
	var n int64
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if n > limit {
			return
		}
		for v.Kind() == reflect.Interface && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
			n++
			return
		}
		n++ // the slice itself, so that nested empty slices count
		for i := 0; i < v.Len() && n <= limit; i++ {
			walk(v.Index(i))
		}
	}
	walk(v)
	return n
}

// clip shortens source text quoted in error messages.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func typeName(v any) string {
	if v == nil {
		return "null"
	}
	return reflect.TypeOf(v).String()
}

// exprProblem turns an expr error into a one-line message with its position;
// expr's own Error() adds a multi-line source snippet.
func exprProblem(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line > 0 {
		return fmt.Sprintf("%s (line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
	}
	if fe != nil {
		return fe.Message
	}
	return err.Error()
}

// oneLineError is an expr error reduced to one line; it still unwraps to
// the original, and through it to any cause such as ErrBudgetExceeded.
type oneLineError struct {
	msg string
	err error
}

func oneLine(err error) error         { return &oneLineError{msg: exprProblem(err), err: err} }
func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.err }
