import { CarelaneError } from '../../contracts/errors.ts';

// How an HTTP peer's answer maps to the engine's failure classes (DESIGN.md principle 3), following
// RFC 9110: 408/429/5xx may succeed later; other 4xx will not; no answer after the request left is ambiguous.

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export function classifyHttpStatus(status: number, body: string, retryAfter: string | null): CarelaneError {
  const excerpt = body.slice(0, 300);
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (RETRYABLE_STATUS.has(status) || status >= 500) {
    return new CarelaneError('transient', `peer answered HTTP ${status}: ${excerpt}`, {
      code: `http_${status}`,
      peerUnavailable: status === 429 || status === 502 || status === 503 || status === 504,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  return new CarelaneError('permanent', `peer refused the request with HTTP ${status}: ${excerpt}`, { code: `http_${status}` });
}

export function classifyNetworkError(error: unknown, requestSent: boolean): CarelaneError {
  const cause = (error as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code ?? (error as Error).name;
  const refusedBeforeSending = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(code ?? '');
  if (refusedBeforeSending || !requestSent) {
    return new CarelaneError('transient', `peer unreachable (${code})`, { code: 'peer_unavailable', peerUnavailable: true, cause: error });
  }
  return new CarelaneError('ambiguous', `no answer after the request was sent (${code}); it may have been applied`, {
    code: 'no_response',
    peerUnavailable: true,
    cause: error,
  });
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
