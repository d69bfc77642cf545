import type pg from 'pg';
import type { Queryable } from './database.ts';
import type { FailureClass } from './schema.ts';

// The queue's truth is SQL (CONVENTIONS.md): every statement that moves a delivery between states lives in this
// module, next to the migrations that define the table. The engine decides *what* should happen; these
// statements make it happen atomically.

export const DELIVERY_CHANNEL = 'carelane_deliveries';

export interface NewDelivery {
  lane: string;
  action: string;
  endpoint: string;
  idempotencyKey: string;
  correlationId: string;
  orderingKey?: string | null;
  payload?: unknown;
  messageId?: number | null;
  runAfter?: Date;
  replayOf?: number | null;
}

export interface ClaimedDelivery {
  id: number;
  messageId: number | null;
  correlationId: string;
  lane: string;
  action: string;
  endpoint: string;
  orderingKey: string | null;
  idempotencyKey: string;
  payload: unknown;
  attempts: number;
  needsLookup: boolean;
  createdAt: Date;
  claimedAt: Date;
  /** circuit facts read with the claim, so the common path needs no extra query */
  endpointFailures: number;
  endpointClosedAt: Date | null;
}

interface ClaimedRow {
  id: number;
  message_id: number | null;
  correlation_id: string;
  lane: string;
  action: string;
  endpoint: string;
  ordering_key: string | null;
  idempotency_key: string;
  payload: unknown;
  attempts: number;
  needs_lookup: boolean;
  created_at: Date;
  claimed_at: Date;
  endpoint_failures: number | null;
  endpoint_closed_at: Date | null;
}

const toClaimed = (row: ClaimedRow): ClaimedDelivery => ({
  id: row.id,
  messageId: row.message_id,
  correlationId: row.correlation_id,
  lane: row.lane,
  action: row.action,
  endpoint: row.endpoint,
  orderingKey: row.ordering_key,
  idempotencyKey: row.idempotency_key,
  payload: row.payload,
  attempts: row.attempts,
  needsLookup: row.needs_lookup,
  createdAt: row.created_at,
  claimedAt: row.claimed_at,
  endpointFailures: row.endpoint_failures ?? 0,
  endpointClosedAt: row.endpoint_closed_at,
});

/**
 * Inserts deliveries (one round trip for any number) and wakes the lanes' workers on commit.
 * A delivery whose idempotency key already exists is not inserted again: enqueueing is idempotent.
 */
export async function enqueueDeliveries(db: Queryable, deliveries: NewDelivery[]): Promise<number[]> {
  if (deliveries.length === 0) return [];
  const rows = deliveries.map((d) => ({
    lane: d.lane,
    action: d.action,
    endpoint: d.endpoint,
    idempotency_key: d.idempotencyKey,
    correlation_id: d.correlationId,
    ordering_key: d.orderingKey ?? null,
    payload: d.payload ?? {},
    message_id: d.messageId ?? null,
    run_after: (d.runAfter ?? null)?.toISOString() ?? null,
    replay_of: d.replayOf ?? null,
  }));
  const { rows: inserted } = await db.query<{ id: number }>(
    `with input as (
       select * from json_to_recordset($1::json) as x(lane text, action text, endpoint text, idempotency_key text,
         correlation_id text, ordering_key text, payload jsonb, message_id bigint, run_after timestamptz, replay_of bigint)
     ), inserted as (
       insert into carelane.deliveries (lane, action, endpoint, idempotency_key, correlation_id, ordering_key, payload,
                                        message_id, run_after, replay_of, status)
       select lane, action, endpoint, idempotency_key, correlation_id, ordering_key, payload, message_id,
              coalesce(run_after, now()), replay_of, 'pending'
       from input
       on conflict (idempotency_key) do nothing
       returning id, lane
     ), woken as (
       select pg_notify('${DELIVERY_CHANNEL}', lane) from (select distinct lane from inserted) lanes
     )
     select id from inserted, (select count(*) from woken) w`,
    [JSON.stringify(rows)],
  );
  return inserted.map((r) => r.id);
}

