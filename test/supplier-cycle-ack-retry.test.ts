import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, ProductGateway, PurchaseGateway, VendorGateway } from '../src/connectors/odoo/index.ts';
import type { ClaimedDelivery, HandlerContext, HandlerResult } from '../src/engine/handlers.ts';
import type { FlowsConfig } from '../src/config/schema.ts';
import { createLogger } from '../src/observability/logger.ts';
import { applyAckStep, supplierAckFlow, type ApplyAckPayload, type AppliedLine } from '../src/flows/supplier/acknowledgment.ts';
import { transactionSet, writeInterchange } from '../src/connectors/x12/index.ts';
import { enqueueDeliveries } from '../src/engine/index.ts';
import { insertInbound } from '../src/store/messages.ts';
import { startOdooSimulator, type OdooSimulator } from '../simulators/odoo/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { startEngine, testConfig, waitFor } from './support/engine-harness.ts';

// supplier.apply_ack run again after Odoo already applied it (the answer was lost, the attempt retried): a
// whole-order rejection cancelled the PO the first time; the retry finds it cancelled and must not open
// exceptions saying the change "was not written".

let db: TestDatabase;
let sim: OdooSimulator;
let client: OdooClient;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
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

// One X12 interchange (one stored message) carrying two 855s for the same PO: the supplier's original and its
// change in one envelope. Both are acknowledgments of their own and must be applied, in the order they stand;
// replaying the message must apply neither again.
describe('flow.supplier_ack: two 855s for one PO in one interchange', () => {
  it('applies both in order, records both, and a replay of the message applies nothing new', async () => {
    const productId = (await new ProductGateway(client).ensure([{ key: 'item:ack-twice', defaultCode: 'ACK-TWICE', name: 'Ack twice' }])).get('item:ack-twice')!.id;
    const vendorId = (await new VendorGateway(client).ensure([{ key: 'vendor:ack', name: 'Ack Vendor', ref: 'V-ACK' }])).get('vendor:ack')!.id;
    const placed = await new PurchaseGateway(client).place({ key: 'po:ack-twice', vendorId, lines: [{ productId, quantity: 10, priceUnit: 2 }] });
    await db.pool.query(
      `insert into carelane.purchase_orders (po_key, correlation_id, site, odoo_connection, vendor_id, odoo_order_id, name, state, lines, sent_at)
       values ('po:ack-twice', 'po-ack-twice', 'north', 'odoo-main', $1, $2, $3, 'purchase', $4::jsonb, now())`,
      [vendorId, placed.orderId, placed.name, JSON.stringify([{ productId, quantity: 10, unitPrice: 2 }])],
    );
    // 8 by 15 December, then changed to 6 by 20 December. Applied the other way round, 8 would be "more than
    // ordered" after 6 was written and the line would stay at 6 with a quantity_variance.
    const ack = (control: string, confirmed: number, day: string) =>
      transactionSet('855', control, [['BAK', '00', 'AC', placed.name, '20261201'], ['PO1', '1', '10', 'EA', '2'], ['ACK', 'IQ', String(confirmed), 'EA', '068', day], ['CTT', '1']]);
    const interchange = writeInterchange('PR', [ack('0001', 8, '20261215'), ack('0002', 6, '20261220')], {
      sender: { qualifier: 'ZZ', id: 'ACME' },
      receiver: { qualifier: 'ZZ', id: 'CARELANE' },
      version: '005010',
      interchangeControlNumber: 501,
      groupControlNumber: 501,
      usage: 'T',
      at: new Date('2026-12-01T10:00:00Z'),
    });
    const payload = Buffer.from(interchange);
    const [stored] = await insertInbound(db.pool, [{
      source: 'x12:acme', messageType: 'X12_855', externalId: '501', dedupeKey: 'isa:501', contentHash: 'ack-twice', correlationId: 'c-ack-twice', status: 'received', statusReason: null,
      contentType: 'application/edi-x12', payload, payloadSize: payload.length, payloadTruncated: false, ackPayload: null, route: null,
    }]);
    const messageId = stored!.messageId;
    const config = testConfig('engine: { pollIntervalMs: 50 }');
    const dependencies = { clientFor: async () => client, flows: config.flows };
    const engine = await startEngine(db, config, [supplierAckFlow(dependencies), applyAckStep(dependencies)]);
    const route = (key: string) => enqueueDeliveries(db.pool, [{ lane: 'standard', action: 'flow.supplier_ack', endpoint: 'internal', idempotencyKey: key, correlationId: 'c-ack-twice', messageId }]);
    const done = async (key: string) => (await db.pool.query(`select 1 from carelane.deliveries where idempotency_key = $1 and status = 'done'`, [key])).rowCount === 1;
    const applyDeliveries = async () =>
      (await db.pool.query<{ idempotency_key: string; status: string }>(`select idempotency_key, status from carelane.deliveries where action = 'supplier.apply_ack' and message_id = $1 order by id`, [messageId])).rows;
    const recorded = async () =>
      (await db.pool.query<{ ordinal: number; acknowledgment_type: string; applied: AppliedLine[] | null }>(`select ordinal, acknowledgment_type, applied from carelane.supplier_acknowledgments where po_key = 'po:ack-twice' order by ordinal`)).rows;
    const odooLine = async () => (await client.searchRead('purchase.order.line', [['order_id', '=', placed.orderId]], { fields: ['product_qty', 'date_planned'] }))[0]!;
    try {
      await route(`route:${messageId}`);
      await waitFor(async () => (await applyDeliveries()).filter((d) => d.status === 'done').length === 2, 20_000, 'both acknowledgments applied');
      expect((await applyDeliveries()).map((d) => d.idempotency_key)).toEqual([`supplier.apply_ack:po:ack-twice:${messageId}`, `supplier.apply_ack:po:ack-twice:${messageId}:1`]);
      const line = await odooLine();
      expect(Number(line.product_qty)).toBe(6);
      expect(line.date_planned).toBe('2026-12-20 12:00:00');
      // each recorded as its own acknowledgment, applied in order: 10 → 8, then 8 → 6
      const rows = await recorded();
      expect(rows.map((r) => r.applied?.map((a) => ({ did: a.did, qty: a.changes?.product_qty })))).toEqual([
        [{ did: 'written', qty: { from: 10, to: 8 } }],
        [{ did: 'written', qty: { from: 8, to: 6 } }],
      ]);
      expect((await db.pool.query(`select confirmed_quantity from carelane.po_line_acknowledgments where po_key = 'po:ack-twice'`)).rows).toEqual([{ confirmed_quantity: '6' }]);

      // A forced replay routes the same message again: the same keys, nothing new to apply.
      await route(`route:${messageId}:replay:1`);
      await waitFor(() => done(`route:${messageId}:replay:1`), 20_000, 'the replayed flow done');
      expect((await applyDeliveries()).map((d) => d.idempotency_key)).toHaveLength(2);
      expect(await recorded()).toHaveLength(2);
      expect(Number((await odooLine()).product_qty)).toBe(6);
      expect((await db.pool.query(`select type, reason from carelane.exceptions`)).rows).toEqual([]);
    } finally {
      await engine.stop();
    }
  });
});
