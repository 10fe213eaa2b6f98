package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// finished is what the batched completion statement did for one item: its
// LockAndFinishStep call answers with it instead of a statement of its own.
type finished struct {
	call *domain.FinishCall
	exe  *domain.Execution // nil: the execution was not found
	won  bool
	// counts are the resolved edges' pending and holding parents, by target.
	counts map[string][2]int
}

// answer is LockAndFinishStep's result for the call the statement ran.
func (f *finished) answer(edges []domain.EdgeResolution, progress *domain.StepProgress) (*domain.Execution, bool, error) {
	s := f.call.Step
	if f.exe == nil {
		return nil, false, domain.NotFound("execution")
	}
	if !f.won {
		return f.exe, false, nil
	}
	for i := range edges {
		c, ok := f.counts[edges[i].NodeID]
		if !ok {
			return nil, false, noParentEdge(s.ExecutionID, edges[i].NodeID)
		}
		edges[i].Pending, edges[i].Holding = c[0], c[1]
	}
	if progress != nil {
		progress.Apply(f.exe)
	}
	return f.exe, true, nil
}

// finishAhead runs the step completions (BatchItem.Finish) of a run of
// items in one organization's scope as one statement on PostgreSQL: the
// same locks and writes as each item's LockAndFinishStep, for every
// execution at once, with the executions locked in id order. It returns
// the results by item index; items it did not take (no completion, a
// second completion of an execution already taken, two edges to one
// target, a team-restricted scope) run their own statement as before.
// Fewer than two completions are left to their own statements too.
func (s *Store) finishAhead(q *queries, items []domain.BatchItem, base int) (map[int]*finished, error) {
	if s.kind != KindPostgres || !q.scope.AllTeams {
		return nil, nil
	}
	org, err := q.org()
	if err != nil {
		return nil, nil
	}
	taken := map[string]int{} // execution → item index
	var order []int
	for i := range items {
		c := items[i].Finish
		if c == nil || c.Step == nil || !distinctTargets(c.Edges) {
			continue
		}
		if _, dup := taken[c.Step.ExecutionID]; dup {
			continue
		}
		taken[c.Step.ExecutionID] = base + i
		order = append(order, i)
	}
	if len(order) < 2 {
		return nil, nil
	}

	var (
		exe, node, status, errMsg, errKind, model []string
		attempts, tokIn, tokOut, tokCached        []int64
		cost                                      []float64
		output, toolCalls, input                  []*string
		startedAt, finishedAt                     []*time.Time
		duration                                  []*int64
		progress                                  []bool
		pIn, pOut, pCached, nEvents               []int64
		pCost                                     []float64
		edgeExe, edgeNode                         []string
		edgeHold                                  []int32
		edgeOwner                                 []int64
		evExe, evType, evNode                     []string
		evIndex                                   []int64
		evData                                    []*string
		evAt                                      []time.Time
	)
	text := func(b json.RawMessage) *string {
		if len(b) == 0 {
			return nil
		}
		v := string(b)
		return &v
	}
	when := func(t *time.Time) *time.Time {
		if t == nil || t.IsZero() {
			return nil
		}
		v := t.UTC().Truncate(time.Microsecond)
		return &v
	}
	for _, i := range order {
		c := items[i].Finish
		st := c.Step
		exe, node, status = append(exe, st.ExecutionID), append(node, st.NodeID), append(status, string(st.Status))
		errMsg, errKind, model = append(errMsg, st.Error), append(errKind, st.ErrorKind), append(model, st.Model)
		attempts = append(attempts, int64(st.Attempts))
		tokIn, tokOut, tokCached = append(tokIn, st.TokensIn), append(tokOut, st.TokensOut), append(tokCached, st.TokensCached)
		cost = append(cost, st.CostUSD)
		output, toolCalls, input = append(output, text(st.Output)), append(toolCalls, text(st.ToolCalls)), append(input, text(st.Input))
		startedAt, finishedAt = append(startedAt, when(st.StartedAt)), append(finishedAt, when(st.FinishedAt))
		duration = append(duration, st.DurationMS)
		for _, ed := range c.Edges {
			h := int32(0)
			if ed.Holds {
				h = 1
			}
			edgeExe, edgeNode, edgeHold, edgeOwner = append(edgeExe, st.ExecutionID), append(edgeNode, ed.NodeID), append(edgeHold, h),
				append(edgeOwner, ed.OwnerJob)
		}
		p := c.Progress
		progress = append(progress, p != nil)
		if p == nil {
			p = &domain.StepProgress{}
		}
		pIn, pOut, pCached, pCost = append(pIn, p.TokensIn), append(pOut, p.TokensOut), append(pCached, p.TokensCached), append(pCost, p.CostUSD)
		nEvents = append(nEvents, int64(len(p.Events)))
		stampEvents(org, p.Events, q.now)
		for j, ev := range p.Events {
			evExe, evIndex, evType, evNode = append(evExe, st.ExecutionID), append(evIndex, int64(j+1)), append(evType, ev.Type), append(evNode, ev.NodeID)
			evData, evAt = append(evData, text(ev.Data)), append(evAt, ev.CreatedAt.UTC())
		}
	}

	// x is one row per completion, y one per edge, z one per event; e
	// locks the executions, f writes each step while its execution runs
	// and the step has not ended, r resolves the edges of the steps f
	// wrote, u adds their progress to the executions and v inserts their
	// events numbered after the sequence e locked. f and r find a step by
	// its unique key (execution_id, node_id) alone: the execution is one
	// of e's, which are the organization's, and a step's key to its
	// execution holds the same organization (row-level security checks it
	// too). With the organization in the condition the planner chose the
	// index on (org_id, execution_id) and read all of an execution's steps
	// for each one it wrote. e finds the executions by their ids as an
	// array, which the planner reads through the primary key; as a join
	// with x, its generic plan scanned the organization's executions
	// through the status index, a cost that grows with history. (Locking
	// each through its unique key in a LATERAL subquery, and keeping the
	// organization out of reach of an index, both measured slower.)
	rows, err := q.query(`WITH x AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::float8[], $14::text[], $15::timestamptz[],
			$16::timestamptz[], $17::bigint[], $18::text[], $19::bool[], $20::bigint[], $21::bigint[], $22::bigint[], $23::float8[],
			$24::bigint[])
		AS x(exe, node, status, attempts, output, error, error_kind, model, tokens_in, tokens_out, tokens_cached, cost_usd,
			tool_calls, started_at, finished_at, duration_ms, input, progress, p_tokens_in, p_tokens_out, p_tokens_cached,
			p_cost_usd, n_events)),
	e AS (SELECT `+executionColumns+` FROM executions WHERE id = ANY($2::text[]) AND org_id = $1 ORDER BY id FOR UPDATE),
	f AS (UPDATE execution_steps s SET status = x.status, attempts = x.attempts, output = x.output::jsonb, error = x.error,
			error_kind = x.error_kind, model = x.model, tokens_in = s.tokens_in + x.tokens_in, tokens_out = s.tokens_out + x.tokens_out,
			tokens_cached = s.tokens_cached + x.tokens_cached, cost_usd = s.cost_usd + x.cost_usd, tool_calls = x.tool_calls::jsonb,
			started_at = COALESCE(s.started_at, x.started_at), finished_at = x.finished_at, duration_ms = x.duration_ms,
			input = COALESCE(x.input::jsonb, s.input)
		FROM x JOIN e ON e.id = x.exe
		WHERE s.execution_id = x.exe AND s.node_id = x.node
			AND s.status NOT IN ('completed', 'failed', 'skipped', 'cancelled') AND e.status NOT IN ('succeeded', 'failed', 'cancelled')
		RETURNING s.execution_id),
	r AS (UPDATE execution_steps s SET pending_parents = s.pending_parents - 1, holding_parents = s.holding_parents + y.hold,
			status = CASE WHEN s.pending_parents = 1 AND s.holding_parents + y.hold > 0 THEN 'queued' ELSE s.status END,
			owner_job = CASE WHEN s.pending_parents = 1 AND s.holding_parents + y.hold > 0 THEN y.owner ELSE s.owner_job END
		FROM unnest($25::text[], $26::text[], $27::int[], $28::bigint[]) AS y(exe, node, hold, owner)
		WHERE s.execution_id = y.exe AND s.node_id = y.node AND s.pending_parents > 0
			AND y.exe IN (SELECT execution_id FROM f)
		RETURNING s.execution_id, s.node_id, s.pending_parents, s.holding_parents),
	u AS (UPDATE executions t SET tokens_in = t.tokens_in + x.p_tokens_in, tokens_out = t.tokens_out + x.p_tokens_out,
			tokens_cached = t.tokens_cached + x.p_tokens_cached, cost_usd = t.cost_usd + x.p_cost_usd,
			nodes_done = t.nodes_done + 1, event_seq = t.event_seq + x.n_events
		FROM x WHERE t.org_id = $1 AND t.id = x.exe AND x.progress AND x.exe IN (SELECT execution_id FROM f)
		RETURNING 1),
	v AS (INSERT INTO execution_events (org_id, execution_id, seq, type, node_id, data, created_at)
		SELECT $1, z.exe, e.event_seq + z.i, z.type, z.node, z.data::jsonb, z.created_at
		FROM unnest($29::text[], $30::bigint[], $31::text[], $32::text[], $33::text[], $34::timestamptz[])
			AS z(exe, i, type, node, data, created_at)
		JOIN e ON e.id = z.exe
		WHERE z.exe IN (SELECT execution_id FROM f)
		RETURNING 1)
	SELECT e.*, e.id IN (SELECT execution_id FROM f),
		(SELECT json_agg(json_build_array(r.node_id, r.pending_parents, r.holding_parents))::text FROM r WHERE r.execution_id = e.id)
	FROM e`,
		org, exe, node, status, attempts, output, errMsg, errKind, model, tokIn, tokOut, tokCached, cost, toolCalls, startedAt,
		finishedAt, duration, input, progress, pIn, pOut, pCached, pCost, nEvents,
		edgeExe, edgeNode, edgeHold, edgeOwner, evExe, evIndex, evType, evNode, evData, evAt)
	if err != nil {
		return nil, fmt.Errorf("finish steps: %w", err)
	}
	defer rows.Close()
	out := make(map[int]*finished, len(order))
	for _, i := range order {
		out[base+i] = &finished{call: items[i].Finish}
	}
	for rows.Next() {
		var won bool
		var counts sql.NullString
		e, err := scanExecution(rows, &won, &counts)
		if err != nil {
			return nil, s.translate(fmt.Errorf("finish steps: %w", err))
		}
		f := out[taken[e.ID]]
		f.exe, f.won = e, won
		if counts.Valid {
			var resolved [][3]json.RawMessage
			if err := json.Unmarshal([]byte(counts.String), &resolved); err != nil {
				return nil, fmt.Errorf("finish steps: edge counts: %w", err)
			}
			f.counts = make(map[string][2]int, len(resolved))
			for _, r := range resolved {
				var id string
				var pending, holding int
				if json.Unmarshal(r[0], &id) != nil || json.Unmarshal(r[1], &pending) != nil || json.Unmarshal(r[2], &holding) != nil {
					return nil, fmt.Errorf("finish steps: edge counts %s", counts.String)
				}
				f.counts[id] = [2]int{pending, holding}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.translate(fmt.Errorf("finish steps: %w", err))
	}
	return out, nil
}
