import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { migrate } from '../src/store/migrate.ts';
import { computeKpis, raiseMilestoneAlerts, registerKpiGauges, supplierMilestones } from '../src/observability/kpis.ts';
import { readKpiHistory, recordKpiSnapshots } from '../src/observability/kpi-history.ts';
import { odooConnections } from '../src/connectors/odoo/index.ts';
import { siteOnHand } from '../src/flows/finance/index.ts';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { freePort } from './support/free-port.ts';

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

describe('stockout risk when Odoo cannot be reached', () => {
  // south's storeroom lives in an Odoo connection nothing listens for (a closed port): its stock cannot be read.
  let closedPort: number;
  let app: RunningCarelane | undefined;
  const ADMIN = 'kpi-odoo-down-admin-token-0123456789';

  beforeAll(async () => {
    closedPort = await freePort();
    await db.pool.query(
      `insert into carelane.location_crosswalk (ehr_system, ehr_code, site, odoo_connection, storeroom_location_id, destination_location_id, picking_type_id, version, created_by)
       values ('ehr', 'SOUTH', 'south', 'odoo-down', 8, 9, 1, 1, 'test')`,
    );
    await db.pool.query(
      `insert into carelane.demands (demand_key, correlation_id, kind, status, site, content_hash, scheduled_start, lines)
       values ('d3', 'c-d3', 'procedure', 'reserved', 'south', 'h3', now() + interval '1 day', '[{"productId": 13, "quantity": 4}]')`,
    );
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('rates a site whose stock could not be read as unknown with the reason, and stores no count for it', async () => {
    const clientFor = odooConnections({ 'odoo-down': { url: `http://127.0.0.1:${closedPort}`, database: 'carelane', login: 'admin', apiKey: 'unused', transport: 'jsonrpc', timeoutMs: 2000 } });
    // north's stock is read (5 of each); south's goes the real way, through its crosswalk to the closed port
    const kpis = await computeKpis(db.pool, {
      windowDays: 30,
      leadTimeDays: 7,
      onHand: (site, ids) => (site === 'north' ? Promise.resolve(new Map(ids.map((id) => [id, 5]))) : siteOnHand(db.pool, clientFor, site, ids)),
    });
    expect(kpis.stockoutRisk).toEqual([
      { site: 'north', productId: 11, onHand: 5, incoming: 10, demand: 25, coverage: 0.6, atRisk: true },
      // not "0 on hand, at risk": nothing is known about south's shelves
      { site: 'south', productId: 13, onHand: null, incoming: 0, demand: 4, coverage: null, atRisk: null },
    ]);
    expect(kpis.stockoutRiskUnavailable).toEqual([{ site: 'south', reason: expect.stringMatching(/Odoo connection "odoo-down".*unreachable.*ECONNREFUSED/) }]);

    // the gauge: north's count, no sample for south (absent, not 0)
    const registry = new Registry();
    registerKpiGauges(registry, async () => kpis);
    const gauge = await registry.getSingleMetricAsString('carelane_kpi_items_at_stockout_risk');
    expect(gauge).toContain('carelane_kpi_items_at_stockout_risk{site="north"} 1');
    expect(gauge).not.toContain('south');

    // the daily snapshot: south's items watched, its items at risk unknown; the network's too (it would miss south)
    await recordKpiSnapshots(db.pool, async () => kpis, new Date('2026-03-02T18:00:00Z'));
    const bySite = new Map((await readKpiHistory(db.pool, { days: 1, now: new Date('2026-03-02T20:00:00Z') })).map((r) => [r.site, r]));
    expect(bySite.get('north')).toMatchObject({ itemsWatched: 1, itemsAtRisk: 1 });
    expect(bySite.get('south')).toMatchObject({ itemsWatched: 1, itemsAtRisk: null });
    expect(bySite.get(null)).toMatchObject({ itemsWatched: 2, itemsAtRisk: null });
    const { rows } = await db.pool.query<{ items_at_risk: number | null }>(`select items_at_risk from carelane.kpi_snapshots where day = '2026-03-02' and site = 'south'`);
    expect(rows).toEqual([{ items_at_risk: null }]);
  });

  it('serves the unknown risk and its reason on GET /api/v1/kpis when the app\'s Odoo connection is unreachable', { timeout: 60_000 }, async () => {
    const config = parseConfigText(
      `server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\nroutes: [{ lane: standard, flow: noop }]\n` +
        `odoo:\n  connections:\n    odoo-down: { url: "http://127.0.0.1:${closedPort}", database: carelane, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 2000 }\n`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: 'unused' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    const response = await fetch(`${app.httpUrl}/api/v1/kpis`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { stockoutRisk: Array<{ site: string; onHand: number | null; coverage: number | null; atRisk: boolean | null }>; stockoutRiskUnavailable: Array<{ site: string; reason: string }> };
    expect(body.stockoutRisk.filter((r) => r.site === 'south')).toEqual([expect.objectContaining({ onHand: null, coverage: null, atRisk: null })]);
    expect(body.stockoutRiskUnavailable).toEqual([{ site: 'south', reason: expect.stringMatching(/Odoo connection "odoo-down".*unreachable/) }]);
  });
});