/**
 * Claims up to `limit` ready deliveries of a lane for `node`.
 * - FOR UPDATE SKIP LOCKED: concurrent claimers never wait on each other nor take the same row.
 * - per-key FIFO: a delivery is ready only when no earlier delivery with its ordering key is unfinished, so a
 *   retrying head blocks its key (and only its key); an earlier delivery that became an exception does not.
 * - an endpoint whose circuit is not closed is skipped: its deliveries wait without burning attempts.
 */
export async function claimDeliveries(db: Queryable, lane: string, node: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<ClaimedRow>({
    // Named, so each connection plans it once: planning this statement costs as much as running it.
    name: 'carelane_claim',
    text: `with ready as (
       select d.id
       from carelane.deliveries d
       where d.lane = $1 and d.status = 'pending' and d.run_after <= now()
         and (d.ordering_key is null or not exists (
               select 1 from carelane.deliveries earlier
               where earlier.lane = d.lane and earlier.ordering_key = d.ordering_key and earlier.id < d.id
                 and earlier.status in ('pending', 'running') and earlier.ordering_key is not null))
         and not exists (select 1 from carelane.endpoints e where e.name = d.endpoint and e.state <> 'closed')
       order by d.id
       limit $3
       for update of d skip locked
     ), claimed as (
       update carelane.deliveries d
       set status = 'running', attempts = d.attempts + 1, locked_by = $2, claimed_at = now(),
           lease_expires_at = now() + make_interval(secs => $4::double precision / 1000)
       from ready where d.id = ready.id
       returning d.*
     )
     select c.id, c.message_id, c.correlation_id, c.lane, c.action, c.endpoint, c.ordering_key, c.idempotency_key,
            c.payload, c.attempts, c.needs_lookup, c.created_at, c.claimed_at,
            e.consecutive_failures as endpoint_failures, e.closed_at as endpoint_closed_at
     from claimed c left join carelane.endpoints e on e.name = c.endpoint
     order by c.id`,
    values: [lane, node, limit, leaseMs],
  });
  return rows.map(toClaimed);
}

/** Claims the oldest ready delivery of one endpoint whose circuit is half-open: the probe that tests recovery. */
export async function claimProbe(db: Queryable, endpoint: string, node: string, leaseMs: number): Promise<ClaimedDelivery | undefined> {
  const { rows } = await db.query<ClaimedRow>(
    `with ready as (
       select d.id from carelane.deliveries d
       where d.endpoint = $1 and d.status = 'pending'
         and (d.ordering_key is null or not exists (
               select 1 from carelane.deliveries earlier
               where earlier.lane = d.lane and earlier.ordering_key = d.ordering_key and earlier.id < d.id
                 and earlier.status in ('pending', 'running') and earlier.ordering_key is not null))
       order by d.id limit 1
       for update of d skip locked
     ), claimed as (
       update carelane.deliveries d
       set status = 'running', attempts = d.attempts + 1, locked_by = $2, claimed_at = now(),
           lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
       from ready where d.id = ready.id
       returning d.*
     )
     select c.*, e.consecutive_failures as endpoint_failures, e.closed_at as endpoint_closed_at
     from claimed c left join carelane.endpoints e on e.name = c.endpoint`,
    [endpoint, node, leaseMs],
  );
  return rows[0] ? toClaimed(rows[0]) : undefined;
}

/** Extends the leases of the deliveries this node is running. Returns the ids it still holds. */
export async function extendLeases(db: Queryable, node: string, ids: number[], leaseMs: number): Promise<number[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: number }>(
    `update carelane.deliveries set lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
     where id = any($2::bigint[]) and locked_by = $1 and status = 'running' returning id`,
    [node, ids, leaseMs],
  );
  return rows.map((r) => r.id);
}

/**
 * Takes back work whose lease ran out (its process died or lost the database). The effect may have reached
 * the peer before the crash, so the next attempt looks before it acts (principle 3: ambiguous).
 */
export async function reapExpiredLeases(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `with expired as (
       update carelane.deliveries
       set status = 'pending', locked_by = null, lease_expires_at = null, needs_lookup = true, run_after = now(),
           last_error = 'lease expired: the process running this delivery stopped', last_error_class = 'ambiguous'
       where status = 'running' and lease_expires_at < now()
       returning lane
     )
     select pg_notify('${DELIVERY_CHANNEL}', lane) from (select distinct lane from expired) lanes`,
  );
  return rowCount ?? 0;
}

