package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxPathSegments bounds a json_extract path.
const maxPathSegments = 256

// jsonExtract is the json_extract tool: {"json": value, "path": path}.
func jsonExtract(raw json.RawMessage) (any, error) {
	var args struct {
		JSON json.RawMessage `json:"json"`
		Path string          `json:"path"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, fmt.Errorf("the arguments are not valid: %v", err)
	}
	if len(args.JSON) == 0 {
		return nil, errors.New("json is required")
	}
	var doc any
	if err := json.Unmarshal(args.JSON, &doc); err != nil {
		return nil, errors.New("json is not valid JSON")
	}
	// Models often pass JSON text as a string.
	if s, ok := doc.(string); ok {
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			var inner any
			if json.Unmarshal([]byte(t), &inner) == nil {
				doc = inner
			}
		}
	}
	return ExtractPath(doc, args.Path)
}

// ExtractPath returns the part of a JSON-shaped value at path: a JSON
// pointer (RFC 6901, "/items/0/name"), or a simple path ("items[0].name",
// "items.0.name", `$.items[0]["odd key"]`). An empty path, "$" or "" is the
// whole value.
func ExtractPath(doc any, path string) (any, error) {
	segs, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	cur := doc
	for i, seg := range segs {
		at := "the top level"
		if i > 0 {
			at = strconv.Quote(strings.Join(segs[:i], "."))
		}
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, fmt.Errorf("path %q: there is no key %q at %s", path, seg, at)
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: %q is not an index into the list at %s", path, seg, at)
			}
			if n >= len(v) {
				return nil, fmt.Errorf("path %q: index %d is beyond the %d items of the list at %s", path, n, len(v), at)
			}
			cur = v[n]
		default:
			return nil, fmt.Errorf("path %q: the value at %s is not an object or a list", path, at)
		}
	}
	return cur, nil
}

func parsePath(path string) ([]string, error) {
	if strings.HasPrefix(path, "/") {
		var segs []string
		for tok := range strings.SplitSeq(path[1:], "/") {
			segs = append(segs, strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~"))
		}
		if len(segs) > maxPathSegments {
			return nil, fmt.Errorf("path has more than %d parts", maxPathSegments)
		}
		return segs, nil
	}
	p := strings.TrimSpace(path)
	p = strings.TrimPrefix(p, "$")
	var segs []string
	for i := 0; i < len(p); {
		if len(segs) > maxPathSegments {
			return nil, fmt.Errorf("path has more than %d parts", maxPathSegments)
		}
		switch p[i] {
		case '.':
			i++
			if i == len(p) || p[i] == '.' {
				return nil, fmt.Errorf("path %q: empty name", path)
			}
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", path)
			}
			inner := strings.TrimSpace(p[i+1 : i+end])
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				inner = inner[1 : len(inner)-1]
			}
			segs = append(segs, inner)
			i += end + 1
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			segs = append(segs, p[i:j])
			i = j
		}
	}
	return segs, nil
}
