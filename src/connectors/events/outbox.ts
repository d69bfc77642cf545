import type { Queryable } from '../../store/database.ts';
import { assertEventsFitContracts } from '../../contracts/enforcement.ts';

// The outbox's SQL, next to its migration (007_event_outbox.sql), as queue.ts is for deliveries.

export interface NewEvent {
  topic: string;
  key: string;
  payload: unknown;
  headers?: Record<string, string>;
  correlationId: string;
}

export interface OutboxRow {
  id: number;
  topic: string;
  key: string;
  payload: unknown;
  headers: Record<string, string>;
  correlationId: string;
  createdAt: Date;
  attempts: number;
}

/**
 * Records events in the caller's transaction (e.g. a HandlerResult.inTransaction): they are published if and only
 * if that transaction commits. Returns the outbox ids in the order given, which is the order they are published.
 * An event whose topic has a canonical contract in the registry must fit one of its active versions, or nothing is
 * written and a business `contract_violation` is thrown (the delivery parks; src/contracts/enforcement.ts).
 */
export async function appendEvents(tx: Queryable, events: NewEvent[]): Promise<number[]> {
  if (events.length === 0) return [];
  await assertEventsFitContracts(tx, events);
  const { rows } = await tx.query<{ id: number }>(
    `insert into carelane.event_outbox (topic, key, payload, headers, correlation_id)
     select x.topic, x.key, x.payload, coalesce(x.headers, '{}'), x.correlation_id
     from rows from (json_to_recordset($1::json) as (topic text, key text, payload jsonb, headers jsonb, correlation_id text))
          with ordinality as x(topic, key, payload, headers, correlation_id, n)
     order by x.n
     returning id`,
    [JSON.stringify(events.map((e) => ({ topic: e.topic, key: e.key, payload: e.payload ?? null, headers: e.headers ?? {}, correlation_id: e.correlationId })))],
  );
  // identity values follow the insert order, so sorting restores the order given
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

export async function appendEvent(tx: Queryable, event: NewEvent): Promise<number> {
  const [id] = await appendEvents(tx, [event]);
  return id!;
}

/**
 * Locks the oldest unpublished events for the calling transaction. SKIP LOCKED: a relay never waits on rows
 * another relay is publishing. The relay additionally holds RELAY_LOCK so only one relay publishes at a time,
 * which is what keeps per-key order (two relays publishing adjacent batches could interleave them).
 */
export async function claimUnpublished(tx: Queryable, limit: number): Promise<OutboxRow[]> {
  const { rows } = await tx.query<{ id: number; topic: string; key: string; payload: unknown; headers: Record<string, string>; correlation_id: string; created_at: Date; attempts: number }>(
    `select id, topic, key, payload, headers, correlation_id, created_at, attempts
     from carelane.event_outbox
     where published_at is null
     order by id
     limit $1
     for update skip locked`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, topic: r.topic, key: r.key, payload: r.payload, headers: r.headers, correlationId: r.correlation_id, createdAt: r.created_at, attempts: r.attempts }));
}

/** Transaction-scoped advisory lock key of the publishing relay (any constant unique to this purpose). */
export const RELAY_LOCK = 0x63_6c_65_76; // 'clev'

export async function tryRelayLock(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>('select pg_try_advisory_xact_lock($1) as locked', [RELAY_LOCK]);
  return rows[0]?.locked === true;
}

export async function markPublished(tx: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query('update carelane.event_outbox set published_at = now(), last_error = null where id = any($1::bigint[])', [ids]);
}

/** Written outside the failed transaction (it rolled back), so the attempt is visible to operators. */
export async function recordPublishFailure(db: Queryable, ids: number[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query('update carelane.event_outbox set attempts = attempts + 1, last_error = $2 where id = any($1::bigint[]) and published_at is null', [ids, error.slice(0, 2000)]);
}

/** Deletes published events older than the cutoff; unpublished ones are never pruned. */
export async function prunePublishedEvents(db: Queryable, olderThan: Date): Promise<number> {
  const { rowCount } = await db.query('delete from carelane.event_outbox where published_at < $1', [olderThan]);
  return rowCount ?? 0;
}

export interface OutboxBacklog {
  unpublished: number;
  oldestUnpublishedAt: Date | null;
}

export async function outboxBacklog(db: Queryable): Promise<OutboxBacklog> {
  const { rows } = await db.query<{ unpublished: number; oldest: Date | null }>(
    'select count(*)::int as unpublished, min(created_at) as oldest from carelane.event_outbox where published_at is null',
  );
  return { unpublished: rows[0]?.unpublished ?? 0, oldestUnpublishedAt: rows[0]?.oldest ?? null };
}
