import { describe, expect, it } from 'vitest';
import { SSEParser } from './sse';

describe('SSEParser', () => {
  it('splits messages across arbitrary chunk boundaries', () => {
    const text = 'id: 1\nevent: step.started\ndata: {"a":1}\n\n: keep-alive\n\nevent: step.delta\ndata: {"t":"x"}\r\n\r\nid: 2\ndata: l1\ndata: l2\n\n';
    for (let cut = 1; cut < text.length; cut += 7) {
      const p = new SSEParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(got).toEqual([
        { id: '1', event: 'step.started', data: '{"a":1}' },
        { id: undefined, event: 'step.delta', data: '{"t":"x"}' },
        { id: '2', event: 'message', data: 'l1\nl2' },
      ]);
    }
  });

  it('holds an unfinished message until its blank line', () => {
    const p = new SSEParser();
    expect(p.push('id: 5\ndata: {}\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ id: '5', event: 'message', data: '{}' }]);
  });
});
