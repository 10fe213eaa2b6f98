import { describe, expect, it } from 'vitest';
import { layoutGraph, NODE_H, NODE_W } from './layout';

describe('layoutGraph', () => {
  it('puts every node right of its parents and none on top of another', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const edges = [
      { from: 'a', to: 'b' },
      { from: 'a', to: 'c' },
      { from: 'b', to: 'd' },
      { from: 'c', to: 'd' },
      { from: 'd', to: 'e' },
    ];
    const p = layoutGraph(ids, edges);
    for (const e of edges) expect(p[e.to]!.x).toBeGreaterThan(p[e.from]!.x);
    for (const a of ids)
      for (const b of ids)
        if (a < b) expect(Math.abs(p[a]!.x - p[b]!.x) >= NODE_W || Math.abs(p[a]!.y - p[b]!.y) >= NODE_H).toBe(true);
  });

  it('untangles a crossing', () => {
    // Two chains whose second layer starts crossed: a→y, b→x.
    const p = layoutGraph(['a', 'b', 'x', 'y'], [
      { from: 'a', to: 'y' },
      { from: 'b', to: 'x' },
    ]);
    expect(p.a!.y < p.b!.y).toBe(p.y!.y < p.x!.y);
  });

  it('places nodes on a cycle and edges to unknown nodes without failing', () => {
    const p = layoutGraph(['a', 'b'], [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'a' },
      { from: 'a', to: 'zzz' },
    ]);
    expect(Object.keys(p).sort()).toEqual(['a', 'b']);
  });

  it('lays out 200 nodes', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `n${i}`);
    const edges = ids.slice(10).map((id, i) => ({ from: `n${i}`, to: id }));
    expect(Object.keys(layoutGraph(ids, edges))).toHaveLength(200);
  });
});
