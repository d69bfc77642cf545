/**
 * Per-connection admission: at most `maxConcurrency` round trips in flight and a token bucket of
 * `ratePerSecond` (burst `burst`). Odoo documents no rate limit but its workers are few (reference/odoo.md
 * §1.7), so a connector that floods it slows every user of the ERP.
 */
export class RoundTripLimiter {
  private readonly maxConcurrency: number;
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private inFlight = 0;
  private tokens: number;
  private refilledAt = Date.now();
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { maxConcurrency?: number; ratePerSecond?: number; burst?: number } = {}) {
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 4);
    this.ratePerSecond = options.ratePerSecond ?? Number.POSITIVE_INFINITY;
    this.burst = Math.max(1, options.burst ?? (Number.isFinite(this.ratePerSecond) ? Math.ceil(this.ratePerSecond) : 1));
    this.tokens = this.burst;
  }

  /** `signal` aborted while waiting for a slot: rejects with its reason and the work never starts. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const admit = () => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        const index = this.waiting.indexOf(admit);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(admit);
      this.pump();
    });
    try {
      return await work();
    } finally {
      this.inFlight -= 1;
      this.pump();
    }
  }

  private refill(): void {
    if (!Number.isFinite(this.ratePerSecond)) return;
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
  }

  private pump(): void {
    this.refill();
    while (this.waiting.length > 0 && this.inFlight < this.maxConcurrency) {
      if (Number.isFinite(this.ratePerSecond)) {
        if (this.tokens < 1) {
          if (!this.timer) {
            const waitMs = Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
            this.timer = setTimeout(() => {
              this.timer = undefined;
              this.pump();
            }, waitMs);
          }
          return;
        }
        this.tokens -= 1;
      }
      this.inFlight += 1;
      this.waiting.shift()!();
    }
  }
}
