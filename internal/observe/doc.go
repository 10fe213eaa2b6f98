// Package observe is how Super Agent is watched from outside: Prometheus
// metrics and error reports to Sentry.
//
// Metrics live in a registry per process (never Prometheus's global one):
// HTTP request latency by route pattern, method and status; figures the
// database holds, read when Prometheus scrapes (executions and steps of the
// last hour by status, the job queue's jobs by queue and state); and Go
// runtime and process figures. The figures the database holds are
// installation-wide, so every process reports the same values: aggregate
// them with max, not sum.
//
// Error reports go to Sentry's envelope endpoint from a small client of our
// own (Reporter): a bounded queue that never blocks the caller and drops
// when full, one sender goroutine, and events that carry the request id,
// route pattern, release and environment but never request bodies,
// headers, tokens or e-mail addresses (messages are scrubbed of anything
// that looks like one).
package observe
