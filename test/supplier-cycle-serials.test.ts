import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import { ReceiptGateway, type OdooClient } from '../src/connectors/odoo/index.ts';
import { withCheckDigit } from '../src/connectors/gs1/index.ts';
import type { ShippedItem } from '../src/connectors/x12/index.ts';
import { transactionSet, writeInterchange, type SegmentValues } from '../src/connectors/x12/writer.ts';
import { readReceiptDocument } from '../src/flows/supplier/receipt-document.ts';
import { odooLines, resolveReceipt } from '../src/flows/supplier/receipt.ts';
import { expectedSerialsOf } from '../src/flows/supplier/ship-notice.ts';
import type { SentOrder } from '../src/flows/supplier/order-lines.ts';
import type { PoSerial } from '../src/flows/supplier/store.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../simulators/supplier/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';
import { freePort } from './support/free-port.ts';
import { adminApi, connectOdooAdmin, m2o, mapNorthSite, queryRows, seedSupplierCatalog, siuBooking, supplierCycleConfig, x12TestPartner, yymmdd } from './support/supplier-cycle-setup.ts';

// Issue 5/7: serial numbers from the ship notice to the Odoo receipt, end to end over real sockets. An SIU booking
// falls short → a PO for 4 knee implants (tracked by serial in Odoo) and 2 drapes (by lot) → X12 850 to the
// supplier simulator. The supplier's 856 (posted here to Carelane's X12 listener) gives the implants' serials
// (REF*SE) in lot LOTIMP1; they are recorded per PO line and created in Odoo as serial numbers (stock.lot) with
// the lot's expiry. At the dock, GS1 scans with AI (21): each serial is one move line of quantity 1; a serial
// scanned twice, received already or not on the ship notice refuses the batch naming it; a unit without a serial
// is refused before Odoo; the Odoo simulator refuses a second unit of a serial as Odoo does.

const ADMIN = 'supplier-serials-admin-token';
const gtins = { implant: withCheckDigit('1061414100011'), drape: withCheckDigit('1061414100002') };
const SERIALS = ['SN-0001', 'SN-0002', 'SN-0003', 'SN-0004'];
const EXPIRY = '2029-06-30';

let db: TestDatabase;
let odoo: OdooSimulator;
let supplier: SupplierSimulator;
let app: RunningCarelane;
let client: OdooClient;
const products: Record<string, number> = {};
let poName = '';
let poKey = '';

const profile = x12TestPartner('medsupply', 'MEDSUPPLY');

const siu = (id: string): string =>
  siuBooking(id, { description: 'Knee replacement', minutes: 120, procedure: { code: '27447', text: 'Total knee arthroplasty' }, room: 'OR-4', patient: 'PID|1||565656^^^HOSP^MR||DOE^JANE||19700101|F' });

const api = adminApi(() => app.httpUrl, ADMIN);
const query = queryRows(() => app.database.pool);
const implantScan = (serial: string, lot = 'LOTIMP1') => `(01)${gtins.implant}(10)${lot}(17)${yymmdd(EXPIRY)}(21)${serial}`;

interface Receipt { status: string; pickingId: number | null; backorderId: number | null; outcome: { reason?: string; message?: string } | null; received: Array<{ productId: number; quantity: number; lots: Array<{ lot?: string; serial?: string; quantity: number }> }> }
const receipt = async (batchId: string) => (await api<Receipt>('GET', `/api/v1/receipts/${batchId}`)).body;
const settled = (batchId: string) => waitFor(async () => {
  const r = await api<Receipt>('GET', `/api/v1/receipts/${batchId}`);
  return r.status === 200 && (r.body.status === 'validated' || r.body.status === 'refused') && r.body;
}, 20_000, `${batchId} validated or refused`);

