import type pg from 'pg';
import type { FlowsConfig, SupplierChannelConfig } from '../../config/schema.ts';

/**
 * Purchase orders sent to a supplier (X12 850 or REST) that no acknowledgment (855 / REST) answered within the
 * supplier's SLA become `supplier_delay` exceptions (DESIGN.md "Business exceptions"; the SLA monitor escalates
 * them by their owners). This is the business-level wait; src/connectors/x12/supplier-delay.ts watches the
 * X12-level one (997/999 per interchange). "Sent" is the channel delivery done (x12.send_850 or
 * supplier_rest.send_po), whichever channel it was. An acknowledgment arriving resolves the exception
 * (store.ts closeAcknowledgmentWait); a PO raised once is not raised again, even after a person resolved it.
 */

export interface AcknowledgmentDelay {
  exceptionId: number;
  poKey: string;
  po: string;
  minutesLate: number;
}

const LOCK_KEY = 0x5d_e1_a8; // purchase-order acknowledgment delays, next to the X12 one (0x5de1a7)

/** `x12.<partner>` or the REST endpoint name → the vendor's configured SLA. */
function slaByEndpoint(suppliers: readonly SupplierChannelConfig[], fallback: number): (endpoint: string) => number {
  const minutes = new Map<string, number>();
  for (const s of suppliers) {
    const endpoint = s.channel === 'x12' ? `x12.${s.partner}` : s.endpoint;
    if (endpoint && s.ackWithinMinutes) minutes.set(endpoint, s.ackWithinMinutes);
  }
  return (endpoint) => minutes.get(endpoint) ?? fallback;
}

export async function raiseAcknowledgmentDelays(pool: pg.Pool, flows: FlowsConfig, suppliers: readonly SupplierChannelConfig[], now: Date = new Date()): Promise<AcknowledgmentDelay[]> {
  const slaOf = slaByEndpoint(suppliers, flows.supplier.ackWithinMinutes);
  const shortest = Math.min(flows.supplier.ackWithinMinutes, ...suppliers.map((s) => s.ackWithinMinutes ?? Infinity));
  const { rows } = await pool.query<{ po_key: string; name: string; correlation_id: string; endpoint: string; action: string; completed_at: Date }>(
    `select p.po_key, p.name, p.correlation_id, d.endpoint, d.action, d.completed_at
       from carelane.purchase_orders p
       join carelane.deliveries d on d.idempotency_key in ('x12.send_850:' || p.po_key, 'supplier_rest.send_po:' || p.po_key)
      where d.status = 'done' and d.completed_at < $1::timestamptz - make_interval(mins => $2) and coalesce(p.state, '') <> 'cancel'
        and not exists (select 1 from carelane.supplier_acknowledgments a where a.po_key = p.po_key)
      order by d.completed_at`,
    [now, shortest],
  );
  const overdue = rows.filter((r) => r.completed_at.getTime() + slaOf(r.endpoint) * 60_000 < now.getTime());
  if (overdue.length === 0) return [];
  const raised: AcknowledgmentDelay[] = [];
  const client = await pool.connect();
  try {
    await client.query('begin');
    // The exceptions table has no unique index for this: two schedulers must not both insert.
    await client.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
    for (const o of overdue) {
      const within = slaOf(o.endpoint);
      const expectedBy = new Date(o.completed_at.getTime() + within * 60_000);
      const minutesLate = Math.floor((now.getTime() - expectedBy.getTime()) / 60_000);
      const channel = o.action === 'x12.send_850' ? 'x12' : 'rest';
      const detail = { poKey: o.po_key, po: o.name, channel, endpoint: o.endpoint, awaiting: '855', sentAt: o.completed_at.toISOString(), expectedBy: expectedBy.toISOString(), minutesLate, idempotencyKey: `po-ack:${o.po_key}` };
      const { rows: inserted } = await client.query<{ id: string }>(
        `insert into carelane.exceptions (type, classification, status, reason, correlation_id, detail)
         select 'supplier_delay', 'business', 'open', $1, $2, $3::jsonb
         where not exists (select 1 from carelane.exceptions where type = 'supplier_delay' and detail->>'idempotencyKey' = $4)
         returning id`,
        [`${o.name} sent by ${channel === 'x12' ? 'X12 850' : 'REST'} to ${o.endpoint} has no acknowledgment (expected within ${within} min): ${minutesLate} min late`, o.correlation_id, JSON.stringify(detail), detail.idempotencyKey],
      );
      if (inserted[0]) raised.push({ exceptionId: Number(inserted[0].id), poKey: o.po_key, po: o.name, minutesLate });
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
