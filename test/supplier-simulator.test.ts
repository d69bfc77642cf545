import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isValidGtin } from '../src/connectors/gs1/index.ts';
import {
  findOutbound,
  nextEnvelopeNumbers,
  overdueAcknowledgments,
  parseX12,
  recordFunctionalAcks,
  startX12HttpListener,
  x12Send850Handler,
  type CanonicalDocument,
  type OutboundPurchaseOrder,
  type X12HttpListener,
  type X12PartnerProfile,
} from '../src/connectors/x12/index.ts';
import { CarelaneError } from '../src/contracts/errors.ts';
import type { ClaimedDelivery, HandlerContext } from '../src/engine/handlers.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../simulators/supplier/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

let db: TestDatabase;
let ingest: Ingest;
let carelane: X12HttpListener;
let supplier: SupplierSimulator;
let profile: X12PartnerProfile;
const log = createLogger('silent');

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  profile = {
    id: 'medline-sim',
    ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' },
    theirs: { qualifier: 'ZZ', id: 'MEDLINESIM', applicationCode: 'MEDLINESIM' },
    version: '004010',
    transport: 'http',
    endpoint: 'set below',
    acknowledgment: { kind: '997', withinMinutes: 30 },
    usage: 'T',
  };
  carelane = await startX12HttpListener({
    host: '127.0.0.1',
    port: 0,
    profiles: [profile],
    sink: ingest,
    envelopeNumbers: (partner) => nextEnvelopeNumbers(db.pool, partner),
    onFunctionalAcks: async (partner, acks) => void (await recordFunctionalAcks(db.pool, partner.id, acks)),
  });
  supplier = await startSupplierSimulator({
    profile,
    callbackUrl: `${carelane.url}/x12/${profile.id}`,
    scenarios: [
      { prefix: 'PART-', scenario: 'partial' },
      { prefix: 'BACK-', scenario: 'backorder' },
      { prefix: 'REJ-', scenario: 'reject' },
    ],
    delays: { ackMs: 20, shipMs: 20, invoiceMs: 20 },
    invoiceVariance: { unitPriceDelta: '0.35' },
    slowMs: 400,
  });
  profile.endpoint = `${supplier.url}/x12`;
});
beforeEach(() => supplier.setFault('none'));
afterAll(async () => {
  await supplier?.close();
  await carelane?.close();
  await ingest?.flush();
  await db?.drop();
});

const order = (poNumber: string): OutboundPurchaseOrder => ({
  poNumber,
  orderDate: '2025-03-01',
  shipTo: { id: 'SITE-1', name: 'Main OR' },
  lines: [
    { quantity: 10, unitOfMeasure: 'BX', unitPrice: '12.50', vendorPartNumber: 'GLV-100', gtin: '10614141000415' },
    { quantity: 4, unitOfMeasure: 'EA', unitPrice: '3.00', vendorPartNumber: 'SUT-3' },
  ],
});

let deliveryId = 0;
function delivery(poNumber: string, idempotencyKey = `po:${poNumber}`): ClaimedDelivery {
  return {
    id: ++deliveryId, messageId: null, correlationId: `c-${poNumber}`, lane: 'standard', action: 'x12.send_850', endpoint: profile.id, orderingKey: poNumber,
    idempotencyKey, payload: { partner: profile.id, purchaseOrder: order(poNumber) }, attempts: 0, needsLookup: false, createdAt: new Date(), claimedAt: new Date(),
    endpointFailures: 0, endpointClosedAt: null,
  };
}
const context = (signal: AbortSignal = AbortSignal.timeout(5_000)): HandlerContext => ({ pool: db.pool, log, signal });

/** The canonical documents Carelane stored for a PO, read back from the message store. */
async function storedDocuments(poNumber: string): Promise<CanonicalDocument[]> {
  const { rows } = await db.pool.query<{ payload: Buffer; status: string }>("select payload, status from carelane.messages where source = 'x12:medline-sim' order by id");
  return rows
    .flatMap((r) => parseX12(r.payload).transactions.map((t) => t.document))
    .filter((d) => (d.type === '855' ? d.purchaseOrderAck.poNumber : d.type === '856' ? d.shipNotice.items[0]?.poNumber : d.type === '810' ? d.invoice.poNumber : undefined) === poNumber);
}

