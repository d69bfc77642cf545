import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, ProductGateway, PurchaseGateway, ReceiptGateway, StockGateway, VendorGateway, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Contract tests of the purchase flow (vendors → PO → receipt), every version × transport (reference/odoo.md §1.5).
const combos: Array<{ version: OdooVersion; transport: OdooTransportName }> = [
  { version: 16, transport: 'jsonrpc' },
  { version: 16, transport: 'xmlrpc' },
  { version: 17, transport: 'jsonrpc' },
  { version: 17, transport: 'xmlrpc' },
  { version: 18, transport: 'jsonrpc' },
  { version: 18, transport: 'xmlrpc' },
  { version: 19, transport: 'json2' },
  { version: 19, transport: 'jsonrpc' },
  { version: 19, transport: 'xmlrpc' },
];

let db: TestDatabase;
const simulators = new Map<OdooVersion, OdooSimulator>();

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  for (const version of [16, 17, 18, 19] as const) {
    simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_po_v${version}`, reset: true }));
  }
});

afterAll(async () => {
  for (const sim of simulators.values()) await sim.close();
  await db.drop();
});

const connect = (sim: OdooSimulator, transport: OdooTransportName) =>
  OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport, timeoutMs: 2000 });

describe.each(combos)('purchasing on Odoo $version over $transport', ({ version, transport }) => {
  const prefix = `${transport}-${version}`;

  async function setup() {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport);
    const products = await new ProductGateway(client).ensure([
      { key: `item:${prefix}:glove`, defaultCode: `${prefix}-GLOVE`, name: 'Nitrile gloves' },
      { key: `item:${prefix}:insulin`, defaultCode: `${prefix}-INS`, name: 'Insulin pen', tracking: 'lot' },
    ]);
    const [glove, insulin] = await new ProductGateway(client).read([products.get(`item:${prefix}:glove`)!.id, products.get(`item:${prefix}:insulin`)!.id]);
    const vendors = new VendorGateway(client);
    const ids = await vendors.ensure([
      { key: `vendor:${prefix}:medsup`, name: `MedSupply ${prefix}`, ref: `V-${prefix}-1` },
      { key: `vendor:${prefix}:pharma`, name: `Pharma ${prefix}`, ref: `V-${prefix}-2` },
    ]);
    return { sim, client, glove: glove!, insulin: insulin!, medsup: ids.get(`vendor:${prefix}:medsup`)!.id, pharma: ids.get(`vendor:${prefix}:pharma`)!.id };
  }

  it('creates vendors and pricelists once and picks the vendor Odoo’s _select_seller would', async () => {
    const { sim, client, glove, medsup, pharma } = await setup();
    const vendors = new VendorGateway(client);
    const again = await vendors.ensure([{ key: `vendor:${prefix}:medsup`, name: `MedSupply ${prefix}`, ref: `V-${prefix}-1` }]);
    expect(again.get(`vendor:${prefix}:medsup`)).toEqual({ id: medsup, created: false });
    expect((await vendors.find({ refs: [`V-${prefix}-2`] })).map((v) => v.id)).toEqual([pharma]);
    expect((await vendors.find({ names: [`MedSupply ${prefix}`] })).map((v) => v.id)).toEqual([medsup]);

    const tmpl = glove.templateId!;
    const prices = [
      { key: `price:${prefix}:med:1`, vendorId: medsup, productTemplateId: tmpl, price: 10, sequence: 1 },
      { key: `price:${prefix}:med:100`, vendorId: medsup, productTemplateId: tmpl, price: 8, minQuantity: 100, sequence: 1, delayDays: 5 },
      { key: `price:${prefix}:pharma:1`, vendorId: pharma, productTemplateId: tmpl, price: 7, sequence: 2 },
    ];
    await vendors.ensurePrices(prices);
    expect([...(await vendors.ensurePrices(prices)).values()].every((r) => !r.created)).toBe(true);
    // The vendor is stored in partner_id on every supported version (renamed from `name` in 16.0, §2.2).
    const raw = (await sim.records('product.supplierinfo', ['partner_id', 'price'])).filter((r) => Array.isArray(r.partner_id) && [medsup, pharma].includes(r.partner_id[0] as number));
    expect(raw).toHaveLength(3);

    const query = { productId: glove.id, productTemplateId: tmpl };
    // Lowest sequence wins the vendor even though another vendor is cheaper; its cheapest line for the quantity.
    expect(await vendors.preferredVendor({ ...query, quantity: 10 })).toMatchObject({ vendorId: medsup, price: 10 });
    expect(await vendors.preferredVendor({ ...query, quantity: 150 })).toMatchObject({ vendorId: medsup, price: 8, delayDays: 5 });
    expect(await vendors.preferredVendor({ ...query, quantity: 10, vendorId: pharma })).toMatchObject({ vendorId: pharma, price: 7 });
  });

  it('places a purchase order once: replay finds the same order, confirmation creates the receipt', async () => {
    const { sim, client, glove, medsup } = await setup();
    const purchases = new PurchaseGateway(client);
    const request = { key: `po:${prefix}:1`, vendorId: medsup, vendorReference: 'Q-2024-77', lines: [{ productId: glove.id, quantity: 50, priceUnit: 10, uomId: sim.seeded.uomUnitId }] };
    const placed = await purchases.place(request);
    expect(placed).toMatchObject({ created: true, state: 'purchase', receiptStatus: 'pending' });
    expect(placed.pickingIds).toHaveLength(1);
    const replay = await purchases.place(request);
    expect(replay).toMatchObject({ orderId: placed.orderId, created: false, state: 'purchase' });
    expect(replay.pickingIds).toEqual(placed.pickingIds);
    const orders = (await sim.records('purchase.order', ['origin', 'partner_ref'])).filter((o) => o.origin === request.key);
    expect(orders).toEqual([{ id: placed.orderId, origin: request.key, partner_ref: 'Q-2024-77' }]);
    // The UoM sits in product_uom up to 18 and in product_uom_id from 19 (§2.1).
    const uomField = version >= 19 ? 'product_uom_id' : 'product_uom';
    const [line] = (await sim.records('purchase.order.line', ['order_id', uomField])).filter((l) => Array.isArray(l.order_id) && l.order_id[0] === placed.orderId);
    expect(line![uomField]).toEqual([sim.seeded.uomUnitId, 'Units']);
    const [receipt] = await sim.records('stock.picking', ['state', 'origin', 'purchase_id']).then((rows) => rows.filter((p) => p.id === placed.pickingIds[0]));
    expect(receipt).toMatchObject({ state: 'assigned', origin: placed.name });
    expect(await purchases.findByKey(request.key)).toBe(placed.orderId);
  });

  it('sends an order above the two-step threshold to approval; approving creates the receipt', async () => {
    const { client, glove, pharma } = await setup();
    const [company] = await client.searchRead('res.company', [], { fields: ['id'], limit: 1 });
    await client.write('res.company', [company!.id], { po_double_validation: 'two_step', po_double_validation_amount: 1000 });
    try {
      const purchases = new PurchaseGateway(client);
      const big = await purchases.place({ key: `po:${prefix}:big`, vendorId: pharma, lines: [{ productId: glove.id, quantity: 500, priceUnit: 7 }] });
      expect(big).toMatchObject({ state: 'to approve', pickingIds: [] });
      expect(big.receiptStatus).toBeUndefined();
      expect((await purchases.place({ key: `po:${prefix}:big`, vendorId: pharma, lines: [] })).state).toBe('to approve');
      const approved = await purchases.approve(big.orderId);
      expect(approved).toMatchObject({ state: 'purchase', receiptStatus: 'pending' });
      expect(approved.pickingIds).toHaveLength(1);
      const small = await purchases.place({ key: `po:${prefix}:small`, vendorId: pharma, lines: [{ productId: glove.id, quantity: 5, priceUnit: 7 }] });
      expect(small.state).toBe('purchase');
    } finally {
      await client.write('res.company', [company!.id], { po_double_validation: 'one_step' });
    }
  });

  it('receives short with lots and expiry: quants rise by what arrived, a backorder holds the rest', async () => {
    const { sim, client, glove, insulin, medsup } = await setup();
    const purchases = new PurchaseGateway(client);
    const receipts = new ReceiptGateway(client);
    const stock = new StockGateway(client);
    const order = await purchases.place({ key: `po:${prefix}:recv`, vendorId: medsup, lines: [{ productId: glove.id, quantity: 100, priceUnit: 1 }, { productId: insulin.id, quantity: 30, priceUnit: 20 }] });
    const { stockLocationId } = sim.seeded;
    const before = await stock.balances(stockLocationId, [glove.id, insulin.id]);
    const onHand = (rows: typeof before, productId: number) => rows.filter((b) => b.productId === productId).reduce((s, b) => s + b.quantity, 0);

    // A tracked product without a lot is refused by Odoo (UserError → business failure).
    await expect(receipts.receive({ pickingId: order.pickingIds[0]!, lines: [{ productId: insulin.id, quantity: 1 }] })).rejects.toMatchObject({ failureClass: 'business' });

    const outcome = await receipts.receive({
      pickingId: order.pickingIds[0]!,
      lines: [
        { productId: glove.id, quantity: 60 },
        { productId: insulin.id, quantity: 10, lotName: `INS-${prefix}-A`, expirationDate: '2027-06-30 00:00:00' },
        { productId: insulin.id, quantity: 5, lotName: `INS-${prefix}-B` },
      ],
    });
    expect(outcome.alreadyDone).toBe(false);
    expect(outcome.backorderId).toBeGreaterThan(0);
    const after = await stock.balances(stockLocationId, [glove.id, insulin.id]);
    expect(onHand(after, glove.id) - onHand(before, glove.id)).toBe(60);
    expect(onHand(after, insulin.id) - onHand(before, insulin.id)).toBe(15);
    const lots = await stock.lots([insulin.id]);
    expect(lots.find((l) => l.name === `INS-${prefix}-A`)?.expirationDate).toBe('2027-06-30 00:00:00');
    expect(lots.some((l) => l.name === `INS-${prefix}-B`)).toBe(true);
    expect((await purchases.status(order.orderId)).receiptStatus).toBe('partial');

    // A replay of the same receipt changes nothing.
    const replay = await receipts.receive({ pickingId: order.pickingIds[0]!, lines: [{ productId: glove.id, quantity: 60 }] });
    expect(replay).toMatchObject({ alreadyDone: true, backorderId: outcome.backorderId });
    expect(onHand(await stock.balances(stockLocationId, [glove.id]), glove.id)).toBe(onHand(after, glove.id));

    // The backorder asks for the rest; receiving it in full closes the order's receipts.
    expect(await receipts.openReceipts(order.orderId)).toEqual([outcome.backorderId]);
    const rest = await receipts.receive({ pickingId: outcome.backorderId!, lines: [{ productId: glove.id, quantity: 40 }, { productId: insulin.id, quantity: 15, lotName: `INS-${prefix}-B` }] });
    expect(rest.backorderId).toBeUndefined();
    const status = await purchases.status(order.orderId);
    expect(status.receiptStatus).toBe('full');
    const received = (await sim.records('purchase.order.line', ['order_id', 'qty_received'])).filter((l) => Array.isArray(l.order_id) && l.order_id[0] === order.orderId);
    expect(received.map((l) => l.qty_received).sort()).toEqual([100, 30].sort());
  });

  it('closes a short receipt without backorder when asked; without skip_backorder Odoo answers with the wizard', async () => {
    const { client, glove, medsup } = await setup();
    const purchases = new PurchaseGateway(client);
    const order = await purchases.place({ key: `po:${prefix}:close`, vendorId: medsup, lines: [{ productId: glove.id, quantity: 20, priceUnit: 1 }] });
    const pickingId = order.pickingIds[0]!;
    // Raw button_validate on a short picking returns stock.backorder.confirmation (§2.6).
    const lines = await client.searchRead('stock.move.line', [['picking_id', '=', pickingId]], { fields: ['id'] });
    await client.write('stock.move.line', lines.map((l) => l.id), version >= 17 ? { quantity: 5, picked: true } : { qty_done: 5 });
    const wizard = await client.action('stock.picking', 'button_validate', [pickingId]);
    expect(wizard).toMatchObject({ type: 'ir.actions.act_window', res_model: 'stock.backorder.confirmation' });

    const outcome = await new ReceiptGateway(client).receive({ pickingId, lines: [{ productId: glove.id, quantity: 5 }], backorder: false });
    expect(outcome.backorderId).toBeUndefined();
    expect(await new ReceiptGateway(client).openReceipts(order.orderId)).toEqual([]);
    expect((await purchases.status(order.orderId)).receiptStatus).toBe('full');
  });
});
