import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import type { OdooClient } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';
import { adminApi, connectOdooAdmin, m2o, mapNorthSite, queryRows, seedSupplierCatalog, siuBooking, supplierCycleConfig } from './support/supplier-cycle-setup.ts';

// "Phantom receipt", second path (issue 7): a receipt batch whose Odoo retries ran out after it had chosen its
// picking keeps that choice. Replayed after another batch validated that picking, it found it "already done" and
// recorded the other batch's goods as its own in carelane.po_line_receipts (what the 3-way match reads as
// received), while Odoo never got its goods. Now a replay recognises the picking is not its validation and
// chooses again; a batch whose own validation went through (the answer lost) is still recognised as done.
//
// PO of 14 drapes (one line, lot-tracked):
//   DOCK-A  4 × lot LA: button_validate answered 502 until the retries run out → parked (picking P chosen)
//   DOCK-B  6 × lot LB: validates P (short: backorder P2 keeps 8)
//   DOCK-A  replayed: P is B's → chooses P2, validates 4 (backorder P3 keeps 4)
//   DOCK-C  4 × lot LC: button_validate commits but the answer is lost, the next attempts get 502 → parked
//   DOCK-C  replayed: P3 is done with its own goods → recorded, not received again

const ADMIN = 'receipt-replay-admin-token';
const ATTEMPTS = 3;
let db: TestDatabase;
let odoo: OdooSimulator;
let client: OdooClient;
let app: RunningCarelane;
let drape = 0;
let poName = '';
let poKey = '';
let orderId = 0;

const siu = (id: string): string =>
  siuBooking(id, { description: 'Knee arthroscopy', minutes: 60, procedure: { code: '29881', text: 'Arthroscopy, knee' }, room: 'OR-2', patient: 'PID|1||424242^^^HOSP^MR||POE^ANNA||19800303|F' });

const api = adminApi(() => app.httpUrl, ADMIN);
const query = queryRows(() => app.database.pool);

interface Receipt { status: string; pickingId: number | null; backorderId: number | null; received: Array<{ quantity: number }> }
const receipt = async (batchId: string) => (await api<Receipt>('GET', `/api/v1/receipts/${batchId}`)).body;
const batch = (batchId: string, lot: string, quantity: number) => ({ batchId, poNumber: poName, lines: [{ productId: drape, lot, expiryDate: '2029-06-30', quantity }] });

/** Carelane's received quantity (po_line_receipts) and Odoo's qty_received of the PO line. */
async function receivedBothSides(): Promise<{ carelane: number; odoo: number }> {
  const [ours] = await query<{ total: string | null }>('select sum(quantity_received) as total from carelane.po_line_receipts where po_key = $1', [poKey]);
  const [line] = (await odoo.records('purchase.order.line', ['order_id', 'qty_received'])).filter((l) => m2o(l.order_id) === orderId);
  return { carelane: Number(ours?.total ?? 0), odoo: Number(line!.qty_received) };
}

/** The receive run parked as an exception (retries ran out), and its id. */
async function parkedReceive(batchId: string): Promise<string> {
  const [message] = await query<{ id: string }>(`select id from carelane.messages where source = 'receipts:api' and external_id = $1`, [batchId]);
  const exception = await waitFor(async () => (await query<{ id: string; attempts: number }>(
    `select e.id, e.attempts from carelane.exceptions e join carelane.deliveries d on d.id = e.delivery_id where e.status = 'open' and d.action = 'supplier.receive' and d.message_id = $1`,
    [message!.id],
  ))[0], 30_000, `${batchId} parked`);
  expect(exception.attempts).toBe(ATTEMPTS);
  return exception.id;
}

async function replay(exceptionId: string, batchId: string): Promise<void> {
  expect((await api('POST', `/api/v1/exceptions/${exceptionId}/replay`, { note: 'test: Odoo is back' })).status).toBe(200);
  await waitFor(async () => (await receipt(batchId)).status === 'validated', 20_000, `${batchId} validated after the replay`);
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odoo = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_receipt_replay', reset: true });
  client = await connectOdooAdmin(odoo);
  const products = await seedSupplierCatalog(client, {
    products: [{ key: 'item:drape', defaultCode: 'DRAPE-KNEE', name: 'Knee drape', tracking: 'lot', storable: true }],
    vendor: { key: 'vendor:medsupply', name: 'MedSupply Inc', ref: 'MEDSUPPLY' },
    price: 4,
  });
  drape = products['item:drape']!;

  // No supplier channel: the PO stays confirmed in Odoo (a buyer sends it); the goods come to the dock anyway.
  const config = supplierCycleConfig({
    databaseUrl: db.url,
    adminToken: ADMIN,
    odoo,
    tokenizationSecret: 'tokenization-secret-for-receipt-replay-0123',
    sections: `
endpoints:
  odoo-main: { retry: { maxAttempts: ${ATTEMPTS}, baseDelayMs: 50, maxDelayMs: 200 } }
flows:
  replenishment: { groupWindowSeconds: 1 }
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { lane: standard, flow: noop }
`,
  });
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  await mapNorthSite(app.database.pool, odoo, {
    locations: [{ ehrSystem: 'facility:NORTH', ehrCode: 'OR-2' }],
    items: [{ code: 'DRP', productId: drape }],
    preferenceCard: { procedureCode: '29881', lines: [{ code: 'DRP', quantity: 14 }] },
  });

  const [ack] = await sendMllp('127.0.0.1', app.mllpPort!, [siu('APT-900')]);
  expect(ack).toContain('MSA|AA');
  const po = await waitFor(async () => (await query<{ po_key: string; name: string; odoo_order_id: number }>(`select po_key, name, odoo_order_id from carelane.purchase_orders where name is not null and odoo_order_id is not null`))[0], 30_000, 'the PO placed in Odoo');
  ({ po_key: poKey, name: poName } = po);
  orderId = Number(po.odoo_order_id);
  await waitFor(async () => (await odoo.records('stock.picking', ['purchase_id', 'state'])).some((p) => m2o(p.purchase_id) === orderId && p.state === 'assigned'), 10_000, 'the PO receipt in Odoo');
}, 90_000);

