import type pg from 'pg';
import { inTransaction } from '../../store/database.ts';
import type { BusEvent, EventBus } from './bus.ts';
import { claimUnpublished, markPublished, recordPublishFailure, tryRelayLock, type OutboxRow } from './outbox.ts';

export interface OutboxRelayOptions {
  pool: pg.Pool;
  bus: EventBus;
  /**
   * Prefix of the broker message id (`<namespace>:<outbox id>`). Outbox ids are unique per database only: two
   * installations publishing to one broker need different namespaces, or the broker would drop one's events as
   * duplicates of the other's.
   */
  namespace?: string;
  batchSize?: number;
  /** how often an idle relay looks for new events */
  pollMs?: number;
  /** wait after a failed publish, doubled per consecutive failure up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  onError?: (error: unknown) => void;
}

export interface RelayPass {
  published: number;
  duplicates: number;
  /** false when another relay holds the publishing lock */
  leader: boolean;
}

/**
 * Moves committed events from carelane.event_outbox to the broker, at least once, in id order.
 *
 * One pass, in one transaction: take the relay lock, lock a batch, publish it and wait for the broker's
 * confirms, stamp it published, commit. A crash (or a lost connection) after the publish and before the commit
 * leaves the rows unpublished, so the next pass publishes them again with the same message ids: JetStream drops
 * the copy inside its duplicate window, and consumers deduplicate on the id (the engine's Ingest does).
 */
export class OutboxRelay {
  private readonly options: Required<Omit<OutboxRelayOptions, 'onError'>> & Pick<OutboxRelayOptions, 'onError'>;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(options: OutboxRelayOptions) {
    this.options = { namespace: 'carelane', batchSize: 256, pollMs: 200, backoffMs: 500, maxBackoffMs: 30_000, ...options };
  }

  toBusEvent(row: OutboxRow): BusEvent {
    return {
      id: `${this.options.namespace}:${row.id}`,
      topic: row.topic,
      key: row.key,
      payload: row.payload,
      headers: row.headers,
      correlationId: row.correlationId,
      createdAt: row.createdAt,
    };
  }

  /** Publishes one batch. Throws if the broker did not confirm it; the rows then stay unpublished. */
  async relayOnce(): Promise<RelayPass> {
    let claimed: OutboxRow[] = [];
    try {
      return await inTransaction(this.options.pool, async (tx) => {
        if (!(await tryRelayLock(tx))) return { published: 0, duplicates: 0, leader: false };
        claimed = await claimUnpublished(tx, this.options.batchSize);
        if (claimed.length === 0) return { published: 0, duplicates: 0, leader: true };
        const receipts = await this.options.bus.publish(claimed.map((row) => this.toBusEvent(row)));
        await markPublished(tx, claimed.map((row) => row.id));
        return { published: claimed.length, duplicates: receipts.filter((r) => r.duplicate).length, leader: true };
      });
    } catch (error) {
      await recordPublishFailure(this.options.pool, claimed.map((row) => row.id), error instanceof Error ? error.message : String(error)).catch(() => {});
      throw error;
    }
  }

  /** Publishes until the outbox is empty; returns how many events were published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const pass = await this.relayOnce();
      total += pass.published;
      if (pass.published < this.options.batchSize) return total;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Lets the relay publish now instead of at its next poll (e.g. after a commit that appended events). */
  poke(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let waitMs = this.options.pollMs;
      try {
        const pass = await this.relayOnce();
        failures = 0;
        if (pass.published === this.options.batchSize) waitMs = 0; // more is waiting
      } catch (error) {
        failures++;
        this.options.onError?.(error);
        waitMs = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (failures - 1));
      }
      if (waitMs > 0 && this.running) await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
