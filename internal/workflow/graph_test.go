package workflow

import (
	"slices"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// graphDef builds a definition of transform nodes from "a>b" edge specs;
// node order follows first appearance unless ids lists it.
func graphDef(ids []string, edges ...string) *domain.Definition {
	d := &domain.Definition{}
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			d.Nodes = append(d.Nodes, domain.Node{ID: id, Type: domain.NodeTransform, Transform: &domain.TransformConfig{Template: "x"}})
		}
	}
	for _, id := range ids {
		add(id)
	}
	for _, e := range edges {
		from, to, _ := strings.Cut(e, ">")
		add(from)
		add(to)
		d.Edges = append(d.Edges, domain.Edge{From: from, To: to})
	}
	return d
}

func TestGraph(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		def       *domain.Definition
		order     []string
		roots     []string
		sinks     []string
		node      string
		parents   []string
		children  []string
		ancestors []string
	}{
		{
			name: "chain", def: graphDef(nil, "a>b", "b>c", "c>d"),
			order: []string{"a", "b", "c", "d"}, roots: []string{"a"}, sinks: []string{"d"},
			node: "c", parents: []string{"b"}, children: []string{"d"}, ancestors: []string{"a", "b"},
		},
		{
			name: "chain declared backwards", def: graphDef([]string{"d", "c", "b", "a"}, "a>b", "b>c", "c>d"),
			order: []string{"a", "b", "c", "d"}, roots: []string{"a"}, sinks: []string{"d"},
			node: "d", parents: []string{"c"}, children: nil, ancestors: []string{"a", "b", "c"},
		},
		{
			name: "fan-out and fan-in", def: graphDef(nil, "src>x", "src>y", "src>z", "x>join", "y>join", "z>join"),
			order: []string{"src", "x", "y", "z", "join"}, roots: []string{"src"}, sinks: []string{"join"},
			node: "join", parents: []string{"x", "y", "z"}, children: nil, ancestors: []string{"src", "x", "y", "z"},
		},
		{
			name: "diamond", def: graphDef(nil, "a>b", "a>c", "b>d", "c>d"),
			order: []string{"a", "b", "c", "d"}, roots: []string{"a"}, sinks: []string{"d"},
			node: "b", parents: []string{"a"}, children: []string{"d"}, ancestors: []string{"a"},
		},
		{
			name: "two components", def: graphDef([]string{"solo"}, "p>q", "r>q"),
			order: []string{"solo", "p", "r", "q"}, roots: []string{"solo", "p", "r"}, sinks: []string{"solo", "q"},
			node: "q", parents: []string{"p", "r"}, children: nil, ancestors: []string{"p", "r"},
		},
		{
			name: "long path ordering", def: graphDef([]string{"e", "d", "c", "b", "a"}, "a>e", "b>e", "c>a", "d>c"),
			order: []string{"d", "c", "b", "a", "e"}, roots: []string{"d", "b"}, sinks: []string{"e"},
			node: "e", parents: []string{"a", "b"}, children: nil, ancestors: []string{"d", "c", "b", "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := NewGraph(tt.def)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got, want []string) {
				t.Helper()
				if !slices.Equal(got, want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("Order", g.Order(), tt.order)
			check("Roots", g.Roots(), tt.roots)
			check("Sinks", g.Sinks(), tt.sinks)
			check("Parents", g.Parents(tt.node), tt.parents)
			check("Children", g.Children(tt.node), tt.children)
			check("Ancestors", g.Ancestors(tt.node), tt.ancestors)
			if len(g.Nodes()) != len(tt.def.Nodes) {
				t.Errorf("Nodes = %v", g.Nodes())
			}
			// Every edge goes forward in Order.
			pos := map[string]int{}
			for i, id := range g.Order() {
				pos[id] = i
			}
			for _, e := range tt.def.Edges {
				if pos[e.From] >= pos[e.To] {
					t.Errorf("edge %s→%s goes backwards in %v", e.From, e.To, g.Order())
				}
			}
		})
	}
}

func TestGraphEdgesKeepConditions(t *testing.T) {
	t.Parallel()
	g, err := NewGraph(validDefinition())
	if err != nil {
		t.Fatal(err)
	}
	in := g.Incoming("classify")
	if len(in) != 1 || in[0].Condition == "" {
		t.Fatalf("Incoming(classify) = %+v, want the conditional edge from fetch", in)
	}
	if out := g.Outgoing("route"); len(out) != 2 || out[0].To != "escalate" || out[1].To != "summarize" {
		t.Fatalf("Outgoing(route) = %+v", out)
	}
	if g.Ancestors("ghost") != nil || g.Incoming("ghost") != nil || g.Has("ghost") {
		t.Fatal("unknown nodes must have nothing")
	}
	in[0].From = "changed"
	if g.Incoming("classify")[0].From != "fetch" {
		t.Fatal("Incoming returned the graph's own slice")
	}
}

func TestNewGraphRejectsInvalid(t *testing.T) {
	t.Parallel()
	dupNode := graphDef(nil, "a>b")
	dupNode.Nodes = append(dupNode.Nodes, dupNode.Nodes[0])
	tests := map[string]struct {
		def  *domain.Definition
		want string
	}{
		"cycle":          {graphDef(nil, "a>b", "b>c", "c>a"), "cycle: a → b → c → a"},
		"self-loop":      {graphDef(nil, "a>a"), "bad edge"},
		"dangling edge":  {&domain.Definition{Nodes: graphDef(nil, "a>b").Nodes, Edges: []domain.Edge{{From: "a", To: "z"}}}, "bad edge"},
		"duplicate edge": {graphDef(nil, "a>b", "a>b"), "bad edge"},
		"duplicate node": {dupNode, "duplicate agent id"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := NewGraph(tt.def)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewGraph error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
