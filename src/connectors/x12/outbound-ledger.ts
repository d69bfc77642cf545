import type pg from 'pg';
import { nextEnvelopeNumbers } from './control-numbers.ts';
import type { EnvelopeNumbers, ReceivedFunctionalAck } from './receive.ts';
import type { ReceivedTa1 } from './envelope.ts';
import type { X12PartnerProfile } from './partner-profile.ts';

/**
 * The outbound ledger (table carelane.x12_outbound, migration 005): each outbound interchange is generated
 * once per idempotency key, with control numbers taken from carelane.x12_control_numbers, and kept verbatim.
 * Every later attempt of the same delivery re-sends those exact bytes (same ISA13, GS06, ST02).
 */

export interface OutboundInterchange {
  idempotencyKey: string;
  partner: string;
  transactionType: string;
  functionalId: string;
  isa13: number;
  gs06: number;
  st02: string;
  body: string;
  sentAt: Date | null;
  /** '997', '999', or 'TA1' when the partner refused the envelope */
  ackKind: string | null;
  ackStatus: string | null;
  acknowledgedAt: Date | null;
}

interface Row {
  idempotency_key: string;
  partner: string;
  transaction_type: string;
  functional_id: string;
  isa13: string;
  gs06: string;
  st02: string;
  body: string;
  sent_at: Date | null;
  ack_kind: string | null;
  ack_status: string | null;
  acknowledged_at: Date | null;
}

const fromRow = (r: Row): OutboundInterchange => ({
  idempotencyKey: r.idempotency_key,
  partner: r.partner,
  transactionType: r.transaction_type,
  functionalId: r.functional_id,
  isa13: Number(r.isa13),
  gs06: Number(r.gs06),
  st02: r.st02,
  body: r.body,
  sentAt: r.sent_at,
  ackKind: r.ack_kind,
  ackStatus: r.ack_status,
  acknowledgedAt: r.acknowledged_at,
});

export async function findOutbound(db: Pick<pg.Pool, 'query'>, idempotencyKey: string): Promise<OutboundInterchange | undefined> {
  const { rows } = await db.query<Row>('select * from carelane.x12_outbound where idempotency_key = $1', [idempotencyKey]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/**
 * The interchange of `idempotencyKey`: the stored one, or a new one written by `generate` with fresh control
 * numbers, stored in the same transaction as the numbers are taken. Two attempts racing for the same key
 * store one interchange (primary key); the loser's transaction rolls back with its numbers.
 */
export async function prepareOutbound(
  pool: pg.Pool,
  request: { idempotencyKey: string; partner: string; transactionType: string; functionalId: string },
  generate: (numbers: EnvelopeNumbers) => { body: string; st02: string },
): Promise<OutboundInterchange> {
  const existing = await findOutbound(pool, request.idempotencyKey);
  if (existing) return existing;
  const client = await pool.connect();
  try {
    await client.query('begin');
    const numbers = await nextEnvelopeNumbers(client, request.partner);
    const written = generate(numbers);
    const { rows } = await client.query<Row>(
      `insert into carelane.x12_outbound (idempotency_key, partner, transaction_type, functional_id, isa13, gs06, st02, body)
       values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (idempotency_key) do nothing returning *`,
      [request.idempotencyKey, request.partner, request.transactionType, request.functionalId, numbers.interchange, numbers.group, written.st02, written.body],
    );
    if (!rows[0]) {
      await client.query('rollback');
      return (await findOutbound(pool, request.idempotencyKey))!;
    }
    await client.query('commit');
    return fromRow(rows[0]);
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export async function markOutboundSent(db: Pick<pg.Pool, 'query'>, idempotencyKey: string): Promise<void> {
  await db.query('update carelane.x12_outbound set sent_at = coalesce(sent_at, now()) where idempotency_key = $1', [idempotencyKey]);
}

/** Notes received 997/999s on the interchanges they acknowledge (AK101 = our GS01, AK102 = our GS06). Returns how many matched. */
export async function recordFunctionalAcks(db: Pick<pg.Pool, 'query'>, partner: string, acks: readonly ReceivedFunctionalAck[]): Promise<number> {
  let matched = 0;
  for (const ack of acks) {
    if (!/^\d{1,9}$/.test(ack.groupControlNumber)) continue;
    const result = await db.query(
      `update carelane.x12_outbound set ack_kind = $4, ack_status = $5, acknowledged_at = now()
       where partner = $1 and functional_id = $2 and gs06 = $3`,
      [partner, ack.functionalId, Number(ack.groupControlNumber), ack.kind, ack.status],
    );
    matched += result.rowCount ?? 0;
  }
  return matched;
}

/**
 * Notes received TA1s that REJECT one of our interchanges (TA104 'R', matched by TA101 = our ISA13): the partner
 * refused the envelope and will send no 997/999 for it, so the interchange is closed as refused (ack_kind 'TA1',
 * ack_status 'R') and its delivery fails permanently instead of waiting for the acknowledgment SLA. A TA1 'A' or
 * 'E' says nothing about the groups: the 997/999 is still awaited. Returns how many interchanges matched.
 */
export async function recordInterchangeAcks(db: Pick<pg.Pool, 'query'>, partner: string, ta1s: readonly ReceivedTa1[]): Promise<number> {
  let matched = 0;
  for (const ta1 of ta1s) {
    if (ta1.status !== 'R' || !/^\d{1,9}$/.test(ta1.controlNumber)) continue;
    const result = await db.query(
      `update carelane.x12_outbound set ack_kind = 'TA1', ack_status = 'R', acknowledged_at = now()
       where partner = $1 and isa13 = $2 and acknowledged_at is null`,
      [partner, Number(ta1.controlNumber)],
    );
    matched += result.rowCount ?? 0;
  }
  return matched;
}

/** Sent interchanges whose 997/999 is later than the partner's profile allows (input of supplier_delay / ack SLA). */
export async function overdueAcknowledgments(db: Pick<pg.Pool, 'query'>, profiles: readonly X12PartnerProfile[], now: Date = new Date()): Promise<OutboundInterchange[]> {
  const overdue: OutboundInterchange[] = [];
  for (const profile of profiles) {
    const { rows } = await db.query<Row>(
      `select * from carelane.x12_outbound where partner = $1 and acknowledged_at is null and sent_at is not null
       and sent_at < $2::timestamptz - make_interval(mins => $3) order by sent_at`,
      [profile.id, now, profile.acknowledgment.withinMinutes],
    );
    overdue.push(...rows.map(fromRow));
  }
  return overdue;
}
