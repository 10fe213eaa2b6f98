import { describe, expect, it } from 'vitest';
import { addNode, connect, emptyDraft, mapProblems, pasteNodes, removeNodes, renameNode, upstreamOf, withoutFieldProblems } from './model';
import { historyReducer, type History } from './history';

describe('mapProblems', () => {
  const sent = { agents: [{ id: 'shout', type: 'transform' }, { id: 'greet', type: 'llm' }] };

  it('puts each 422 problem on the node and field its JSON pointer names', () => {
    const m = mapProblems(
      [
        { pointer: '/agents/1/llm/model', message: 'a model is required' },
        { pointer: '/agents/1/llm/prompt', message: 'reads agent "x"' },
        { pointer: '/agents/0', message: 'unreachable' },
        { pointer: '/agents/1/router/routes/2/condition', message: 'bad condition' },
        { pointer: '/edges/0/condition', message: 'does not compile' },
        { pointer: '/input_schema/properties', message: 'not a schema' },
        { pointer: '/name', message: 'required' },
        { pointer: '', message: 'a workflow definition is required' },
      ],
      sent,
    );
    expect(m.nodes.get('greet')?.get('llm.model')).toEqual(['a model is required']);
    expect(m.nodes.get('greet')?.get('llm.prompt')).toEqual(['reads agent "x"']);
    expect(m.nodes.get('greet')?.get('router.routes.condition')).toEqual(['bad condition']);
    expect(m.nodes.get('shout')?.get('')).toEqual(['unreachable']);
    expect(m.edges.get(0)).toEqual(['does not compile']);
    expect(m.other).toEqual([
      { where: 'input_schema.properties', message: 'not a schema' },
      { where: 'name', message: 'required' },
      { where: 'workflow', message: 'a workflow definition is required' },
    ]);
  });

  it("forgets a field's problem once it is edited, and the node's mark with its last one", () => {
    const m = mapProblems(
      [
        { pointer: '/agents/1/llm/model', message: 'bad model' },
        { pointer: '/agents/1/timeout_seconds', message: 'too long' },
      ],
      sent,
    );
    const a = withoutFieldProblems(m, 'greet', 'llm');
    expect([...a.nodes.get('greet')!.keys()]).toEqual(['timeout_seconds']);
    expect(withoutFieldProblems(a, 'greet', 'timeout_seconds').nodes.has('greet')).toBe(false);
    expect(withoutFieldProblems(a, 'shout', 'llm')).toBe(a);
  });

  it('uses the agents as they were saved, not as they are now', () => {
    // The user deleted "shout" after saving: index 1 is still "greet".
    const m = mapProblems([{ pointer: '/agents/1/llm/model', message: 'bad' }], sent);
    expect([...m.nodes.keys()]).toEqual(['greet']);
  });

  it('does not invent a node for an index out of range, and unescapes pointers', () => {
    const m = mapProblems(
      [
        { pointer: '/agents/7/id', message: 'x' },
        { pointer: '/agents/0/http/headers/X~1Token', message: 'bad header' },
      ],
      sent,
    );
    expect(m.nodes.has('')).toBe(false);
    expect(m.other).toEqual([{ where: 'agents.7.id', message: 'x' }]);
    expect(m.nodes.get('shout')?.get('http.headers.X/Token')).toEqual(['bad header']);
  });
});

describe('draft operations', () => {
  it('adds, joins, renames, copies and removes nodes', () => {
    let d = addNode(emptyDraft(), 'transform').draft;
    d = addNode(d, 'llm').draft;
    expect(d.agents.map((a) => a.id)).toEqual(['transform_1', 'llm_1']);
    expect(d.agents[1]?.llm?.model).toBe('mock:echo');
    d = connect(d, 'transform_1', 'llm_1');
    expect(connect(d, 'transform_1', 'llm_1')).toBe(d);
    expect(connect(d, 'llm_1', 'llm_1')).toBe(d);
    d = renameNode(d, 'transform_1', 'shout');
    expect(d.edges).toEqual([{ from: 'shout', to: 'llm_1' }]);
    expect(upstreamOf(d, 'llm_1')).toEqual(['shout']);
    const p = pasteNodes(d, d.agents, d.edges, d.positions);
    expect(p.ids).toEqual(['shout_1', 'llm_2']);
    expect(p.draft.edges).toContainEqual({ from: 'shout_1', to: 'llm_2' });
    d = removeNodes(p.draft, ['shout']);
    expect(d.edges).toEqual([{ from: 'shout_1', to: 'llm_2' }]);
    expect(d.positions.shout).toBeUndefined();
  });
});

describe('undo and redo', () => {
  it('steps back and forth, and merges one continued edit into one step', () => {
    let h: History<number> = { past: [], present: 0, future: [] };
    h = historyReducer(h, { kind: 'set', next: 1, key: 'name', at: 0 });
    h = historyReducer(h, { kind: 'set', next: 2, key: 'name', at: 500 });
    h = historyReducer(h, { kind: 'set', next: 3, key: 'other', at: 600 });
    expect(h.past).toEqual([0, 2]);
    h = historyReducer(h, { kind: 'undo' });
    expect(h.present).toBe(2);
    h = historyReducer(h, { kind: 'undo' });
    expect(h.present).toBe(0);
    h = historyReducer(h, { kind: 'undo' });
    expect(h.present).toBe(0);
    h = historyReducer(h, { kind: 'redo' });
    expect(h.present).toBe(2);
    h = historyReducer(h, { kind: 'set', next: 9 });
    expect(h.future).toEqual([]);
  });
});
