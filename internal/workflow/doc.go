// Package workflow holds everything about a workflow definition that needs
// no database: validation with JSON-pointer problems, the DAG view the engine
// walks, template rendering, edge conditions and transform expressions,
// library-agent resolution, definition diffs, input checks against the
// input schema, and retry and timeout defaults.
//
// Everything here is safe for concurrent use. The only shared state is a few
// bounded caches of parsed templates, compiled expressions and compiled JSON
// Schemas, keyed by their source text.
//
// Templates and expressions are written by tenants and run inside shared
// worker processes, so both run under budgets: a hostile template or
// expression fails with an error instead of exhausting memory or looping
// for ever. See RenderTemplate and EvalExpression for the exact limits.
package workflow
