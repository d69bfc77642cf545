import type { InboundMessage, InboundSink } from '../contracts/inbound.ts';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { RouteConfig } from '../config/index.ts';
import { insertInbound, notifyLanes, recordAcknowledgments, type InsertOutcome, type StoredInbound } from '../store/messages.ts';
import { inTransaction } from '../store/database.ts';
import type { Metrics } from '../observability/metrics.ts';
import { metricMessageType } from '../observability/metrics.ts';
import { findRoute } from './router.ts';
import type { SettlementHook } from './handlers.ts';

export type { InboundMessage };

export interface IngestOptions {
  /**
   * Called for a message no route takes, in the transaction that stores it (status 'unrouted'): nothing will
   * process it, so this is when it settles (the HL7 v2 application reject is enqueued here).
   */
  onSettled?: SettlementHook;
  /** the lane given to what onSettled enqueues for an unrouted message (it has no lane of its own) */
  unroutedLane?: string;
}

export type IngestResult = InsertOutcome;

interface PendingWrite {
  message: StoredInbound;
  resolve: (outcome: InsertOutcome) => void;
  reject: (error: unknown) => void;
}

// Two writes in flight keep the database busy while the next batch gathers; batches stay small enough that
// one slow write delays few acknowledgments.
const MAX_WRITES_IN_FLIGHT = 2;
const MAX_BATCH = 64;

/**
 * The front door of the engine: persists every inbound message (with its first processing step) before
 * the caller acknowledges it (DESIGN.md principle 1), and recognises duplicates.
 */
export class Ingest implements InboundSink {
  private readonly pool: pg.Pool;
  private readonly routes: RouteConfig[];
  private readonly metrics: Metrics | undefined;
  private acknowledged: Array<{ messageId: number; at: Date }> = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lanesToWake = new Set<string>();
  private waiting: PendingWrite[] = [];
  private writesInFlight = 0;
  private wakeTimer: NodeJS.Timeout | undefined;

  private localWake: ((lane: string) => void) | undefined;

  private readonly onSettled: SettlementHook | undefined;
  private readonly unroutedLane: string;

  constructor(pool: pg.Pool, routes: RouteConfig[], metrics?: Metrics, options: IngestOptions = {}) {
    this.pool = pool;
    this.routes = routes;
    this.metrics = metrics;
    this.onSettled = options.onSettled;
    this.unroutedLane = options.unroutedLane ?? 'standard';
  }

  async accept(message: InboundMessage): Promise<IngestResult> {
    const contentHash = createHash('sha256').update(message.payload).digest('hex');
    const externalId = message.externalId?.trim() || null;
    const rejected = message.rejectedReason !== undefined;
    const route = rejected ? undefined : findRoute(this.routes, message.source, message.messageType);
    const stored: StoredInbound = {
      source: message.source,
      messageType: message.messageType,
      externalId,
      // A rejected input is never deduplicated by its id: its id may be garbage, and each bad copy is evidence.
      dedupeKey: externalId && !rejected ? `id:${message.dedupeScope ? `${message.dedupeScope}|` : ''}${externalId}` : `sha256:${contentHash}`,
      contentHash,
      correlationId: message.correlationId,
      status: rejected ? 'rejected' : 'received',
      statusReason: message.rejectedReason ?? (route ? null : 'no route matches this source and type'),
      contentType: message.contentType,
      payload: message.payload,
      payloadSize: message.payload.length,
      payloadTruncated: message.truncated ?? false,
      ackPayload: message.ackPayload ?? null,
      route: route ? { ...route, orderingKey: message.orderingKey === undefined ? message.source : message.orderingKey } : null,
    };
    const result = route || rejected || !this.onSettled ? await this.store(stored) : await this.storeUnrouted(stored, this.onSettled);
    if (route && !result.duplicate) this.wake(route.lane);
    const outcome = result.duplicate ? 'duplicate' : rejected ? 'rejected' : 'accepted';
    this.metrics?.messagesReceived.inc({ source: message.source, type: metricMessageType(message.messageType), outcome });
    return result;
  }

  /**
   * Group commit: messages arriving while a write is in flight are stored together by the next write, one
   * statement and one commit for all of them. Each caller still gets its answer only after its own message
   * is committed, so persist-before-acknowledge holds per message; with one sender there is no waiting at all.
   */
  private store(message: StoredInbound): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ message, resolve, reject });
      this.writeNext();
    });
  }

  /**
   * A message no route takes is stored on its own, in one transaction with what settling it enqueues (an HL7 v2
   * application reject): both are committed before the sender is acknowledged, or neither is. Such messages are
   * rare (a sender or type nobody configured), so they leave group commit.
   */
  private async storeUnrouted(message: StoredInbound, onSettled: SettlementHook): Promise<InsertOutcome> {
    const lane = this.unroutedLane;
    return inTransaction(this.pool, async (tx) => {
      const [outcome] = await insertInbound(tx, [message]);
      if (!outcome!.duplicate) {
        await onSettled(tx, { messageId: outcome!.messageId, messageType: message.messageType, contentType: message.contentType, status: 'unrouted', lane, correlationId: outcome!.correlationId });
      }
      return outcome!;
    });
  }

  private writeNext(): void {
    while (this.writesInFlight < MAX_WRITES_IN_FLIGHT && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.writesInFlight++;
      void this.write(batch).finally(() => {
        this.writesInFlight--;
        this.writeNext();
      });
    }
  }

  private async write(batch: PendingWrite[]): Promise<void> {
    try {
      const outcomes = await insertInbound(this.pool, batch.map((w) => w.message));
      batch.forEach((w, i) => w.resolve(outcomes[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One bad message must not fail the others: store each on its own to find it.
      for (const w of batch) await insertInbound(this.pool, [w.message]).then(([outcome]) => w.resolve(outcome!), w.reject);
    }
  }

  /** The engine of this process, woken at once for new work; other processes hear a NOTIFY (see wake). */
  setLocalWake(wake: (lane: string) => void): void {
    this.localWake = wake;
  }

  /**
   * Wakes the lane's workers: this process's at once (no round trip), other processes' through one NOTIFY a
   * little later for many messages. A NOTIFY is a transaction of its own whose commit PostgreSQL serialises, so
   * one per message would cost the front door as much as the message itself. If a wake-up is lost (crash,
   * connection drop) the workers' poll finds the work anyway.
   */
  private wake(lane: string): void {
    this.localWake?.(lane);
    this.lanesToWake.add(lane);
    this.wakeTimer ??= setTimeout(() => {
      this.wakeTimer = undefined;
      const lanes = [...this.lanesToWake];
      this.lanesToWake.clear();
      notifyLanes(this.pool, lanes).catch(() => {});
    }, 25);
  }

  /** Notes that the sender has been answered; written in batches, never delaying the next ACK. */
  acknowledge(messageId: number): void {
    this.acknowledged.push({ messageId, at: new Date() });
    this.timer ??= setTimeout(() => void this.flush(), 50);
  }

  async flush(): Promise<void> {
    if (this.wakeTimer) {
      clearTimeout(this.wakeTimer);
      this.wakeTimer = undefined;
      await notifyLanes(this.pool, [...this.lanesToWake]).catch(() => {});
      this.lanesToWake.clear();
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const ids = this.acknowledged;
    this.acknowledged = [];
    this.flushing = recordAcknowledgments(this.pool, ids).catch(() => {
      // Only a timestamp is lost; the message itself is stored and processed.
    });
    await this.flushing;
  }
}
