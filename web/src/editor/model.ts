// The editor's draft of a workflow and the pure operations on it. The
// draft holds the API's own types (Node, Edge), so a saved draft is exactly
// the WorkflowIn the server validates.
import type { AgentNode, Edge, Workflow, WorkflowIn } from '../api/hooks';
import type { ProblemField } from '../api/problem';
import { layoutGraph, type Pos } from './layout';

export type NodeType = 'llm' | 'http' | 'transform' | 'router';
export const NODE_TYPES: { type: NodeType; label: string; hint: string }[] = [
  { type: 'llm', label: 'LLM', hint: 'Prompt a model' },
  { type: 'http', label: 'HTTP', hint: 'Call a URL' },
  { type: 'transform', label: 'Transform', hint: 'Reshape data' },
  { type: 'router', label: 'Router', hint: 'Choose a branch' },
];

export interface Draft {
  name: string;
  description: string;
  tags: string[];
  agents: AgentNode[];
  edges: Edge[];
  inputSchema: unknown;
  outputTemplate: string;
  positions: Record<string, Pos>;
}

export function emptyDraft(name = 'Untitled workflow'): Draft {
  return { name, description: '', tags: [], agents: [], edges: [], inputSchema: undefined, outputTemplate: '', positions: {} };
}

export function draftFrom(w: Pick<Workflow, 'name' | 'description' | 'tags' | 'agents' | 'edges' | 'input_schema' | 'output_template'>): Draft {
  const agents = w.agents ?? [];
  const edges = w.edges ?? [];
  return {
    name: w.name,
    description: w.description ?? '',
    tags: w.tags ?? [],
    agents,
    edges,
    inputSchema: w.input_schema ?? undefined,
    outputTemplate: w.output_template ?? '',
    positions: layoutGraph(agents.map((a) => a.id ?? ''), edges.map((e) => ({ from: e.from ?? '', to: e.to ?? '' }))),
  };
}

export function toWorkflowIn(d: Draft, message: string): WorkflowIn {
  const body: WorkflowIn = {
    name: d.name,
    description: d.description,
    tags: d.tags,
    agents: d.agents,
    edges: d.edges,
    output_template: d.outputTemplate,
    message,
  };
  if (d.inputSchema !== undefined) body.input_schema = d.inputSchema;
  return body;
}

export function defaultConfig(type: NodeType): Partial<AgentNode> {
  switch (type) {
    case 'llm':
      return { llm: { model: 'mock:echo', prompt: '' } };
    case 'http':
      return { http: { method: 'GET', url: '' } };
    case 'transform':
      return { transform: { expression: '' } };
    case 'router':
      return { router: { routes: [], default: '' } };
  }
}

/** newNodeId is the first free "<type>_<n>" (ids are lower-case letters, digits, '-' and '_'). */
export function newNodeId(d: Draft, base: string): string {
  const taken = new Set(d.agents.map((a) => a.id));
  const stem = base.toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^[^a-z0-9]+/, '') || 'node';
  for (let i = 1; ; i++) if (!taken.has(`${stem}_${i}`)) return `${stem}_${i}`;
}

export function addNode(d: Draft, type: NodeType, at?: Pos, libraryAgentId?: string): { draft: Draft; id: string } {
  const id = newNodeId(d, type);
  const node: AgentNode = { id, type, ...(libraryAgentId ? { agent_id: libraryAgentId } : defaultConfig(type)) };
  const maxX = Math.max(-250, ...Object.values(d.positions).map((p) => p.x));
  const pos = at ?? { x: maxX + 250, y: 40 };
  return { draft: { ...d, agents: [...d.agents, node], positions: { ...d.positions, [id]: pos } }, id };
}

export function updateNode(d: Draft, id: string, patch: Partial<AgentNode>): Draft {
  return { ...d, agents: d.agents.map((a) => (a.id === id ? { ...a, ...patch } : a)) };
}

/** renameNode changes a node's id and every edge that names it. */
export function renameNode(d: Draft, from: string, to: string): Draft {
  if (from === to || d.agents.some((a) => a.id === to)) return d;
  const positions = { ...d.positions, [to]: d.positions[from] ?? { x: 0, y: 0 } };
  delete positions[from];
  return {
    ...d,
    agents: d.agents.map((a) => (a.id === from ? { ...a, id: to } : a)),
    edges: d.edges.map((e) => ({ ...e, from: e.from === from ? to : e.from, to: e.to === from ? to : e.to })),
    positions,
  };
}

export function removeNodes(d: Draft, ids: string[]): Draft {
  const gone = new Set(ids);
  const positions = { ...d.positions };
  for (const id of ids) delete positions[id];
  return {
    ...d,
    agents: d.agents.filter((a) => !gone.has(a.id ?? '')),
    edges: d.edges.filter((e) => !gone.has(e.from ?? '') && !gone.has(e.to ?? '')),
    positions,
  };
}

