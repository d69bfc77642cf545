import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allIssues,
  generate850,
  loadStoredInterchange,
  nextEnvelopeNumbers,
  sameInterchange,
  readX12,
  startX12HttpListener,
  type Interchange,
  type ReceivedFunctionalAck,
  type X12HttpListener,
  type X12PartnerProfile,
} from '../src/connectors/x12/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata/x12');
const sample = (name: string) => readFileSync(path.join(REALDATA, name));

/** A profile whose ISA ids are those of a sample's sender and receiver, so that the sample is "from" it. */
function profileFrom(id: string, bytes: Buffer | string, overrides: Partial<X12PartnerProfile> = {}): X12PartnerProfile {
  const h = readX12(bytes).interchanges[0]!.header;
  return {
    id,
    ours: { qualifier: h.receiverQualifier, id: h.receiverId, applicationCode: 'CARELANE' },
    theirs: { qualifier: h.senderQualifier, id: h.senderId, applicationCode: 'PARTNER' },
    version: '004010',
    transport: 'http',
    endpoint: 'http://127.0.0.1:1/unused',
    acknowledgment: { kind: '997', withinMinutes: 60 },
    usage: h.usage === 'T' ? 'T' : 'P',
    ...overrides,
  };
}

const SAMPLES: Record<string, string> = {
  'node-x12': 'node-x12/856.edi',
  'node-x12-855': 'node-x12/855.edi',
  olmelabs: 'olmelabs-ediengine/850.OK.edi',
  crossdock: 'olmelabs-ediengine/856.Crossdock.OK.edi',
  warehouse: 'olmelabs-ediengine/AckTest.edi',
  staedi: 'xlate-staedi/simple810.edi',
  'staedi-997': 'xlate-staedi/simple997.edi',
};

/** A 005010 850 from a partner 'medsupply' (ours: ZZ/CARELANE), for 999 tests. */
const MED = { ours: { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' }, theirs: { qualifier: 'ZZ', id: 'MEDSUPPLY', applicationCode: 'MEDSUPPLY' } };
function po005010(poNumber: string, interchange = 7): string {
  return generate850(
    { poNumber, orderDate: '2025-03-01', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 10, unitOfMeasure: 'EA', unitPrice: '4.25', vendorPartNumber: 'GLV-100' }] },
    { sender: MED.theirs, receiver: MED.ours, version: '005010', interchangeControlNumber: interchange, groupControlNumber: interchange, transactionControlNumber: 1, usage: 'P', at: new Date('2025-03-01T10:00:00Z') },
  ).text;
}

let db: TestDatabase;
let ingest: Ingest;
let listener: X12HttpListener;
const receivedAcks: Array<{ partner: string; acks: ReceivedFunctionalAck[] }> = [];

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  const profiles = [
    ...Object.entries(SAMPLES).map(([id, file]) => profileFrom(id, sample(file))),
    { ...profileFrom('medsupply', po005010('X')), version: '005010' as const, acknowledgment: { kind: '999' as const, withinMinutes: 30 } },
    profileFrom('test-only', sample('olmelabs-ediengine/850.SyntaxNotes.ERR.edi'), { theirs: { qualifier: 'ZZ', id: 'NOBODY', applicationCode: 'X' }, usage: 'T' }),
  ];
  listener = await startX12HttpListener({
    host: '127.0.0.1',
    port: 0,
    profiles,
    sink: ingest,
    envelopeNumbers: (partner) => nextEnvelopeNumbers(db.pool, partner),
    onFunctionalAcks: async (partner, acks) => void receivedAcks.push({ partner: partner.id, acks }),
    storedInterchange: (messageId) => loadStoredInterchange(db.pool, messageId),
  });
});
afterAll(async () => {
  await listener?.close();
  await ingest?.flush();
  await db?.drop();
});

