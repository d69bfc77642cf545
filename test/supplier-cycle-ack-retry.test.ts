import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, ProductGateway, PurchaseGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import type { ClaimedDelivery, HandlerContext, HandlerResult } from '../src/engine/handlers.ts';
import type { FlowsConfig } from '../src/config/schema.ts';
import { createLogger } from '../src/observability/logger.ts';
import { applyAckStep, type ApplyAckPayload, type AppliedLine } from '../src/flows/supplier/acknowledgment.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// supplier.apply_ack run again after Odoo already applied it (the answer was lost, the attempt retried): a
// whole-order rejection cancelled the PO the first time; the retry finds it cancelled and must not open
// exceptions saying the change "was not written".

let db: TestDatabase;
let sim: OdooSimulator;
let client: OdooClient;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 2);
  sim = await startOdooSimulator({ version: 18, databaseUrl: db.url, schema: 'odoo_ack_retry_v18', reset: true });
  client = await OdooClient.connect({ url: sim.url, database: sim.database, login: 'admin', apiKey: 'sim-admin-api-key', transport: 'jsonrpc' });
}, 60_000);

afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const flows = { supplier: { rejections: 'cancel' } } as unknown as FlowsConfig;
const context = (): HandlerContext => ({ pool: db.pool, log: createLogger('silent'), signal: new AbortController().signal });
function delivery(payload: ApplyAckPayload): ClaimedDelivery {
  const now = new Date();
  return { id: 1, messageId: payload.messageId, correlationId: 'c-ack', lane: 'standard', action: 'supplier.apply_ack', endpoint: 'odoo-main', orderingKey: null, idempotencyKey: 'k', payload, attempts: 1, needsLookup: false, createdAt: now, claimedAt: now, endpointFailures: 0, endpointClosedAt: null };
}

describe('supplier.apply_ack retried', () => {
  it('a whole-order rejection already applied (PO cancelled) is recognised, not opened as exceptions', async () => {
    const products = await new ProductGateway(client).ensure([{ key: 'item:ack-a', defaultCode: 'ACK-A', name: 'Ack A' }, { key: 'item:ack-b', defaultCode: 'ACK-B', name: 'Ack B' }]);
    const [a, b] = [products.get('item:ack-a')!.id, products.get('item:ack-b')!.id];
    const vendorId = (await new VendorGateway(client).ensure([{ key: 'vendor:ack', name: 'Ack Vendor', ref: 'V-ACK' }])).get('vendor:ack')!.id;
    const placed = await new PurchaseGateway(client).place({ key: 'po:ack-retry', vendorId, lines: [{ productId: a, quantity: 4, priceUnit: 2 }, { productId: b, quantity: 6, priceUnit: 2 }] });
    const rejected = (productId: number, lineNumber: string, quantity: number) => ({ lineNumber, productId, status: 'rejected' as const, orderedQuantity: quantity, confirmedQuantity: 0, backorderedQuantity: 0, rejectedQuantity: quantity, codes: 'IR', reason: 'IR item rejected' });
    const payload: ApplyAckPayload = { poKey: 'po:ack-retry', poName: placed.name, odooOrderId: placed.orderId, messageId: 1, acknowledgmentType: 'RJ', lines: [rejected(a, '1', 4), rejected(b, '2', 6)] };
    const step = applyAckStep({ clientFor: async () => client, flows });

    const first = (await step.run(delivery(payload), context())) as HandlerResult;
    expect(first.stages![0]!.outcome).toBe('ok');
    expect((first.stages![0]!.detail as { applied: AppliedLine[] }).applied.map((l) => l.did)).toEqual(['order_cancelled', 'order_cancelled']);
    expect((await client.read('purchase.order', [placed.orderId], ['state']))[0]!.state).toBe('cancel');

    const retry = (await step.run(delivery(payload), context())) as HandlerResult;
    expect(retry.stages![0]!.outcome).toBe('ok');
    expect((retry.stages![0]!.detail as { applied: AppliedLine[] }).applied.map((l) => l.did)).toEqual(['order_cancelled', 'order_cancelled']);
  });
});
