import createClient from 'openapi-fetch';
import type { paths } from './schema';
import { authFetch } from '../auth/session';
import { ApiError } from './problem';

/** api is the typed client for the Super Agent API, generated from api/openapi.json. */
export const api = createClient<paths>({ baseUrl: '', fetch: authFetch });

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** unwrap returns a call's data or throws its problem as an ApiError. */
export async function unwrap<T>(p: Promise<FetchResult<T>>): Promise<T> {
  const { data, error, response } = await p;
  if (!response.ok) {
    const problem = (error && typeof error === 'object' ? error : undefined) as ConstructorParameters<typeof ApiError>[1];
    throw new ApiError(response.status, problem, response.headers.get('X-Request-ID') ?? '');
  }
  return data as T;
}
