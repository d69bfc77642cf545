import type { Queryable } from './database.ts';

// Read side for the API, the CLI and the console: filters on indexed columns, keyset pagination by id.

export interface MessageFilter {
  source?: string | undefined;
  type?: string | undefined;
  status?: string | undefined;
  correlationId?: string | undefined;
  externalId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** only messages with a smaller id (keyset pagination, newest first) */
  before?: number | undefined;
  limit?: number | undefined;
  /**
   * a business key (PO number, MSH-10, FHIR id, GTIN, lot, correlation id): matched exactly against the sender's
   * id, the correlation id and the purchase orders' numbers (through their linked transactions), and as text
   * in the canonical step payloads, stage details and exception details (all PHI-free: patients are tokens)
   */
  q?: string | undefined;
  /** with q: also look inside the raw payloads as received (which may hold PHI: only for messages:read_payload) */
  searchRawPayloads?: boolean | undefined;
}

export interface MessageSummary {
  id: number;
  source: string;
  messageType: string;
  externalId: string | null;
  correlationId: string;
  status: string;
  statusReason: string | null;
  payloadSize: number;
  duplicateCount: number;
  receivedAt: Date;
  acknowledgedAt: Date | null;
}

const SUMMARY_COLUMNS = `id, source, message_type as "messageType", external_id as "externalId", correlation_id as "correlationId",
  status, status_reason as "statusReason", payload_size as "payloadSize", duplicate_count as "duplicateCount",
  received_at as "receivedAt",
  (select min(s.at) from carelane.message_stages s where s.message_id = messages.id and s.stage = 'acknowledged') as "acknowledgedAt"`;

export function messageWhere(filter: MessageFilter, params: unknown[]): string {
  const clauses: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    clauses.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.source) add('source = ?', filter.source);
  if (filter.type) add('message_type = ?', filter.type);
  if (filter.status) add('status = ?', filter.status);
  if (filter.correlationId) add('correlation_id = ?', filter.correlationId);
  if (filter.externalId) add('external_id = ?', filter.externalId);
  if (filter.from) add('received_at >= ?', filter.from);
  if (filter.to) add('received_at < ?', filter.to);
  if (filter.before) add('id < ?', filter.before);
  if (filter.q) clauses.push(searchClause(filter.q, filter.searchRawPayloads === true, params));
  return clauses.length ? `where ${clauses.join(' and ')}` : '';
}

/**
 * The business-key search (console message browser, replay by search). Exact keys use the indexes; the text
 * matches scan the step payloads of each candidate message, so a time range (from/to) keeps a search on a large
 * store quick.
 */
function searchClause(q: string, rawPayloads: boolean, params: unknown[]): string {
  const key = `$${params.push(q)}`;
  const purchaseOrders = `(select correlation_id from carelane.purchase_orders where name = ${key} or po_key = ${key})`;
  const linked = (ids: string) =>
    `(select related_id from carelane.transaction_links where correlation_id in ${ids} union select correlation_id from carelane.transaction_links where related_id in ${ids})`;
  const alternatives = [
    `external_id = ${key}`,
    `correlation_id = ${key}`,
    `correlation_id in ${purchaseOrders}`,
    `correlation_id in ${linked(purchaseOrders)}`,
    `correlation_id in ${linked(`(select ${key}::text)`)}`,
    `exists (select 1 from carelane.deliveries d where d.message_id = messages.id and strpos(d.payload::text, ${key}) > 0)`,
    `exists (select 1 from carelane.message_stages s where s.message_id = messages.id and strpos(s.detail::text, ${key}) > 0)`,
    `exists (select 1 from carelane.exceptions e where e.message_id = messages.id and strpos(e.detail::text, ${key}) > 0)`,
  ];
  if (rawPayloads) alternatives.push(`position(convert_to(${key}, 'UTF8') in payload) > 0`);
  return `(${alternatives.join(' or ')})`;
}

export async function listMessages(db: Queryable, filter: MessageFilter): Promise<MessageSummary[]> {
  const params: unknown[] = [];
  const where = messageWhere(filter, params);
  params.push(Math.min(Math.max(filter.limit ?? 50, 1), 1000));
  const { rows } = await db.query<MessageSummary>(`select ${SUMMARY_COLUMNS} from carelane.messages ${where} order by id desc limit $${params.length}`, params);
  return rows;
}

