package workflow

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Resolve returns a copy of def in which every node naming a library agent
// (agent_id) is merged with it: the library node is the base and the
// workflow node's non-zero fields override it, field by field inside the
// type configuration, retry policy and mock options; header maps merge key
// by key; lists (tools, routes, mock responses) replace as a whole. The
// node keeps its id and agent_id; a library node's own agent_id is not
// followed. def is not modified.
//
// lookup returns the library agent's node; an error carrying
// domain.ECodeNotFound (the agent is missing or belongs to another tenant)
// becomes a FieldError at /agents/<i>/agent_id, and every such problem is
// returned together as a domain.Invalid error. Any other lookup error is
// returned at once, wrapped. Each agent id is looked up once. A workflow node whose type differs from its
// library agent's is a problem at /agents/<i>/type.
func Resolve(def *domain.Definition, lookup func(agentID string) (*domain.Node, error)) (*domain.Definition, error) {
	out, err := copyDefinition(def)
	if err != nil {
		return nil, err
	}
	var problems []domain.FieldError
	type found struct {
		node *domain.Node
		err  error
	}
	seen := map[string]found{} // each library agent is looked up once
	for i := range out.Nodes {
		n := &out.Nodes[i]
		if n.AgentID == "" {
			continue
		}
		base := pointer("agents", strconv.Itoa(i))
		f, ok := seen[n.AgentID]
		if !ok {
			f.node, f.err = lookup(n.AgentID)
			seen[n.AgentID] = f
		}
		lib, err := f.node, f.err
		if domain.IsCode(err, domain.ECodeNotFound) || err == nil && lib == nil {
			problems = append(problems, domain.FieldError{Pointer: base + "/agent_id", Message: fmt.Sprintf("unknown library agent %q", clip(n.AgentID))})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolve library agent %s of node %s: %w", n.AgentID, n.ID, err)
		}
		if n.Type != "" && lib.Type != "" && n.Type != lib.Type {
			problems = append(problems, domain.FieldError{Pointer: base + "/type", Message: fmt.Sprintf("library agent %q has type %s, not %s", n.AgentID, lib.Type, n.Type)})
			continue
		}
		merged, err := mergeNode(lib, n)
		if err != nil {
			return nil, fmt.Errorf("merge library agent %s into node %s: %w", n.AgentID, n.ID, err)
		}
		*n = merged
	}
	if len(problems) > 0 {
		return nil, domain.Invalid("the workflow references unknown library agents", problems...)
	}
	return out, nil
}

// mergeNode overlays the workflow node over a copy of the library node.
func mergeNode(lib, n *domain.Node) (domain.Node, error) {
	var merged domain.Node
	if err := deepCopy(lib, &merged); err != nil {
		return domain.Node{}, err
	}
	var over domain.Node
	if err := deepCopy(n, &over); err != nil {
		return domain.Node{}, err
	}
	overlay(reflect.ValueOf(&merged).Elem(), reflect.ValueOf(&over).Elem())
	merged.ID, merged.AgentID = n.ID, n.AgentID
	return merged, nil
}

// overlay sets every non-zero field of src on dst (both the same struct
// type): pointers to structs merge recursively, maps merge key by key,
// everything else replaces.
func overlay(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		s, d := src.Field(i), dst.Field(i)
		if s.IsZero() {
			continue
		}
		switch {
		case s.Kind() == reflect.Pointer && s.Elem().Kind() == reflect.Struct && !d.IsNil():
			overlay(d.Elem(), s.Elem())
		case s.Kind() == reflect.Map && !d.IsNil():
			iter := s.MapRange()
			for iter.Next() {
				d.SetMapIndex(iter.Key(), iter.Value())
			}
		default:
			d.Set(s)
		}
	}
}

func copyDefinition(def *domain.Definition) (*domain.Definition, error) {
	out := &domain.Definition{}
	if err := deepCopy(def, out); err != nil {
		return nil, err
	}
	return out, nil
}

// deepCopy copies src into dst through JSON, which every definition type
// round-trips.
func deepCopy(src, dst any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return fmt.Errorf("copy definition: %w", err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("copy definition: %w", err)
	}
	return nil
}
