import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError } from '../src/contracts/errors.ts';
import type { ClaimedDelivery, HandlerContext } from '../src/engine/handlers.ts';
import { createLogger } from '../src/observability/logger.ts';
import { BillGateway, OdooClient, cancelTransferHandler, rescheduleTransferHandler, ProductGateway, PurchaseGateway, VendorGateway, createVendorBillHandler, odooHandlers, placePurchaseOrderHandler, receiveHandler, reserveTransferHandler } from '../src/connectors/odoo/index.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// The engine's view of Odoo: a handler runs with the delivery's idempotency key, and after an ambiguous attempt the
// engine asks `lookup` before running again (src/engine/engine.ts). Against the simulator with lost answers.
let db: TestDatabase;
let sim: OdooSimulator;
let client: OdooClient;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  sim = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_handlers_v18', reset: true });
  client = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc', timeoutMs: 400 });
});

afterAll(async () => {
  await sim.close();
  await db.drop();
});

const clientFor = async (endpoint: string) => {
  if (endpoint !== 'odoo-main') throw new Error(`unknown endpoint ${endpoint}`);
  return client;
};

function delivery(action: string, idempotencyKey: string, payload: unknown): ClaimedDelivery {
  const now = new Date();
  return { id: 1, messageId: null, correlationId: 'c-1', lane: 'default', action, endpoint: 'odoo-main', orderingKey: null, idempotencyKey, payload, attempts: 1, needsLookup: false, createdAt: now, claimedAt: now, endpointFailures: 0, endpointClosedAt: null };
}

const context = (signal = new AbortController().signal): HandlerContext => ({ pool: db.pool, log: createLogger('silent'), signal });

