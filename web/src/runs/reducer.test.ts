import { describe, expect, it } from 'vitest';
import { initialRunState, runReducer, type RunEvent, type RunState } from './reducer';

const run = (events: RunEvent[], s: RunState = initialRunState()) =>
  events.reduce((acc, event) => runReducer(acc, { kind: 'event', event }), s);

const twoNodes: RunEvent[] = [
  { type: 'execution.started', seq: 1, data: {} },
  { type: 'step.started', seq: 2, node_id: 'shout', data: { attempt: 1 } },
  { type: 'step.completed', seq: 3, node_id: 'shout', data: { attempt: 1, tokens_in: 0, tokens_out: 0, cost_usd: 0, output: 'ADA' } },
  { type: 'step.started', seq: 4, node_id: 'greet', data: { attempt: 1 } },
  { type: 'step.delta', node_id: 'greet', data: { text: 'Hello ' } },
  { type: 'step.delta', node_id: 'greet', data: { text: 'ADA' } },
  { type: 'step.completed', seq: 5, node_id: 'greet', data: { attempt: 1, tokens_in: 7, tokens_out: 2, cost_usd: 0.5, model: 'mock:echo', output: 'Hello ADA' } },
  { type: 'execution.completed', seq: 6, data: { status: 'succeeded', tokens_in: 7, tokens_out: 2, cost_usd: 0.5, output: 'Hello ADA' } },
];

describe('runReducer', () => {
  it('follows a run in order to its end', () => {
    const s = run(twoNodes);
    expect(s.status).toBe('succeeded');
    expect(s.final).toBe(true);
    expect(s.nodes.shout?.state).toBe('completed');
    expect(s.nodes.greet).toMatchObject({ state: 'completed', text: 'Hello ADA', model: 'mock:echo', tokensIn: 7, tokensOut: 2 });
    expect(s.tokensIn).toBe(7);
    expect(s.costUsd).toBe(0.5);
    expect(s.lastSeq).toBe(6);
  });

  it('shows streamed text while a step runs', () => {
    const s = run(twoNodes.slice(0, 6));
    expect(s.nodes.greet).toMatchObject({ state: 'running', text: 'Hello ADA' });
    expect(s.status).toBe('running');
  });

  it('applies no stored event twice when a resumed stream replays it', () => {
    // Dropped after seq 4; the server replays from Last-Event-ID, but a
    // proxy may resend what it buffered: seq 3 and 4 again.
    const before = run(twoNodes.slice(0, 5));
    const resumed = run(
      [
        twoNodes[2]!,
        twoNodes[3]!,
        { type: 'step.delta', node_id: 'greet', data: { text: 'Hello ', replay: true } },
        { type: 'step.delta', node_id: 'greet', data: { text: 'ADA' } },
        ...twoNodes.slice(6),
      ],
      before,
    );
    expect(resumed).toEqual(run(twoNodes));
    expect(resumed.applied).toBe(6);
    expect(resumed.tokensIn).toBe(7); // not 14: the completion counted once
  });

  it('replaces streamed text with a replay instead of appending it', () => {
    const s = run([
      { type: 'step.started', seq: 1, node_id: 'a', data: {} },
      { type: 'step.delta', node_id: 'a', data: { text: 'Hel' } },
      { type: 'step.delta', node_id: 'a', data: { text: 'Hello wor', replay: true } },
      { type: 'step.delta', node_id: 'a', data: { text: 'ld' } },
    ]);
    expect(s.nodes.a?.text).toBe('Hello world');
  });

  it('ignores an older event arriving after a newer one', () => {
    const s = run([
      { type: 'step.started', seq: 2, node_id: 'a', data: {} },
      { type: 'step.completed', seq: 3, node_id: 'a', data: { tokens_in: 1 } },
      { type: 'step.started', seq: 2, node_id: 'a', data: {} },
    ]);
    expect(s.nodes.a?.state).toBe('completed');
  });

  it('marks retries, failures, skips and cancellation', () => {
    const s = run([
      { type: 'step.started', seq: 1, node_id: 'a', data: { attempt: 1 } },
      { type: 'step.retrying', seq: 2, node_id: 'a', data: { attempt: 1, error: 'timeout', retry_in_ms: 200 } },
      { type: 'step.started', seq: 3, node_id: 'b', data: { attempt: 1 } },
      { type: 'step.skipped', seq: 4, node_id: 'c' },
      { type: 'execution.cancelled', seq: 5, data: { status: 'cancelled' } },
    ]);
    expect(s.nodes.a).toMatchObject({ state: 'cancelled', error: 'timeout' });
    expect(s.nodes.b?.state).toBe('cancelled');
    expect(s.nodes.c?.state).toBe('skipped');
    expect(s.status).toBe('cancelled');

    const f = run([
      { type: 'step.started', seq: 1, node_id: 'a', data: { attempt: 3 } },
      { type: 'step.failed', seq: 2, node_id: 'a', data: { attempt: 3, error: 'boom' } },
      { type: 'execution.failed', seq: 3, data: { status: 'failed', error: 'agent "a" failed: boom' } },
    ]);
    expect(f.nodes.a).toMatchObject({ state: 'failed', attempt: 3, error: 'boom' });
    expect(f.error).toContain('boom');
  });

  it('seeds nodes from the execution without undoing events', () => {
    let s = run(twoNodes.slice(0, 3));
    s = runReducer(s, {
      kind: 'seed',
      status: 'pending',
      steps: [
        { node_id: 'shout', status: 'queued' },
        { node_id: 'greet', status: 'waiting' },
      ],
    });
    expect(s.nodes.shout?.state).toBe('completed');
    expect(s.nodes.greet?.state).toBe('waiting');
    expect(s.status).toBe('running');
  });
});
