import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { PurchaseGateway, VendorGateway, type OdooClient } from '../src/connectors/odoo/index.ts';
import { transactionSet, writeInterchange, type SegmentValues } from '../src/connectors/x12/writer.ts';
import { withCheckDigit } from '../src/connectors/gs1/index.ts';
import { enqueueDeliveries } from '../src/engine/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';
import { adminApi, connectOdooAdmin, ODOO_SIMULATOR_KEY, queryRows, seedSupplierCatalog, x12TestPartner } from './support/supplier-cycle-setup.ts';

// Two Odoo connections, each numbering its purchase orders with its own sequence: the first order on each is the
// same P number. Supplier documents name orders by that number only. Each order goes out through the real
// replenishment.send_order step to its vendor's X12 partner; an 855/856 is then matched only to orders sent to
// its sender, and a number that still names orders on both connections parks as po_ambiguous with nothing
// written to either Odoo.

const ADMIN = 'po-ambiguous-admin-token';
let db: TestDatabase;
let odooMain: OdooSimulator;
let odooOther: OdooSimulator;
let app: RunningCarelane;
let capture: http.Server;
const sent850: string[] = [];
const clients: Record<string, OdooClient> = {};
const products: Record<string, Record<string, number>> = {};
const gtin = withCheckDigit('1061414100011');

const partners = { acme: x12TestPartner('acme', 'ACME'), beta: x12TestPartner('beta', 'BETA'), shared: x12TestPartner('shared', 'SHARED') };
const api = adminApi(() => app.httpUrl, ADMIN);
const query = queryRows(() => app.database.pool);

let control = 700;
function interchange(partner: keyof typeof partners, functionalId: string, set: string, body: SegmentValues[]): string {
  control++;
  const theirs = partners[partner].theirs.id;
  return writeInterchange(functionalId, [transactionSet(set, String(control).padStart(4, '0'), body)], {
    sender: { qualifier: 'ZZ', id: theirs },
    receiver: { qualifier: 'ZZ', id: 'CARELANE' },
    applicationSender: theirs,
    applicationReceiver: 'CARELANE',
    version: '005010',
    interchangeControlNumber: control,
    groupControlNumber: control,
    usage: 'T',
    at: new Date(),
  });
}

/** An 855 confirming `confirmed` of line 1 (ordered 10). */
const ack855 = (partner: keyof typeof partners, poName: string, confirmed: number) =>
  interchange(partner, 'PR', '855', [['BAK', '00', 'AC', poName, '20261201'], ['PO1', '1', '10', 'EA', '2'], ['ACK', 'IQ', String(confirmed), 'EA'], ['CTT', '1']]);

/** An 856 shipping 4 of line 1 in lot `lot`. */
const notice856 = (partner: keyof typeof partners, poName: string, shipmentId: string, lot: string) =>
  interchange(partner, 'SH', '856', [
    ['BSN', '00', shipmentId, '20261202', '1200'],
    ['HL', '1', '', 'S'], ['REF', 'BM', `BOL-${shipmentId}`], ['DTM', '011', '20261202'],
    ['HL', '2', '1', 'O'], ['PRF', poName],
    ['HL', '3', '2', 'I'], ['LIN', '1', 'UK', gtin, 'LT', lot], ['SN1', '', '4', 'EA'], ['DTM', '036', '20301231'],
    ['CTT', '1'],
  ]);

async function post(partner: keyof typeof partners, text: string): Promise<void> {
  const response = await fetch(`${app.x12Url}/x12/${partner}`, { method: 'POST', body: text, headers: { 'content-type': 'application/edi-x12' } });
  expect(response.status).toBe(200);
}

/**
 * Places an order of 10 in one Odoo, records it as the replenishment flow does, and sends it through Carelane's
 * own replenishment.send_order (→ the vendor's channel → x12.send_850); resolves once the 850 is out.
 */
