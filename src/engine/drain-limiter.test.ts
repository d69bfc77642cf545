import { describe, expect, it } from 'vitest';
import { DrainLimiter } from './drain-limiter.ts';

describe('drain limiter', () => {
  it('paces a recovered endpoint at the configured rate inside the window, and not after it', () => {
    let now = 10_000;
    const limiter = new DrainLimiter(() => now);
    const closedAt = new Date(9_000);
    const allowed = () => [0, 1, 2, 3, 4].map(() => limiter.take('odoo', closedAt, 2, 60_000)).filter((wait) => wait === 0).length;
    expect(allowed()).toBe(1); // a bucket starts with one token
    now += 1000;
    expect(allowed()).toBe(2); // 2 per second
    expect(limiter.take('odoo', closedAt, 2, 60_000)).toBeGreaterThan(0);
    now = 9_000 + 60_001;
    expect(allowed()).toBe(5); // window over: no pacing
  });

  it('does not pace an endpoint that never failed', () => {
    const limiter = new DrainLimiter(() => 0);
    expect(limiter.take('fresh', null, 1, 60_000)).toBe(0);
  });
});
