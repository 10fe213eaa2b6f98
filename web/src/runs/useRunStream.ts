import { useEffect, useReducer, useRef, useState } from 'react';
import { getAccessToken, refresh } from '../auth/session';
import { followStream } from './sse';
import { initialRunState, parseEvent, runReducer, type RunState } from './reducer';

/** useRunStream follows an execution's events until its final one, resuming after drops. */
export function useRunStream(executionId: string | undefined) {
  const [state, dispatch] = useReducer(runReducer, undefined, initialRunState);
  const [conn, setConn] = useState<'connecting' | 'live' | 'reconnecting' | 'ended' | 'error'>('connecting');
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<RunState>(state);
  ref.current = state;

  useEffect(() => {
    if (!executionId) return;
    const ctl = new AbortController();
    let lastId: string | undefined;
    void followStream({
      url: `/api/v1/executions/${encodeURIComponent(executionId)}/events`,
      token: getAccessToken,
      refresh,
      lastEventId: () => lastId,
      isFinal: () => ref.current.final,
      signal: ctl.signal,
      onState: setConn,
      onMessage: (m) => {
        if (m.id) lastId = m.id;
        const ev = parseEvent(m.data);
        if (!ev) return;
        dispatch({ kind: 'event', event: ev });
        // The reducer sees the final event on the next render; the stream's
        // own end is what stops reading.
        if (ev.type.startsWith('execution.') && ev.type !== 'execution.started') ref.current = { ...ref.current, final: true };
      },
      onError: (status, detail) => {
        if (status !== null) setConn('error');
        setError(detail);
      },
    }).then(() => {
      if (!ctl.signal.aborted && ref.current.final) setConn('ended');
    });
    return () => ctl.abort();
  }, [executionId]);

  return { state, dispatch, conn, error };
}
