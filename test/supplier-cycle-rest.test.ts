import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { sendMllp } from '../src/connectors/hl7v2/index.ts';
import type { OdooClient } from '../src/connectors/odoo/index.ts';
import { withCheckDigit } from '../src/connectors/gs1/index.ts';
import { SIGNATURE_HEADER, signBody } from '../src/connectors/supplier-rest/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../simulators/supplier/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';
import { freePort } from './support/free-port.ts';
import { connectOdooAdmin, m2o, mapNorthSite, queryRows, seedSupplierCatalog, siuBooking, supplierCycleConfig, x12TestPartner } from './support/supplier-cycle-setup.ts';

// Issue 7, the acknowledgment over the supplier REST profile end to end: an SIU booking falls short on four items
// → one PO placed in Odoo and sent as a signed REST order to the supplier simulator → the supplier's signed
// purchase_order.acknowledged webhook (one line accepted, one changed in quantity and date, one rejected with a
// reason, one backordered with a date) is stored, routed to flow.supplier_ack and applied to the Odoo PO by
// supplier.apply_ack; once with flows.supplier.rejections = cancel and once with = exception. The same event
// re-sent (same eventId), and the same acknowledgment re-issued under a new eventId, change nothing.

const ADMIN = 'supplier-cycle-rest-admin-token';
const CARELANE_SIGNING = 'carelane-signing-secret-rest-0123456789abcdef';
const SUPPLIER_WEBHOOK = 'supplier-webhook-secret-rest-0123456789abcdef';
const ITEMS = ['gauze', 'syringe', 'catheter', 'gown'] as const;
type Item = (typeof ITEMS)[number];
// ordered per booking: the preference card's quantities
const ORDERED: Record<Item, number> = { gauze: 4, syringe: 6, catheter: 3, gown: 5 };
const gtins: Record<Item, string> = { gauze: withCheckDigit('1061414100101'), syringe: withCheckDigit('1061414100102'), catheter: withCheckDigit('1061414100103'), gown: withCheckDigit('1061414100104') };
const CHANGED_DATE = '2026-12-15';
const BACKORDER_DATE = '2027-01-11';
const REASON = 'discontinued by the manufacturer; order the 14 Fr successor';

let db: TestDatabase;
let odoo: OdooSimulator;
let supplier: SupplierSimulator;
let client: OdooClient;
const products = {} as Record<Item, number>;

const x12Profile = x12TestPartner('acme', 'ACME');

const siu = (id: string): string =>
  siuBooking(id, { description: 'Central line', minutes: 60, procedure: { code: '36556', text: 'Central venous catheter' }, room: 'OR-4', patient: 'PID|1||555111^^^HOSP^MR||DOE^JANE||19700101|F' });

/**
 * A database, Odoo and supplier of their own per setting: the PO of one would cover the other's booking as incoming
 * stock, and both Odoos name their first PO alike.
 */
async function startPeers(schema: string): Promise<void> {
  db = await createTestDatabase(embeddedTarget(), 6);
  // The supplier's own (scenario) events go nowhere: the test sends the acknowledgment it wants to see applied.
  supplier = await startSupplierSimulator({
    profile: x12Profile,
    defaultScenario: 'accept',
    delays: { ackMs: 0, shipMs: 0, invoiceMs: 0 },
    rest: { callbackUrl: 'http://127.0.0.1:1/unused', signingSecret: SUPPLIER_WEBHOOK, verifySecret: CARELANE_SIGNING },
  });
  odoo = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema, reset: true });
  client = await connectOdooAdmin(odoo);
  const ids = await seedSupplierCatalog(client, {
    products: ITEMS.map((item) => ({ key: `item:${item}`, defaultCode: item.toUpperCase(), name: item, barcode: gtins[item], storable: true })),
    vendor: { key: 'vendor:acme', name: 'Acme Medical', ref: 'ACME' },
    price: 3,
  });
  for (const item of ITEMS) products[item] = ids[`item:${item}`]!;
}