async function placeAndSend(connection: 'odoo-main' | 'odoo-other', key: string, vendor: string): Promise<{ poKey: string; name: string; orderId: number }> {
  const client = clients[connection]!;
  const productId = products[connection]!['item:gown']!;
  const vendorId = products[connection]![vendor]!;
  const placed = await new PurchaseGateway(client).place({ key, vendorId, lines: [{ productId, quantity: 10, priceUnit: 2 }] });
  await app.database.pool.query(
    `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines)
     values ($1, $2, 'north', $3, $4, $5, $6, $7, $8::jsonb)`,
    [key, `c-${key}`, connection, vendorId, placed.orderId, placed.name, placed.state, JSON.stringify([{ productId, quantity: 10, unitPrice: 2 }])],
  );
  await enqueueDeliveries(app.database.pool, [{ lane: 'standard', action: 'replenishment.send_order', endpoint: 'internal', idempotencyKey: `replenishment.send_order:${key}`, correlationId: `c-${key}`, payload: { poKey: key } }]);
  await waitFor(async () => (await query(`select 1 from carelane.deliveries where idempotency_key = $1 and status = 'done'`, [`x12.send_850:${key}`])).length === 1, 20_000, `the 850 of ${key} sent`);
  return { poKey: key, name: placed.name, orderId: placed.orderId };
}

const lineQty = async (connection: string, orderId: number) =>
  Number((await clients[connection]!.searchRead('purchase.order.line', [['order_id', '=', orderId]], { fields: ['product_qty'] }))[0]!.product_qty);
