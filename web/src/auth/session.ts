// The signed-in session: the access token lives in this module's memory
// only (never in storage, never in a URL). The refresh token is an HttpOnly
// cookie scripts cannot read; refresh() trades it for a new access token,
// which is how a reload stays signed in.

import { ApiError, toApiError } from '../api/problem';

/** Header the API asks of cookie-mode requests (its CSRF defence, with the Origin check). */
export const CSRF_HEADER = 'X-Requested-With';
export const CSRF_VALUE = 'superagent-web';

export interface TokenAnswer {
  access_token: string;
  expires_in: number;
}

type Listener = (signedIn: boolean) => void;

let accessToken: string | null = null;
// A hint (not a secret) that this browser has a login to resume, so a
// first visit does not ask the API for a refresh it cannot have.
const HINT = 'superagent.signed-in';
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inFlight: Promise<boolean> | null = null;
const listeners = new Set<Listener>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

function notify() {
  for (const l of listeners) l(accessToken !== null);
}

/** setSession keeps a new access token and schedules its renewal a minute before it expires. */
export function setSession(t: TokenAnswer) {
  accessToken = t.access_token;
  localStorage.setItem(HINT, '1');
  clearTimeout(refreshTimer);
  const ms = Math.max(10_000, (t.expires_in - 60) * 1000);
  refreshTimer = setTimeout(() => void refresh(), ms);
  notify();
}

export function clearSession() {
  accessToken = null;
  localStorage.removeItem(HINT);
  clearTimeout(refreshTimer);
  notify();
}

/** cookieModeHeaders ask the API to set (or read) the refresh token as an HttpOnly cookie. */
export function cookieModeHeaders(): Record<string, string> {
  return { [CSRF_HEADER]: CSRF_VALUE };
}

/**
 * refresh trades the refresh cookie for a new access token. Concurrent
 * callers share one request (a refresh token works once). Resolves false
 * when there is no valid login to continue.
 */
export function mayResume(): boolean {
  return localStorage.getItem(HINT) === '1';
}

export function refresh(): Promise<boolean> {
  if (inFlight) return inFlight;
  inFlight = (async () => {
    try {
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', ...cookieModeHeaders() },
        body: '{}',
      });
      if (!res.ok) {
        clearSession();
        return false;
      }
      setSession((await res.json()) as TokenAnswer);
      return true;
    } catch {
      return false;
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}

/** logout ends the login on the server (which clears the cookie) and forgets the token. */
export async function logout(): Promise<void> {
  const token = accessToken;
  clearSession();
  if (!token) return;
  try {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Authorization: `Bearer ${token}`, ...cookieModeHeaders() },
    });
  } catch {
    // The token is already forgotten here; the server's copy expires on its own.
  }
}

/**
 * authFetch sends a request with the access token; on a 401 it refreshes
 * once and repeats the request, so an expired token never reaches a screen.
 */
export async function authFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const send = (req: Request) => {
    const headers = new Headers(req.headers);
    if (accessToken) headers.set('Authorization', `Bearer ${accessToken}`);
    return fetch(new Request(req, { headers, credentials: 'same-origin' }));
  };
  const res = await send(input);
  if (res.status !== 401 || !accessToken) return res;
  if (!(await refresh())) return res;
  return send(retry);
}

/** postJSON is for the public sign-in endpoints, which take no token. */
export async function postJSON<T>(path: string, body: unknown, cookieMode = false): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', ...(cookieMode ? cookieModeHeaders() : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export { ApiError };