/** One Carelane per rejections setting, on the same database and Odoo. */
async function startWith(rejections: 'cancel' | 'exception'): Promise<{ app: RunningCarelane; eventsUrl: string }> {
  const restPort = await freePort();
  const config = supplierCycleConfig({
    databaseUrl: db.url,
    adminToken: ADMIN,
    odoo,
    tokenizationSecret: 'tokenization-secret-for-supplier-rest-0123',
    sections: `
supplierRest:
  http: { port: ${restPort} }
  profiles:
    - { id: acme, url: "${supplier.url}/rest", signingSecret: "\${env:ACME_SIGNING}", webhookSecret: "\${env:ACME_WEBHOOK}" }
suppliers:
  - { vendorRef: ACME, channel: rest, endpoint: acme }
flows:
  replenishment: { groupWindowSeconds: 5 }
  supplier: { rejections: ${rejections} }
routes:
  - { source: mllp, type: "SIU^*", lane: critical, flow: demand }
  - { source: "supplier_rest:*", type: SUPPLIER_855, lane: standard, flow: supplier_ack }
  - { lane: standard, flow: noop }
`,
    env: { ACME_SIGNING: CARELANE_SIGNING, ACME_WEBHOOK: SUPPLIER_WEBHOOK },
  });
  const app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  await mapNorthSite(app.database.pool, odoo, {
    locations: [{ ehrSystem: 'facility:NORTH', ehrCode: 'OR-4' }],
    items: ITEMS.map((item) => ({ code: item.toUpperCase(), productId: products[item] })),
    preferenceCard: { procedureCode: '36556', lines: ITEMS.map((item) => ({ code: item.toUpperCase(), quantity: ORDERED[item] })) },
  });
  return { app, eventsUrl: `http://127.0.0.1:${restPort}/supplier-rest/acme/events` };
}

/** The supplier's acknowledgment: gauze accepted, syringe 6 → 4 later, catheter rejected with a reason, gown backordered. */
function acknowledgment(eventId: string, poNumber: string, orderDate: string): string {
  const line = (item: Item, rest: Record<string, unknown>) => {
    const sent = [...supplier.orders.get(poNumber)!.order.lines].find((l) => l.product.gtin === gtins[item])!;
    return { lineNumber: sent.lineNumber, orderedQuantity: ORDERED[item], unitOfMeasure: 'EA', product: { gtin: gtins[item] }, ...rest };
  };
  return JSON.stringify({
    eventId,
    type: 'purchase_order.acknowledged',
    occurredAt: new Date().toISOString(),
    data: {
      poNumber,
      poDate: orderDate,
      lines: [
        line('gauze', { status: 'accepted', quantity: ORDERED.gauze }),
        line('syringe', { status: 'changed', quantity: 4, date: CHANGED_DATE }),
        line('catheter', { status: 'rejected', quantity: 0, reason: REASON }),
        line('gown', { status: 'backordered', quantity: ORDERED.gown, date: BACKORDER_DATE }),
      ],
    },
  });
}

async function post(url: string, body: string): Promise<{ status: number; body: { duplicate?: boolean; messageId?: number } }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(SUPPLIER_WEBHOOK, body) }, body });
  return { status: response.status, body: (await response.json()) as { duplicate?: boolean } };
}

interface PoLine { product: Item; qty: number; received: number; planned: string }
async function poLines(orderId: number): Promise<PoLine[]> {
  const byId = new Map(ITEMS.map((item) => [products[item], item]));
  const lines = (await odoo.records('purchase.order.line', ['order_id', 'product_id', 'product_qty', 'qty_received', 'date_planned'])).filter((l) => m2o(l.order_id) === orderId);
  return lines.map((l) => ({ product: byId.get(m2o(l.product_id))!, qty: Number(l.product_qty), received: Number(l.qty_received), planned: String(l.date_planned) })).sort((a, b) => a.product.localeCompare(b.product));
}

