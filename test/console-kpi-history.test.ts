import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { createToken } from '../src/governance/index.ts';
import { computeKpis } from '../src/observability/kpis.ts';
import { readKpiHistory, recordKpiSnapshots } from '../src/observability/kpi-history.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Executive KPIs over time: daily snapshots per site and for the network, computed by the KPI code from the
// records (two sites' purchase orders, their acknowledgments, invoice matches, demands and a receipt), stored
// once per day and served by GET /api/v1/kpis/history.

const ADMIN = 'kpi-history-admin-token-0123456789';

describe('KPI history: daily snapshots per site', () => {
  let db: TestDatabase;
  let app: RunningCarelane;
  const kpis = () => computeKpis(db.pool, { windowDays: 30, leadTimeDays: 7, onHand: async (_site, ids) => new Map(ids.map((id) => [id, 5])) });

  const message = (correlationId: string, type: string, receivedAt: Date) =>
    db.pool.query(
      `insert into carelane.messages (source, message_type, dedupe_key, content_hash, correlation_id, status, payload_size, received_at)
       values ('x12:medsupply', $1, $2, $2, $3, 'processed', 0, $4)`,
      [type, `${type}:${correlationId}`, correlationId, receivedAt],
    );
  const order = async (poKey: string, site: string, ackAfterMinutes: number, lines: Array<{ productId: number; quantity: number }>) => {
    const sent = new Date(Date.now() - 30 * 3_600_000);
    await db.pool.query(
      `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines, sent_at)
       values ($1, $2, $3, 'odoo-main', 7, 1, $1, 'purchase', $4::jsonb, $5)`,
      [poKey, `po:${poKey}`, site, JSON.stringify(lines.map((l) => ({ ...l, unitPrice: 1 }))), sent],
    );
    await message(`ack:${poKey}`, 'X12_855', new Date(sent.getTime() + ackAfterMinutes * 60_000));
    await db.pool.query(`insert into carelane.transaction_links (correlation_id, related_id, relation) values ($1, $2, 'acknowledgment')`, [`ack:${poKey}`, `po:${poKey}`]);
  };
  const invoice = (poKey: string, firstPass: boolean) =>
    db.pool.query(
      `insert into carelane.invoice_matches (match_key, correlation_id, po_key, po_name, odoo_connection, vendor_id, invoice_number, outcome, first_pass, lines, tolerance)
       values ($1, $1, $2, $2, 'odoo-main', 7, $1, $3, $4, '[]', '{}')`,
      [`invoice:${poKey}`, poKey, firstPass ? 'matched' : 'price_variance', firstPass],
    );
  const call = async <T>(token: string, path: string) => {
    const response = await fetch(`${app.httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as T };
  };

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
    const config = parseConfigText(`server: { port: 0 }\nmllp: { enabled: false }\nlogging: { level: silent }\nroutes: [{ lane: standard, flow: noop }]\n`, {
      DATABASE_URL: db.url,
      CARELANE_ADMIN_TOKEN: ADMIN,
    });
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
    // north: two orders acknowledged after 30 and 150 minutes, one of two invoices matched first time;
    // south: one order acknowledged after 12 minutes, its invoice matched
    await order('PN1', 'north', 30, [{ productId: 11, quantity: 10 }]);
    await order('PN2', 'north', 150, [{ productId: 12, quantity: 5 }]);
    await order('PS1', 'south', 12, [{ productId: 13, quantity: 40 }]);
    await invoice('PN1', true);
    await invoice('PN2', false);
    await invoice('PS1', true);
    // north's demand for product 11 is not covered (5 on hand + 10 incoming < 25); south's for 13 is (5 + 40 ≥ 20).
    // The south demand was served by PS1, received 6 hours after the demand came in.
    await db.pool.query(
      `insert into carelane.demands (demand_key, correlation_id, kind, status, site, content_hash, scheduled_start, lines, created_at)
       values ('dn', 'c-dn', 'procedure', 'partial', 'north', 'h1', now() + interval '1 day', '[{"productId": 11, "quantity": 25}]', now() - interval '10 hours'),
              ('ds', 'c-ds', 'procedure', 'reserved', 'south', 'h2', now() + interval '2 days', '[{"productId": 13, "quantity": 20}]', now() - interval '10 hours')`,
    );
    await db.pool.query(`insert into carelane.transaction_links (correlation_id, related_id, relation) values ('c-ds', 'po:PS1', 'purchase_order')`);
    await db.pool.query(`insert into carelane.receipts (batch_key, po_key, correlation_id, status) values ('dock|1', 'PS1', 'rcv-1', 'validated')`);
    await db.pool.query(
      `insert into carelane.po_line_receipts (po_key, batch_key, odoo_purchase_line_id, product_id, quantity_received, received_at) values ('PS1', 'dock|1', 1, 13, 0, now() - interval '4 hours')`,
    );
    await db.pool.query(`insert into carelane.exceptions (type, classification, status, correlation_id, reason) values ('supplier_delay', 'business', 'open', 'c-x', 'late')`);
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('stores a network row and one row per site, each site with its own figures', async () => {
    await recordKpiSnapshots(db.pool, kpis, new Date('2026-03-02T18:00:00Z'));
    const rows = await readKpiHistory(db.pool, { days: 7, now: new Date('2026-03-02T20:00:00Z') });
    const bySite = new Map(rows.map((r) => [r.site, r]));
    expect([...bySite.keys()]).toEqual([null, 'north', 'south']);
    expect(bySite.get('north')).toMatchObject({ day: '2026-03-02', orderAcknowledgmentLatencyMinutes: 90, invoiceFirstPassMatchRate: 50, procurementCycleTimeHours: null, itemsWatched: 1, itemsAtRisk: 1, openExceptions: null, manualTouchesPerTransaction: null });
    expect(bySite.get('south')).toMatchObject({ orderAcknowledgmentLatencyMinutes: 12, invoiceFirstPassMatchRate: 100, procurementCycleTimeHours: 6, itemsWatched: 1, itemsAtRisk: 0 });
    // the network: (30 + 150 + 12) / 3 minutes, 2 of 3 invoices, both sites' items, the open exception
    expect(bySite.get(null)).toMatchObject({ orderAcknowledgmentLatencyMinutes: 64, invoiceFirstPassMatchRate: 66.7, procurementCycleTimeHours: 6, itemsWatched: 2, itemsAtRisk: 1, openExceptions: 1, windowDays: 30 });
  });

  it('keeps one row per day and site: a later run the same day replaces it, another day adds one', async () => {
    // north's slow order acknowledged faster after all: its figure moves, the day keeps one row
    await db.pool.query(`update carelane.messages set received_at = received_at - interval '120 minutes' where correlation_id = 'ack:PN2'`);
    await recordKpiSnapshots(db.pool, kpis, new Date('2026-03-02T23:00:00Z'));
    await recordKpiSnapshots(db.pool, kpis, new Date('2026-03-03T01:00:00Z'));
    const rows = await readKpiHistory(db.pool, { days: 7, site: 'north', now: new Date('2026-03-03T12:00:00Z') });
    expect(rows.map((r) => [r.day, r.site, r.orderAcknowledgmentLatencyMinutes])).toEqual([
      ['2026-03-02', null, 24],
      ['2026-03-02', 'north', 30],
      ['2026-03-03', null, 24],
      ['2026-03-03', 'north', 30],
    ]);
    // the window: only days within it, today included
    expect((await readKpiHistory(db.pool, { days: 1, now: new Date('2026-03-03T12:00:00Z') })).map((r) => r.day)).toEqual(['2026-03-03', '2026-03-03', '2026-03-03']);
  });

  it('serves the history to any role that reads messages, with the days asked for', async () => {
    await recordKpiSnapshots(db.pool, kpis);
    const viewer = await createToken(db.pool, 'kpi-viewer', 'viewer');
    const today = new Date().toISOString().slice(0, 10);
    const reply = await call<{ days: number; sites: string[]; snapshots: Array<{ day: string; site: string | null; invoiceFirstPassMatchRate: number | null }> }>(viewer, '/api/v1/kpis/history?days=3');
    expect(reply.status).toBe(200);
    expect(reply.body.days).toBe(3);
    expect(reply.body.sites).toEqual(['north', 'south']);
    expect(reply.body.snapshots.filter((s) => s.day === today).map((s) => [s.site, s.invoiceFirstPassMatchRate])).toEqual([
      [null, 66.7],
      ['north', 50],
      ['south', 100],
    ]);
    const south = await call<{ snapshots: Array<{ site: string | null }> }>(viewer, '/api/v1/kpis/history?days=3&site=south');
    expect(new Set(south.body.snapshots.map((s) => s.site))).toEqual(new Set([null, 'south']));
    const tooLong = await call<{ message: string }>(viewer, '/api/v1/kpis/history?days=5000');
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toMatch(/days/);
    expect((await call(`${viewer}x`, '/api/v1/kpis/history')).status).toBe(401);
  });
});
