// The live run's state, built from the execution's SSE events. Stored
// events carry a sequence number: one at or below the last applied is a
// replay after a reconnect and changes nothing, so no event is shown
// twice. Streamed LLM text (step.delta) has no number: a replay delta
// carries the whole text so far and replaces it, a live one appends.

export type StepState = 'waiting' | 'queued' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled';
export type RunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface NodeRun {
  state: StepState;
  text: string;
  attempt?: number;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
  durationMs?: number;
  model?: string;
  output?: unknown;
  error?: string;
  retryInMs?: number;
}

export interface RunState {
  lastSeq: number;
  status: RunStatus;
  final: boolean;
  nodes: Record<string, NodeRun>;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  error?: string;
  output?: unknown;
  /** How many events were applied (a replayed one is not counted). */
  applied: number;
}

export interface RunEvent {
  type: string;
  seq?: number;
  node_id?: string;
  data?: Record<string, unknown>;
}

export type RunAction =
  | { kind: 'event'; event: RunEvent }
  | { kind: 'seed'; steps: { node_id: string; status: string }[]; status: RunStatus };

export function initialRunState(): RunState {
  return { lastSeq: 0, status: 'pending', final: false, nodes: {}, tokensIn: 0, tokensOut: 0, costUsd: 0, applied: 0 };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function node(s: RunState, id: string): NodeRun {
  return s.nodes[id] ?? { state: 'waiting', text: '' };
}

function withNode(s: RunState, id: string, patch: Partial<NodeRun>): RunState {
  return { ...s, nodes: { ...s.nodes, [id]: { ...node(s, id), ...patch } } };
}

const finalStatus: Record<string, RunStatus> = {
  'execution.completed': 'succeeded',
  'execution.failed': 'failed',
  'execution.cancelled': 'cancelled',
};

function applyDelta(s: RunState, e: RunEvent): RunState {
  if (!e.node_id) return s;
  const text = str(e.data?.text) ?? '';
  const n = node(s, e.node_id);
  if (e.data?.replay === true) return withNode(s, e.node_id, { text });
  // Text for a step that already finished came before its completion.
  return withNode(s, e.node_id, { text: n.text + text, state: n.state === 'waiting' || n.state === 'queued' ? 'running' : n.state });
}

function applyStored(s0: RunState, e: RunEvent): RunState {
  const d = e.data ?? {};
  let s: RunState = { ...s0, lastSeq: e.seq ?? s0.lastSeq, applied: s0.applied + 1 };
  const id = e.node_id;
  switch (e.type) {
    case 'execution.started':
      return { ...s, status: 'running' };
    case 'step.started':
      return id ? withNode(s, id, { state: 'running', attempt: num(d.attempt), error: undefined, retryInMs: undefined }) : s;
    case 'step.retrying':
      return id ? withNode(s, id, { state: 'queued', attempt: num(d.attempt), error: str(d.error), retryInMs: num(d.retry_in_ms) }) : s;
    case 'step.completed': {
      if (!id) return s;
      const tin = num(d.tokens_in) ?? 0;
      const tout = num(d.tokens_out) ?? 0;
      const cost = num(d.cost_usd) ?? 0;
      s = { ...s, tokensIn: s.tokensIn + tin, tokensOut: s.tokensOut + tout, costUsd: s.costUsd + cost };
      const patch: Partial<NodeRun> = {
        state: 'completed',
        attempt: num(d.attempt),
        tokensIn: tin,
        tokensOut: tout,
        costUsd: cost,
        durationMs: num(d.duration_ms),
        model: str(d.model),
        error: undefined,
      };
      if ('output' in d) {
        patch.output = d.output;
        // An llm node's output is its text: show it whole even if a delta was missed.
        if (typeof d.output === 'string') patch.text = d.output;
      }
      return withNode(s, id, patch);
    }
    case 'step.failed':
      return id ? withNode(s, id, { state: 'failed', attempt: num(d.attempt), error: str(d.error) }) : s;
    case 'step.skipped':
      return id ? withNode(s, id, { state: 'skipped' }) : s;
  }
  const fin = finalStatus[e.type];
  if (fin) {
    const nodes: Record<string, NodeRun> = {};
    for (const [k, n] of Object.entries(s.nodes)) {
      const open = n.state === 'running' || n.state === 'queued' || n.state === 'waiting';
      nodes[k] = open && fin === 'cancelled' ? { ...n, state: 'cancelled' } : n;
    }
    return {
      ...s,
      nodes,
      status: fin,
      final: true,
      error: str(d.error),
      output: d.output,
      tokensIn: num(d.tokens_in) ?? s.tokensIn,
      tokensOut: num(d.tokens_out) ?? s.tokensOut,
      costUsd: num(d.cost_usd) ?? s.costUsd,
    };
  }
  return s;
}

const stepStates = new Set<string>(['waiting', 'queued', 'running', 'completed', 'failed', 'skipped', 'cancelled']);

export function runReducer(s: RunState, a: RunAction): RunState {
  if (a.kind === 'seed') {
    // The execution as first read: nodes the events have not named yet.
    const nodes = { ...s.nodes };
    for (const st of a.steps) {
      if (!nodes[st.node_id]) nodes[st.node_id] = { state: stepStates.has(st.status) ? (st.status as StepState) : 'waiting', text: '' };
    }
    return { ...s, nodes, status: s.applied ? s.status : a.status };
  }
  const e = a.event;
  if (e.type === 'step.delta') return applyDelta(s, e);
  if (e.seq !== undefined && e.seq <= s.lastSeq) return s; // a replay: already applied
  return applyStored(s, e);
}

/** parseEvent reads one SSE message's JSON payload; malformed ones are dropped. */
export function parseEvent(data: string): RunEvent | null {
  try {
    const v = JSON.parse(data) as RunEvent;
    return v && typeof v.type === 'string' ? v : null;
  } catch {
    return null;
  }
}
