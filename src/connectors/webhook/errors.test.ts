import { describe, expect, it } from 'vitest';
import { classifyHttpStatus, classifyNetworkError } from './errors.ts';

describe('webhook error classification', () => {
  it('treats 429/5xx as transient, 503 and 429 as the peer being unavailable, and honours Retry-After', () => {
    const busy = classifyHttpStatus(429, 'slow down', '7');
    expect(busy).toMatchObject({ failureClass: 'transient', peerUnavailable: true, retryAfterMs: 7000, code: 'http_429' });
    expect(classifyHttpStatus(500, 'oops', null)).toMatchObject({ failureClass: 'transient', peerUnavailable: false });
    expect(classifyHttpStatus(503, '', null).peerUnavailable).toBe(true);
  });

  it('treats other 4xx as permanent: retrying cannot help', () => {
    expect(classifyHttpStatus(400, '{"error":"missing field qty"}', null)).toMatchObject({ failureClass: 'permanent', code: 'http_400' });
    expect(classifyHttpStatus(404, '', null).failureClass).toBe('permanent');
  });

  it('a refused connection is transient; no answer after sending is ambiguous', () => {
    const refused = classifyNetworkError(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), false);
    expect(refused).toMatchObject({ failureClass: 'transient', peerUnavailable: true });
    const reset = classifyNetworkError(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET' } }), true);
    expect(reset.failureClass).toBe('ambiguous');
  });
});
