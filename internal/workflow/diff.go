package workflow

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"

	"github.com/superagent-hq/superagent/internal/domain"
)

// DiffResult is what changed from one definition to another.
type DiffResult struct {
	// AgentsAdded lists the ids of nodes only in the new definition.
	AgentsAdded []string `json:"agents_added"`
	// AgentsRemoved lists the ids of nodes only in the old definition.
	AgentsRemoved []string `json:"agents_removed"`
	// AgentsChanged lists nodes in both whose configuration differs.
	AgentsChanged []AgentChange `json:"agents_changed"`
	// EdgesAdded and EdgesRemoved compare edges with their conditions: an
	// edge whose condition changed is removed and added.
	EdgesAdded            []domain.Edge `json:"edges_added"`
	EdgesRemoved          []domain.Edge `json:"edges_removed"`
	OutputTemplateChanged bool          `json:"output_template_changed"`
	InputSchemaChanged    bool          `json:"input_schema_changed"`
}

// AgentChange names the fields that changed on one node, as dotted paths of
// its JSON form, e.g. "llm.prompt", "retry.max_attempts",
// "http.headers.Authorization". A list that changed is one path.
type AgentChange struct {
	ID     string   `json:"id"`
	Fields []string `json:"fields"`
}

// Empty reports whether the definitions are the same.
func (d DiffResult) Empty() bool {
	return len(d.AgentsAdded) == 0 && len(d.AgentsRemoved) == 0 && len(d.AgentsChanged) == 0 &&
		len(d.EdgesAdded) == 0 && len(d.EdgesRemoved) == 0 && !d.OutputTemplateChanged && !d.InputSchemaChanged
}

// Diff compares definition a (old) with b (new). Nodes are matched by id;
// lists are in definition order (removed: a's order; added and changed:
// b's order) and never nil, so that they encode as [].
func Diff(a, b *domain.Definition) DiffResult {
	if a == nil {
		a = &domain.Definition{}
	}
	if b == nil {
		b = &domain.Definition{}
	}
	d := DiffResult{AgentsAdded: []string{}, AgentsRemoved: []string{}, AgentsChanged: []AgentChange{}, EdgesAdded: []domain.Edge{}, EdgesRemoved: []domain.Edge{}}
	oldNodes := map[string]*domain.Node{}
	for i := range a.Nodes {
		oldNodes[a.Nodes[i].ID] = &a.Nodes[i]
	}
	newNodes := map[string]bool{}
	for i := range b.Nodes {
		n := &b.Nodes[i]
		newNodes[n.ID] = true
		old, ok := oldNodes[n.ID]
		if !ok {
			d.AgentsAdded = append(d.AgentsAdded, n.ID)
			continue
		}
		if fields := changedFields(old, n); len(fields) > 0 {
			d.AgentsChanged = append(d.AgentsChanged, AgentChange{ID: n.ID, Fields: fields})
		}
	}
	for _, n := range a.Nodes {
		if !newNodes[n.ID] {
			d.AgentsRemoved = append(d.AgentsRemoved, n.ID)
		}
	}
	oldEdges, newEdges := edgeSet(a.Edges), edgeSet(b.Edges)
	for _, e := range b.Edges {
		if !oldEdges[e] {
			d.EdgesAdded = append(d.EdgesAdded, e)
		}
	}
	for _, e := range a.Edges {
		if !newEdges[e] {
			d.EdgesRemoved = append(d.EdgesRemoved, e)
		}
	}
	d.OutputTemplateChanged = a.OutputTemplate != b.OutputTemplate
	d.InputSchemaChanged = !sameJSON(a.InputSchema, b.InputSchema)
	return d
}

func edgeSet(edges []domain.Edge) map[domain.Edge]bool {
	set := make(map[domain.Edge]bool, len(edges))
	for _, e := range edges {
		set[e] = true
	}
	return set
}

// changedFields flattens both nodes' JSON forms and lists the paths whose
// values differ, sorted.
func changedFields(a, b *domain.Node) []string {
	fa, fb := map[string]any{}, map[string]any{}
	flatten(toJSONValue(a), "", fa)
	flatten(toJSONValue(b), "", fb)
	var paths []string
	for p, va := range fa {
		if vb, ok := fb[p]; !ok || !reflect.DeepEqual(va, vb) {
			paths = append(paths, p)
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

func toJSONValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

// flatten records the leaves of a JSON value by dotted path; objects are
// walked, everything else (lists included) is a leaf.
func flatten(v any, prefix string, out map[string]any) {
	obj, ok := v.(map[string]any)
	if !ok {
		if prefix != "" {
			out[prefix] = v
		}
		return
	}
	if len(obj) == 0 && prefix != "" {
		out[prefix] = obj
		return
	}
	for k, val := range obj {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(val, p, out)
	}
}

// sameJSON compares two JSON documents by value; empty and null are the
// same, and invalid JSON compares by bytes.
func sameJSON(a, b json.RawMessage) bool {
	if isEmptySchema(a) || isEmptySchema(b) {
		return isEmptySchema(a) == isEmptySchema(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	return reflect.DeepEqual(va, vb)
}
