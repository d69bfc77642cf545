import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/store/migrate.ts';
import { computeKpis, raiseMilestoneAlerts, supplierMilestones } from '../src/observability/kpis.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Supplier milestones and KPIs from the records themselves: two purchase orders of one supplier sent, their
// acknowledgments and ship notices received as messages linked to the orders' transactions (as the supplier
// flows link them), live demand against incoming stock. Thresholds crossed → one supplier_delay per day.

let db: TestDatabase;

async function message(correlationId: string, type: string, receivedAt: string): Promise<void> {
  await db.pool.query(
    `insert into carelane.messages (source, message_type, dedupe_key, content_hash, correlation_id, status, payload_size, received_at)
     values ('x12:medsupply', $1, $2, $2, $3, 'processed', 0, $4)`,
    [type, `${type}:${correlationId}`, correlationId, receivedAt],
  );
}

async function order(poKey: string, sentHoursAgo: number, ackAfterMinutes: number, asnAfterHours: number, lines: Array<{ productId: number; quantity: number }>): Promise<void> {
  const sent = new Date(Date.now() - sentHoursAgo * 3_600_000);
  await db.pool.query(
    `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines, sent_at)
     values ($1, $2, 'north', 'odoo-main', 7, 1, $1, 'purchase', $3::jsonb, $4)`,
    [poKey, `po:${poKey}`, JSON.stringify(lines.map((l) => ({ ...l, unitPrice: 1 }))), sent],
  );
  await message(`ack:${poKey}`, 'X12_855', new Date(sent.getTime() + ackAfterMinutes * 60_000).toISOString());
  await message(`asn:${poKey}`, 'X12_856', new Date(sent.getTime() + asnAfterHours * 3_600_000).toISOString());
  await db.pool.query(`insert into carelane.transaction_links (correlation_id, related_id, relation) values ($1, $3, 'acknowledgment'), ($2, $3, 'ship_notice')`, [`ack:${poKey}`, `asn:${poKey}`, `po:${poKey}`]);
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  await migrate(db.pool);
  await order('P1', 30, 30, 20, [{ productId: 11, quantity: 10 }]);
  await order('P2', 30, 150, 28, [{ productId: 12, quantity: 5 }]);
  await db.pool.query(
    `insert into carelane.demands (demand_key, correlation_id, kind, status, site, content_hash, scheduled_start, lines)
     values ('d1', 'c-d1', 'procedure', 'partial', 'north', 'h1', now() + interval '1 day', '[{"productId": 11, "quantity": 25}]'),
            ('d2', 'c-d2', 'procedure', 'reserved', 'north', 'h2', now() + interval '30 days', '[{"productId": 12, "quantity": 100}]')`,
  );
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

describe('supplier milestones and KPIs', () => {
  it('computes acknowledgment latency and ASN lead time per supplier from the linked messages', async () => {
    const [supplier] = await supplierMilestones(db.pool, 30);
    expect(supplier).toMatchObject({ vendorId: 7, orders: 2, ackLatencyMinutes: 90, asnLeadHours: 24 });
  });

  it('rates stockout risk from on hand + incoming against demand within the lead time', async () => {
    const kpis = await computeKpis(db.pool, { windowDays: 30, leadTimeDays: 7, onHand: async (_site, ids) => new Map(ids.map((id) => [id, 5])) });
    expect(kpis.orderAcknowledgmentLatencyMinutes).toBe(90);
    // Only d1 falls within 7 days: 5 on hand + 10 incoming (P1, nothing received) for 25 asked → coverage 0.6.
    expect(kpis.stockoutRisk).toEqual([{ site: 'north', productId: 11, onHand: 5, incoming: 10, demand: 25, coverage: 0.6, atRisk: true }]);
  });

  it('raises one supplier_delay per supplier, metric and day when a threshold is crossed', async () => {
    const first = await raiseMilestoneAlerts(db.pool, { windowDays: 30, ackLatencyMinutes: 60, asnLeadHours: 48 });
    expect(first).toHaveLength(1);
    const { rows } = await db.pool.query<{ type: string; detail: { metric: string; value: number; threshold: number } }>('select type, detail from carelane.exceptions where id = $1', [first[0]]);
    expect(rows[0]).toMatchObject({ type: 'supplier_delay', detail: { metric: 'ackLatencyMinutes', value: 90, threshold: 60 } });
    expect(await raiseMilestoneAlerts(db.pool, { windowDays: 30, ackLatencyMinutes: 60 })).toEqual([]);
  });
});
