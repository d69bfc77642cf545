import { permanentError } from '../contracts/errors.ts';
import type { Queryable } from './database.ts';
import { DELIVERY_CHANNEL } from './queue.ts';
import type { MessageStatus } from './schema.ts';

export interface StoredInbound {
  source: string;
  messageType: string;
  externalId: string | null;
  dedupeKey: string;
  contentHash: string;
  correlationId: string;
  status: Extract<MessageStatus, 'received' | 'rejected'>;
  statusReason: string | null;
  contentType: string;
  payload: Buffer;
  payloadSize: number;
  payloadTruncated: boolean;
  ackPayload: string | null;
  /** the first processing step, enqueued in the same statement (workers are woken by notifyLanes); none for a rejected message */
  route: { lane: string; flow: string; orderingKey: string | null } | null;
}

export interface InsertOutcome {
  messageId: number;
  correlationId: string;
  duplicate: boolean;
  /** for a duplicate: what the first copy was answered */
  ackPayload: string | null;
  status: MessageStatus;
}

/**
 * Persists inbound messages and their routing steps in one statement (one round trip, one commit for the lot),
 * in the order given, so ids follow arrival order. A message already received from its source (same dedupe
 * key, also within the batch) is not stored again: its duplicate is counted and the first copy returned.
 */
export async function insertInbound(db: Queryable, messages: StoredInbound[]): Promise<InsertOutcome[]> {
  const firstOfKey = new Map<string, number>();
  const distinct: StoredInbound[] = [];
  messages.forEach((m, index) => {
    const key = `${m.source}\u0000${m.dedupeKey}`;
    if (!firstOfKey.has(key)) {
      firstOfKey.set(key, index);
      distinct.push(m);
    }
  });
  const { rows } = await db.query<{ id: number; source: string; dedupe_key: string; correlation_id: string }>({
    // Prepared once per connection and batch size: every inbound message runs this statement before its ACK.
    name: `carelane_insert_inbound_${distinct.length}`,
    text: insertInboundSql(distinct.length),
    values: distinct.flatMap((m, position) => [
      position,
      m.source,
      m.messageType,
      m.externalId,
      m.dedupeKey,
      m.contentHash,
      m.correlationId,
      m.status,
      m.statusReason,
      m.contentType,
      m.payload,
      m.payloadSize,
      m.payloadTruncated,
      m.ackPayload,
      m.route?.lane ?? null,
      m.route?.flow ?? null,
      m.route?.orderingKey ?? null,
    ]),
  });
  const stored = new Map(rows.map((r) => [`${r.source}\u0000${r.dedupe_key}`, r]));
  const outcomes: InsertOutcome[] = [];
  for (const [index, message] of messages.entries()) {
    const key = `${message.source}\u0000${message.dedupeKey}`;
    const row = stored.get(key);
    if (row && firstOfKey.get(key) === index) {
      outcomes.push({ messageId: row.id, correlationId: row.correlation_id, duplicate: false, ackPayload: message.ackPayload, status: message.status });
    } else {
      outcomes.push(await countDuplicate(db, message));
    }
  }
  return outcomes;
}

const INBOUND_COLUMNS = 17;
const insertInboundSqlCache = new Map<number, string>();

