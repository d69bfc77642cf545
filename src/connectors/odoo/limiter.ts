import { STANDARD_PRIORITY, workPriority } from '../../observability/work-priority.ts';

interface Waiter {
  admit: () => void;
  priority: number;
  seq: number;
  since: number;
}

/** Longest a background call waits for urgent calls to finish before it is let in beside them. */
const BACKGROUND_MAX_WAIT_MS = 2_000;

/**
 * Per-connection admission: at most `maxConcurrency` round trips in flight and a token bucket of
 * `ratePerSecond` (burst `burst`). Odoo documents no rate limit but its workers are few (reference/odoo.md
 * §1.7), so a connector that floods it slows every user of the ERP.
 *
 * Lanes share the connection but not equally (DESIGN.md "Lanes": a bulk flood must not slow the critical
 * lane): waiting calls are admitted by the priority of the work they belong to (workPriority(): the lane of
 * the running delivery), first come first served within a priority. Background work (below standard: the bulk
 * lane) runs in the gaps — not while urgent calls are in flight, unless it has waited BACKGROUND_MAX_WAIT_MS —
 * and never holds the last `reservedForUrgent` slots, so a reservation finds one free even while a master-data
 * sync keeps every other slot busy.
 */
export class RoundTripLimiter {
  private readonly maxConcurrency: number;
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private inFlight = 0;
  private urgentInFlight = 0;
  private tokens: number;
  private refilledAt = Date.now();
  private readonly reservedForUrgent: number;
  private readonly waiting: Waiter[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { maxConcurrency?: number; ratePerSecond?: number; burst?: number; reservedForUrgent?: number } = {}) {
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 4);
    this.reservedForUrgent = Math.min(this.maxConcurrency - 1, Math.max(0, options.reservedForUrgent ?? Math.max(1, Math.floor(this.maxConcurrency / 4))));
    this.ratePerSecond = options.ratePerSecond ?? Number.POSITIVE_INFINITY;
    this.burst = Math.max(1, options.burst ?? (Number.isFinite(this.ratePerSecond) ? Math.ceil(this.ratePerSecond) : 1));
    this.tokens = this.burst;
  }

  /** `signal` aborted while waiting for a slot: rejects with its reason and the work never starts. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal, priority: number = workPriority()): Promise<T> {
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const waiter: Waiter = {
        admit: () => {
          signal?.removeEventListener('abort', leave);
          resolve();
        },
        priority,
        seq: this.seq++,
        since: Date.now(),
      };
      const leave = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(waiter);
      this.pump();
    });
    const urgent = priority >= STANDARD_PRIORITY;
    try {
      return await work();
    } finally {
      this.inFlight -= 1;
      if (urgent) this.urgentInFlight -= 1;
      this.pump();
    }
  }

  private refill(): void {
    if (!Number.isFinite(this.ratePerSecond)) return;
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
  }

  /** The most urgent waiting call (the earliest among equals), or undefined when none may start now. */
  private next(): Waiter | undefined {
    let best: Waiter | undefined;
    for (const waiter of this.waiting) {
      if (!best || waiter.priority > best.priority || (waiter.priority === best.priority && waiter.seq < best.seq)) best = waiter;
    }
    if (!best) return undefined;
    if (best.priority >= STANDARD_PRIORITY) return this.inFlight < this.maxConcurrency ? best : undefined;
    // Background work runs in the gaps: not beside urgent calls (they share the peer's workers and CPU), unless
    // it has waited so long that it would starve.
    const starving = Date.now() - best.since > BACKGROUND_MAX_WAIT_MS;
    if (this.urgentInFlight > 0 && !starving) return undefined;
    return this.inFlight < this.maxConcurrency - this.reservedForUrgent ? best : undefined;
  }

  private pump(): void {
    this.refill();
    for (let waiter = this.next(); waiter; waiter = this.next()) {
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
      // counted at admission, not when the caller resumes, so a call admitted in the same turn sees it
      if (waiter.priority >= STANDARD_PRIORITY) this.urgentInFlight += 1;
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      waiter.admit();
    }
  }
}