afterAll(async () => {
  await app?.stop();
  await odoo?.close();
  await db?.drop();
});

describe('supplier.receive replayed after its retries ran out', () => {
  let pickingP = 0;

  it('a batch whose validation failed until retries ran out keeps its picking and parks', async () => {
    odoo.addFault({ kind: 'http_502', model: 'stock.picking', method: 'button_validate', times: ATTEMPTS });
    expect((await api('POST', '/api/v1/receipts', batch('DOCK-A', 'LA', 4))).status).toBe(202);
    await parkedReceive('DOCK-A');
    const a = await receipt('DOCK-A');
    expect(a.status).toBe('received');
    expect(a.pickingId).not.toBeNull();
    pickingP = a.pickingId!;
    expect(await receivedBothSides()).toEqual({ carelane: 0, odoo: 0 });
  });

  it('another batch validates that picking meanwhile', async () => {
    odoo.clearFaults();
    expect((await api('POST', '/api/v1/receipts', batch('DOCK-B', 'LB', 6))).status).toBe(202);
    await waitFor(async () => (await receipt('DOCK-B')).status === 'validated', 20_000, 'DOCK-B validated');
    const b = await receipt('DOCK-B');
    expect(b.pickingId).toBe(pickingP);
    expect(b.backorderId).not.toBeNull();
    expect(await receivedBothSides()).toEqual({ carelane: 6, odoo: 6 });
  });

  it('the parked batch replayed does not take the other batch’s goods for its own: it receives into the open backorder', async () => {
    const [exception] = await query<{ id: string }>(`select e.id from carelane.exceptions e join carelane.deliveries d on d.id = e.delivery_id where e.status = 'open' and d.action = 'supplier.receive'`);
    await replay(exception!.id, 'DOCK-A');
    // Carelane's received quantity is Odoo's: both batches' goods, each once (it was 10 against Odoo's 6)
    expect(await receivedBothSides()).toEqual({ carelane: 10, odoo: 10 });
    const a = await receipt('DOCK-A');
    const b = await receipt('DOCK-B');
    expect(a.pickingId).toBe(b.backorderId);
    expect(a.received.map((r) => r.quantity)).toEqual([4]);
    const lots = (await odoo.records('stock.move.line', ['picking_id', 'lot_id', 'quantity'])).filter((l) => m2o(l.picking_id) === a.pickingId);
    expect(lots.map((l) => Number(l.quantity))).toEqual([4]);
  });

  it('a batch whose own validation went through (answer lost) and then ran out of retries is recognised as done on replay', async () => {
    const open = (await odoo.records('stock.picking', ['purchase_id', 'state'])).filter((p) => m2o(p.purchase_id) === orderId && p.state === 'assigned');
    expect(open).toHaveLength(1);
    // validate commits, the answer never comes; the next attempts find Odoo's proxy answering 502
    odoo.addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'button_validate', times: 1, delayMs: 100 });
    odoo.addFault({ kind: 'http_502', model: 'stock.picking', method: 'read', times: ATTEMPTS - 1 });
    expect((await api('POST', '/api/v1/receipts', batch('DOCK-C', 'LC', 4))).status).toBe(202);
    const parked = await parkedReceive('DOCK-C');
    odoo.clearFaults();
    // Odoo has the goods; Carelane has not recorded them yet
    expect(await receivedBothSides()).toEqual({ carelane: 10, odoo: 14 });
    await replay(parked, 'DOCK-C');
    const c = await receipt('DOCK-C');
    expect(c.pickingId).toBe(open[0]!.id);
    expect(await receivedBothSides()).toEqual({ carelane: 14, odoo: 14 });
    expect((await odoo.records('stock.picking', ['purchase_id', 'state'])).filter((p) => m2o(p.purchase_id) === orderId && p.state !== 'done')).toEqual([]);
  });
});