/** The 856 a distributor sends for this PO: implants in one lot with a serial per unit, drapes in one lot. */
function shipNotice856(controlNumber: number): string {
  const ymd = (iso: string) => iso.replaceAll('-', '');
  const body: SegmentValues[] = [
    ['BSN', '00', 'SHIP-SER-1', '20261124', '1200'],
    ['HL', '1', '', 'S'], ['REF', 'BM', 'BOL-SER-1'], ['DTM', '011', '20261124'],
    ['HL', '2', '1', 'O'], ['PRF', poName],
    ['HL', '3', '2', 'I'], ['LIN', '1', 'UK', gtins.implant, 'LT', 'LOTIMP1'], ['SN1', '', '4', 'EA'],
    ...SERIALS.map((serial) => ['REF', 'SE', serial]),
    ['DTM', '036', ymd(EXPIRY)],
    ['HL', '4', '2', 'I'], ['LIN', '2', 'UK', gtins.drape, 'LT', 'LOTDRP1'], ['SN1', '', '2', 'EA'], ['DTM', '036', ymd(EXPIRY)],
    ['CTT', '2'],
  ];
  return writeInterchange('SH', [transactionSet('856', String(controlNumber).padStart(4, '0'), body)], {
    sender: { qualifier: 'ZZ', id: 'MEDSUPPLY' },
    receiver: { qualifier: 'ZZ', id: 'CARELANE' },
    applicationSender: 'MEDSUPPLY',
    applicationReceiver: 'CARELANE',
    version: '005010',
    interchangeControlNumber: controlNumber,
    groupControlNumber: controlNumber,
    usage: 'T',
    at: new Date(),
  });
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  odoo = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_supplier_serials', reset: true });
  const x12Port = await freePort();
  // The supplier takes the 850 and answers its 999; its own documents are not sent (the test sends the 856).
  supplier = await startSupplierSimulator({ profile, defaultScenario: 'accept' });
  client = await connectOdooAdmin(odoo);
  Object.assign(products, await seedSupplierCatalog(client, {
    products: [
      { key: 'item:implant', defaultCode: 'KNEE-IMPL', name: 'Knee implant', barcode: gtins.implant, tracking: 'serial', storable: true },
      { key: 'item:drape', defaultCode: 'DRAPE-KNEE', name: 'Knee drape', barcode: gtins.drape, tracking: 'lot', storable: true },
    ],
    vendor: { key: 'vendor:medsupply', name: 'MedSupply Inc', ref: 'MEDSUPPLY' },
    price: 900,
  }));

  const config = supplierCycleConfig({
    databaseUrl: db.url,
    adminToken: ADMIN,
    odoo,
    tokenizationSecret: 'tokenization-secret-for-supplier-serials-0123',
    sections: `
endpoints:
  odoo-main: { retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 100 } }
x12:
  http: { port: ${x12Port} }
  partners:
    - ${JSON.stringify({ ...profile, endpoint: `${supplier.url}/x12` })}
suppliers:
  - { vendorRef: MEDSUPPLY, channel: x12, partner: medsupply }
flows:
  replenishment: { groupWindowSeconds: 1 }
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { source: "x12:*", type: X12_856, lane: standard, flow: ship_notice }
  - { lane: standard, flow: noop }
`,
  });
  app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  await mapNorthSite(app.database.pool, odoo, {
    locations: [{ ehrSystem: 'facility:NORTH', ehrCode: 'OR-4' }],
    items: [{ code: 'IMPL', productId: products['item:implant']! }, { code: 'DRP', productId: products['item:drape']! }],
    preferenceCard: { procedureCode: '27447', lines: [{ code: 'IMPL', quantity: 4 }, { code: 'DRP', quantity: 2 }] },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await supplier?.close();
  await odoo?.close();
  await db?.drop();
});

describe('serial numbers from the 856 to the Odoo receipt', () => {
  it('the short booking becomes a PO sent as an 850', async () => {
    const [ack] = await sendMllp('127.0.0.1', app.mllpPort!, [siu('APT-900')]);
    expect(ack).toContain('MSA|AA');
    const order = await waitFor(() => supplier.orders.size > 0 && [...supplier.orders.values()][0], 30_000, 'the 850 at the supplier');
    poName = order.order.poNumber;
    expect(order.order.lines.map((l) => [l.quantity, l.product.gtin]).sort()).toEqual([[2, gtins.drape], [4, gtins.implant]]);
    const [po] = await query<{ po_key: string }>('select po_key from carelane.purchase_orders where name = $1', [poName]);
    poKey = po!.po_key;
    await waitFor(async () => (await query(`select 1 from carelane.deliveries where idempotency_key = $1 and status = 'done'`, [`x12.send_850:${poKey}`])).length === 1, 10_000, 'the 850 delivered');
  });

  it('the 856 records the implants’ serials and creates them in Odoo as serial numbers with the lot’s expiry; the drape keeps its lot', async () => {
    const posted = await fetch(`${app.x12Url}/x12/medsupply`, { method: 'POST', headers: { 'content-type': 'application/edi-x12' }, body: shipNotice856(9101) });
    expect(posted.status).toBe(200);
    await waitFor(async () => (await query(`select 1 from carelane.deliveries where action = 'supplier.expect_lots' and status = 'done'`)).length === 1, 20_000, 'the lots and serials expected in Odoo');
    const recorded = await query<{ product_id: number; serial: string; lot_name: string; expiry: string; usable: boolean; odoo_lot_id: number | null }>(
      `select product_id, serial, lot_name, to_char(expiry_date, 'YYYY-MM-DD') as expiry, usable, odoo_lot_id from carelane.po_serials where po_key = $1 order by serial`,
      [poKey],
    );
    expect(recorded.map((r) => [r.product_id, r.serial, r.lot_name, r.expiry, r.usable])).toEqual(SERIALS.map((s) => [products['item:implant'], s, 'LOTIMP1', EXPIRY, true]));
    const lots = await odoo.records('stock.lot', ['name', 'product_id', 'expiration_date']);
    const implantLots = lots.filter((l) => m2o(l.product_id) === products['item:implant']);
    // one stock.lot per unit, named by its serial; the batch lot is not a stock.lot of a serial-tracked product
    expect(implantLots.map((l) => l.name).sort()).toEqual(SERIALS);
    expect(implantLots.every((l) => l.expiration_date === `${EXPIRY} 00:00:00`)).toBe(true);
    expect(recorded.map((r) => r.odoo_lot_id).sort()).toEqual(implantLots.map((l) => l.id).sort());
    expect(lots.filter((l) => m2o(l.product_id) === products['item:drape']).map((l) => l.name)).toEqual(['LOTDRP1']);
  });

  it('GS1 scans with AI (21): each serial is one move line of quantity 1 in the validated receipt', async () => {
    const body = { batchId: 'DOCK-S-1', poNumber: poName, scans: [implantScan('SN-0001'), `(01)${gtins.implant}(21)SN-0002`, `(01)${gtins.drape}(10)LOTDRP1(17)${yymmdd(EXPIRY)}(30)2`] };
    expect((await api('POST', '/api/v1/receipts', body)).status).toBe(202);
    const done = await settled('DOCK-S-1');
    expect(done.status).toBe('validated');
    const implant = done.received.find((r) => r.productId === products['item:implant'])!;
    expect(implant.quantity).toBe(2);
    // the serial scanned without AI (10) takes the lot its unit was announced in
    expect(implant.lots).toEqual([{ lot: 'LOTIMP1', serial: 'SN-0001', expiryDate: EXPIRY, quantity: 1 }, { lot: 'LOTIMP1', serial: 'SN-0002', expiryDate: EXPIRY, quantity: 1 }]);

    const moveLines = (await odoo.records('stock.move.line', ['picking_id', 'product_id', 'lot_id', 'quantity'])).filter((l) => m2o(l.picking_id) === done.pickingId);
    const lotNames = new Map((await odoo.records('stock.lot', ['name'])).map((l) => [l.id, l.name]));
    const implantLines = moveLines.filter((l) => m2o(l.product_id) === products['item:implant']).map((l) => [lotNames.get(m2o(l.lot_id)), Number(l.quantity)]);
    expect(implantLines.sort()).toEqual([['SN-0001', 1], ['SN-0002', 1]]);
    expect(moveLines.filter((l) => m2o(l.product_id) === products['item:drape']).map((l) => [lotNames.get(m2o(l.lot_id)), Number(l.quantity)])).toEqual([['LOTDRP1', 2]]);
    // the two other implants stay on order in the backorder
    const backorderMoves = (await odoo.records('stock.move', ['picking_id', 'product_id', 'product_uom_qty'])).filter((m) => m2o(m.picking_id) === done.backorderId);
    expect(backorderMoves.map((m) => [m2o(m.product_id), Number(m.product_uom_qty)])).toEqual([[products['item:implant'], 2]]);
    const marked = await query<{ serial: string; received_batch_key: string | null }>('select serial, received_batch_key from carelane.po_serials where po_key = $1 order by serial', [poKey]);
    expect(marked.map((m) => [m.serial, m.received_batch_key])).toEqual([['SN-0001', 'receipts:api|DOCK-S-1'], ['SN-0002', 'receipts:api|DOCK-S-1'], ['SN-0003', null], ['SN-0004', null]]);
  });

  it('a serial scanned twice, one received already, or one not on the ship notice refuses the batch, naming it', async () => {
    const quantsBefore = JSON.stringify(await odoo.records('stock.quant', ['product_id', 'lot_id', 'quantity']));
    const cases = [
      { batchId: 'DOCK-S-2', scans: [implantScan('SN-0003'), implantScan('SN-0003')], code: 'serial_received_twice', says: 'serial SN-0003 of product %p is scanned twice (scans[0] and scans[1])' },
      { batchId: 'DOCK-S-3', scans: [implantScan('SN-0002')], code: 'serial_received_twice', says: 'serial SN-0002 of product %p (scans[0]) was received already (batch DOCK-S-1)' },
      { batchId: 'DOCK-S-4', scans: [implantScan('SN-0003'), implantScan('SN-9999')], code: 'serial_not_on_ship_notice', says: 'serial SN-9999 of product %p (scans[1]) is not on the ship notice' },
    ];
    for (const c of cases) expect((await api('POST', '/api/v1/receipts', { batchId: c.batchId, poNumber: poName, scans: c.scans })).status).toBe(202);
    for (const c of cases) {
      const refused = await settled(c.batchId);
      const says = c.says.replace('%p', String(products['item:implant']));
      expect(refused).toMatchObject({ status: 'refused', received: [], outcome: { reason: c.code } });
      expect(refused.outcome!.message).toContain(says);
      const [exception] = await waitFor(async () => {
        const rows = await query<{ type: string; reason: string; detail: { code: string; serials: unknown[] } }>(
          `select e.type, e.reason, e.detail from carelane.exceptions e join carelane.deliveries d on d.id = e.delivery_id join carelane.messages m on m.id = d.message_id
           where m.source = 'receipts:api' and m.external_id = $1`,
          [c.batchId],
        );
        return rows.length > 0 && rows;
      }, 10_000, `${c.batchId}'s exception`);
      expect(exception).toMatchObject({ type: 'quantity_variance', detail: { code: c.code } });
      expect(exception!.reason).toContain(says);
    }
    expect(JSON.stringify(await odoo.records('stock.quant', ['product_id', 'lot_id', 'quantity']))).toBe(quantsBefore);
  });

  it('a unit of a serial-tracked product without a serial is refused before Odoo; a serial line of more than one unit is a bad request', async () => {
    const bad = await api<{ error: string; message: string }>('POST', '/api/v1/receipts', { batchId: 'DOCK-S-5x', poNumber: poName, lines: [{ productId: products['item:implant'], serial: 'SN-0003', quantity: 2 }] });
    expect(bad).toMatchObject({ status: 400, body: { error: 'receipt_invalid', message: 'receipt lines[0].quantity: must be 1 with a serial number (one line per serial)' } });

    expect((await api('POST', '/api/v1/receipts', { batchId: 'DOCK-S-5', poNumber: poName, lines: [{ productId: products['item:implant'], quantity: 1 }] })).status).toBe(202);
    const refused = await settled('DOCK-S-5');
    expect(refused).toMatchObject({ status: 'refused', outcome: { reason: 'serial_required' } });
    const [exception] = await waitFor(async () => {
      const rows = await query<{ reason: string; detail: { code: string } }>(`select reason, detail from carelane.exceptions where detail->>'code' = 'serial_required'`);
      return rows.length > 0 && rows;
    }, 10_000, 'the serial_required exception');
    expect(exception!.reason).toContain(`product ${products['item:implant']} is tracked by serial number in Odoo and 1 unit(s) came without one`);
  });

  it('the Odoo simulator, like Odoo, refuses a second unit of one serial in a location (stock.quant check_quantity) and rolls back', async () => {
    const [open] = await new ReceiptGateway(client).openReceipts((await client.search('purchase.order', [['name', '=', poName]]))[0]!);
    await expect(new ReceiptGateway(client).receive({ pickingId: open!, lines: [{ productId: products['item:implant']!, quantity: 2, lotName: 'SN-0003' }] })).rejects.toThrow(/The serial number has already been assigned: \n Product: Knee implant, Serial Number: SN-0003/);
    const [picking] = await client.read('stock.picking', [open!], ['state']);
    expect(picking!.state).not.toBe('done');
    await expect(new ReceiptGateway(client).receive({ pickingId: open!, lines: [{ productId: products['item:implant']!, quantity: 1, lotName: 'SN-0001' }] })).rejects.toThrow(/Serial Number: SN-0001/);
    expect((await client.read('stock.picking', [open!], ['state']))[0]!.state).not.toBe('done');
  });

  it('two batches with the same serial at once: one receives it, the other is refused naming it; then the last unit completes the line', async () => {
    await Promise.all(['DOCK-S-6', 'DOCK-S-7'].map((batchId) => api('POST', '/api/v1/receipts', { batchId, poNumber: poName, scans: [implantScan('SN-0003')] })));
    const outcomes = await Promise.all(['DOCK-S-6', 'DOCK-S-7'].map(settled));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['refused', 'validated']);
    const loser = outcomes.find((o) => o.status === 'refused')!;
    const winner = ['DOCK-S-6', 'DOCK-S-7'][outcomes.indexOf(outcomes.find((o) => o.status === 'validated')!)];
    expect(loser.outcome).toMatchObject({ reason: 'serial_received_twice' });
    expect(JSON.stringify(loser.outcome)).toContain('SN-0003');
    expect(JSON.stringify(loser.outcome)).toContain(winner);

    expect((await api('POST', '/api/v1/receipts', { batchId: 'DOCK-S-8', poNumber: poName, scans: [implantScan('SN-0004')] })).status).toBe(202);
    expect((await settled('DOCK-S-8')).status).toBe('validated');
    const poLines = await odoo.records('purchase.order.line', ['product_id', 'qty_received']);
    expect(poLines.map((l) => [m2o(l.product_id), Number(l.qty_received)]).sort()).toEqual([[products['item:drape'], 2], [products['item:implant'], 4]].sort());
    // each serial once in stock, one unit each
    const quants = (await odoo.records('stock.quant', ['product_id', 'lot_id', 'quantity', 'location_id'])).filter((q) => m2o(q.product_id) === products['item:implant'] && Number(q.quantity) !== 0);
    const lotNames = new Map((await odoo.records('stock.lot', ['name'])).map((l) => [l.id, l.name]));
    expect(quants.map((q) => [lotNames.get(m2o(q.lot_id)), Number(q.quantity)]).sort()).toEqual(SERIALS.map((s) => [s, 1]));
    const received = await query<{ serial: string; received_batch_key: string }>('select serial, received_batch_key from carelane.po_serials where po_key = $1 order by serial', [poKey]);
    expect(received.map((r) => r.received_batch_key)).toEqual(['receipts:api|DOCK-S-1', 'receipts:api|DOCK-S-1', `receipts:api|${winner}`, 'receipts:api|DOCK-S-8']);
  });

  it('the same batch again and the 856 replayed change nothing', async () => {
    const counts = async () => JSON.stringify({
      lots: (await odoo.records('stock.lot')).length,
      quants: await odoo.records('stock.quant', ['quantity']),
      serials: await query('select serial, ship_notice_id, odoo_lot_id, received_batch_key from carelane.po_serials order by serial'),
    });
    const before = await counts();
    const again = await api<{ duplicate: boolean; status: string }>('POST', '/api/v1/receipts', { batchId: 'DOCK-S-8', poNumber: poName, scans: [implantScan('SN-0004')] });
    expect(again).toMatchObject({ status: 200, body: { duplicate: true, status: 'validated' } });
    const replay = await api<unknown>('POST', '/api/v1/replay', { filter: { source: 'x12:medsupply' }, limit: 10, dryRun: false, force: true, reason: 'test: a replayed ship notice must not announce its serials twice' });
    expect(replay.status).toBe(200);
    await waitFor(async () => (await query(`select 1 from carelane.deliveries where action = 'flow.ship_notice' and status = 'done'`)).length >= 2, 15_000, 'the replayed ship notice');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await counts()).toBe(before);
  });
});

