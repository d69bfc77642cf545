import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { OdooClient, ProductGateway, PurchaseGateway, ReceiptGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import { transactionSet, writeInterchange } from '../src/connectors/x12/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import type { X12PartnerProfile } from '../src/connectors/x12/partner-profile.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// Issue 7 (invoice match) end to end over real sockets: a purchase order placed and partly received in the
// Odoo simulator, the supplier's 810 posted to Carelane's X12 listener. Within tolerance the bill is posted;
// with a price variance it stays a draft, the exception carries the three figures per line, and
// accept_variance posts it and records who and why.

const ADMIN = 'finance-invoice-admin-token';
let db: TestDatabase;
let odoo: OdooSimulator;
let app: RunningCarelane;
let client: OdooClient;
let vendorId: number;
const products: Record<string, number> = {};

const profile: X12PartnerProfile = {
  id: 'medsupply',
  ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
  theirs: { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' },
  version: '005010',
  transport: 'http',
  endpoint: 'http://127.0.0.1:1/unused',
  acknowledgment: { kind: '999', withinMinutes: 60 },
  usage: 'T',
};

let control = 100;
/** An 810 as the supplier writes it: BIG (date, number, PO date, PO number), IT1 per line, TDS in cents. */
function invoice810(invoiceNumber: string, poNumber: string, lines: Array<{ quantity: number; price: string }>): string {
  control++;
  const cents = lines.reduce((sum, l) => sum + Math.round(Number(l.price) * 100) * l.quantity, 0);
  const body = [['BIG', '20261201', invoiceNumber, '20261125', poNumber], ...lines.map((l, i) => ['IT1', String(i + 1), String(l.quantity), 'EA', l.price]), ['TDS', String(cents)], ['CTT', String(lines.length)]];
  return writeInterchange('IN', [transactionSet('810', String(control).padStart(4, '0'), body)], {
    sender: { qualifier: 'ZZ', id: 'MEDSUPPLY' },
    receiver: { qualifier: 'ZZ', id: 'CARELANE' },
    version: '005010',
    interchangeControlNumber: control,
    groupControlNumber: control,
    usage: 'T',
    at: new Date('2026-12-01T10:00:00Z'),
  });
}

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${app.httpUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${ADMIN}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Places a PO in Odoo as the replenishment flow would, records it, and receives `received` of each line. */
async function placedOrder(key: string, lines: Array<{ product: string; quantity: number; price: number; received: number }>) {
  const placed = await new PurchaseGateway(client).place({ key, vendorId, lines: lines.map((l) => ({ productId: products[l.product]!, quantity: l.quantity, priceUnit: l.price })) });
  await app.database.pool.query(
    `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines, sent_at)
     values ($1, $2, 'north', 'odoo-main', $3, $4, $5, $6, $7::jsonb, now())`,
    [key, `po-${key}`, vendorId, placed.orderId, placed.name, placed.state, JSON.stringify(lines.map((l) => ({ productId: products[l.product]!, quantity: l.quantity, unitPrice: l.price })))],
  );
  await new ReceiptGateway(client).receive({ pickingId: placed.pickingIds[0]!, lines: lines.filter((l) => l.received > 0).map((l) => ({ productId: products[l.product]!, quantity: l.received })), backorder: true });
  return placed;
}

async function postInvoice(text: string): Promise<void> {
  const response = await fetch(`${app.x12Url}/x12/medsupply`, { method: 'POST', body: text, headers: { 'content-type': 'application/edi-x12' } });
  expect(response.status).toBe(200);
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odoo = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_finance_invoice', reset: true });
  client = await OdooClient.connect({ url: odoo.url, database: odoo.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
  const ensured = await new ProductGateway(client).ensure([
    { key: 'item:gauze', defaultCode: 'GAUZE-4X4', name: 'Gauze 4x4', storable: true },
    { key: 'item:drape', defaultCode: 'DRAPE-KNEE', name: 'Knee drape', storable: true },
  ]);
  for (const [key, value] of ensured) products[key] = value.id;
  vendorId = (await new VendorGateway(client).ensure([{ key: 'vendor:medsupply', name: 'MedSupply Inc', ref: 'MEDSUPPLY' }])).get('vendor:medsupply')!.id;

  const config = parseConfigText(
    `
server: { port: 0 }
engine: { pollIntervalMs: 50 }
odoo:
  connections:
    odoo-main: { url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 5000 }
x12:
  http: { port: 0 }
  partners:
    - ${JSON.stringify(profile)}
flows:
  invoiceMatch:
    tolerance: { pricePercent: 1, quantityAbsolute: 0 }
    vendors:
      - { vendorRef: MEDSUPPLY, tolerance: { pricePercent: 2, priceAbsolute: 0.05, quantityAbsolute: 0 } }
routes:
  - { source: "x12:*", type: "X12_810", lane: standard, flow: invoice_match }
  - { lane: standard, flow: noop }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: 'sim-admin-api-key' },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await odoo?.close();
  await db?.drop();
});

const billsOf = async (ref: string) => (await odoo.records('account.move', ['ref', 'state', 'move_type', 'amount_total'])).filter((m) => m.ref === ref);

describe('invoice match (810 → 3-way match → vendor bill)', () => {
  it('posts the bill when every line is within the vendor tolerance', async () => {
    const po = await placedOrder('po-match-1', [{ product: 'item:gauze', quantity: 10, price: 2.5, received: 10 }]);
    // 2.54 is within MEDSUPPLY's 2 % (0.05): the vendor's own tolerance applies, not the default 1 %.
    await postInvoice(invoice810('INV-OK-1', po.name, [{ quantity: 10, price: '2.54' }]));
    const bills = await waitFor(async () => ((await billsOf('INV-OK-1'))[0]?.state === 'posted' ? billsOf('INV-OK-1') : undefined), 20_000, 'bill posted');
    expect(bills).toHaveLength(1);
    // The match is stored in the transaction that completes the delivery, just after the bill was posted.
    const body = await waitFor(async () => {
      const reply = await api<{ matches: Array<{ outcome: string; firstPass: boolean; billState: string; lines: Array<{ verdicts: string[]; received: number }> }> }>(`/api/v1/invoice-matches?po=${po.name}`);
      return reply.body.matches.length > 0 ? reply.body : undefined;
    }, 10_000, 'match stored');
    expect(body.matches).toHaveLength(1);
    expect(body.matches[0]).toMatchObject({ outcome: 'matched', firstPass: true, billState: 'posted' });
    expect(body.matches[0]!.lines[0]).toMatchObject({ verdicts: ['ok'], received: 10 });
  });

  it('parks a price variance with the evidence, leaves the bill in draft, and accept_variance posts it', async () => {
    const po = await placedOrder('po-variance-1', [
      { product: 'item:gauze', quantity: 10, price: 2.5, received: 10 },
      { product: 'item:drape', quantity: 4, price: 12, received: 4 },
    ]);
    await postInvoice(invoice810('INV-VAR-1', po.name, [{ quantity: 10, price: '2.50' }, { quantity: 4, price: '13.00' }]));
    const exception = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ id: string; type: string; detail: { billId: number; lines: Array<Record<string, unknown>> }; correlation_id: string }>(
        `select id, type, detail, correlation_id from carelane.exceptions where status = 'open' and detail->>'invoiceNumber' = 'INV-VAR-1'`,
      );
      return rows[0];
    }, 20_000, 'price variance exception');
    expect(exception.type).toBe('price_variance');
    // The three figures per line: PO (ordered, price), receipt (received), invoice (quantity, price).
    expect(exception.detail.lines[1]).toMatchObject({ line: '2', ordered: 4, poPrice: 12, received: 4, invoiced: 4, invoicedPrice: '13.00', priceDifference: 1, verdicts: ['price_variance'] });
    expect(exception.detail.lines[0]).toMatchObject({ verdicts: ['ok'] });
    expect(await billsOf('INV-VAR-1')).toMatchObject([{ state: 'draft', move_type: 'in_invoice' }]);

    // The PO's transaction timeline shows the invoice and its match (linked transactions).
    const timeline = await api<{ entries: Array<{ kind: string; status?: string }> }>(`/api/v1/transactions/po-po-variance-1`);
    expect(timeline.body.entries.some((e) => e.kind === 'invoice_match' && e.status === 'price_variance')).toBe(true);

    // accept_variance on a stock_mismatch-only action is refused; on this one it posts the bill.
    const refused = await api<{ error: string }>(`/api/v1/exceptions/${exception.id}/resolve`, { method: 'POST', body: { action: 'adjust_stock', note: 'wrong action' } });
    expect(refused.status).toBe(409);
    const resolved = await api<{ action: string }>(`/api/v1/exceptions/${exception.id}/resolve`, { method: 'POST', body: { action: 'accept_variance', note: 'price increase agreed by phone with MedSupply' } });
    expect(resolved.status).toBe(200);
    await waitFor(async () => ((await billsOf('INV-VAR-1'))[0]?.state === 'posted' ? true : undefined), 20_000, 'accepted bill posted');
    expect(await billsOf('INV-VAR-1')).toHaveLength(1);
    const body = await waitFor(async () => {
      const reply = await api<{ matches: Array<{ outcome: string; firstPass: boolean; acceptedBy: string; acceptedNote: string; billState: string }> }>(`/api/v1/invoice-matches?po=${po.name}`);
      return reply.body.matches[0]?.outcome === 'accepted' ? reply.body : undefined;
    }, 10_000, 'match accepted');
    expect(body.matches[0]).toMatchObject({ outcome: 'accepted', firstPass: false, acceptedBy: 'token:admin', acceptedNote: 'price increase agreed by phone with MedSupply', billState: 'posted' });
    const { rows: audit } = await app.database.pool.query<{ actor: string; action: string; reason: string }>(`select actor, action, reason from carelane.audit_log where target_id = $1`, [exception.id]);
    expect(audit).toEqual([expect.objectContaining({ action: 'exception.accept_variance', reason: 'price increase agreed by phone with MedSupply' })]);
  });

  it('flags billing more than was received as a quantity variance; cancel_po_line cancels what will not come', async () => {
    const po = await placedOrder('po-qty-1', [{ product: 'item:drape', quantity: 6, price: 12, received: 4 }]);
    await postInvoice(invoice810('INV-QTY-1', po.name, [{ quantity: 6, price: '12.00' }]));
    const exception = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ id: string; type: string; detail: { lines: Array<Record<string, unknown>> } }>(`select id, type, detail from carelane.exceptions where status = 'open' and detail->>'invoiceNumber' = 'INV-QTY-1'`);
      return rows[0];
    }, 20_000, 'quantity variance exception');
    expect(exception.type).toBe('quantity_variance');
    expect(exception.detail.lines[0]).toMatchObject({ ordered: 6, received: 4, invoiced: 6, quantityOverReceived: 2, verdicts: ['quantity_variance'] });
    expect(await billsOf('INV-QTY-1')).toMatchObject([{ state: 'draft' }]);
    const resolved = await api(`/api/v1/exceptions/${exception.id}/resolve`, { method: 'POST', body: { action: 'cancel_po_line', note: 'supplier cannot deliver the last 2' } });
    expect(resolved.status).toBe(200);
    const line = await waitFor(async () => {
      const rows = (await odoo.records('purchase.order.line', ['order_id', 'product_qty'])).filter((l) => (l.order_id as [number, string])[0] === po.orderId);
      return rows[0]?.product_qty === 4 ? rows[0] : undefined;
    }, 20_000, 'PO line reduced to the received quantity');
    expect(line.product_qty).toBe(4);
  });

  it('derives the KPIs from what happened: first-pass match rate, manual touches, as API and Prometheus gauges', async () => {
    const { body } = await api<{ invoiceFirstPassMatchRate: number; manualTouchesPerTransaction: number; suppliers: Array<{ vendorId: number; orders: number }> }>('/api/v1/kpis');
    // Three invoices above: one matched at once, two needed a person (accept_variance, cancel_po_line).
    expect(body.invoiceFirstPassMatchRate).toBe(33.3);
    expect(body.manualTouchesPerTransaction).toBeGreaterThan(0);
    expect(body.suppliers).toEqual([expect.objectContaining({ vendorId, orders: 3 })]);
    const metrics = await (await fetch(`${app.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/carelane_kpi_invoice_first_pass_match_ratio 0\.33\d*/);
  });

  it('refuses an invoice whose PO number names orders on two Odoo connections instead of billing either', async () => {
    const po = await placedOrder('po-twin-1', [{ product: 'item:gauze', quantity: 1, price: 2.5, received: 1 }]);
    // Another Odoo database numbers its orders with its own sequence: the same P number, a different order.
    await app.database.pool.query(
      `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines)
       values ('po-twin-other', 'po-po-twin-other', 'south', 'odoo-other', 3, 99, $1, 'purchase', '[]'::jsonb)`,
      [po.name],
    );
    await postInvoice(invoice810('INV-TWIN-1', po.name, [{ quantity: 1, price: '2.50' }]));
    const exception = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ classification: string; reason: string }>(`select classification, reason from carelane.exceptions where status = 'open' and reason like '%INV-TWIN-1%'`);
      return rows[0];
    }, 20_000, 'ambiguous PO exception');
    expect(exception.classification).toBe('permanent');
    expect(exception.reason).toContain('more than one Odoo connection (odoo-main, odoo-other)');
    expect(await billsOf('INV-TWIN-1')).toEqual([]);
  });

  it('cancel_po_line on a PO number held on two Odoo connections is refused; with the PO key it acts on that order', async () => {
    const drape = products['item:drape']!;
    const placed = await new PurchaseGateway(client).place({ key: 'po-twin-playbook', vendorId, lines: [{ productId: drape, quantity: 5, priceUnit: 12 }] });
    await new ReceiptGateway(client).receive({ pickingId: placed.pickingIds[0]!, lines: [{ productId: drape, quantity: 3 }], backorder: true });
    // The other Odoo database's order of the same number, recorded first: a lookup by number alone finds it first.
    const record = (poKey: string, connection: string, odooOrderId: number) =>
      app.database.pool.query(
        `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines, sent_at)
         values ($1, $2, 'north', $3, $4, $5, $6, 'purchase', $7::jsonb, now())`,
        [poKey, `po-${poKey}`, connection, vendorId, odooOrderId, placed.name, JSON.stringify([{ productId: drape, quantity: 5, unitPrice: 12 }])],
      );
    await record('po-twin-playbook-other', 'odoo-other', 99);
    await record('po-twin-playbook', 'odoo-main', placed.orderId);
    const raise = async (detail: Record<string, unknown>) =>
      (await app.database.pool.query<{ id: string }>(
        `insert into carelane.exceptions (type, classification, status, reason, correlation_id, detail) values ('supplier_delay', 'business', 'open', 'test: the rest will not come', 'po-po-twin-playbook', $1::jsonb) returning id`,
        [JSON.stringify(detail)],
      )).rows[0]!.id;
    const playbookDeliveries = async (id: string) => (await app.database.pool.query<{ endpoint: string }>('select endpoint from carelane.deliveries where idempotency_key = $1', [`playbook:${id}:cancel_po_line`])).rows;

    const byNumber = await raise({ po: placed.name });
    const refused = await api<{ error: string; message: string }>(`/api/v1/exceptions/${byNumber}/resolve`, { method: 'POST', body: { action: 'cancel_po_line', note: 'supplier cannot deliver the rest' } });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`purchase order ${placed.name} exists on more than one Odoo connection (odoo-main, odoo-other)`);
    expect((await app.database.pool.query('select status from carelane.exceptions where id = $1', [byNumber])).rows).toEqual([{ status: 'open' }]);
    expect(await playbookDeliveries(byNumber)).toEqual([]);

    // An acknowledgment delay carries Carelane's PO key next to the number: that names one order exactly.
    const byKey = await raise({ poKey: 'po-twin-playbook', po: placed.name });
    const resolved = await api(`/api/v1/exceptions/${byKey}/resolve`, { method: 'POST', body: { action: 'cancel_po_line', note: 'supplier cannot deliver the rest' } });
    expect(resolved.status).toBe(200);
    expect(await playbookDeliveries(byKey)).toEqual([{ endpoint: 'odoo-main' }]);
    const line = await waitFor(async () => {
      const rows = (await odoo.records('purchase.order.line', ['order_id', 'product_qty'])).filter((l) => (l.order_id as [number, string])[0] === placed.orderId);
      return rows[0]?.product_qty === 3 ? rows[0] : undefined;
    }, 20_000, 'PO line reduced to the received quantity');
    expect(line.product_qty).toBe(3);
  });
});
