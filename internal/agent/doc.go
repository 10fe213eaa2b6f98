// Package agent runs one step of a workflow: the llm, http, transform and
// router agent kinds. The engine calls Runtime.Run once per attempt of a
// step and records what it returns; everything durable (retries, timeouts
// across attempts, recording results, streaming events) is the engine's.
//
// The engine calls
//
//	res, err := rt.Run(ctx, agent.StepInput{OrgID, ExecutionID, NodeID, Attempt, Node, Data, OnDelta})
//
// and each kind does this:
//
//   - transform: the template's text (parsed when it is JSON) or the
//     expression's value.
//   - router: the first route whose condition holds, else the default;
//     Output is {"route": target} and Route the target. No route and no
//     default is a no_route error.
//   - http: method, URL, headers and body rendered from templates, sent
//     through the SSRF guard (HTTP_ALLOWED_HOSTS opens hosts) with
//     Idempotency-Key "<execution>:<node>", the node's timeout and a bounded
//     response; Output is {"status", "headers", "body"} with JSON bodies
//     parsed. 429 and 5xx fail retryably (with the server's Retry-After),
//     other 4xx do not.
//   - llm: prompt and system prompt rendered; the provider chosen by
//     "provider:model" with the organization's credentials (or the
//     installation's where allowed; mock needs none); text streamed to
//     OnDelta; tool calls run and fed back up to max_tool_rounds rounds
//     (http_request, json_extract, workflow:<id>) and recorded;
//     output_format json parsed and checked against output_schema with one
//     repair round trip; usage summed over every call and priced.
//
// Every error is a *StepError whose Kind and Retryable tell the engine
// whether to retry, whose RetryAfter it should honour, and whose Partial
// carries the tokens and cost already spent. Messages are safe to show to
// the organization.
//
// Provider credentials are kept by Credentials: sealed in the database with
// secretbox (SealedKeys) or in HashiCorp Vault's KV v2 engine (VaultKeys).
// NewSetup builds all of it from typed options (cmd/superagent reads the
// configuration).
package agent
