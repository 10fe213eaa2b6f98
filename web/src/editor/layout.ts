import dagre from '@dagrejs/dagre';

export const NODE_W = 200;
export const NODE_H = 64;

export interface Pos {
  x: number;
  y: number;
}

/** layoutGraph places a DAG left to right and returns each node's top-left corner. */
export function layoutGraph(ids: string[], edges: { from: string; to: string }[]): Record<string, Pos> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 70, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const id of ids) g.setNode(id, { width: NODE_W, height: NODE_H });
  const known = new Set(ids);
  for (const e of edges) if (known.has(e.from) && known.has(e.to)) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const out: Record<string, Pos> = {};
  for (const id of ids) {
    const n = g.node(id);
    out[id] = { x: (n?.x ?? 0) - NODE_W / 2, y: (n?.y ?? 0) - NODE_H / 2 };
  }
  return out;
}
