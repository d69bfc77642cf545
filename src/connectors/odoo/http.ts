import { CarelaneError } from '../../contracts/errors.ts';
import { classifyAbort, classifyHttpFailure, classifyTransportFailure } from './errors.ts';

export interface HttpAnswer {
  status: number;
  text: string;
  headers: Headers;
}

/**
 * One HTTP exchange with Odoo under a deadline. A failure to connect is transient; a timeout or reset once the
 * request may have left is ambiguous (the call may have committed: JSON-2 and RPC calls each run in their own
 * transaction, reference/odoo.md §1.4, §1.6).
 */
export async function exchange(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  options: { timeoutMs: number; signal?: AbortSignal | undefined; where: string },
): Promise<HttpAnswer> {
  const caller = options.signal;
  if (caller?.aborted) throw classifyAbort(caller.reason, false, options.where);
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = caller ? AbortSignal.any([caller, deadline]) : deadline;
  // The caller's abort is told apart from our own deadline: only the deadline says something about Odoo.
  const failure = (error: unknown) => (caller?.aborted ? classifyAbort(caller.reason, true, options.where) : classifyTransportFailure(error, true, options.where));
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal });
  } catch (error) {
    throw failure(error);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw failure(error);
  }
  return { status: response.status, text, headers: response.headers };
}

/** A 5xx/429 from a proxy, or an Odoo status the transport does not itself interpret. */
export function httpFailure(answer: HttpAnswer, where: string): Error {
  return classifyHttpFailure(answer.status, answer.text, where, answer.headers.get('retry-after'));
}

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // A proxy's HTML page instead of Odoo's API: whoever answered is not Odoo, so retry later.
    throw new CarelaneError('transient', `Odoo ${where}: answer is not JSON: ${text.slice(0, 80)}`, { code: 'odoo_bad_response', peerUnavailable: true, cause: error });
  }
}
