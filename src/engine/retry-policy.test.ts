import { describe, expect, it } from 'vitest';
import { backoffDelayMs, decideRetry } from './retry-policy.ts';

const retry = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 10_000, maxAgeMs: 60_000 };

describe('retry policy', () => {
  it('backs off exponentially with jitter between half and the full delay, capped', () => {
    expect(backoffDelayMs(1, retry, () => 0)).toBe(500);
    expect(backoffDelayMs(1, retry, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, retry, () => 1)).toBe(4000);
    expect(backoffDelayMs(10, retry, () => 1)).toBe(10_000);
    expect(backoffDelayMs(10, retry, () => 0)).toBe(5000);
  });

  it('gives up at maxAttempts and when the next attempt would pass maxAgeMs', () => {
    const now = new Date('2026-11-24T10:00:00Z');
    expect(decideRetry(2, new Date(now.getTime() - 1000), now, retry).kind).toBe('retry');
    expect(decideRetry(5, now, now, retry)).toMatchObject({ kind: 'give_up', reason: expect.stringContaining('maxAttempts 5') });
    expect(decideRetry(2, new Date(now.getTime() - 59_900), now, retry)).toMatchObject({ kind: 'give_up', reason: expect.stringContaining('maxAgeMs') });
  });

  it('waits at least as long as the peer asked (Retry-After)', () => {
    const now = new Date();
    const decision = decideRetry(1, now, now, retry, 30_000);
    expect(decision).toEqual({ kind: 'retry', delayMs: 30_000 });
  });
});