describe('serial numbers, pure parts', () => {
  const sent: SentOrder = {
    order: { poKey: 'po-1', correlationId: 'c', site: 'north', odooConnection: 'odoo-main', vendorId: 1, odooOrderId: 7, name: 'P00007', state: 'purchase', sentAt: null, lines: [] },
    lines: [{ lineNumber: '1', productId: 11, quantity: 3, unitPrice: 900, gtin: gtins.implant }],
    channelEndpoint: 'x12.medsupply',
    sentAt: undefined,
  };
  const item = (over: Partial<ShippedItem>): ShippedItem => ({ hierarchyId: '3', poNumber: 'P00007', lineNumber: '1', product: { gtin: gtins.implant, all: [] }, quantity: 3, unitOfMeasure: 'EA', lots: [], ...over });

  it('expectedSerialsOf: a serial per unit with its single lot; a repeated serial kept once; count mismatch and expired lot reported', () => {
    const { serials, repeated, countMismatch } = expectedSerialsOf([
      item({ hierarchyId: '3', lots: [{ lot: 'L1', expiryDate: '2020-01-31' }], serials: ['A', 'B', 'A'] }),
      item({ hierarchyId: '4', quantity: 1, lots: [{ lot: 'L2' }, { lot: 'L3' }], serials: ['C'] }),
    ], sent, '2026-11-24');
    expect(serials.map((s) => [s.serial, s.lotName, s.expiryDate, s.usable])).toEqual([['A', 'L1', '2020-01-31', false], ['B', 'L1', '2020-01-31', false], ['C', '', null, true]]);
    expect(repeated).toEqual([{ productId: 11, serial: 'A', hierarchyId: '3' }]);
    expect(countMismatch).toEqual([]);
    expect(expectedSerialsOf([item({ serials: ['A'] })], sent, '2026-11-24').countMismatch).toEqual([{ hierarchyId: '3', quantity: 3, serials: 1 }]);
  });

  it('resolveReceipt: serials not announced are accepted when the ship notices gave none for the product; every bad serial is named at once', () => {
    const document = readReceiptDocument({ batchId: 'B', poNumber: 'P00007', scans: [`(01)${gtins.implant}(21)X1`, `(01)${gtins.implant}(21)X2`] });
    expect(resolveReceipt(document, sent, [], '2026-11-24').usable.map((l) => [l.serial, l.quantity])).toEqual([['X1', 1], ['X2', 1]]);
    const known: PoSerial[] = [
      { productId: 11, lineNumber: '1', gtin: null, serial: 'X1', lotName: '', expiryDate: null, usable: true, announced: true, receivedBatchKey: 'receipts:api|A' },
      { productId: 11, lineNumber: '1', gtin: null, serial: 'X3', lotName: '', expiryDate: null, usable: true, announced: true, receivedBatchKey: null },
    ];
    let error: unknown;
    try {
      resolveReceipt(document, sent, [], '2026-11-24', { serials: known, batchKey: 'receipts:api|B' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({
      failureClass: 'business',
      exceptionType: 'quantity_variance',
      code: 'serial_mismatch',
      message: 'P00007: serial X1 of product 11 (scans[0]) was received already (batch A); serial X2 of product 11 (scans[1]) is not on the ship notice; receipt B is not received',
    });
    // the batch that received it may read its own serial again (a replay)
    expect(resolveReceipt(readReceiptDocument({ batchId: 'A', poNumber: 'P00007', scans: [`(01)${gtins.implant}(21)X1`] }), sent, [], '2026-11-24', { serials: known, batchKey: 'receipts:api|A' }).usable).toHaveLength(1);
  });

  it('odooLines: one line per serial for serial tracking, per lot for lot tracking, per product untracked', () => {
    const lines = [
      { productId: 1, lot: 'L', serial: 'S1', quantity: 1 }, { productId: 1, lot: 'L', serial: 'S2', expiryDate: '2029-01-31', quantity: 1 },
      { productId: 2, lot: 'L', serial: 'S3', quantity: 1 }, { productId: 2, lot: 'L', serial: 'S4', quantity: 1 }, { productId: 2, serial: 'S5', quantity: 1 },
      { productId: 3, lot: 'L', quantity: 2 }, { productId: 3, lot: 'M', quantity: 1 },
    ];
    expect(odooLines(lines, new Map([[1, 'serial'], [2, 'lot'], [3, 'none']]))).toEqual([
      { productId: 1, quantity: 1, lotName: 'S1' },
      { productId: 1, quantity: 1, lotName: 'S2', expirationDate: '2029-01-31 00:00:00' },
      { productId: 2, quantity: 2, lotName: 'L' },
      { productId: 2, quantity: 1, lotName: 'S5' },
      { productId: 3, quantity: 3 },
    ]);
  });
});
