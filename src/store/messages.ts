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
 * Persists an inbound message and its routing step in one statement (one round trip, one commit), or, if the
 * same message was already received from this source, counts the duplicate and returns the first copy.
 */
export async function insertInbound(db: Queryable, message: StoredInbound): Promise<InsertOutcome> {
  const { rows } = await db.query<{ id: number; correlation_id: string }>({
    // Prepared once per connection: this is the statement every inbound message runs before its ACK.
    name: 'carelane_insert_inbound',
    text: `with inserted as (
       insert into carelane.messages (source, message_type, external_id, dedupe_key, content_hash, correlation_id, status,
                                      status_reason, content_type, payload, payload_size, payload_truncated, ack_payload)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       on conflict (source, dedupe_key) do nothing
       returning id, correlation_id
     ), routed as (
       insert into carelane.deliveries (message_id, correlation_id, lane, action, endpoint, idempotency_key, ordering_key, payload, status)
       select id, correlation_id, $14, 'route', 'internal', 'route:' || id, $16, jsonb_build_object('flow', $15::text), 'pending'
       from inserted where $14::text is not null
     )
     select id, correlation_id from inserted`,
    values: [
      message.source,
      message.messageType,
      message.externalId,
      message.dedupeKey,
      message.contentHash,
      message.correlationId,
      message.status,
      message.statusReason,
      message.contentType,
      message.payload,
      message.payloadSize,
      message.payloadTruncated,
      message.ackPayload,
      message.route?.lane ?? null,
      message.route?.flow ?? null,
      message.route?.orderingKey ?? null,
    ],
  });
  const inserted = rows[0];
  if (inserted) return { messageId: inserted.id, correlationId: inserted.correlation_id, duplicate: false, ackPayload: message.ackPayload, status: message.status };
  const { rows: existing } = await db.query<{ id: number; correlation_id: string; ack_payload: string | null; status: MessageStatus }>(
    `update carelane.messages set duplicate_count = duplicate_count + 1, last_duplicate_at = now()
     where source = $1 and dedupe_key = $2 returning id, correlation_id, ack_payload, status`,
    [message.source, message.dedupeKey],
  );
  const first = existing[0];
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