/** Marks a delivery done if this node still holds it; false means the lease was lost and another node owns it. */
export async function markDone(db: Queryable, id: number, node: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `update carelane.deliveries
     set status = 'done', completed_at = now(), locked_by = null, lease_expires_at = null, needs_lookup = false
     where id = $1 and locked_by = $2 and status = 'running'`,
    [id, node],
  );
  return rowCount === 1;
}

/** Marks many no-follow-up deliveries done in one statement; returns the ids this node still held. */
export async function markManyDone(db: Queryable, ids: number[], node: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>({
    name: 'carelane_mark_many_done',
    text: `update carelane.deliveries
     set status = 'done', completed_at = now(), locked_by = null, lease_expires_at = null, needs_lookup = false
     where id = any($1::bigint[]) and locked_by = $2 and status = 'running' returning id`,
    values: [ids, node],
  });
  return rows.map((r) => r.id);
}

/** Puts a delivery back to wait; `refundAttempt` when the attempt never really reached the peer. */
export async function reschedule(
  db: Queryable,
  id: number,
  node: string,
  runAfter: Date,
  failure: { message: string; failureClass: FailureClass; needsLookup: boolean } | undefined,
  refundAttempt: boolean,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update carelane.deliveries
     set status = 'pending', locked_by = null, lease_expires_at = null, run_after = $3,
         attempts = attempts - $4::int,
         last_error = coalesce($5, last_error), last_error_class = coalesce($6, last_error_class),
         needs_lookup = needs_lookup or $7
     where id = $1 and locked_by = $2 and status = 'running'`,
    [id, node, runAfter, refundAttempt ? 1 : 0, failure?.message ?? null, failure?.failureClass ?? null, failure?.needsLookup ?? false],
  );
  return rowCount === 1;
}

export interface ExceptionInput {
  type: string;
  failureClass: FailureClass;
  reason: string;
  lastError: string;
  detail?: unknown;
}

/** Moves a delivery to the dead-letter queue and opens its exception, in the caller's transaction. */
export async function moveToException(db: Queryable, id: number, node: string, exception: ExceptionInput): Promise<number | undefined> {
  const { rows } = await db.query<{ id: number }>(
    `with parked as (
       update carelane.deliveries
       set status = 'exception', locked_by = null, lease_expires_at = null, completed_at = now(),
           last_error = $4, last_error_class = $3
       where id = $1 and locked_by = $2 and status = 'running'
       returning id, message_id, correlation_id, attempts
     )
     insert into carelane.exceptions (type, classification, status, message_id, delivery_id, correlation_id, reason, attempts, last_error, detail)
     select $5, $3, 'open', message_id, id, correlation_id, $6, attempts, $4, $7::jsonb from parked
     returning id`,
    [id, node, exception.failureClass, exception.lastError, exception.type, exception.reason, JSON.stringify(exception.detail ?? null)],
  );
  return rows[0]?.id;
}

// ---- circuit breaker state (shared by all processes) ----

export interface EndpointFailureOutcome {
  state: 'closed' | 'open' | 'half_open';
  retryAt: Date | null;
  consecutiveFailures: number;
}

/**
 * Counts a peer-unavailable failure. The circuit opens at the threshold, or again at once after a failed
 * probe; each opening in a row doubles the wait, up to maxOpenMs.
 */
export async function recordEndpointFailure(
  db: Queryable,
  endpoint: string,
  error: string,
  circuit: { failureThreshold: number; openMs: number; maxOpenMs: number },
): Promise<EndpointFailureOutcome> {
  const { rows } = await db.query<{ state: EndpointFailureOutcome['state']; retry_at: Date | null; consecutive_failures: number }>(
    `insert into carelane.endpoints as e (name, consecutive_failures, last_error) values ($1, 1, $2)
     on conflict (name) do update set consecutive_failures = e.consecutive_failures + 1, last_error = $2, updated_at = now()
     returning state, retry_at, consecutive_failures`,
    [endpoint, error],
  );
  const row = rows[0]!;
  const shouldOpen = row.state === 'half_open' || (row.state === 'closed' && row.consecutive_failures >= circuit.failureThreshold);
  if (!shouldOpen) return { state: row.state, retryAt: row.retry_at, consecutiveFailures: row.consecutive_failures };
  const { rows: opened } = await db.query<{ retry_at: Date }>(
    `update carelane.endpoints
     set state = 'open', opened_at = now(), open_count = open_count + 1, updated_at = now(),
         retry_at = now() + make_interval(secs => least($2::double precision, $3::double precision * power(2, open_count)) / 1000)
     where name = $1 returning retry_at`,
    [endpoint, circuit.maxOpenMs, circuit.openMs],
  );
  return { state: 'open', retryAt: opened[0]!.retry_at, consecutiveFailures: row.consecutive_failures };
}

/** A success closes the circuit and clears the failure count. */
export async function recordEndpointSuccess(db: Queryable, endpoint: string): Promise<void> {
  await db.query(
    `update carelane.endpoints
     set consecutive_failures = 0, open_count = 0, last_error = null, updated_at = now(),
         closed_at = case when state <> 'closed' then now() else closed_at end, state = 'closed'
     where name = $1 and (state <> 'closed' or consecutive_failures > 0)`,
    [endpoint],
  );
}

/** Open circuits whose wait is over become half-open; the caller then probes each with one delivery. */
export async function takeDueProbes(db: Queryable, leaseMs: number): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `update carelane.endpoints
     set state = 'half_open', retry_at = now() + make_interval(secs => $1::double precision / 1000), updated_at = now()
     where state in ('open', 'half_open') and retry_at <= now()
     returning name`,
    [leaseMs],
  );
  return rows.map((r) => r.name);
}

/** A half-open endpoint with nothing waiting is closed: the next real delivery is its test. */
export async function closeIdleEndpoint(db: Queryable, endpoint: string): Promise<void> {
  await db.query(
    `update carelane.endpoints set state = 'closed', consecutive_failures = 0, closed_at = now(), updated_at = now()
     where name = $1 and state = 'half_open'`,
    [endpoint],
  );
}

// ---- message status follows its deliveries ----

/** The advisory lock namespace (first key) of message settlement. */
const SETTLE_LOCK_NAMESPACE = 0x5e771e;

/**
 * Sets a message processed once none of its deliveries is unfinished and none failed (failed if one did).
 * Returns the message's type and new status when it settled, for the processed/failed metrics.
 * A message no route took (still 'received', no route step) is never settled: the only work attached to it is
 * its HL7 v2 application reject, whose delivery must not make it look processed.
 */
export async function settleMessage(db: Queryable, messageId: number): Promise<{ messageType: string; contentType: string; status: 'processed' | 'failed' } | undefined> {
  // Two deliveries of one message ending at the same moment, each in its own transaction, would each see the
  // other still running and neither settle it. Settling is serialised per message: the second waits for the
  // first to commit, and its next statement (a new snapshot under READ COMMITTED) sees the first delivery done.
  await db.query('select pg_advisory_xact_lock($1::int, ($2::bigint % 2147483647)::int)', [SETTLE_LOCK_NAMESPACE, messageId]);
  const { rows } = await db.query<{ messageType: string; contentType: string; status: 'processed' | 'failed' }>(
    `update carelane.messages m
     set status = case when exists (select 1 from carelane.deliveries d where d.message_id = m.id and d.status = 'exception')
                       then 'failed' else 'processed' end,
         updated_at = now()
     where m.id = $1 and m.status in ('received', 'processing', 'failed')
       and not exists (select 1 from carelane.deliveries d where d.message_id = m.id and d.status in ('pending', 'running'))
       and (m.status <> 'received' or exists (select 1 from carelane.deliveries r where r.message_id = m.id and r.action = 'route'))
     returning m.message_type as "messageType", m.content_type as "contentType", m.status`,
    [messageId],
  );
  return rows[0];
}

export async function recordStage(db: Queryable, messageId: number, stage: string, outcome: 'ok' | 'error' | 'skipped', detail?: unknown): Promise<void> {
  await db.query('insert into carelane.message_stages (message_id, stage, outcome, detail) values ($1, $2, $3, $4::jsonb)', [
    messageId,
    stage,
    outcome,
    detail === undefined ? null : JSON.stringify(detail),
  ]);
}

export type Client = pg.PoolClient;
