import type pg from 'pg';
import { markManyDone } from '../store/queue.ts';

/**
 * Deliveries that finish with nothing to write but their own completion are marked done together, in one
 * statement per tick: at high rates this, not the claim, is what a queue's throughput depends on.
 * Each caller still learns whether its own delivery was still held by this node.
 */
export class CompletionBatcher {
  private waiting: Array<{ id: number; resolve: (held: boolean) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private readonly pool: pg.Pool;
  private readonly node: string;
  private readonly maxBatch: number;

  constructor(pool: pg.Pool, node: string, maxBatch = 200) {
    this.pool = pool;
    this.node = node;
    this.maxBatch = maxBatch;
  }

  complete(id: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, resolve, reject });
      if (this.waiting.length >= this.maxBatch) void this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    try {
      const held = new Set(await markManyDone(this.pool, batch.map((w) => w.id), this.node));
      for (const w of batch) w.resolve(held.has(w.id));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
