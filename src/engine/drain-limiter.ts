/**
 * Paces an endpoint that has just recovered, so the backlog built up while it was down reaches it at a
 * controlled rate instead of all at once. A token bucket per endpoint, per process.
 */
export class DrainLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Returns 0 if the delivery may go now, else the milliseconds to wait before trying again. */
  take(endpoint: string, closedAt: Date | null, ratePerSecond: number, windowMs: number): number {
    const now = this.now();
    if (!closedAt || now - closedAt.getTime() > windowMs) {
      this.buckets.delete(endpoint);
      return 0;
    }
    const bucket = this.buckets.get(endpoint) ?? { tokens: 1, at: now };
    bucket.tokens = Math.min(Math.max(1, ratePerSecond), bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    this.buckets.set(endpoint, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / ratePerSecond) * 1000);
  }
}
