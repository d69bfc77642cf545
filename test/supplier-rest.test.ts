import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundMessage, InboundReceipt, InboundSink } from '../src/contracts/inbound.ts';
import type { CanonicalDocument } from '../src/connectors/x12/index.ts';
import { SIGNATURE_HEADER, signBody, startSupplierRestListener, supplierRestSendPoHandler, type SupplierRestListener, type SupplierRestProfile } from '../src/connectors/supplier-rest/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { startSupplierSimulator, type SupplierSimulator } from '../simulators/supplier/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// The supplier REST profile end to end: Carelane's signed PO out (supplier_rest.send_po), the supplier simulator's
// signed acknowledgment / ship notice / invoice webhooks in, stored as the canonical 855/856/810 documents.
const CARELANE_SIGNING = 'carelane-signing-secret-0123456789abcdef';
const SUPPLIER_WEBHOOK = 'supplier-webhook-secret-0123456789abcdef';

let db: TestDatabase;
let ingest: Ingest;
let listener: SupplierRestListener;
let supplier: SupplierSimulator;
let profile: SupplierRestProfile;

const x12Profile = { id: 'acme', ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' }, theirs: { qualifier: 'ZZ', id: 'ACME', applicationCode: 'ACME' }, version: '005010' as const, transport: 'http' as const, endpoint: 'http://unused', acknowledgment: { kind: '999' as const, withinMinutes: 60 }, usage: 'T' as const };

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  const placeholder: SupplierRestProfile = { id: 'acme', url: 'http://127.0.0.1:1', signingSecret: CARELANE_SIGNING, webhookSecret: SUPPLIER_WEBHOOK };
  const profiles: SupplierRestProfile[] = [placeholder];
  listener = await startSupplierRestListener({ host: '127.0.0.1', port: 0, profiles, sink: ingest });
  supplier = await startSupplierSimulator({
    profile: x12Profile,
    scenarios: [{ prefix: 'PO-PART', scenario: 'partial' }],
    invoiceVariance: { unitPriceDelta: '0.25' },
    rest: { callbackUrl: `${listener.url}/supplier-rest/acme/events`, signingSecret: SUPPLIER_WEBHOOK, verifySecret: CARELANE_SIGNING },
  });
  profile = { ...placeholder, url: `${supplier.url}/rest` };
  profiles[0] = profile;
});

afterAll(async () => {
  await supplier?.close();
  await listener?.close();
  await ingest?.flush();
  await db?.drop();
});

const context = () => ({ pool: db.pool, log: console as never, signal: new AbortController().signal });
const delivery = (key: string, poNumber: string) => ({
  idempotencyKey: key,
  correlationId: 'c-rest',
  endpoint: 'acme',
  payload: { purchaseOrder: { poNumber, orderDate: '2026-03-02', shipTo: { id: 'SITE-1' }, lines: [{ lineNumber: '1', quantity: 10, unitOfMeasure: 'EA', unitPrice: '2.00', vendorPartNumber: 'GLV-1', gtin: '00614141000012' }] } },
});

async function stored(source: string) {
  const { rows } = await db.pool.query<{ message_type: string; external_id: string | null; status: string; status_reason: string | null; content_type: string; payload: Buffer }>(
    'select message_type, external_id, status, status_reason, content_type, payload from carelane.messages where source = $1 order by id',
    [source],
  );
  return rows;
}

