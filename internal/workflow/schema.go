package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/superagent-hq/superagent/internal/domain"
)

// schemaURL is where a tenant's schema is registered while it compiles. A
// $ref to any other document fails: schemaLoader loads nothing, so a schema
// can neither read local files nor make network calls.
const schemaURL = "https://schemas.superagent.invalid/schema.json"

// maxInputProblems bounds the problems CheckInput reports.
const maxInputProblems = 50

type compiledSchema struct {
	schema *jsonschema.Schema
	err    error
}

var schemaCache = newLRUCache[*compiledSchema](512, 16<<20)

type schemaLoader struct{}

func (schemaLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("not loading %s", url)
}

// compileSchema compiles a JSON Schema (draft 2020-12 unless it names
// another draft in $schema) once and caches the result, errors included.
func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	key := string(raw)
	if c, ok := schemaCache.get(key); ok {
		return c.schema, c.err
	}
	c := &compiledSchema{}
	c.schema, c.err = doCompileSchema(raw)
	schemaCache.add(key, c)
	return c.schema, c.err
}

func doCompileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(schemaLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("not a valid JSON Schema: %s", schemaCompileProblem(err))
	}
	return s, nil
}

// schemaCompileProblem describes why a schema does not compile in one line.
func schemaCompileProblem(err error) string {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		var parts []string
		for _, p := range schemaProblems(ve, message.NewPrinter(language.English)) {
			parts = append(parts, fmt.Sprintf("at %q: %s", p.Pointer, p.Message))
		}
		if len(parts) > 3 {
			parts = append(parts[:3], "…")
		}
		return strings.Join(parts, "; ")
	}
	var lue *jsonschema.LoadURLError
	if errors.As(err, &lue) {
		return fmt.Sprintf("it references %q: only references inside the schema are allowed", clip(lue.URL))
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return strings.ReplaceAll(msg, schemaURL, "schema")
}

// isEmptySchema reports whether no schema is set.
func isEmptySchema(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// CheckInput validates an execution input against a workflow's input
// schema. It returns nil when the schema is empty or the input matches;
// otherwise one problem per failed constraint (at most 50), each with a JSON
// pointer into the input itself ("" for the whole input): a caller reporting
// them inside a request body prefixes the pointer of the input there. A
// schema that does not compile (Validate prevents it) is one problem at "".
func CheckInput(schema json.RawMessage, input any) []domain.FieldError {
	if isEmptySchema(schema) {
		return nil
	}
	s, err := compileSchema(schema)
	if err != nil {
		return []domain.FieldError{{Pointer: "", Message: "the workflow's input schema is invalid: " + err.Error()}}
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return []domain.FieldError{{Pointer: "", Message: "input is not representable as JSON"}}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []domain.FieldError{{Pointer: "", Message: "input is not JSON"}}
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []domain.FieldError{{Pointer: "", Message: err.Error()}}
	}
	return schemaProblems(ve, message.NewPrinter(language.English))
}

// schemaProblems flattens a validation error into its leaves.
func schemaProblems(ve *jsonschema.ValidationError, p *message.Printer) []domain.FieldError {
	var out []domain.FieldError
	seen := map[domain.FieldError]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(out) >= maxInputProblems {
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		fe := domain.FieldError{Pointer: pointer(e.InstanceLocation...), Message: e.ErrorKind.LocalizedString(p)}
		if !seen[fe] {
			seen[fe] = true
			out = append(out, fe)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}