async function failure(promise: Promise<unknown>): Promise<CarelaneError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CarelaneError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('Odoo delivery handlers', () => {
  it('registers one action per gateway operation', () => {
    expect(odooHandlers(clientFor).map((h) => h.action)).toEqual(['odoo.reserve_transfer', 'odoo.place_purchase_order', 'odoo.receive', 'odoo.create_vendor_bill', 'odoo.reschedule_transfer', 'odoo.cancel_transfer', 'odoo.create_vendor_credit_note']);
  });

  it('reserve_transfer: an answer lost after the last step commits is looked up as applied, not sent again', async () => {
    const products = await new ProductGateway(client).ensure([{ key: 'item:h:gauze', defaultCode: 'H-GAUZE', name: 'Gauze' }]);
    const productId = products.get('item:h:gauze')!.id;
    await sim.seedQuant({ productId, locationId: sim.seeded.stockLocationId, quantity: 10 });
    const handler = reserveTransferHandler(clientFor);
    const work = delivery('odoo.reserve_transfer', 'demand:h:1', { pickingTypeId: sim.seeded.internalPickingTypeId, sourceLocationId: sim.seeded.stockLocationId, destinationLocationId: sim.seeded.wardLocationId, lines: [{ productId, quantity: 3 }] });
    expect(await handler.lookup!(work, context())).toBe('not_applied');

    sim.addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'action_assign', times: 1 });
    expect((await failure(handler.run(work, context()))).failureClass).toBe('ambiguous');
    const calls = sim.callCount();
    expect(await handler.lookup!(work, context())).toBe('applied');
    // The lookup only reads: an external-id search and the picking's state.
    expect(sim.callCount() - calls).toBe(2);
    expect((await sim.records('stock.picking', ['origin'])).filter((p) => p.origin === 'demand:h:1')).toHaveLength(1);
  });

  it('reserve_transfer: a create committed without its answer is not_applied, and the rerun adopts it', async () => {
    const [product] = await new ProductGateway(client).findByCodes(['H-GAUZE']);
    const handler = reserveTransferHandler(clientFor);
    const work = delivery('odoo.reserve_transfer', 'demand:h:2', { pickingTypeId: sim.seeded.internalPickingTypeId, sourceLocationId: sim.seeded.stockLocationId, destinationLocationId: sim.seeded.wardLocationId, lines: [{ productId: product!.id, quantity: 2 }] });
    sim.addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'create', times: 1 });
    expect((await failure(handler.run(work, context()))).failureClass).toBe('ambiguous');
    // The picking exists but is neither bound nor reserved: the saga is unfinished, so run again.
    expect(await handler.lookup!(work, context())).toBe('not_applied');
    const result = await handler.run(work, context());
    expect(result?.stages?.[0]?.detail).toMatchObject({ created: false, state: 'assigned' });
    expect((await sim.records('stock.picking', ['origin'])).filter((p) => p.origin === 'demand:h:2')).toHaveLength(1);
  });

  it('reserve_transfer reports requested vs reserved per line; a partial reservation says so', async () => {
    const [product] = await new ProductGateway(client).ensure([{ key: 'item:h:partial', defaultCode: 'H-PARTIAL', name: 'Scarce item' }]).then((m) => [...m.values()]);
    await sim.seedQuant({ productId: product!.id, locationId: sim.seeded.stockLocationId, quantity: 3 });
    const work = delivery('odoo.reserve_transfer', 'demand:h:partial', { pickingTypeId: sim.seeded.internalPickingTypeId, sourceLocationId: sim.seeded.stockLocationId, destinationLocationId: sim.seeded.wardLocationId, lines: [{ productId: product!.id, quantity: 5 }] });
    const result = await reserveTransferHandler(clientFor).run(work, context());
    expect(result?.stages?.[0]?.detail).toMatchObject({ created: true, state: 'confirmed', partial: true, lines: [{ productId: product!.id, requested: 5, reserved: 3 }] });
    // Partially reserved is not 'applied': a rerun reserves what arrived since.
    expect(await reserveTransferHandler(clientFor).lookup!(work, context())).toBe('not_applied');
    await sim.seedQuant({ productId: product!.id, locationId: sim.seeded.stockLocationId, quantity: 4 });
    const rerun = await reserveTransferHandler(clientFor).run(work, context());
    expect(rerun?.stages?.[0]?.detail).toMatchObject({ created: false, state: 'assigned', partial: false, lines: [{ requested: 5, reserved: 5 }] });
  });

  it('reschedule_transfer writes scheduled_date (and the moves’ date); lookup compares the date; done or unknown is refused', async () => {
    const handler = rescheduleTransferHandler(clientFor);
    const work = delivery('odoo.reschedule_transfer', 'resched:h:1', { transferKey: 'demand:h:partial', scheduledDate: '2031-05-04T08:30:00Z' });
    expect(await handler.lookup!(work, context())).toBe('not_applied');
    const result = await handler.run(work, context());
    expect(result?.stages?.[0]?.detail).toMatchObject({ scheduledDate: '2031-05-04 08:30:00', state: 'assigned' });
    expect(await handler.lookup!(work, context())).toBe('applied');
    const picking = (await sim.records('stock.picking', ['origin', 'scheduled_date'])).find((p) => p.origin === 'demand:h:partial')!;
    expect(picking.scheduled_date).toBe('2031-05-04 08:30:00');
    const moves = (await sim.records('stock.move', ['picking_id', 'date'])).filter((m) => Array.isArray(m.picking_id) && m.picking_id[0] === picking.id);
    expect(moves.map((m) => m.date)).toEqual(['2031-05-04 08:30:00']);
    const unknown = delivery('odoo.reschedule_transfer', 'resched:h:2', { transferKey: 'demand:h:never', scheduledDate: '2031-05-04T08:30:00Z' });
    expect(await failure(handler.run(unknown, context()))).toMatchObject({ failureClass: 'permanent', code: 'odoo_transfer_unknown' });
  });

  it('cancel_transfer releases the reservation and cancels, idempotently; a lost answer and a missing picking look up as applied', async () => {
    const handler = cancelTransferHandler(clientFor);
    const work = delivery('odoo.cancel_transfer', 'cancel:h:1', { transferKey: 'demand:h:partial' });
    expect(await handler.lookup!(work, context())).toBe('not_applied');
    sim.addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'action_cancel', times: 1 });
    expect((await failure(handler.run(work, context()))).failureClass).toBe('ambiguous');
    expect(await handler.lookup!(work, context())).toBe('applied');
    const again = await handler.run(work, context());
    expect(again?.stages?.[0]?.detail).toMatchObject({ cancelled: true, missing: false });
    const [product] = await new ProductGateway(client).findByCodes(['H-PARTIAL']);
    const quants = (await sim.records('stock.quant', ['product_id', 'reserved_quantity'])).filter((q) => Array.isArray(q.product_id) && q.product_id[0] === product!.id);
    expect(quants.reduce((sum, q) => sum + Number(q.reserved_quantity), 0)).toBe(0);
    // Rescheduling a cancelled transfer is Odoo's UserError: a business failure, not retried.
    const late = delivery('odoo.reschedule_transfer', 'resched:h:3', { transferKey: 'demand:h:partial', scheduledDate: '2032-01-01T00:00:00Z' });
    expect((await failure(rescheduleTransferHandler(clientFor).run(late, context()))).failureClass).toBe('business');
    const missing = delivery('odoo.cancel_transfer', 'cancel:h:2', { transferKey: 'demand:h:never' });
    expect(await handler.lookup!(missing, context())).toBe('applied');
    expect((await handler.run(missing, context()))?.stages?.[0]?.detail).toMatchObject({ cancelled: false, missing: true });
  });

  it('place_purchase_order: a lost confirmation answer is looked up as applied; one order, one receipt', async () => {
    const [product] = await new ProductGateway(client).findByCodes(['H-GAUZE']);
    const vendor = (await new VendorGateway(client).ensure([{ key: 'vendor:h', name: 'Handler Vendor', ref: 'V-H' }])).get('vendor:h')!.id;
    const handler = placePurchaseOrderHandler(clientFor);
    const work = delivery('odoo.place_purchase_order', 'po:h:1', { vendorId: vendor, lines: [{ productId: product!.id, quantity: 12, priceUnit: 2 }] });
    sim.addFault({ kind: 'timeout_after_commit', model: 'purchase.order', method: 'button_confirm', times: 1 });
    expect((await failure(handler.run(work, context()))).failureClass).toBe('ambiguous');
    expect(await handler.lookup!(work, context())).toBe('applied');
    // Even a rerun (e.g. without the lookup) converges on the same order.
    await handler.run(work, context());
    const orders = (await sim.records('purchase.order', ['origin', 'picking_ids'])).filter((o) => o.origin === 'po:h:1');
    expect(orders).toHaveLength(1);
    expect(orders[0]!.picking_ids).toHaveLength(1);
  });

  it('a payload without its required members is a permanent failure', async () => {
    const error = await failure(placePurchaseOrderHandler(clientFor).run(delivery('odoo.place_purchase_order', 'po:h:bad', { lines: [] }), context()));
    expect(error).toMatchObject({ failureClass: 'permanent', code: 'odoo_bad_payload' });
  });

  /** A confirmed order of 8 gauze with its receipt, for the receive and bill handlers. */
  async function order(tag: string) {
    const [product] = await new ProductGateway(client).findByCodes(['H-GAUZE']);
    const vendorId = (await new VendorGateway(client).ensure([{ key: 'vendor:h', name: 'Handler Vendor', ref: 'V-H' }])).get('vendor:h')!.id;
    const placed = await new PurchaseGateway(client).place({ key: `po:h:${tag}`, vendorId, lines: [{ productId: product!.id, quantity: 8, priceUnit: 3 }] });
    const [poLine] = await client.search('purchase.order.line', [['order_id', '=', placed.orderId]]);
    return { productId: product!.id, vendorId, pickingId: placed.pickingIds[0]!, poLineId: poLine! };
  }

  it('receive: a lost validation answer is looked up as applied (backorder and all); a rerun changes nothing', async () => {
    const { productId, pickingId } = await order('recv');
    const handler = receiveHandler(clientFor);
    const work = delivery('odoo.receive', 'receipt:h:1', { pickingId, lines: [{ productId, quantity: 5 }] });
    expect(await handler.lookup!(work, context())).toBe('not_applied');
    sim.addFault({ kind: 'timeout_after_commit', model: 'stock.picking', method: 'button_validate', times: 1 });
    expect((await failure(handler.run(work, context()))).failureClass).toBe('ambiguous');
    expect(await handler.lookup!(work, context())).toBe('applied');
    const rerun = await handler.run(work, context());
    expect(rerun?.stages?.[0]?.detail).toMatchObject({ pickingId, alreadyDone: true });
    const backorders = (await sim.records('stock.picking', ['backorder_id'])).filter((p) => Array.isArray(p.backorder_id) && p.backorder_id[0] === pickingId);
    expect(backorders).toHaveLength(1);
  });

  it('create_vendor_bill: a lost post answer is looked up as applied; a lost create is not, and the rerun adopts it', async () => {
    const { productId, vendorId, poLineId } = await order('bill');
    const handler = createVendorBillHandler(clientFor);
    const payload = (ref: string) => ({ vendorId, vendorInvoiceNumber: ref, invoiceDate: '2025-06-01', lines: [{ purchaseLineId: poLineId, productId, quantity: 4, priceUnit: 3 }] });

    const posted = delivery('odoo.create_vendor_bill', 'bill:h:1', payload('H-INV-1'));
    sim.addFault({ kind: 'timeout_after_commit', model: 'account.move', method: 'action_post', times: 1 });
    expect((await failure(handler.run(posted, context()))).failureClass).toBe('ambiguous');
    expect(await handler.lookup!(posted, context())).toBe('applied');

    const lost = delivery('odoo.create_vendor_bill', 'bill:h:2', payload('H-INV-2'));
    sim.addFault({ kind: 'timeout_after_commit', model: 'account.move', method: 'create', times: 1 });
    expect((await failure(handler.run(lost, context()))).failureClass).toBe('ambiguous');
    expect(await handler.lookup!(lost, context())).toBe('not_applied');
    const result = await handler.run(lost, context());
    expect(result?.stages?.[0]?.detail).toMatchObject({ created: false, state: 'posted' });
    expect(await handler.lookup!(lost, context())).toBe('applied');
    const bills = (await sim.records('account.move', ['ref', 'state'])).filter((m) => m.ref === 'H-INV-1' || m.ref === 'H-INV-2');
    expect(bills.map((b) => [b.ref, b.state])).toEqual([
      ['H-INV-1', 'posted'],
      ['H-INV-2', 'posted'],
    ]);
    expect((await new BillGateway(client).purchaseLines([poLineId]))[0]!.invoicedQuantity).toBe(8);
  });

  it('an attempt the engine already gave up on sends nothing to Odoo (transient, not ambiguous)', async () => {
    const { productId, vendorId, poLineId } = await order('aborted');
    const controller = new AbortController();
    controller.abort(new Error('attempt timed out'));
    const calls = sim.callCount();
    const work = delivery('odoo.create_vendor_bill', 'bill:h:aborted', { vendorId, vendorInvoiceNumber: 'H-INV-X', invoiceDate: '2025-06-01', lines: [{ purchaseLineId: poLineId, productId, quantity: 1, priceUnit: 3 }] });
    expect(await failure(createVendorBillHandler(clientFor).run(work, context(controller.signal)))).toMatchObject({ failureClass: 'transient', code: 'aborted_before_send' });
    expect(sim.callCount()).toBe(calls);
  });
});
