// Undo and redo over whole drafts. Typing into a field replaces the
// present without a new step when it continues the same edit (same key
// within a second), so one word is one undo, not one per letter.

export interface History<T> {
  past: T[];
  present: T;
  future: T[];
  lastKey?: string;
  lastAt?: number;
}

export type HistoryAction<T> =
  | { kind: 'set'; next: T; key?: string; at?: number }
  | { kind: 'undo' }
  | { kind: 'redo' }
  | { kind: 'reset'; present: T };

const LIMIT = 100;

export function historyReducer<T>(h: History<T>, a: HistoryAction<T>): History<T> {
  switch (a.kind) {
    case 'set': {
      if (a.next === h.present) return h;
      const at = a.at ?? Date.now();
      if (a.key && a.key === h.lastKey && h.lastAt !== undefined && at - h.lastAt < 1000) {
        return { ...h, present: a.next, future: [], lastAt: at };
      }
      return { past: [...h.past, h.present].slice(-LIMIT), present: a.next, future: [], lastKey: a.key, lastAt: at };
    }
    case 'undo': {
      const prev = h.past[h.past.length - 1];
      if (prev === undefined) return h;
      return { past: h.past.slice(0, -1), present: prev, future: [h.present, ...h.future] };
    }
    case 'redo': {
      const [next, ...rest] = h.future;
      if (next === undefined) return h;
      return { past: [...h.past, h.present], present: next, future: rest };
    }
    case 'reset':
      return { past: [], present: a.present, future: [] };
  }
}
