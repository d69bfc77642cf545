import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticGateway, BillGateway, OdooClient, ProductGateway, PurchaseGateway, ReceiptGateway, VendorGateway, analyticDistribution, type OdooTransportName, type OdooVersion } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Contract tests of vendor bills on PO lines and of cost centres (reference/odoo.md §2.10–§2.12), every version ×
// transport like test/odoo-purchase.test.ts.
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
    simulators.set(version, await startOdooSimulator({ version, databaseUrl: db.url, schema: `odoo_bill_v${version}`, reset: true }));
  }
});

afterAll(async () => {
  for (const sim of simulators.values()) await sim.close();
  await db.drop();
});

const connect = (sim: OdooSimulator, transport: OdooTransportName, timeoutMs = 2000) =>
  OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport, timeoutMs });

describe.each(combos)('vendor bills and cost centres on Odoo $version over $transport', ({ version, transport }) => {
  const prefix = `${transport}-${version}`;

  /** A confirmed PO of 10 gloves and 4 masks, 6 gloves and all masks received. */
  async function receivedOrder(client: OdooClient, tag: string) {
    const products = await new ProductGateway(client).ensure([
      { key: `item:${prefix}:glove`, defaultCode: `${prefix}-GLOVE`, name: 'Nitrile gloves' },
      { key: `item:${prefix}:mask`, defaultCode: `${prefix}-MASK`, name: 'FFP2 mask' },
    ]);
    const glove = products.get(`item:${prefix}:glove`)!.id;
    const mask = products.get(`item:${prefix}:mask`)!.id;
    const vendorId = (await new VendorGateway(client).ensure([{ key: `vendor:${prefix}`, name: `Bill Vendor ${prefix}`, ref: `BV-${prefix}` }])).get(`vendor:${prefix}`)!.id;
    const order = await new PurchaseGateway(client).place({ key: `po:${prefix}:${tag}`, vendorId, lines: [{ productId: glove, quantity: 10, priceUnit: 2 }, { productId: mask, quantity: 4, priceUnit: 5 }] });
    await new ReceiptGateway(client).receive({ pickingId: order.pickingIds[0]!, lines: [{ productId: glove, quantity: 6 }, { productId: mask, quantity: 4 }] });
    const poLines = await client.searchRead('purchase.order.line', [['order_id', '=', order.orderId]], { fields: ['product_id'], order: 'id' });
    return { vendorId, glove, mask, order, gloveLine: poLines[0]!.id, maskLine: poLines[1]!.id };
  }

  it('records a vendor bill once on the PO lines it bills, posts it, and reads back the 3-way match inputs', async () => {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport);
    const { vendorId, glove, mask, order, gloveLine, maskLine } = await receivedOrder(client, 'bill');
    const [plan] = await client.create('account.analytic.plan', [{ name: `Departments ${prefix}` }]);
    const [ward] = await client.create('account.analytic.account', [{ name: `Ward A ${prefix}`, code: `WA-${prefix}`, plan_id: plan }]);
    const bills = new BillGateway(client);
    const request = {
      key: `bill:${prefix}:1`,
      vendorId,
      vendorInvoiceNumber: `INV-${prefix}-001`,
      invoiceDate: '2025-03-14',
      origin: order.name,
      lines: [
        { purchaseLineId: gloveLine, productId: glove, quantity: 6, priceUnit: 2, analyticDistribution: analyticDistribution([{ accountIds: [ward!], percentage: 100 }]) },
        { purchaseLineId: maskLine, productId: mask, quantity: 4, priceUnit: 5 },
      ],
    };
    const bill = await bills.record(request);
    expect(bill).toMatchObject({ created: true, state: 'posted', vendorId, vendorInvoiceNumber: `INV-${prefix}-001`, invoiceDate: '2025-03-14', amountTotal: 32 });
    expect(bill.name).toMatch(/^BILL\/2025\/\d{5}$/);
    expect(bill.lines.map((line) => [line.purchaseLineId, line.quantity, line.priceUnit])).toEqual([
      [gloveLine, 6, 2],
      [maskLine, 4, 5],
    ]);
    expect(bill.lines[0]!.analyticDistribution).toEqual({ [String(ward)]: 100 });
    expect(bill.lines[1]!.analyticDistribution).toBeUndefined();
    // Ordered 10 / received 6 / billed 6 gloves; 4 / 4 / 4 masks.
    expect(bill.purchaseLines).toEqual([
      { purchaseLineId: gloveLine, orderId: order.orderId, productId: glove, orderedQuantity: 10, receivedQuantity: 6, invoicedQuantity: 6, priceUnit: 2 },
      { purchaseLineId: maskLine, orderId: order.orderId, productId: mask, orderedQuantity: 4, receivedQuantity: 4, invoicedQuantity: 4, priceUnit: 5 },
    ]);

    const replay = await bills.record(request);
    expect(replay).toMatchObject({ billId: bill.billId, created: false, state: 'posted', name: bill.name });
    expect(replay.purchaseLines[0]!.invoicedQuantity).toBe(6);
    const stored = (await sim.records('account.move', ['move_type', 'ref', 'state'])).filter((m) => m.ref === request.vendorInvoiceNumber);
    expect(stored).toEqual([{ id: bill.billId, move_type: 'in_invoice', ref: request.vendorInvoiceNumber, state: 'posted' }]);
    expect(await bills.findByKey(request.key)).toBe(bill.billId);
  });

  it('adopts a bill whose create committed without an answer, by vendor and invoice number', async () => {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport, 400);
    const { vendorId, glove, gloveLine } = await receivedOrder(client, 'lost');
    const bills = new BillGateway(client);
    const request = { key: `bill:${prefix}:lost`, vendorId, vendorInvoiceNumber: `INV-${prefix}-LOST`, invoiceDate: '2025-04-01', lines: [{ purchaseLineId: gloveLine, productId: glove, quantity: 6, priceUnit: 2 }] };
    sim.addFault({ kind: 'timeout_after_commit', model: 'account.move', method: 'create', times: 1 });
    await expect(bills.record(request)).rejects.toMatchObject({ failureClass: 'ambiguous' });
    // The draft exists but carries no external id: not trusted as done until a rerun binds and posts it.
    expect(await bills.findByKey(request.key)).toBeUndefined();
    const retried = await bills.record(request);
    expect(retried).toMatchObject({ created: false, state: 'posted' });
    expect((await sim.records('account.move', ['ref'])).filter((m) => m.ref === request.vendorInvoiceNumber)).toHaveLength(1);
    // The draft bill already counted in qty_invoiced (Odoo counts every bill not cancelled) and still counts once.
    expect(retried.purchaseLines[0]!.invoicedQuantity).toBe(6);
  });

  it('records a credit note (in_refund) once against the bill it reverses; qty_invoiced goes down; a lost create is adopted', async () => {
    const sim = simulators.get(version)!;
    const client = await connect(sim, transport, 400);
    const { vendorId, glove, gloveLine } = await receivedOrder(client, 'refund');
    const bills = new BillGateway(client);
    const bill = await bills.record({ key: `bill:${prefix}:torefund`, vendorId, vendorInvoiceNumber: `INV-${prefix}-RF`, invoiceDate: '2025-06-01', lines: [{ purchaseLineId: gloveLine, productId: glove, quantity: 6, priceUnit: 2 }] });
    expect(bill.purchaseLines[0]!.invoicedQuantity).toBe(6);
    const request = { key: `refund:${prefix}:1`, vendorId, vendorCreditNoteNumber: `CN-${prefix}-1`, invoiceDate: '2025-06-10', reversedBillId: bill.billId, lines: [{ purchaseLineId: gloveLine, productId: glove, quantity: 2, priceUnit: 2 }] };
    sim.addFault({ kind: 'timeout_after_commit', model: 'account.move', method: 'create', times: 1 });
    await expect(bills.recordCreditNote(request)).rejects.toMatchObject({ failureClass: 'ambiguous' });
    const note = await bills.recordCreditNote(request);
    expect(note).toMatchObject({ created: false, moveType: 'in_refund', state: 'posted', reversedBillId: bill.billId, vendorInvoiceNumber: `CN-${prefix}-1`, amountTotal: 4 });
    expect(note.name).toMatch(/^RBILL\/2025\/\d{5}$/);
    // Purchase subtracts refund lines from the PO line's billed quantity: 6 billed − 2 credited.
    expect(note.purchaseLines[0]!.invoicedQuantity).toBe(4);
    const replay = await bills.recordCreditNote(request);
    expect(replay).toMatchObject({ billId: note.billId, created: false, name: note.name });
    const stored = (await sim.records('account.move', ['move_type', 'ref'])).filter((m) => m.ref === request.vendorCreditNoteNumber);
    expect(stored).toEqual([{ id: note.billId, move_type: 'in_refund', ref: request.vendorCreditNoteNumber }]);
    // A bill with the same number as a credit note is another document (the lookup is per move_type).
    expect(await bills.findByKey(request.key)).toBe(note.billId);
  });

  it('refuses to post a bill without a date (UserError → business failure)', async () => {
    const client = await connect(simulators.get(version)!, transport);
    const { vendorId, mask, maskLine } = await receivedOrder(client, 'nodate');
    await expect(new BillGateway(client).record({ key: `bill:${prefix}:nodate`, vendorId, vendorInvoiceNumber: `INV-${prefix}-ND`, invoiceDate: '', lines: [{ purchaseLineId: maskLine, productId: mask, quantity: 1, priceUnit: 5 }] })).rejects.toMatchObject({
      failureClass: 'business',
      code: 'odoo_user_error',
    });
  });

  it('reads analytic plans, accounts and departments, and rewrites a posted bill line’s distribution', async () => {
    const client = await connect(simulators.get(version)!, transport);
    const [plan] = await client.create('account.analytic.plan', [{ name: `Cost centres ${prefix}` }]);
    const [surgery, icu] = await client.create('account.analytic.account', [
      { name: `Surgery ${prefix}`, code: `SUR-${prefix}`, plan_id: plan },
      { name: `ICU ${prefix}`, code: `ICU-${prefix}`, plan_id: plan },
    ]);
    const [hospital] = await client.create('hr.department', [{ name: `Hospital ${prefix}` }]);
    const [ward] = await client.create('hr.department', [{ name: 'Ward B', parent_id: hospital }]);
    const analytic = new AnalyticGateway(client);
    expect((await analytic.plans()).find((p) => p.id === plan)).toEqual({ id: plan, name: `Cost centres ${prefix}`, parentId: undefined });
    expect(await analytic.accounts({ planIds: [plan!] })).toEqual([
      { id: surgery, name: `Surgery ${prefix}`, code: `SUR-${prefix}`, planId: plan },
      { id: icu, name: `ICU ${prefix}`, code: `ICU-${prefix}`, planId: plan },
    ]);
    expect((await analytic.accounts({ codes: [`ICU-${prefix}`] })).map((a) => a.id)).toEqual([icu]);
    expect((await analytic.departments()).find((d) => d.id === ward)).toEqual({ id: ward, name: 'Ward B', completeName: `Hospital ${prefix} / Ward B`, parentId: hospital, managerId: undefined });

    const { vendorId, mask, maskLine } = await receivedOrder(client, 'analytic');
    const bills = new BillGateway(client);
    const bill = await bills.record({ key: `bill:${prefix}:an`, vendorId, vendorInvoiceNumber: `INV-${prefix}-AN`, invoiceDate: '2025-05-02', lines: [{ purchaseLineId: maskLine, productId: mask, quantity: 4, priceUnit: 5 }] });
    const split = analyticDistribution([
      { accountIds: [surgery!], percentage: 60 },
      { accountIds: [icu!], percentage: 40 },
    ]);
    await analytic.setMoveLineDistribution([bill.lines[0]!.lineId], split);
    expect((await bills.read(bill.billId)).lines[0]!.analyticDistribution).toEqual({ [String(surgery)]: 60, [String(icu)]: 40 });
    // A malformed distribution is Odoo's ValueError: a permanent failure, not a retry.
    await expect(client.write('account.move.line', [bill.lines[0]!.lineId], { analytic_distribution: { ward: 'all' } })).rejects.toMatchObject({ failureClass: 'permanent' });
  });
});

describe('analyticDistribution', () => {
  it('joins the accounts of one share with commas (17+ multi-plan keys) and refuses bad shares', () => {
    expect(analyticDistribution([{ accountIds: [54, 3], percentage: 100 }])).toEqual({ '3,54': 100 });
    expect(analyticDistribution([{ accountIds: [3], percentage: 30 }, { accountIds: [3], percentage: 20 }])).toEqual({ '3': 50 });
    expect(() => analyticDistribution([{ accountIds: [], percentage: 10 }])).toThrow(/account ids/);
    expect(() => analyticDistribution([{ accountIds: [3], percentage: 120 }])).toThrow(/percentage/);
  });
});