describe('x12.send_850 and the supplier simulator', () => {
  it('sends an 850, records the synchronous 997, then receives 855, 856 with lots and expiry, and an 810 with the price variance', async () => {
    const handler = x12Send850Handler([profile]);
    const result = await handler.run(delivery('PO-1001'), context());
    expect(result?.stages?.[0]?.detail).toMatchObject({ status: 200, ack: '997 A', poNumber: 'PO-1001' });
    expect(await handler.lookup!(delivery('PO-1001'), context())).toBe('applied');
    await supplier.idle();
    expect(supplier.sent.map((s) => [s.type, s.status])).toEqual([['855', 200], ['856', 200], ['810', 200]]);

    const docs = await storedDocuments('PO-1001');
    const ack = docs.find((d) => d.type === '855')!;
    expect(ack.type === '855' && ack.purchaseOrderAck.lines.map((l) => l.statuses[0]!.status)).toEqual(['accepted', 'accepted']);
    const asn = docs.find((d) => d.type === '856')!;
    if (asn.type !== '856') throw new Error('no 856');
    expect(asn.shipNotice.items).toHaveLength(2);
    for (const item of asn.shipNotice.items) {
      expect(isValidGtin(item.product.gtin!)).toBe(true);
      expect(item.lots).toEqual([{ lot: expect.stringMatching(/^LPO1001\d$/), expiryDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), quantity: item.quantity }]);
      expect(item.lots[0]!.expiryDate! > new Date().toISOString().slice(0, 10)).toBe(true);
    }
    expect(asn.shipNotice.items[0]!.product.gtin).toBe('10614141000415');
    const bill = docs.find((d) => d.type === '810')!;
    if (bill.type !== '810') throw new Error('no 810');
    expect(bill.invoice.lines.map((l) => l.unitPrice)).toEqual(['12.85', '3.35']);
    expect(bill.invoice.totalAmount).toBe('141.90'); // 10 × 12.85 + 4 × 3.35
  });

  it('a partial order is confirmed with changed quantities (ACK IQ) and only those are shipped and invoiced', async () => {
    await x12Send850Handler([profile]).run(delivery('PART-2001'), context());
    await supplier.idle();
    const docs = await storedDocuments('PART-2001');
    const ack = docs.find((d) => d.type === '855');
    expect(ack?.type === '855' && ack.purchaseOrderAck).toMatchObject({ acknowledgmentType: 'AC', lines: [{ statuses: [{ code: 'IQ', status: 'changed', quantity: 5 }] }, { statuses: [{ code: 'IQ', quantity: 2 }] }] });
    const asn = docs.find((d) => d.type === '856');
    expect(asn?.type === '856' && asn.shipNotice.items.map((i) => i.quantity)).toEqual([5, 2]);
  });

  it('backorder and reject scenarios answer with an 855 only (IB with a schedule date, IR)', async () => {
    const handler = x12Send850Handler([profile]);
    await handler.run(delivery('BACK-3001'), context());
    await handler.run(delivery('REJ-4001'), context());
    await supplier.idle();
    const back = await storedDocuments('BACK-3001');
    expect(back.map((d) => d.type)).toEqual(['855']);
    expect(back[0]!.type === '855' && back[0]!.purchaseOrderAck.lines[0]!.statuses[0]).toMatchObject({ status: 'backordered', date: expect.any(String) });
    const rejected = await storedDocuments('REJ-4001');
    expect(rejected[0]!.type === '855' && rejected[0]!.purchaseOrderAck).toMatchObject({ acknowledgmentType: 'RJ', lines: [{ statuses: [{ status: 'rejected' }] }, { statuses: [{ status: 'rejected' }] }] });
  });

  it('a retry re-sends the same interchange (same ISA13): the supplier takes it as a duplicate, not a second order', async () => {
    const handler = x12Send850Handler([profile]);
    await handler.run(delivery('PO-5001'), context());
    const first = await findOutbound(db.pool, 'po:PO-5001');
    await handler.run(delivery('PO-5001'), context());
    const second = await findOutbound(db.pool, 'po:PO-5001');
    expect(second).toMatchObject({ isa13: first!.isa13, gs06: first!.gs06, st02: first!.st02, body: first!.body });
    expect(supplier.duplicates).toBeGreaterThanOrEqual(1);
    await supplier.idle();
    expect(supplier.sent.filter((s) => s.poNumber === 'PO-5001' && s.type === '855')).toHaveLength(1);
  });

  it('classifies supplier faults: 503 transient, down transient (peer unavailable), slow after sending ambiguous then settled by lookup', async () => {
    const handler = x12Send850Handler([profile]);
    supplier.setFault('5xx');
    await expect(handler.run(delivery('PO-6001'), context())).rejects.toMatchObject({ failureClass: 'transient', code: 'http_503', peerUnavailable: true });
    supplier.setFault('down');
    const down = await handler.run(delivery('PO-6002'), context()).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(CarelaneError);
    expect((down as CarelaneError).retryable).toBe(true);
    supplier.setFault('slow');
    await expect(handler.run(delivery('PO-6003'), context(AbortSignal.timeout(100)))).rejects.toMatchObject({ failureClass: 'ambiguous' });
    expect(await handler.lookup!(delivery('PO-6003'), context())).toBe('not_applied');
    supplier.setFault('none');
    const duplicatesBefore = supplier.duplicates;
    await handler.run(delivery('PO-6003'), context());
    expect(await handler.lookup!(delivery('PO-6003'), context())).toBe('applied');
    // The slow attempt reached the supplier; the retry carried the same ISA13, so the supplier saw a duplicate
    // interchange (X12.5), not a second order.
    expect(supplier.duplicates).toBe(duplicatesBefore + 1);
    await supplier.idle();
    expect(supplier.sent.filter((s) => s.poNumber === 'PO-6003' && s.type === '855')).toHaveLength(1);
  });

  it('lists sent interchanges whose 997 is overdue per the partner profile', async () => {
    await db.pool.query("insert into carelane.x12_outbound (idempotency_key, partner, transaction_type, functional_id, isa13, gs06, st02, body, sent_at) values ('late', 'medline-sim', '850', 'PO', 999, 999, '0999', 'x', now() - interval '31 minutes')");
    const overdue = await overdueAcknowledgments(db.pool, [profile]);
    expect(overdue.map((o) => o.idempotencyKey)).toEqual(['late']);
  });

  it('the REST variant takes a JSON purchase order once per PO number and sends the same X12 documents', async () => {
    const post = () => fetch(`${supplier.url}/rest/purchase-orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(order('REST-7001')) });
    const first = await post();
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ poNumber: 'REST-7001', status: 'received', scenario: 'accept' });
    expect((await post()).status).toBe(200);
    await supplier.idle();
    expect((await storedDocuments('REST-7001')).map((d) => d.type)).toEqual(['855', '856', '810']);
  });
});
