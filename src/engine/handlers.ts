import type pg from 'pg';
import type { ClaimedDelivery, NewDelivery } from '../store/queue.ts';
import type { Logger } from '../observability/logger.ts';

export type { ClaimedDelivery, NewDelivery };

export interface HandlerContext {
  pool: pg.Pool;
  log: Logger;
  /** aborted when the attempt times out or the engine stops: pass it to fetch and sockets */
  signal: AbortSignal;
}

export interface StageRecord {
  stage: string;
  outcome?: 'ok' | 'error' | 'skipped';
  detail?: unknown;
}

export interface HandlerResult {
  /** follow-up work, enqueued in the same transaction that marks this delivery done */
  next?: NewDelivery[];
  /** stages written on the delivery's message in that transaction */
  stages?: StageRecord[];
  /** more database work that must commit together with the completion */
  inTransaction?: (client: pg.PoolClient) => Promise<void>;
}

/**
 * Performs one kind of effect. `run` throws a CarelaneError to say how it failed; anything else thrown is
 * treated as permanent. `lookup` answers, after an ambiguous attempt (timeout after send, crash mid-call),
 * whether the effect already happened at the peer, so a retry never applies it twice.
 */
export interface DeliveryHandler {
  action: string;
  run(delivery: ClaimedDelivery, context: HandlerContext): Promise<HandlerResult | void>;
  lookup?(delivery: ClaimedDelivery, context: HandlerContext): Promise<'applied' | 'not_applied'>;
}

/**
 * A message Carelane is done with: processed (all deliveries done), failed (one became an exception, or an
 * operator dismissed or cancelled it), unrouted (stored, but no route takes it: nothing will process it) or
 * superseded (an operator replaced it with an edited copy, which is processed in its place).
 */
export interface SettledMessage {
  messageId: number;
  messageType: string;
  contentType: string;
  status: 'processed' | 'failed' | 'unrouted' | 'superseded';
  /** lane and correlation id of the delivery whose end settled it (for an unrouted message: a configured default lane) */
  lane: string;
  correlationId: string;
}

/**
 * Runs in the transaction that settles a message, so what it enqueues or records commits with the settlement
 * or not at all (e.g. the HL7 v2 application acknowledgment). Called by the engine when a delivery ends, by
 * ingest for a message no route takes, and when an operator resolves an exception or edits and replays a
 * message. May run again for a message settled again (a replay, a later delivery of a failed message, an
 * operator closing its exception): it must be idempotent.
 */
export type SettlementHook = (tx: pg.PoolClient, settled: SettledMessage) => Promise<void>;

export class HandlerRegistry {
  private readonly handlers = new Map<string, DeliveryHandler>();

  register(handler: DeliveryHandler): this {
    if (this.handlers.has(handler.action)) throw new Error(`a handler for action "${handler.action}" is already registered`);
    this.handlers.set(handler.action, handler);
    return this;
  }

  get(action: string): DeliveryHandler | undefined {
    return this.handlers.get(action);
  }

  actions(): string[] {
    return [...this.handlers.keys()];
  }
}