const applied = (poKey: string) => query<{ applied_at: Date | null }>('select applied_at from carelane.supplier_acknowledgments where po_key = $1', [poKey]);

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odooMain = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_po_ambiguous_main', reset: true });
  odooOther = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_po_ambiguous_other', reset: true });
  capture = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      sent850.push(body);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('');
    });
  });
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  const captureUrl = `http://127.0.0.1:${(capture.address() as AddressInfo).port}/x12`;

  for (const [connection, odoo] of [['odoo-main', odooMain], ['odoo-other', odooOther]] as const) {
    clients[connection] = await connectOdooAdmin(odoo);
    // The same distributor (SHARED) serves both databases; ACME only the main one, BETA only the other.
    const own = connection === 'odoo-main' ? { key: 'vendor:acme', name: 'Acme Medical', ref: 'ACME' } : { key: 'vendor:beta', name: 'Beta Surgical', ref: 'BETA' };
    const vendors = await new VendorGateway(clients[connection]!).ensure([own, { key: 'vendor:shared', name: 'Shared Distribution', ref: 'SHARED' }]);
    const ids = await seedSupplierCatalog(clients[connection]!, { products: [{ key: 'item:gown', defaultCode: 'GOWN-L', name: 'Gown L', barcode: gtin, tracking: 'lot', storable: true }], vendor: own, price: 2 });
    products[connection] = { ...ids, ...Object.fromEntries([...vendors].map(([key, vendor]) => [key, vendor.id])) };
  }

  const odooConnection = (odoo: OdooSimulator) => `{ url: "${odoo.url}", database: ${odoo.database}, login: admin, apiKey: "\${env:ODOO_KEY}", transport: jsonrpc, timeoutMs: 5000 }`;
  const config = parseConfigText(
    `
server: { port: 0 }
engine: { pollIntervalMs: 50 }
odoo:
  connections:
    odoo-main: ${odooConnection(odooMain)}
    odoo-other: ${odooConnection(odooOther)}
x12:
  http: { port: 0 }
  partners:
${Object.values(partners).map((p) => `    - ${JSON.stringify({ ...p, endpoint: captureUrl })}`).join('\n')}
suppliers:
  - { vendorRef: ACME, channel: x12, partner: acme }
  - { vendorRef: BETA, channel: x12, partner: beta }
  - { vendorRef: SHARED, channel: x12, partner: shared }
routes:
  - { source: "x12:*", type: X12_855, lane: standard, flow: supplier_ack }
  - { source: "x12:*", type: X12_856, lane: standard, flow: ship_notice }
  - { lane: standard, flow: noop }
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ODOO_KEY: ODOO_SIMULATOR_KEY },
  );
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => capture?.close(resolve));
  await odooMain?.close();
  await odooOther?.close();
  await db?.drop();
});

describe('supplier documents naming a PO number held on two Odoo connections', () => {
  let main: { poKey: string; name: string; orderId: number };
  let other: { poKey: string; name: string; orderId: number };

  it("sent to two different partners: each partner's 855 and 856 land on the order it was sent", async () => {
    main = await placeAndSend('odoo-main', 'po-twin-acme', 'vendor:acme');
    other = await placeAndSend('odoo-other', 'po-twin-beta', 'vendor:beta');
    expect(other.name).toBe(main.name);
    expect(await query('select po_key, sent_via from carelane.purchase_orders order by po_key')).toEqual([
      { po_key: 'po-twin-acme', sent_via: 'x12:acme' },
      { po_key: 'po-twin-beta', sent_via: 'x12:beta' },
    ]);

    // BETA's order was placed last: a match by number alone would take it for ACME's acknowledgment too.
    await post('acme', ack855('acme', main.name, 8));
    await waitFor(async () => (await applied(main.poKey))[0]?.applied_at ?? undefined, 20_000, "ACME's 855 applied");
    await post('beta', ack855('beta', other.name, 6));
    await waitFor(async () => (await applied(other.poKey))[0]?.applied_at ?? undefined, 20_000, "BETA's 855 applied");
    expect(await lineQty('odoo-main', main.orderId)).toBe(8);
    expect(await lineQty('odoo-other', other.orderId)).toBe(6);
    expect(await applied(main.poKey)).toHaveLength(1);
    expect(await applied(other.poKey)).toHaveLength(1);

    await post('acme', notice856('acme', main.name, 'SHIP-ACME-1', 'LOT-ACME'));
    await waitFor(async () => (await query(`select 1 from carelane.expected_lots where lot_name = 'LOT-ACME'`)).length === 1, 20_000, "ACME's lots recorded");
    expect(await query(`select po_key from carelane.expected_lots where lot_name = 'LOT-ACME'`)).toEqual([{ po_key: main.poKey }]);
    expect(await query(`select type, reason from carelane.exceptions where status = 'open'`)).toEqual([]);
  });

  it('sent to the same partner from both connections: the 855 parks as po_ambiguous and nothing is applied in either Odoo', async () => {
    const a = await placeAndSend('odoo-main', 'po-shared-main', 'vendor:shared');
    const b = await placeAndSend('odoo-other', 'po-shared-other', 'vendor:shared');
    expect(b.name).toBe(a.name);

    await post('shared', ack855('shared', a.name, 5));
    const exception = await waitFor(async () => (await query<{ type: string; classification: string; reason: string; detail: Record<string, unknown> }>(
      `select type, classification, reason, detail from carelane.exceptions where status = 'open' and detail->>'code' = 'po_ambiguous'`,
    ))[0], 20_000, 'the po_ambiguous exception');
    expect(exception.classification).toBe('permanent');
    expect(exception.reason).toContain(`purchase order ${a.name} names orders on more than one Odoo connection (odoo-main, odoo-other)`);
    expect(exception.detail).toMatchObject({ po: a.name, connections: ['odoo-main', 'odoo-other'], source: 'x12:shared', where: { segment: 'BAK', field: 'BAK03' } });
    expect(await applied(a.poKey)).toEqual([]);
    expect(await applied(b.poKey)).toEqual([]);
    expect(await query(`select 1 from carelane.deliveries where action = 'supplier.apply_ack' and payload->>'poName' = $1 and payload->>'poKey' like 'po-shared-%'`, [a.name])).toEqual([]);
    expect(await lineQty('odoo-main', a.orderId)).toBe(10);
    expect(await lineQty('odoo-other', b.orderId)).toBe(10);
  });

  it('a receipt naming a PO number on two connections is refused with 409 po_ambiguous; its PO key names the one order', async () => {
    const refused = await api<{ error: string; message: string }>('POST', '/api/v1/receipts', { batchId: 'DOCK-TWIN-1', poNumber: main.name, lines: [{ gtin, lot: 'LOT-ACME', quantity: 4 }] });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('po_ambiguous');
    expect(refused.body.message).toContain('(odoo-main, odoo-other)');
    expect(await query(`select 1 from carelane.messages where external_id = 'DOCK-TWIN-1'`)).toEqual([]);
    const byKey = await api<{ batchId: string }>('POST', '/api/v1/receipts', { batchId: 'DOCK-TWIN-2', poNumber: main.poKey, lines: [{ gtin, lot: 'LOT-ACME', quantity: 4 }] });
    expect(byKey.status).toBe(202);
  });
});
