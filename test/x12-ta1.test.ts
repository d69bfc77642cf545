import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSettleState, pollX12Folder, readX12, writeTa1Interchange, x12ReceiveOptions, x12Send850Handler, type Interchange, type X12PartnerProfile } from '../src/connectors/x12/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// TA1 consumed (X12.5): a partner that refuses the envelope of one of our interchanges answers with a TA1 'R' and
// will never send a 997/999 for it. The 850 delivery must then fail for good (parked for a buyer), not wait for
// the acknowledgment SLA; a TA1 'A' changes nothing (the 997/999 is still awaited).

const US = { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' };
const THEM = { qualifier: 'ZZ', id: 'GATEWAY', applicationCode: 'GATEWAY' };

/** The partner's TA1 for an interchange it received from us (it swaps sender and receiver, as writeTa1Interchange does). */
function ta1For(ours: Interchange, status: 'A' | 'R', isa13: number): string {
  const refused = status === 'R' ? [{ code: 'x12_element_invalid' as const, level: 'interchange' as const, message: 'receiver id unknown', segment: 'ISA', ackCode: '008' }] : [];
  return writeTa1Interchange({ ...ours, issues: refused }, { interchangeControlNumber: isa13, at: new Date('2026-03-02T09:05:00Z'), usage: 'P' });
}

let db: TestDatabase;
let ingest: Ingest;
let root: string;
beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
  root = await mkdtemp(path.join(os.tmpdir(), 'carelane-x12-ta1-'));
});
afterAll(async () => {
  await ingest?.flush();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

const context = () => ({ pool: db.pool, log: console as never, signal: new AbortController().signal });
const order = (partner: string, n: string) => ({
  idempotencyKey: `ta1-${partner}-${n}`,
  correlationId: `c-${n}`,
  payload: { partner, purchaseOrder: { poNumber: `PO-TA1-${n}`, orderDate: '2026-03-02', shipTo: { id: 'S1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '1.00', vendorPartNumber: 'A' }] } },
});

describe('TA1 from a partner', () => {
  it('reads TA1 segments between ISA and IEA', () => {
    const text = 'ISA*00*          *00*          *ZZ*GATEWAY        *ZZ*CARELANE       *260302*0905*^*00501*000000077*0*P*:~\nTA1*000000012*260302*0900*R*008~\nIEA*0*000000077~\n';
    const [interchange] = readX12(text).interchanges;
    expect(interchange!.issues).toEqual([]);
    expect(interchange!.ta1).toEqual([{ controlNumber: '000000012', status: 'R', noteCode: '008', line: 2 }]);
  });

  it('folder partner: a TA1 R dropped by the gateway fails that 850 for good; a TA1 A leaves the other awaiting its 997', async () => {
    const profile: X12PartnerProfile = { id: 'gw-ta1', ours: US, theirs: THEM, version: '005010', transport: 'folder', endpoint: path.join(root, 'out'), folder: { inbound: path.join(root, 'in') }, acknowledgment: { kind: '999', withinMinutes: 60 }, usage: 'P' };
    await mkdir(profile.folder!.inbound, { recursive: true });
    const handler = x12Send850Handler([profile], { now: () => new Date('2026-03-02T09:00:00Z') });
    const [refused, accepted] = [order(profile.id, 'R'), order(profile.id, 'A')];
    await handler.run(refused as never, context());
    await handler.run(accepted as never, context());
    const sent = await Promise.all((await readdir(profile.endpoint)).sort().map(async (f) => readX12(await readFile(path.join(profile.endpoint, f), 'utf8')).interchanges[0]!));
    const [first, second] = sent.sort((a, b) => Number(a.header.controlNumber) - Number(b.header.controlNumber));
    await writeFile(path.join(profile.folder!.inbound, 'ta1-r.x12'), ta1For(first!, 'R', 901));
    await writeFile(path.join(profile.folder!.inbound, 'ta1-a.x12'), ta1For(second!, 'A', 902));

    const options = { partner: profile, profiles: [profile], sink: ingest, inbound: profile.folder!.inbound, settleMs: 0, ...x12ReceiveOptions(db.pool) };
    const settle = newSettleState();
    await pollX12Folder(options, settle, () => Date.now() + 60_000);
    const outcomes = await pollX12Folder(options, settle, () => Date.now() + 60_000);
    expect(outcomes.map((o) => [o.file, o.kind])).toEqual([['ta1-a.x12', 'processed'], ['ta1-r.x12', 'processed']]);

    await expect(handler.lookup!(refused as never, context())).rejects.toMatchObject({ failureClass: 'permanent', code: 'x12_rejected_by_partner', message: expect.stringContaining('in its TA1'), where: { segment: 'TA1' } });
    expect(await handler.lookup!(accepted as never, context())).toBe('not_applied');
    const { rows } = await db.pool.query<{ idempotency_key: string; ack_kind: string | null; ack_status: string | null }>('select idempotency_key, ack_kind, ack_status from carelane.x12_outbound where partner = $1 order by isa13', [profile.id]);
    expect(rows).toEqual([
      { idempotency_key: refused.idempotencyKey, ack_kind: 'TA1', ack_status: 'R' },
      { idempotency_key: accepted.idempotencyKey, ack_kind: null, ack_status: null },
    ]);
  });

  it('HTTP partner: a TA1 R in the synchronous answer fails the 850 delivery permanently and closes the interchange', async () => {
    // A partner endpoint that refuses every envelope with TA1 008 (receiver id unknown), as an AS2/HTTP gateway does.
    const partnerServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received = readX12(Buffer.concat(chunks)).interchanges[0]!;
        res.writeHead(200, { 'content-type': 'application/edi-x12' }).end(ta1For(received, 'R', 903));
      });
    });
    await new Promise<void>((resolve) => partnerServer.listen(0, '127.0.0.1', resolve));
    try {
      const profile: X12PartnerProfile = { id: 'http-ta1', ours: US, theirs: THEM, version: '005010', transport: 'http', endpoint: `http://127.0.0.1:${(partnerServer.address() as AddressInfo).port}/x12`, acknowledgment: { kind: '999', withinMinutes: 60 }, usage: 'P' };
      const handler = x12Send850Handler([profile]);
      const delivery = order(profile.id, 'H');
      await expect(handler.run(delivery as never, context())).rejects.toMatchObject({ failureClass: 'permanent', code: 'x12_rejected_by_partner', message: expect.stringMatching(/refused interchange \d+ with TA1 note code 008$/) });
      const { rows } = await db.pool.query('select ack_kind, ack_status from carelane.x12_outbound where idempotency_key = $1', [delivery.idempotencyKey]);
      expect(rows).toEqual([{ ack_kind: 'TA1', ack_status: 'R' }]);
      await expect(handler.lookup!(delivery as never, context())).rejects.toMatchObject({ code: 'x12_rejected_by_partner' });
    } finally {
      await new Promise<void>((resolve) => partnerServer.close(() => resolve()));
    }
  });
});