export function connect(d: Draft, from: string, to: string): Draft {
  if (from === to || d.edges.some((e) => e.from === from && e.to === to)) return d;
  return { ...d, edges: [...d.edges, { from, to }] };
}

/** pasteNodes adds copies of nodes under fresh ids, with the edges among them, offset from the originals. */
export function pasteNodes(d: Draft, nodes: AgentNode[], edges: Edge[], positions: Record<string, Pos>): { draft: Draft; ids: string[] } {
  let out = d;
  const rename = new Map<string, string>();
  for (const n of nodes) {
    const id = newNodeId(out, (n.id ?? 'node').replace(/_\d+$/, ''));
    rename.set(n.id ?? '', id);
    const p = positions[n.id ?? ''] ?? { x: 0, y: 0 };
    out = { ...out, agents: [...out.agents, { ...structuredClone(n), id }], positions: { ...out.positions, [id]: { x: p.x + 40, y: p.y + 40 } } };
  }
  const copied = edges
    .filter((e) => rename.has(e.from ?? '') && rename.has(e.to ?? ''))
    .map((e) => ({ ...e, from: rename.get(e.from ?? ''), to: rename.get(e.to ?? '') }));
  return { draft: { ...out, edges: [...out.edges, ...copied] }, ids: [...rename.values()] };
}

export function autoLayout(d: Draft): Draft {
  return { ...d, positions: layoutGraph(d.agents.map((a) => a.id ?? ''), d.edges.map((e) => ({ from: e.from ?? '', to: e.to ?? '' }))) };
}

/** upstreamOf lists the nodes that can reach id: the `{{ .nodes.* }}` a template there may read. */
export function upstreamOf(d: Pick<Draft, 'edges'>, id: string): string[] {
  const parents = new Map<string, string[]>();
  for (const e of d.edges) parents.set(e.to ?? '', [...(parents.get(e.to ?? '') ?? []), e.from ?? '']);
  const seen = new Set<string>();
  const stack = [...(parents.get(id) ?? [])];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n) || n === id) continue;
    seen.add(n);
    stack.push(...(parents.get(n) ?? []));
  }
  return [...seen].sort();
}

/** inputFields are the top-level properties of the input schema: the `{{ .input.* }}` a template may read. */
export function inputFields(schema: unknown): string[] {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props && typeof props === 'object' ? Object.keys(props).sort() : [];
}

export interface MappedProblems {
  /** By node id, then by field path ("llm.prompt", "" for the node as a whole). */
  nodes: Map<string, Map<string, string[]>>;
  /** By edge index in the saved draft. */
  edges: Map<number, string[]>;
  /** Everything else ("name", "input_schema", "output_template", or the whole workflow). */
  other: { where: string; message: string }[];
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * mapProblems places the API's 422 problems, located by JSON pointers into
 * the saved body (/agents/2/llm/prompt), on the node and field they name.
 * The indexes are those of `sent`, the agents as they were saved.
 */
export function mapProblems(problems: ProblemField[], sent: Pick<Draft, 'agents'>): MappedProblems {
  const out: MappedProblems = { nodes: new Map(), edges: new Map(), other: [] };
  for (const p of problems) {
    const parts = (p.pointer ?? '').replace(/^#/, '').split('/').slice(1).map(unescapePointer);
    const [top, idx, ...rest] = parts;
    const i = Number(idx);
    if (top === 'agents' && idx !== undefined && Number.isInteger(i) && sent.agents[i]) {
      const id = sent.agents[i]!.id ?? '';
      const fields = out.nodes.get(id) ?? new Map<string, string[]>();
      const key = rest.filter((r) => !/^\d+$/.test(r)).join('.');
      fields.set(key, [...(fields.get(key) ?? []), p.message]);
      out.nodes.set(id, fields);
    } else if (top === 'edges' && idx !== undefined && Number.isInteger(i)) {
      out.edges.set(i, [...(out.edges.get(i) ?? []), p.message]);
    } else {
      out.other.push({ where: parts.join('.') || 'workflow', message: p.message });
    }
  }
  return out;
}

/** withoutFieldProblems drops a node's problems for a field (and its sub-fields) once the user edits it. */
export function withoutFieldProblems(m: MappedProblems, nodeId: string, field: string): MappedProblems {
  const fields = m.nodes.get(nodeId);
  if (!fields) return m;
  const kept = new Map([...fields].filter(([k]) => k !== field && !k.startsWith(`${field}.`)));
  if (kept.size === fields.size) return m;
  const nodes = new Map(m.nodes);
  if (kept.size) nodes.set(nodeId, kept);
  else nodes.delete(nodeId);
  return { ...m, nodes };
}
