package workflow

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Graph is the DAG view of a valid definition. Node ids are listed in
// definition order unless said otherwise; edges keep the definition's
// order. A Graph is immutable and safe for concurrent use; the slices it
// returns are copies.
type Graph struct {
	ids   []string
	index map[string]int
	in    [][]domain.Edge // incoming edges per node index
	out   [][]domain.Edge // outgoing edges per node index
	order []int           // topological order of node indexes
}

// NewGraph builds the graph of def. It fails on what Validate reports as
// graph problems: duplicate or empty node ids, edges to unknown nodes,
// self-loops, duplicate edges and cycles.
func NewGraph(def *domain.Definition) (*Graph, error) {
	g, err := buildGraph(def, true)
	if err != nil {
		return nil, err
	}
	if cycles := g.cycles(); len(cycles) > 0 {
		return nil, fmt.Errorf("workflow graph has a cycle: %s", cycles[0].text)
	}
	return g, nil
}

// buildGraph indexes nodes and edges. When strict it fails on the first bad
// node id or edge; otherwise it keeps the first node of a duplicate id and
// drops the edges NewGraph would refuse, so that Validate can go on.
func buildGraph(def *domain.Definition, strict bool) (*Graph, error) {
	g := &Graph{index: make(map[string]int, len(def.Nodes))}
	for _, n := range def.Nodes {
		if _, dup := g.index[n.ID]; dup || n.ID == "" {
			if strict {
				return nil, fmt.Errorf("workflow graph: empty or duplicate agent id %q", n.ID)
			}
			continue
		}
		g.index[n.ID] = len(g.ids)
		g.ids = append(g.ids, n.ID)
	}
	g.in = make([][]domain.Edge, len(g.ids))
	g.out = make([][]domain.Edge, len(g.ids))
	seen := make(map[[2]string]bool, len(def.Edges))
	for _, e := range def.Edges {
		from, okFrom := g.index[e.From]
		to, okTo := g.index[e.To]
		key := [2]string{e.From, e.To}
		if !okFrom || !okTo || from == to || seen[key] {
			if strict {
				return nil, fmt.Errorf("workflow graph: bad edge %q → %q (unknown agent, self-loop or duplicate)", e.From, e.To)
			}
			continue
		}
		seen[key] = true
		g.out[from] = append(g.out[from], e)
		g.in[to] = append(g.in[to], e)
	}
	g.order = g.topological()
	return g, nil
}

// topological orders node indexes so that every edge goes forward; among
// nodes that are ready together, definition order wins. Nodes on a cycle
// are left out.
func (g *Graph) topological() []int {
	pending := make([]int, len(g.ids))
	ready := &intHeap{}
	for i := range g.ids {
		pending[i] = len(g.in[i])
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, len(g.ids))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, e := range g.out[i] {
			c := g.index[e.To]
			if pending[c]--; pending[c] == 0 {
				heap.Push(ready, c)
			}
		}
	}
	return order
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// cycle is one cycle of a graph, found through the edge that closes it.
type cycle struct {
	closing domain.Edge
	text    string // "a → b → c → a"
}

// cycles returns one cycle per back edge of a depth-first search in
// definition order; none when the graph is acyclic.
func (g *Graph) cycles() []cycle {
	if len(g.order) == len(g.ids) {
		return nil
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.ids))
	var stack []int
	var found []cycle
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, e := range g.out[i] {
			c := g.index[e.To]
			switch color[c] {
			case white:
				visit(c)
			case grey:
				start := slices.Index(stack, c)
				names := make([]string, 0, len(stack)-start+1)
				for _, j := range stack[start:] {
					names = append(names, g.ids[j])
				}
				names = append(names, g.ids[c])
				found = append(found, cycle{closing: e, text: strings.Join(names, " → ")})
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range g.ids {
		if color[i] == white {
			visit(i)
		}
	}
	return found
}

// Has reports whether the graph has a node with this id.
func (g *Graph) Has(id string) bool {
	_, ok := g.index[id]
	return ok
}

// Nodes returns the node ids in definition order.
func (g *Graph) Nodes() []string { return slices.Clone(g.ids) }

// Order returns the node ids in topological order: every node comes after
// all its parents; ties keep definition order.
func (g *Graph) Order() []string { return g.names(g.order) }

// Incoming returns the edges into id; nil for an unknown id.
func (g *Graph) Incoming(id string) []domain.Edge {
	if i, ok := g.index[id]; ok {
		return slices.Clone(g.in[i])
	}
	return nil
}

// Outgoing returns the edges out of id; nil for an unknown id.
func (g *Graph) Outgoing(id string) []domain.Edge {
	if i, ok := g.index[id]; ok {
		return slices.Clone(g.out[i])
	}
	return nil
}

// Parents returns the sources of the edges into id.
func (g *Graph) Parents(id string) []string {
	var ids []string
	for _, e := range g.Incoming(id) {
		ids = append(ids, e.From)
	}
	return ids
}

// Children returns the targets of the edges out of id.
func (g *Graph) Children(id string) []string {
	var ids []string
	for _, e := range g.Outgoing(id) {
		ids = append(ids, e.To)
	}
	return ids
}

// Roots returns the nodes without incoming edges: they run first.
func (g *Graph) Roots() []string {
	var ids []string
	for i, id := range g.ids {
		if len(g.in[i]) == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// Sinks returns the nodes without outgoing edges: by default the
// execution's output is theirs.
func (g *Graph) Sinks() []string {
	var ids []string
	for i, id := range g.ids {
		if len(g.out[i]) == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// Ancestors returns the nodes from which a path of edges leads to id, in
// topological order; nil for a root or an unknown id.
func (g *Graph) Ancestors(id string) []string {
	i, ok := g.index[id]
	if !ok {
		return nil
	}
	seen := g.ancestorSet(i)
	var idx []int
	for _, j := range g.order {
		if seen[j] {
			idx = append(idx, j)
		}
	}
	return g.names(idx)
}

// ancestorSet marks the ancestors of node index i (not i itself, unless it
// lies on a cycle).
func (g *Graph) ancestorSet(i int) []bool {
	seen := make([]bool, len(g.ids))
	queue := []int{i}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range g.in[cur] {
			p := g.index[e.From]
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return seen
}

func (g *Graph) names(idx []int) []string {
	ids := make([]string, len(idx))
	for k, i := range idx {
		ids[k] = g.ids[i]
	}
	return ids
}