// A VALUES list with typed parameters: for one row it plans and runs as fast as a plain insert, which an
// unnest() of arrays does not.
function insertInboundSql(rows: number): string {
  const cached = insertInboundSqlCache.get(rows);
  if (cached) return cached;
  const types = ['int', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'bytea', 'int', 'bool', 'text', 'text', 'text', 'text'];
  const values = Array.from({ length: rows }, (_, row) => `(${types.map((type, column) => `$${row * INBOUND_COLUMNS + column + 1}::${type}`).join(', ')})`).join(',\n              ');
  const text = `with input (position, source, message_type, external_id, dedupe_key, content_hash, correlation_id, status, status_reason,
                     content_type, payload, payload_size, payload_truncated, ack_payload, lane, flow, ordering_key) as (
       values ${values}
     ), inserted as (
       insert into carelane.messages (source, message_type, external_id, dedupe_key, content_hash, correlation_id, status,
                                      status_reason, content_type, payload, payload_size, payload_truncated, ack_payload)
       select source, message_type, external_id, dedupe_key, content_hash, correlation_id, status, status_reason,
              content_type, payload, payload_size, payload_truncated, ack_payload
       from input order by position
       on conflict (source, dedupe_key) do nothing
       returning id, source, dedupe_key, correlation_id
     ), routed as (
       insert into carelane.deliveries (message_id, correlation_id, lane, action, endpoint, idempotency_key, ordering_key, payload, status)
       select i.id, i.correlation_id, input.lane, 'route', 'internal', 'route:' || i.id, input.ordering_key,
              jsonb_build_object('flow', input.flow), 'pending'
       from inserted i join input on input.source = i.source and input.dedupe_key = i.dedupe_key
       where input.lane is not null
       order by i.id
     )
     select id, source, dedupe_key, correlation_id from inserted`;
  insertInboundSqlCache.set(rows, text);
  return text;
}

async function countDuplicate(db: Queryable, message: StoredInbound): Promise<InsertOutcome> {
  const { rows } = await db.query<{ id: number; correlation_id: string; ack_payload: string | null; status: MessageStatus }>(
    `update carelane.messages set duplicate_count = duplicate_count + 1, last_duplicate_at = now()
     where source = $1 and dedupe_key = $2 returning id, correlation_id, ack_payload, status`,
    [message.source, message.dedupeKey],
  );
  const first = rows[0];
  if (!first) throw new Error('message vanished between insert and duplicate lookup');
  return { messageId: first.id, correlationId: first.correlation_id, duplicate: true, ackPayload: first.ack_payload, status: first.status };
}

/**
 * Wakes the workers of the given lanes. Kept out of the insert on purpose: PostgreSQL serialises the commits
 * of transactions that NOTIFY, which would undo group commit across concurrent senders.
 */
export async function notifyLanes(db: Queryable, lanes: string[]): Promise<void> {
  if (lanes.length === 0) return;
  await db.query(`select pg_notify('${DELIVERY_CHANNEL}', lane) from unnest($1::text[]) as lane`, [lanes]);
}

/**
 * Records when acknowledgments were sent, for many messages at once, off the ACK's critical path. A stage row
 * rather than an update of the message: updating would rewrite the whole row, payload included.
 */
export async function recordAcknowledgments(db: Queryable, acks: Array<{ messageId: number; at: Date }>): Promise<void> {
  if (acks.length === 0) return;
  await db.query(
    `insert into carelane.message_stages (message_id, stage, outcome, at)
     select id, 'acknowledged', 'ok', at from unnest($1::bigint[], $2::timestamptz[]) as a(id, at)`,
    [acks.map((a) => a.messageId), acks.map((a) => a.at)],
  );
}

export async function countPendingOnLane(db: Queryable, lane: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from carelane.deliveries where lane = $1 and status = 'pending'`, [lane]);
  return rows[0]?.n ?? 0;
}

/** A stored message as flows read it back: the payload is required (a purged one cannot be processed again). */
export interface StoredMessage {
  id: number;
  source: string;
  messageType: string;
  contentType: string;
  correlationId: string;
  payload: Buffer;
}

/** Loads a stored message for processing; a missing message or a purged payload is a permanent failure. */
export async function loadStoredMessage(db: Queryable, id: number): Promise<StoredMessage> {
  const { rows } = await db.query<{ source: string; message_type: string; content_type: string; correlation_id: string; payload: Buffer | null }>(
    'select source, message_type, content_type, correlation_id, payload from carelane.messages where id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) throw permanentError(`message ${id} does not exist`, { code: 'message_missing' });
  if (!row.payload) throw permanentError('the payload was purged by retention; it cannot be processed again', { code: 'payload_purged' });
  return { id, source: row.source, messageType: row.message_type, contentType: row.content_type, correlationId: row.correlation_id, payload: row.payload };
}
