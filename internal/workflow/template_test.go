package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func testData() Data {
	return Data{
		Input: map[string]any{
			"name": "Ada", "count": 1000000.0, "ratio": 0.25, "tags": []any{"a", "b", "c"},
			"user": map[string]any{"email": "ada@example.com"}, "empty": "", "zero": 0.0, "big": strings.Repeat("x", 10_000),
			"html": "<b>&</b>",
		},
		Nodes: map[string]any{
			"classify": map[string]any{"label": "urgent", "score": 0.9},
			"summary":  "All good.",
			"skipped":  nil, // skipped nodes may be nil or absent
		},
		ExecutionID: "exe_123",
		NodeID:      "writer",
	}
}

func TestRenderTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tmpl, want string
	}{
		{"plain text", "hello", "hello"},
		{"input field", "Hi {{.input.name}}", "Hi Ada"},
		{"node output string", "{{.nodes.summary}}", "All good."},
		{"node field", "{{.nodes.classify.label}}", "urgent"},
		{"index form", `{{index .nodes "classify" "label"}}`, "urgent"},
		{"root variable in range", `{{range .input.tags}}{{.}}{{$.nodes.classify.label}} {{end}}`, "aurgent burgent curgent "},
		{"ids", "{{.execution_id}}/{{.node_id}}", "exe_123/writer"},
		{"absent node is empty", "[{{.nodes.absent}}]", "[]"},
		{"absent node field is empty", "[{{.nodes.absent.text}}]", "[]"},
		{"nil node is empty", "[{{.nodes.skipped}}]", "[]"},
		{"nil node field is empty", "[{{.nodes.skipped.text}}]", "[]"},
		{"missing input field is empty", "[{{.input.nope}}]", "[]"},
		{"if on a skipped node", "{{if .nodes.skipped}}yes{{else}}no{{end}}", "no"},
		{"numbers print like JSON", "{{.input.count}} {{.input.ratio}} {{.input.zero}}", "1000000 0.25 0"},
		{"maps print as JSON", "{{.nodes.classify}}", `{"label":"urgent","score":0.9}`},
		{"lists print as JSON", "{{.input.tags}}", `["a","b","c"]`},
		{"json", "{{json .input.user}}", `{"email":"ada@example.com"}`},
		{"toJSON does not escape HTML", "{{toJSON .input.html}}", `"<b>&</b>"`},
		{"json of a skipped node", "{{json .nodes.skipped}}", "null"},
		{"default on missing", `{{default "n/a" .nodes.absent.label}}`, "n/a"},
		{"default on empty string", `{{default "n/a" .input.empty}}`, "n/a"},
		{"default keeps zero", `{{default "n/a" .input.zero}}`, "0"},
		{"default keeps a value", `{{.input.name | default "n/a"}}`, "Ada"},
		{"upper lower trim", `{{upper .input.name}} {{lower "ÀB"}} [{{trim "  x  "}}]`, "ADA àb [x]"},
		{"upper of nothing", `[{{upper .nodes.absent}}]`, "[]"},
		{"join", `{{join ", " .input.tags}}|{{.input.tags | join "-"}}`, "a, b, c|a-b-c"},
		{"join of nothing", `[{{join "," .nodes.absent}}]`, "[]"},
		{"truncate counts characters", `{{truncate 2 "héllo"}}|{{truncate 10 "abc"}}|{{truncate 0 "abc"}}`, "hé|abc|"},
		{"printf", `{{printf "%.1f%%" .nodes.classify.score}}`, "0.9%"},
		{"html builtin", `{{html .input.html}}`, "&lt;b&gt;&amp;&lt;/b&gt;"},
		{"range over int", `{{range $i := 3}}{{$i}}{{end}}`, "012"},
		{"variables", `{{$l := .nodes.classify.label}}{{$l}}`, "urgent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := RenderTemplate(tt.tmpl, testData())
			if err != nil {
				t.Fatalf("RenderTemplate(%q): %v", tt.tmpl, err)
			}
			if got != tt.want {
				t.Fatalf("RenderTemplate(%q) = %q, want %q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestRenderTemplateErrors(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("{{.input.big}}", 110) // 110 × 10,000 bytes > 1 MiB
	doubling := `{{$a := .input.big}}`
	for range 12 {
		doubling += `{{$a = printf "%s%s" $a $a}}`
	}
	tests := []struct {
		name, tmpl string
		budget     bool   // the error must wrap ErrBudgetExceeded
		fragment   string // the error must contain it
	}{
		{"does not parse", "{{.input.name", false, "unclosed action"},
		{"unknown function", "{{nope .input}}", false, `function "nope" not defined`},
		{"define", `{{define "x"}}y{{end}}{{template "x"}}`, false, "not supported"},
		{"block", `{{block "x" .}}y{{end}}`, false, "not supported"},
		{"template call", `{{template "x"}}`, false, "not supported"},
		{"runtime error", `{{index .input.tags 10}}`, false, "index out of range"},
		{"long runtime error is clipped", `{{range .input.big}}{{end}}`, false, "range can't iterate over xxxxxxxx"},
		{"output cap", big, true, "output larger than"},
		{"output cap inside range", `{{range 200}}{{$.input.big}}{{end}}`, true, "output larger than"},
		{"endless range over an int", `{{range 1000000000000}}{{end}}`, true, "range loops"},
		{"nested ranges over data", `{{range $i := 1000}}{{range $.input.tags}}{{range $j := 1000}}{{end}}{{end}}{{end}}`, true, "range loops"},
		{"printf doubling", doubling, true, "printf"},
		{"printf huge width", `{{range 100}}{{$x := printf "%01000000d" 1}}{{end}}`, true, "printf"},
		{"json of a big value in a loop", `{{range 2000}}{{$x := json $.input}}{{end}}`, true, "json"},
		{"upper of a big value in a loop", `{{range 2000}}{{$x := upper $.input.big}}{{end}}`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := RenderTemplate(tt.tmpl, testData())
			if err == nil {
				t.Fatalf("RenderTemplate succeeded, want an error")
			}
			if tt.budget != errors.Is(err, ErrBudgetExceeded) {
				t.Errorf("errors.Is(err, ErrBudgetExceeded) = %v, want %v (err: %v)", !tt.budget, tt.budget, err)
			}
			if !strings.Contains(err.Error(), tt.fragment) {
				t.Errorf("error %q does not contain %q", err, tt.fragment)
			}
			if len(err.Error()) > maxErrorLen+100 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestRenderTemplateConcurrent(t *testing.T) {
	t.Parallel()
	const tmpl = `{{range .input.items}}{{.}},{{end}}{{.nodes.n}}`
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := Data{Input: map[string]any{"items": []any{i, i + 1}}, Nodes: map[string]any{"n": fmt.Sprint("g", i)}}
			got, err := RenderTemplate(tmpl, d)
			if want := fmt.Sprintf("%d,%d,g%d", i, i+1, i); err != nil || got != want {
				t.Errorf("goroutine %d: got %q, %v; want %q", i, got, err, want)
			}
		}()
	}
	wg.Wait()
}

func TestTemplateRefs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl string
		want []string
	}{
		{"{{.nodes.a}} {{.nodes.b.text}}", []string{"a", "b"}},
		{`{{index .nodes "c-d" "x"}} {{index $.nodes "e"}}`, []string{"c-d", "e"}},
		{"{{range .input.items}}{{.nodes.notref}}{{$.nodes.f}}{{end}}", []string{"f"}},
		{"{{with .nodes.g}}{{.nodes.notref}}{{end}}", []string{"g"}},
		{"{{if .nodes.h}}{{upper (json .nodes.i)}}{{end}}", []string{"h", "i"}},
		{"{{.input.nodes.x}} {{.nodes}}", nil},
	}
	for _, tt := range tests {
		p := parseTemplate(tt.tmpl)
		if p.err != nil {
			t.Fatalf("parse %q: %v", tt.tmpl, p.err)
		}
		if !slices.Equal(p.refs, tt.want) {
			t.Errorf("refs of %q = %v, want %v", tt.tmpl, p.refs, tt.want)
		}
	}
}