describe('supplier REST profile', () => {
  it('sends a signed PO with an Idempotency-Key once; the supplier answers with signed events stored as canonical 855/856/810', async () => {
    const handler = supplierRestSendPoHandler([profile]);
    const work = delivery('supplier_rest.send_po:po-1', 'PO-PART-1');
    expect(await handler.lookup!(work as never, context())).toBe('not_applied');
    const first = await handler.run(work as never, context());
    expect(first?.stages?.[0]?.detail).toMatchObject({ status: 202, poNumber: 'PO-PART-1', duplicate: false });
    const again = await handler.run(work as never, context());
    expect(again?.stages?.[0]?.detail).toMatchObject({ status: 200, duplicate: true });
    expect(supplier.orders.size).toBe(1);
    expect(await handler.lookup!(work as never, context())).toBe('applied');

    await supplier.idle();
    await ingest.flush();
    expect(supplier.sent.map((d) => [d.type, d.status])).toEqual([
      ['purchase_order.acknowledged', 202],
      ['shipment.notified', 202],
      ['invoice.issued', 202],
    ]);
    const rows = await stored('supplier_rest:acme');
    expect(rows.map((r) => [r.message_type, r.external_id, r.status === 'rejected'])).toEqual([
      ['SUPPLIER_855', 'ack-POPART1', false],
      ['SUPPLIER_856', 'asn-POPART1', false],
      ['SUPPLIER_810', 'inv-POPART1', false],
    ]);
    const [ack, asn, inv] = rows.map((r) => JSON.parse(r.payload.toString()) as CanonicalDocument);
    expect(rows[0]!.content_type).toBe('application/vnd.carelane.canonical+json');
    // partial: 5 of 10 confirmed → BAK02 AC, line 'changed' with code IC (the same canonical shape an 855 gives)
    expect(ack).toMatchObject({ type: '855', purchaseOrderAck: { poNumber: 'PO-PART-1', acknowledgmentType: 'AC', poDate: '2026-03-02', lines: [{ lineNumber: '1', orderedQuantity: 10, product: { gtin: '00614141000012', vendorPartNumber: 'GLV-1' }, statuses: [{ code: 'IC', status: 'changed', quantity: 5 }] }] } });
    expect(asn).toMatchObject({ type: '856', shipNotice: { shipmentId: 'SHPOPART1', hierarchy: [{ level: 'shipment' }, { level: 'order' }, { level: 'item' }], items: [{ poNumber: 'PO-PART-1', quantity: 5, lots: [{ lot: expect.stringMatching(/^L/), expiryDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }] }] } });
    // price variance +0.25 on 5 units of 2.00
    expect(inv).toMatchObject({ type: '810', invoice: { invoiceNumber: 'INVPOPART1', poNumber: 'PO-PART-1', totalAmount: '11.25', lines: [{ quantity: 5, unitPrice: '2.25' }] } });
  });

  it('refuses an unsigned or forged webhook with 401 and stores nothing; an invalid event is stored as rejected (422, field named); a re-sent event is a duplicate', async () => {
    const url = `${listener.url}/supplier-rest/acme/events`;
    const before = (await stored('supplier_rest:acme')).length;
    const event = JSON.stringify({ eventId: 'inv-X', type: 'invoice.issued', occurredAt: new Date().toISOString(), data: { invoiceNumber: 'X', invoiceDate: '2026-03-03', poNumber: 'PO-X', lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '1.00', product: { vendorPartNumber: 'A' } }], totalAmount: '1.00' } });
    const post = (body: string, signature?: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { [SIGNATURE_HEADER]: signature } : {}) }, body });
    expect((await post(event)).status).toBe(401);
    expect((await post(event, signBody('not-the-webhook-secret-0123456789abcd', event))).status).toBe(401);
    await ingest.flush();
    expect((await stored('supplier_rest:acme')).length).toBe(before);

    const bad = JSON.stringify({ eventId: 'inv-Y', type: 'invoice.issued', occurredAt: new Date().toISOString(), data: { invoiceNumber: 'Y', invoiceDate: '2026-03-03', poNumber: 'PO-Y', lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: 1, product: { vendorPartNumber: 'A' } }], totalAmount: '1.00' } });
    const refused = await post(bad, signBody(SUPPLIER_WEBHOOK, bad));
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: 'supplier_event_invalid', field: 'data.lines[0].unitPrice' });

    const accepted = await post(event, signBody(SUPPLIER_WEBHOOK, event));
    expect(accepted.status).toBe(202);
    const duplicate = await post(event, signBody(SUPPLIER_WEBHOOK, event));
    expect(duplicate.status).toBe(200);
    expect(await duplicate.json()).toMatchObject({ status: 'stored', eventId: 'inv-X', duplicate: true });
    await ingest.flush();
    const rows = (await stored('supplier_rest:acme')).slice(before);
    expect(rows.map((r) => [r.message_type, r.status === 'rejected'])).toEqual([
      ['SUPPLIER_unknown', true],
      ['SUPPLIER_810', false],
    ]);
    expect(rows[0]!.status_reason).toContain('supplier_event_invalid: supplier event data.lines[0].unitPrice: must be a non-empty string');
  });

  it('answers 503 (send again) when the event cannot be stored', async () => {
    const down: InboundSink = { accept: async (_m: InboundMessage): Promise<InboundReceipt> => Promise.reject(new Error('connection refused')), acknowledge: () => {} };
    const downListener = await startSupplierRestListener({ host: '127.0.0.1', port: 0, profiles: [profile], sink: down });
    try {
      const event = JSON.stringify({ eventId: 'ack-Z', type: 'purchase_order.acknowledged', occurredAt: new Date().toISOString(), data: { poNumber: 'PO-Z', poDate: '2026-03-01', lines: [{ status: 'accepted', product: { vendorPartNumber: 'A' } }] } });
      const response = await fetch(`${downListener.url}/supplier-rest/acme/events`, { method: 'POST', headers: { [SIGNATURE_HEADER]: signBody(SUPPLIER_WEBHOOK, event) }, body: event });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('30');
    } finally {
      await downListener.close();
    }
  });

  it('a PO signed with the wrong secret is refused by the supplier: permanent, not retried', async () => {
    const handler = supplierRestSendPoHandler([{ ...profile, signingSecret: 'wrong-signing-secret-0123456789abcdefgh' }]);
    await expect(handler.run(delivery('supplier_rest.send_po:po-bad', 'PO-BAD') as never, context())).rejects.toMatchObject({ failureClass: 'permanent' });
    expect(supplier.orders.has('PO-BAD')).toBe(false);
  });
});
