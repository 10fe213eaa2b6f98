package workflow

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func testEnv() Env {
	return Env{
		Input: map[string]any{"query": "refund", "count": 3.0, "tags": []any{"a", "b"}, "big": strings.Repeat("x", 1000)},
		Nodes: map[string]any{
			"classify": map[string]any{"label": "urgent", "score": 0.92},
			"fetch":    map[string]any{"status": 200.0, "body": "ok"},
		},
		Output: map[string]any{"route": "escalate"},
	}
}

func TestEvalCondition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cond    string
		want    bool
		wantErr string
	}{
		{"", true, ""},
		{"   ", true, ""},
		{`nodes.classify.label == "urgent"`, true, ""},
		{`nodes.classify.score > 0.95`, false, ""},
		{`output.route == "escalate" && input.count >= 3`, true, ""},
		{`"a" in input.tags and len(input.tags) == 2`, true, ""},
		{`nodes.skipped?.label == "x"`, false, ""},
		{`(nodes.skipped?.score ?? 0) < 1`, true, ""},
		{`input.query + "!" == "refund!"`, true, ""},
		{`input.count + 1 == 4`, true, ""},
		{`nodes.fetch.status`, false, "not a boolean"},
		{`input.query`, false, "not a boolean"},
		{`nodes.skipped.label == "x"`, false, "cannot fetch label"},
		{`1 + 1`, false, "expected bool"},
		{`input ==`, false, "unexpected token"},
		{`secret == 1`, false, "unknown name secret"},
		{`budget# != nil`, false, "unexpected token"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			t.Parallel()
			got, err := EvalCondition(tt.cond, testEnv())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EvalCondition(%q) error = %v, want one containing %q", tt.cond, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EvalCondition(%q) = %v, %v; want %v", tt.cond, got, err, tt.want)
			}
		})
	}
}

func TestEvalExpression(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want string // fmt.Sprint of the result
	}{
		{`{"label": nodes.classify.label, "n": input.count * 2}`, "map[label:urgent n:6]"},
		{`map(input.tags, upper(#))`, "[A B]"},
		{`join(input.tags, "+")`, "a+b"},
		{`input.tags | join(",")`, "a,b"},
		{`toJSON({"a": [1, 2]})`, `{"a":[1,2]}`},
		{`fromJSON("{\"x\": 1}").x`, "1"},
		{`split("a,b,c", ",")`, "[a b c]"},
		{`replace("a-b", "-", "+")`, "a+b"},
		{`repeat("ab", 3)`, "ababab"},
		{`len(concat([1], [2, 3]))`, "3"},
		{`flatten([[1], [2, [3]]])`, "[1 2 3]"},
		{`string(1.5) + "s"`, "1.5s"},
		{`nodes.fetch.body + " " + input.query`, "ok refund"},
		{`date("2024-01-02").Format("2006")`, "2024"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			got, err := EvalExpression(tt.expr, testEnv())
			if err != nil {
				t.Fatalf("EvalExpression(%q): %v", tt.expr, err)
			}
			if s := fmt.Sprint(got); s != tt.want {
				t.Fatalf("EvalExpression(%q) = %s, want %s", tt.expr, s, tt.want)
			}
		})
	}
}

// TestEvalExpressionBudget feeds expressions that would exhaust memory or
// CPU without the budget; each must fail fast with ErrBudgetExceeded.
func TestEvalExpressionBudget(t *testing.T) {
	t.Parallel()
	doubling := `let a = input.big;` // 1000 bytes; 2^15 × 1000 > 16 MiB
	for i := range 15 {
		doubling += fmt.Sprintf(" let a%d = %s + %s;", i, prev(i), prev(i))
	}
	doubling += " len(a14)"
	tests := map[string]string{
		"string doubling through let":  doubling,
		"nested repeat":                `repeat(repeat("xx", 1000000), 1000000)`,
		"repeat with a huge count":     `repeat(input.big, 100000000)`,
		"doubling in reduce":           `reduce(1..40, #acc + #acc, input.big)`,
		"huge range":                   `len(1..100000000)`,
		"nested loops":                 `len(map(1..1000, map(1..1000, #)))`,
		"array doubling with concat":   `let a = 1..1000; let b = concat(a,a,a,a,a,a,a,a); let c = concat(b,b,b,b,b,b,b,b); let d = concat(c,c,c,c,c,c,c,c); len(concat(d,d,d,d,d,d,d,d))`,
		"join of many copies":          `len(join(map(1..100000, input.big), ","))`,
		"toJSON of shared values":      `let a = [input.big, input.big, input.big, input.big]; let b = [a, a, a, a, a, a, a, a]; let c = [b, b, b, b, b, b, b, b]; let d = [c, c, c, c, c, c, c, c]; len(toJSON([d, d, d, d, d, d, d, d]))`,
		"replace with a long string":   `len(replace(input.big, "", repeat(input.big, 20)))`,
		"method output in a loop":      `len(map(1..100000, now().Format(input.big)))`,
		"upper of a big string a lot":  `len(map(1..100000, upper(input.big)))`,
		"string of a structure a lot":  `len(map(1..100000, string(input.tags) + input.big))`,
		"flatten of shared big arrays": `let a = map(1..1000, 1..100); len(flatten(map(1..100, a)))`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := EvalExpression(src, testEnv())
			if !errors.Is(err, ErrBudgetExceeded) {
				t.Fatalf("EvalExpression error = %v, want ErrBudgetExceeded", err)
			}
		})
	}
}

func prev(i int) string {
	if i == 0 {
		return "a"
	}
	return fmt.Sprintf("a%d", i-1)
}

func TestEvalConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := testEnv()
			env.Input = map[string]any{"n": float64(i)}
			got, err := EvalCondition(`int(input.n) % 2 == 0`, env)
			if err != nil || got != (i%2 == 0) {
				t.Errorf("goroutine %d: got %v, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
}

func TestExprNodeRefs(t *testing.T) {
	t.Parallel()
	c := compileExpr(kindExpression, `nodes.a.x + nodes["b-c"].y + (nodes?.d ?? 0) + len(input)`)
	if c.err != nil {
		t.Fatal(c.err)
	}
	if got := strings.Join(c.refs, ","); got != "a,b-c,d" {
		t.Fatalf("refs = %s, want a,b-c,d", got)
	}
}