describe.each(['cancel', 'exception'] as const)('supplier REST acknowledgment with flows.supplier.rejections = %s', (rejections) => {
  let app: RunningCarelane;
  let eventsUrl = '';
  let poName = '';
  let poKey = '';
  let orderId = 0;
  let before: PoLine[] = [];
  const query = queryRows(() => app.database.pool);

  beforeAll(async () => {
    await startPeers(`odoo_supplier_rest_${rejections}`);
    ({ app, eventsUrl } = await startWith(rejections));
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    await supplier?.close();
    await odoo?.close();
    await db?.drop();
  });

  it('a booking short on four items becomes one PO in Odoo, sent to the supplier as a signed REST order', async () => {
    const [ack] = await sendMllp('127.0.0.1', app.mllpPort!, [siu(`APT-REST-${rejections}`)]);
    expect(ack).toContain('MSA|AA');
    const order = await waitFor(() => [...supplier.orders.entries()][0], 30_000, 'the REST order at the supplier');
    expect(order[1].via).toBe('rest');
    poName = order[0];
    expect(order[1].order.lines.map((l) => [l.product.gtin, l.quantity]).sort()).toEqual(ITEMS.map((item) => [gtins[item], ORDERED[item]]).sort());
    const [po] = await query<{ po_key: string; odoo_order_id: number }>('select po_key, odoo_order_id from carelane.purchase_orders where name = $1', [poName]);
    poKey = po!.po_key;
    orderId = Number(po!.odoo_order_id);
    await waitFor(async () => (await query(`select 1 from carelane.deliveries where idempotency_key = $1 and status = 'done'`, [`supplier_rest.send_po:${poKey}`])).length === 1, 10_000, 'the REST order delivered');
    before = await poLines(orderId);
    expect(before.map((l) => [l.product, l.qty])).toEqual(ITEMS.map((item) => [item, ORDERED[item]]).sort());
  });

  it('the signed acknowledgment webhook is applied to the Odoo PO lines', async () => {
    const order = supplier.orders.get(poName)!.order;
    const stored = await post(eventsUrl, acknowledgment(`ack-${poName}`, poName, order.orderDate));
    expect(stored).toMatchObject({ status: 202, body: { duplicate: false } });
    await waitFor(async () => (await query(`select 1 from carelane.supplier_acknowledgments where po_key = $1 and applied_at is not null`, [poKey])).length === 1, 20_000, 'the acknowledgment applied');
    // The order records the channel it went out on as the source its supplier's documents arrive under: what
    // tells a PO number held on two Odoo connections apart (supplier-cycle-po-ambiguous.test.ts).
    const [sent] = await query<{ sent_via: string; source: string }>(
      `select p.sent_via, m.source from carelane.purchase_orders p join carelane.supplier_acknowledgments a on a.po_key = p.po_key join carelane.messages m on m.id = a.message_id where p.po_key = $1`,
      [poKey],
    );
    expect(sent!.sent_via).toMatch(/^supplier_rest:/);
    expect(sent!.sent_via).toBe(sent!.source);

    const lines = await poLines(orderId);
    const plannedBefore = (item: Item) => before.find((l) => l.product === item)!.planned;
    const at = (item: Item) => lines.find((l) => l.product === item)!;
    // accepted: nothing changes
    expect(at('gauze')).toMatchObject({ qty: ORDERED.gauze, planned: plannedBefore('gauze') });
    // changed: the confirmed quantity and the new date (noon UTC of the promised day)
    expect(at('syringe')).toMatchObject({ qty: 4, planned: `${CHANGED_DATE} 12:00:00` });
    // backordered: the quantity stays on order, the date moves
    expect(at('gown')).toMatchObject({ qty: ORDERED.gown, planned: `${BACKORDER_DATE} 12:00:00` });
    const moves = (await odoo.records('stock.move', ['product_id', 'product_uom_qty', 'purchase_line_id', 'state'])).filter((m) => m.purchase_line_id && m2o(m.product_id) === products.catheter);

    const word = await query<{ product_id: number; status: string; confirmed_quantity: string; rejected_quantity: string; promised_date: string | null; reason: string | null }>(
      `select product_id, status, confirmed_quantity, rejected_quantity, to_char(promised_date, 'YYYY-MM-DD') as promised_date, reason from carelane.po_line_acknowledgments where po_key = $1`,
      [poKey],
    );
    const said = (item: Item) => word.find((w) => w.product_id === products[item])!;
    expect(said('catheter')).toMatchObject({ status: 'rejected', rejected_quantity: String(ORDERED.catheter) });
    expect(said('catheter').reason).toContain(REASON);
    expect(said('gown')).toMatchObject({ status: 'backordered', promised_date: BACKORDER_DATE });
    expect(said('syringe')).toMatchObject({ status: 'changed', confirmed_quantity: '4', promised_date: CHANGED_DATE });

    const rejectionsOpen = await query<{ reason: string; detail: { reason?: string; productId: number; po: string } }>(`select reason, detail from carelane.exceptions where type = 'supplier_rejection' and status = 'open' and detail->>'po' = $1`, [poName]);
    if (rejections === 'cancel') {
      // the rest of the rejected line is cancelled: product_qty down to what was received (nothing), its move cancelled
      expect(at('catheter')).toMatchObject({ qty: 0, received: 0 });
      expect(moves.map((m) => m.state)).toEqual(['cancel']);
      expect(rejectionsOpen).toEqual([]);
    } else {
      // a buyer decides: the line stays, a supplier_rejection exception carries the supplier's reason
      expect(at('catheter')).toMatchObject({ qty: ORDERED.catheter, planned: plannedBefore('catheter') });
      expect(moves.map((m) => [m.state, Number(m.product_uom_qty)])).toEqual([['assigned', ORDERED.catheter]]);
      expect(rejectionsOpen).toHaveLength(1);
      expect(rejectionsOpen[0]!.detail).toMatchObject({ productId: products.catheter, po: poName });
      expect(rejectionsOpen[0]!.detail.reason).toContain(REASON);
      expect(rejectionsOpen[0]!.reason).toContain(REASON);
    }
    // nothing else was a variance
    expect(await query(`select 1 from carelane.exceptions where type = 'quantity_variance' and correlation_id in (select correlation_id from carelane.purchase_orders where po_key = $1)`, [poKey])).toEqual([]);
  });

  it('the same event re-sent, and the same acknowledgment re-issued under a new event id, change nothing', async () => {
    const state = async () => ({
      lines: await poLines(orderId),
      moves: JSON.stringify((await odoo.records('stock.move', ['product_uom_qty', 'state'])).map((m) => [m.id, m.product_uom_qty, m.state])),
      exceptions: (await query<{ type: string; status: string }>('select type, status from carelane.exceptions order by id')).map((e) => `${e.type}:${e.status}`),
      acknowledged: (await query('select 1 from carelane.po_line_acknowledgments where po_key = $1', [poKey])).length,
    });
    const settled = await state();
    const order = supplier.orders.get(poName)!.order;
    const again = await post(eventsUrl, acknowledgment(`ack-${poName}`, poName, order.orderDate));
    expect(again).toMatchObject({ status: 200, body: { duplicate: true } });
    const reissued = await post(eventsUrl, acknowledgment(`ack-${poName}-resent`, poName, order.orderDate));
    expect(reissued).toMatchObject({ status: 202, body: { duplicate: false } });
    await waitFor(async () => (await query(`select 1 from carelane.deliveries where action = 'supplier.apply_ack' and message_id = $1 and status = 'done'`, [reissued.body.messageId])).length === 1, 20_000, 'the re-issued acknowledgment applied');
    expect(await query(`select 1 from carelane.deliveries where action = 'supplier.apply_ack' and correlation_id in (select correlation_id from carelane.purchase_orders where po_key = $1)`, [poKey])).toHaveLength(2);
    expect(await state()).toEqual(settled);
  });
});