export interface MessageDetail extends MessageSummary {
  contentType: string;
  payloadTruncated: boolean;
  payload: string | null;
  ackPayload: string | null;
  stages: Array<{ stage: string; outcome: string; detail: unknown; at: Date }>;
  deliveries: Array<{ id: number; lane: string; action: string; endpoint: string; status: string; attempts: number; lastError: string | null; createdAt: Date; completedAt: Date | null; payload?: unknown }>;
  exceptions: Array<{ id: number; type: string; status: string; reason: string; createdAt: Date }>;
}

export async function getMessage(db: Queryable, id: number, includePayload: boolean): Promise<MessageDetail | undefined> {
  const { rows } = await db.query<MessageSummary & { contentType: string; payloadTruncated: boolean; payload: Buffer | null; ackPayload: string | null }>(
    `select ${SUMMARY_COLUMNS}, content_type as "contentType", payload_truncated as "payloadTruncated",
            ${includePayload ? 'payload' : 'null::bytea as payload'}, ack_payload as "ackPayload"
     from carelane.messages where id = $1`,
    [id],
  );
  const message = rows[0];
  if (!message) return undefined;
  const [stages, deliveries, exceptions] = await Promise.all([
    db.query('select stage, outcome, detail, at from carelane.message_stages where message_id = $1 order by at, id', [id]),
    db.query(
      `select id, lane, action, endpoint, status, attempts, last_error as "lastError", created_at as "createdAt", completed_at as "completedAt"
              ${includePayload ? ', payload' : ''}
       from carelane.deliveries where message_id = $1 order by id`,
      [id],
    ),
    db.query(`select id, type, status, reason, created_at as "createdAt" from carelane.exceptions where message_id = $1 order by id`, [id]),
  ]);
  return {
    ...message,
    payload: message.payload ? message.payload.toString('utf8') : null,
    ackPayload: includePayload ? message.ackPayload : null,
    stages: stages.rows,
    deliveries: deliveries.rows,
    exceptions: exceptions.rows,
  };
}

export interface ExceptionFilter {
  status?: 'open' | 'resolved' | undefined;
  type?: string | undefined;
  before?: number | undefined;
  limit?: number | undefined;
}

export interface ExceptionSummary {
  id: number;
  type: string;
  classification: string;
  status: string;
  messageId: number | null;
  deliveryId: number | null;
  correlationId: string | null;
  reason: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  resolutionAction: string | null;
  resolutionNote: string | null;
}

export async function listExceptions(db: Queryable, filter: ExceptionFilter): Promise<ExceptionSummary[]> {
  const params: unknown[] = [];
  const clauses: string[] = [];
  if (filter.status) clauses.push(`status = $${params.push(filter.status)}`);
  if (filter.type) clauses.push(`type = $${params.push(filter.type)}`);
  if (filter.before) clauses.push(`id < $${params.push(filter.before)}`);
  const limit = params.push(Math.min(Math.max(filter.limit ?? 50, 1), 1000));
  const { rows } = await db.query<ExceptionSummary>(
    `select id, type, classification, status, message_id as "messageId", delivery_id as "deliveryId", correlation_id as "correlationId",
            reason, attempts, last_error as "lastError", created_at as "createdAt", resolved_at as "resolvedAt",
            resolved_by as "resolvedBy", resolution_action as "resolutionAction", resolution_note as "resolutionNote"
     from carelane.exceptions ${clauses.length ? `where ${clauses.join(' and ')}` : ''} order by id desc limit $${limit}`,
    params,
  );
  return rows;
}

export async function queueDepth(db: Queryable): Promise<Array<{ lane: string; status: string; count: number; oldestAgeSeconds: number }>> {
  const { rows } = await db.query<{ lane: string; status: string; count: number; oldestAgeSeconds: number }>(
    `select lane, status, count(*)::int as count, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as "oldestAgeSeconds"
     from carelane.deliveries where status in ('pending', 'running') group by lane, status`,
  );
  return rows;
}

export async function openExceptionCounts(db: Queryable): Promise<Array<{ type: string; count: number }>> {
  const { rows } = await db.query<{ type: string; count: number }>(`select type, count(*)::int as count from carelane.exceptions where status = 'open' group by type`);
  return rows;
}

export async function circuitStates(db: Queryable): Promise<Array<{ endpoint: string; state: string }>> {
  const { rows } = await db.query<{ endpoint: string; state: string }>('select name as endpoint, state from carelane.endpoints');
  return rows;
}
