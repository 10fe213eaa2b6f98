import type { components } from './schema';

export type Problem = components['schemas']['Problem'];
export type ProblemField = components['schemas']['ProblemField'];

/** ApiError is a failed API answer: its RFC 9457 problem, status and request id. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly requestId: string;

  constructor(status: number, problem: Partial<Problem> | undefined, requestId: string) {
    // The OAuth endpoints answer RFC 6749 errors ({error, error_description}).
    const oauth = problem as { error?: string; error_description?: string } | undefined;
    const p: Problem = {
      title: problem?.title || oauth?.error || `HTTP ${status}`,
      status,
      ...problem,
    } as Problem;
    if (!p.detail && oauth?.error_description) p.detail = oauth.error_description;
    if (!p.code && typeof oauth?.error === 'string') p.code = oauth.error;
    super(p.detail || p.title);
    this.name = 'ApiError';
    this.status = status;
    this.problem = p;
    this.requestId = p.request_id || requestId;
  }

  /** body is the raw answer, for fields outside the problem schema (mfa_token). */
  get body(): Record<string, unknown> {
    return this.problem as unknown as Record<string, unknown>;
  }

  get fields(): ProblemField[] {
    return this.problem.errors ?? [];
  }
}

/** toApiError turns a failed fetch answer into an ApiError, reading its problem body when there is one. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: Partial<Problem> | undefined;
  try {
    const text = await res.text();
    body = text ? (JSON.parse(text) as Partial<Problem>) : undefined;
  } catch {
    body = undefined;
  }
  return new ApiError(res.status, body, res.headers.get('X-Request-ID') ?? '');
}

/** describeError gives a readable message for anything a query or mutation threw. */
export function describeError(err: unknown): { message: string; requestId?: string; status?: number } {
  if (err instanceof ApiError) {
    return { message: err.message, requestId: err.requestId || undefined, status: err.status };
  }
  if (err instanceof Error) return { message: err.message };
  return { message: String(err) };
}
