import type pg from 'pg';
import { overdueAcknowledgments } from './outbound-ledger.ts';
import type { X12PartnerProfile } from './partner-profile.ts';

/**
 * Business exceptions of type `supplier_delay` (DESIGN.md "Business exceptions") for sent interchanges whose
 * 997/999 is later than the partner's profile allows (acknowledgment.withinMinutes). One open exception per
 * interchange (idempotency key): running this every minute adds nothing new for an interchange already
 * reported. The table has no unique index for this (one open per delivery only), so the check-then-insert
 * runs under a transaction-scoped advisory lock: two schedulers cannot both insert.
 */

export interface SupplierDelay {
  exceptionId: number;
  partner: string;
  idempotencyKey: string;
  isa13: number;
  minutesLate: number;
}

const LOCK_KEY = 0x5d_e1_a7; // 'supplier_delay' raise, arbitrary but fixed

export async function raiseSupplierDelays(pool: pg.Pool, profiles: readonly X12PartnerProfile[], now: Date = new Date()): Promise<SupplierDelay[]> {
  const overdue = await overdueAcknowledgments(pool, profiles, now);
  if (overdue.length === 0) return [];
  const allowed = new Map(profiles.map((p) => [p.id, p.acknowledgment]));
  const client = await pool.connect();
  const raised: SupplierDelay[] = [];
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
    for (const o of overdue) {
      const ack = allowed.get(o.partner)!;
      const expectedBy = new Date(o.sentAt!.getTime() + ack.withinMinutes * 60_000);
      const minutesLate = Math.floor((now.getTime() - expectedBy.getTime()) / 60_000);
      const detail = { partner: o.partner, idempotencyKey: o.idempotencyKey, transactionType: o.transactionType, isa13: o.isa13, gs06: o.gs06, st02: o.st02, awaiting: ack.kind, sentAt: o.sentAt!.toISOString(), expectedBy: expectedBy.toISOString(), minutesLate };
      const { rows } = await client.query<{ id: string }>(
        `insert into carelane.exceptions (type, classification, status, reason, detail)
         select 'supplier_delay', 'business', 'open', $1, $2::jsonb
         where not exists (select 1 from carelane.exceptions where type = 'supplier_delay' and status = 'open' and detail->>'idempotencyKey' = $3)
         returning id`,
        [`partner ${o.partner} has not acknowledged ${o.transactionType} interchange ${o.isa13} (${ack.kind} expected within ${ack.withinMinutes} min): ${minutesLate} min late`, JSON.stringify(detail), o.idempotencyKey],
      );
      if (rows[0]) raised.push({ exceptionId: Number(rows[0].id), partner: o.partner, idempotencyKey: o.idempotencyKey, isa13: o.isa13, minutesLate });
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return raised;
}