async function post(partner: string, body: Buffer | string) {
  const response = await fetch(`${listener.url}/x12/${partner}`, { method: 'POST', body, headers: { 'content-type': 'application/edi-x12' } });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

function singleAck(text: string): Interchange {
  const document = readX12(text);
  expect(allIssues(document)).toEqual([]);
  expect(document.interchanges).toHaveLength(1);
  return document.interchanges[0]!;
}

const segmentsOf = (interchange: Interchange) => interchange.groups.flatMap((g) => g.transactions.flatMap((t) => t.segments.map((s) => s.elements.join('*'))));

async function storedRow(source: string, externalId: string) {
  const { rows } = await db.pool.query<{ id: string; message_type: string; status: string; status_reason: string | null; ack_payload: string | null; duplicate_count: number; content_type: string }>(
    'select id, message_type, status, status_reason, ack_payload, duplicate_count, content_type from carelane.messages where source = $1 and external_id = $2',
    [source, externalId],
  );
  return rows;
}

describe('X12 over HTTP: persist, then acknowledge', () => {
  it.each([
    ['node-x12', '856', '000000049', '997'],
    ['node-x12-855', '855', '000000005', '997'],
    ['olmelabs', '850', '000003438', '997'],
    ['crossdock', '856', '000000091', '997'],
    ['staedi', '810', '000000020', '997'],
  ])('accepts the real %s sample (%s) with a 997 whose AK9 is A, after storing it once', async (partner, type, isa13, kind) => {
    const response = await post(partner, sample(SAMPLES[partner]!));
    expect(response.status).toBe(200);
    expect(response.contentType).toBe('application/edi-x12');
    const ack = singleAck(response.text);
    const sets = ack.groups[0]!.transactions;
    expect(sets.every((t) => t.type === kind)).toBe(true);
    const segments = segmentsOf(ack);
    expect(segments.filter((s) => s.startsWith('AK5') || s.startsWith('IK5')).every((s) => s.split('*')[1] === 'A')).toBe(true);
    expect(segments.find((s) => s.startsWith('AK9'))!.split('*')[1]).toBe('A');
    // sender and receiver swapped: the acknowledgment goes back to the partner
    const received = readX12(sample(SAMPLES[partner]!)).interchanges[0]!.header;
    expect([ack.header.senderId, ack.header.receiverId]).toEqual([received.receiverId, received.senderId]);
    const rows = await storedRow(`x12:${partner}`, isa13);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ message_type: `X12_${type}`, status: 'received', status_reason: null, ack_payload: response.text, content_type: 'application/edi-x12' });
  });

  it('answers a 005010 purchase order with a 999 (005010X231) and takes our ISA13 from the partner counter', async () => {
    const response = await post('medsupply', po005010('PO-5010-1', 11));
    expect(response.status).toBe(200);
    const ack = singleAck(response.text);
    expect(ack.header.version).toBe('00501');
    expect(ack.groups[0]!.header.version).toBe('005010X231');
    expect(ack.groups[0]!.transactions[0]!.type).toBe('999');
    expect(segmentsOf(ack)).toContain('IK5*A');
    expect(Number(ack.header.controlNumber)).toBeGreaterThan(0);
    const { rows } = await db.pool.query('select last_value from carelane.x12_control_numbers where partner = $1 and kind = $2', ['medsupply', 'ISA']);
    expect(Number(rows[0].last_value)).toBe(Number(ack.header.controlNumber));
  });

  it('rejects a real 850 that breaks a syntax note with AK3/AK4 detail, and stores it as rejected with the precise error', async () => {
    const bytes = sample('olmelabs-ediengine/850.SyntaxNotes.ERR.edi');
    const response = await post('olmelabs', bytes.toString('latin1').replaceAll('000003438', '000003439'));
    expect(response.status).toBe(200);
    const segments = segmentsOf(singleAck(response.text));
    expect(segments.some((s) => s.startsWith('AK3*'))).toBe(true);
    expect(segments.some((s) => s.startsWith('AK4*'))).toBe(true);
    expect(segments.find((s) => s.startsWith('AK5'))).toMatch(/^AK5\*R\*5/);
    expect(segments.find((s) => s.startsWith('AK9'))).toMatch(/^AK9\*R\*1\*1\*0/);
    const [row] = await storedRow('x12:olmelabs', '000003439');
    expect(row).toMatchObject({ status: 'rejected', ack_payload: response.text });
    expect(row!.status_reason).toMatch(/^x12_element_relation: .*segment \w+, field \w+\d\d, line \d+, position \d+; ack code \d+/);
  });

  it('reports a bad element of a 005010 set in IK3/IK4 of the 999, with the bad value copied', async () => {
    const broken = po005010('PO-5010-2', 12).replace('PO1*1*10*EA', 'PO1*1*1X*EA');
    const response = await post('medsupply', broken);
    const segments = segmentsOf(singleAck(response.text));
    expect(segments).toContain('IK3*PO1*4*PO1*8');
    expect(segments.find((s) => s.startsWith('IK4*'))).toMatch(/^IK4\*2\*\*\d+\*1X$/);
    expect(segments.find((s) => s.startsWith('IK5'))).toBe('IK5*R*5');
    expect((await storedRow('x12:medsupply', '000000012'))[0]).toMatchObject({ status: 'rejected' });
  });

  it('answers a transaction set Carelane does not map (940) with AK5 R code 1 "Transaction Set Not Supported"', async () => {
    const response = await post('warehouse', sample(SAMPLES.warehouse!));
    const segments = segmentsOf(singleAck(response.text));
    expect(segments.filter((s) => s.startsWith('AK5'))).toEqual(['AK5*R*1', 'AK5*R*1', 'AK5*R*1']);
    const [row] = await storedRow('x12:warehouse', '000009221');
    expect(row).toMatchObject({ status: 'rejected', message_type: 'X12_940' });
    expect(row!.status_reason).toMatch(/^x12_transaction_unsupported: transaction set 940/);
  });

  it('rejects an envelope error (IEA02 ≠ ISA13) with a TA1 R and no 997', async () => {
    const response = await post('olmelabs', sample('olmelabs-ediengine/ControlNumbersMismatch.edi').toString('latin1').replace('*000003438*', '*000003440*'));
    const ack = readX12(response.text).interchanges[0]!;
    expect(ack.groups).toEqual([]);
    expect(response.text).toMatch(/TA1\*000003440\*\d{6}\*\d{4}\*R\*001~/);
    expect((await storedRow('x12:olmelabs', '000003440'))[0]).toMatchObject({ status: 'rejected' });
  });

  it('refuses an interchange from a sender that is not the partner of the URL (TA1 R 006), and one in the wrong usage (020)', async () => {
    const wrongPartner = await post('crossdock', po005010('PO-X', 13));
    expect(wrongPartner.text).toMatch(/TA1\*000000013\*\d{6}\*\d{4}\*R\*006~/);
    expect((await storedRow('x12:crossdock', '000000013'))[0]!.status_reason).toMatch(/belongs to partner medsupply/);
    const testUsage = await post('medsupply', po005010('PO-T', 14).replace('*0*P*', '*0*T*'));
    expect(testUsage.text).toMatch(/TA1\*000000014\*\d{6}\*\d{4}\*R\*020~/);
  });

  it('adds a TA1 A ahead of the 997 when ISA14 asks for one', async () => {
    const requested = sample(SAMPLES.crossdock!).toString('latin1').replaceAll('000000091', '000000092').replace('*000000092*0*P*', '*000000092*1*P*');
    const response = await post('crossdock', requested);
    const ack = singleAck(response.text);
    expect(response.text.split('\n')[1]).toMatch(/^TA1\*000000092\*\d{6}\*\d{4}\*A\*000~$/);
    expect(ack.groups[0]!.transactions[0]!.type).toBe('997');
  });

  it('answers a duplicate interchange (same sender, same ISA13) with the first answer and stores it once', async () => {
    const bytes = po005010('PO-DUP', 21);
    const first = await post('medsupply', bytes);
    const second = await post('medsupply', bytes);
    expect(second.text).toBe(first.text);
    const rows = await storedRow('x12:medsupply', '000000021');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.duplicate_count).toBe(1);
  });

  it('answers a re-sent interchange laid out differently (CRLF between segments) as a duplicate: same segments, same content', async () => {
    const bytes = po005010('PO-DUP-CRLF', 22);
    const first = await post('medsupply', bytes);
    const second = await post('medsupply', bytes.replaceAll('\n', '\r\n'));
    expect(second.text).toBe(first.text);
    const rows = await storedRow('x12:medsupply', '000000022');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.duplicate_count).toBe(1);
  });

  it('refuses an interchange reusing a received ISA13 on different content with TA1 R 025, and parks it', async () => {
    const first = await post('medsupply', po005010('PO-FIRST', 23));
    expect(first.status).toBe(200);
    const reused = await post('medsupply', po005010('PO-OTHER', 23));
    expect(reused.status).toBe(200);
    const ta1 = singleAck(reused.text);
    expect(ta1.groups).toEqual([]);
    expect(reused.text.split('\n')[1]).toMatch(/^TA1\*000000023\*250301\*1000\*R\*025~$/);
    expect(ta1.header.receiverId).toBe('MEDSUPPLY');
    const rows = await storedRow('x12:medsupply', '000000023');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ status: 'received', ack_payload: first.text });
    expect(rows[1]).toMatchObject({
      status: 'rejected',
      message_type: 'X12_850',
      ack_payload: reused.text,
      status_reason: expect.stringMatching(/^x12_control_number_duplicate: ISA13 000000023 from ZZ\/MEDSUPPLY was already received with different content \(message \d+\); refused, not processed \(.*ISA13.*ack code 025\)$/),
    });
    // The refused copy is kept whole (nothing lost), and sending it again gets the same TA1, stored once.
    const { rows: payloads } = await db.pool.query<{ payload: Buffer }>('select payload from carelane.messages where id = $1', [rows[1]!.id]);
    expect(payloads[0]!.payload.toString('latin1')).toBe(po005010('PO-OTHER', 23));
    const again = await post('medsupply', po005010('PO-OTHER', 23));
    expect(again.text).toBe(reused.text);
    expect(await storedRow('x12:medsupply', '000000023')).toHaveLength(2);
    // and the first interchange's own re-send is still its duplicate, answered with its 999
    expect((await post('medsupply', po005010('PO-FIRST', 23))).text).toBe(first.text);
  });

  it('stores input that is not X12 as rejected and answers 400', async () => {
    const response = await post('olmelabs', sample('olmelabs-ediengine/NonEdi.edi'));
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/^x12_not_edi/);
    const { rows } = await db.pool.query("select status, status_reason from carelane.messages where source = 'x12:olmelabs' and message_type = 'X12_unknown'");
    expect(rows).toEqual([{ status: 'rejected', status_reason: expect.stringMatching(/^x12_not_edi: .*line 1/) }]);
  });

  it('stores an inbound 997 without acknowledging it, and hands its AK1/AK9 to the outbound ledger', async () => {
    const response = await post('staedi-997', sample(SAMPLES['staedi-997']!));
    expect(response.status).toBe(204);
    expect(receivedAcks.at(-1)).toMatchObject({ partner: 'staedi-997', acks: [{ kind: '997', status: expect.any(String) }] });
    expect((await storedRow('x12:staedi-997', '508121953'))[0]).toMatchObject({ status: 'received', message_type: 'X12_997' });
  });

  it('never answers positively when the database is down: 503 with Retry-After and no acknowledgment', async () => {
    const downPool = new pg.Pool({ connectionString: 'postgres://carelane@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const downIngest = new Ingest(downPool, [{ lane: 'standard', flow: 'noop' }]);
    const down = await startX12HttpListener({
      host: '127.0.0.1',
      port: 0,
      profiles: [{ ...profileFrom('medsupply', po005010('X')), version: '005010' }],
      sink: downIngest,
      envelopeNumbers: async () => ({ interchange: 1, group: 1, transaction: 1 }),
    });
    try {
      const response = await fetch(`${down.url}/x12/medsupply`, { method: 'POST', body: po005010('PO-DOWN', 31) });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('30');
      expect(await response.text()).not.toMatch(/ISA|997|999/);
    } finally {
      await down.close();
      await downPool.end();
    }
  });
});

describe('same interchange or reused control number (sameInterchange)', () => {
  const stored = (bytes: string, purged = false) => ({ payload: purged ? null : Buffer.from(bytes), contentHash: createHash('sha256').update(bytes).digest('hex') });
  const a = po005010('PO-A', 41);

  it('is the same for identical bytes and for the same segments in another line layout', () => {
    expect(sameInterchange(Buffer.from(a), stored(a))).toBe(true);
    expect(sameInterchange(Buffer.from(a.replaceAll('\n', '\r\n')), stored(a))).toBe(true);
    expect(sameInterchange(Buffer.from(a.replaceAll('\n', '')), stored(a))).toBe(true);
  });

  it('differs when any element differs', () => {
    expect(sameInterchange(Buffer.from(po005010('PO-B', 41)), stored(a))).toBe(false);
    expect(sameInterchange(Buffer.from(a.replace('*GLV-100', '*GLV-101')), stored(a))).toBe(false);
  });

  it('with the payload purged by retention: equal bytes are the same, anything else is not', () => {
    expect(sameInterchange(Buffer.from(a), stored(a, true))).toBe(true);
    expect(sameInterchange(Buffer.from(a.replaceAll('\n', '\r\n')), stored(a, true))).toBe(false);
  });
});
