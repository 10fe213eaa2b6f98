// Server-Sent Events read with fetch: EventSource cannot send an
// Authorization header, and a token never goes in a URL.

export interface SSEMessage {
  id?: string;
  event: string;
  data: string;
}

/** parseSSE splits a chunked text stream into messages (WHATWG event-stream rules, minus retry). */
export class SSEParser {
  private buf = '';
  private id: string | undefined;
  private event = '';
  private data: string[] = [];

  push(chunk: string): SSEMessage[] {
    this.buf += chunk;
    const out: SSEMessage[] = [];
    let nl: number;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      const sep = this.buf.startsWith('\r\n', nl) ? 2 : 1;
      this.buf = this.buf.slice(nl + sep);
      if (line === '') {
        if (this.data.length) out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
        this.id = undefined;
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

export interface StreamOptions {
  url: string;
  token: () => string | null;
  /** Called before a reconnect when the token may have expired. */
  refresh: () => Promise<boolean>;
  lastEventId: () => string | undefined;
  onMessage: (m: SSEMessage) => void;
  /** Whether the final event has arrived: a stream that closes before it is resumed. */
  isFinal: () => boolean;
  onError: (status: number | null, detail: string) => void;
  /** Connection state for the screen (live, reconnecting). */
  onState?: (s: 'connecting' | 'live' | 'reconnecting') => void;
  signal: AbortSignal;
}

/**
 * followStream reads an SSE endpoint and reconnects after a dropped
 * connection with Last-Event-ID, backing off up to 10 s. A 4xx ends it.
 */
export async function followStream(o: StreamOptions): Promise<void> {
  let delay = 500;
  let first = true;
  while (!o.signal.aborted) {
    o.onState?.(first ? 'connecting' : 'reconnecting');
    first = false;
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      const tok = o.token();
      if (tok) headers.Authorization = `Bearer ${tok}`;
      const last = o.lastEventId();
      if (last) headers['Last-Event-ID'] = last;
      const res = await fetch(o.url, { headers, signal: o.signal, cache: 'no-store' });
      if (res.status === 401 && (await o.refresh())) continue;
      if (!res.ok || !res.body) {
        let detail = res.statusText;
        try {
          const p = (await res.json()) as { detail?: string };
          detail = p.detail ?? detail;
        } catch {
          // not a problem body
        }
        if (res.status >= 400 && res.status < 500) {
          o.onError(res.status, detail);
          return;
        }
        throw new Error(detail);
      }
      o.onState?.('live');
      delay = 500;
      const parser = new SSEParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const m of parser.push(value)) o.onMessage(m);
      }
      if (o.isFinal()) return;
    } catch (err) {
      if (o.signal.aborted) return;
      o.onError(null, err instanceof Error ? err.message : String(err));
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}
