import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InboundMessage, InboundReceipt, InboundSink } from '../src/contracts/inbound.ts';
import { allIssues, dropX12File, generate850, newSettleState, pollX12Folder, readX12, recordFunctionalAcks, x12ReceiveOptions, x12Send850Handler, type X12FolderOptions, type X12PartnerProfile } from '../src/connectors/x12/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const US = { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' };
const THEM = { qualifier: 'ZZ', id: 'GATEWAY', applicationCode: 'GATEWAY' };

function po(poNumber: string, isa13: number): string {
  return generate850(
    { poNumber, orderDate: '2026-03-01', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 2, unitOfMeasure: 'EA', unitPrice: '3.10', vendorPartNumber: 'GLV-1' }] },
    { sender: THEM, receiver: US, version: '004010', interchangeControlNumber: isa13, groupControlNumber: isa13, transactionControlNumber: 1, usage: 'P', at: new Date('2026-03-01T10:00:00Z') },
  ).text;
}

let db: TestDatabase;
let ingest: Ingest;
let root: string;
let profile: X12PartnerProfile;
let options: X12FolderOptions;
const past = () => Date.now() + 60_000; // "now" far enough after any mtime: settled as soon as seen unchanged twice

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
});
afterAll(async () => {
  await ingest?.flush();
  await db?.drop();
});
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'carelane-x12-folder-'));
  profile = { id: `gw${Math.floor(Math.random() * 1e6)}`, ours: US, theirs: THEM, version: '004010', transport: 'folder', endpoint: path.join(root, 'out'), acknowledgment: { kind: '997', withinMinutes: 60 }, usage: 'P' };
  options = { partner: profile, profiles: [profile], sink: ingest, inbound: path.join(root, 'in'), ...x12ReceiveOptions(db.pool), settleMs: 0 };
  await mkdir(options.inbound, { recursive: true });
  return () => rm(root, { recursive: true, force: true });
});

const list = (dir: string) => readdir(dir).catch(() => [] as string[]);

describe('X12 watched folder', () => {
  it('stores a dropped 850, writes its 997 to the outbound folder, then moves the file to processed/', async () => {
    await writeFile(path.join(options.inbound, 'po-1.edi'), po('PO-F1', 11));
    const settle = newSettleState();
    expect(await pollX12Folder(options, settle, past)).toEqual([]); // first sight: not yet known to be complete
    const [outcome] = await pollX12Folder(options, settle, past);
    expect(outcome).toMatchObject({ file: 'po-1.edi', kind: 'processed', duplicate: false });
    expect(await list(options.inbound)).toEqual(['processed', 'rejected']);
    expect(await list(path.join(options.inbound, 'processed'))).toEqual(['po-1.edi']);
    const ack = readX12(await readFile(path.join(profile.endpoint, 'po-1.ack.x12'), 'utf8'));
    expect(allIssues(ack)).toEqual([]);
    expect(ack.interchanges[0]!.groups[0]!.transactions[0]!.type).toBe('997');
    expect(ack.interchanges[0]!.header.receiverId).toBe('GATEWAY');
    const { rows } = await db.pool.query<{ source: string; ack_payload: string }>('select source, ack_payload from carelane.messages where external_id = $1 and source = $2', ['000000011', `x12:${profile.id}`]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.ack_payload).toBe(await readFile(path.join(profile.endpoint, 'po-1.ack.x12'), 'utf8'));
    // nothing half-written is left behind in the outbound folder
    expect((await list(profile.endpoint)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ignores .tmp and dot files, and a file that is still growing', async () => {
    await writeFile(path.join(options.inbound, 'po-2.edi.tmp'), po('PO-F2', 12));
    await writeFile(path.join(options.inbound, '.po-3.edi'), po('PO-F3', 13));
    const growing = path.join(options.inbound, 'po-4.x12');
    const text = po('PO-F4', 14);
    await writeFile(growing, text.slice(0, 100));
    const settle = newSettleState();
    expect(await pollX12Folder(options, settle, past)).toEqual([]);
    await appendFile(growing, text.slice(100, 200));
    expect(await pollX12Folder(options, settle, past)).toEqual([]); // size changed since the last poll
    await appendFile(growing, text.slice(200));
    expect(await pollX12Folder(options, settle, past)).toEqual([]);
    // a file modified less than settleMs ago is not taken even when unchanged between polls
    expect(await pollX12Folder({ ...options, settleMs: 3_600_000 }, settle, Date.now)).toEqual([]);
    const [outcome] = await pollX12Folder(options, settle, past);
    expect(outcome).toMatchObject({ file: 'po-4.x12', kind: 'processed' });
    expect((await list(options.inbound)).sort()).toEqual(['.po-3.edi', 'po-2.edi.tmp', 'processed', 'rejected']);
  });

  it('leaves the file in place, with no ack written, when it cannot be stored; takes it on the next poll', async () => {
    await writeFile(path.join(options.inbound, 'po-5.edi'), po('PO-F5', 15));
    const down: InboundSink = { accept: async (_m: InboundMessage): Promise<InboundReceipt> => Promise.reject(new Error('connection refused')), acknowledge: () => {} };
    const settle = newSettleState();
    await pollX12Folder({ ...options, sink: down }, settle, past);
    const [left] = await pollX12Folder({ ...options, sink: down }, settle, past);
    expect(left).toMatchObject({ file: 'po-5.edi', kind: 'left' });
    expect(await list(options.inbound)).toContain('po-5.edi');
    expect(await list(profile.endpoint)).toEqual([]);
    const [taken] = await pollX12Folder(options, settle, past);
    expect(taken).toMatchObject({ kind: 'processed' });
  });

  it('answers a re-dropped interchange (crash before the move) with the same ack, stored once', async () => {
    const text = po('PO-F6', 16);
    const settle = newSettleState();
    await writeFile(path.join(options.inbound, 'po-6.edi'), text);
    await pollX12Folder(options, settle, past);
    await pollX12Folder(options, settle, past);
    const firstAck = await readFile(path.join(profile.endpoint, 'po-6.ack.x12'), 'utf8');
    await writeFile(path.join(options.inbound, 'po-6.edi'), text);
    await pollX12Folder(options, settle, past);
    const [again] = await pollX12Folder(options, settle, past);
    expect(again).toMatchObject({ kind: 'processed', duplicate: true });
    expect(await readFile(path.join(profile.endpoint, 'po-6.ack.x12'), 'utf8')).toBe(firstAck);
    // the second copy is kept too (never deleted), under a unique name
    expect((await list(path.join(options.inbound, 'processed'))).length).toBe(2);
  });

  it('leaves a file overwritten while it was being stored, and receives the new content on a later poll', async () => {
    const file = path.join(options.inbound, 'orders.edi'); // a gateway that always writes the same name
    await writeFile(file, po('PO-F9', 19));
    let overwritten = false;
    const racing: InboundSink = {
      accept: async (message) => {
        if (!overwritten) {
          overwritten = true;
          await writeFile(file, po('PO-F9-NEXT', 20));
        }
        return ingest.accept(message);
      },
      acknowledge: (id) => ingest.acknowledge(id),
    };
    const settle = newSettleState();
    await pollX12Folder({ ...options, sink: racing }, settle, past);
    const [left] = await pollX12Folder({ ...options, sink: racing }, settle, past);
    expect(left).toMatchObject({ file: 'orders.edi', kind: 'left', error: { code: 'x12_file_changed' } });
    expect(await list(path.join(options.inbound, 'processed'))).toEqual([]);
    await pollX12Folder({ ...options, sink: racing }, settle, past);
    const [next] = await pollX12Folder({ ...options, sink: racing }, settle, past);
    expect(next).toMatchObject({ file: 'orders.edi', kind: 'processed', duplicate: false });
    const { rows } = await db.pool.query<{ external_id: string }>('select external_id from carelane.messages where source = $1 and external_id in ($2, $3) order by external_id', [`x12:${profile.id}`, '000000019', '000000020']);
    expect(rows.map((r) => r.external_id)).toEqual(['000000019', '000000020']); // both stored, none lost
  });

  it('moves non-X12 and envelope-rejected files to rejected/ (the latter with a TA1)', async () => {
    await writeFile(path.join(options.inbound, 'junk.edi'), 'hello, this is not EDI');
    const stranger = po('PO-F7', 17).replace('ZZ*GATEWAY        ', 'ZZ*STRANGER       ');
    await writeFile(path.join(options.inbound, 'stranger.edi'), stranger);
    const settle = newSettleState();
    await pollX12Folder(options, settle, past);
    const outcomes = await pollX12Folder(options, settle, past);
    expect(outcomes.map((o) => [o.file, o.kind])).toEqual([['junk.edi', 'rejected'], ['stranger.edi', 'rejected']]);
    expect((await list(path.join(options.inbound, 'rejected'))).sort()).toEqual(['junk.edi', 'stranger.edi']);
    const ta1 = readX12(await readFile(path.join(profile.endpoint, 'stranger.ack.x12'), 'utf8')).interchanges[0]!;
    expect(ta1.groups).toEqual([]);
  });
});

describe('outbound drops', () => {
  it('writes atomically: the final name appears only complete, no temporary file remains', async () => {
    const out = path.join(root, 'drop');
    const body = 'ISA*...~'.repeat(10_000);
    const final = await dropX12File(out, 'x.x12', body);
    expect(await readFile(final, 'utf8')).toBe(body);
    expect(await list(out)).toEqual(['x.x12']);
    expect((await stat(final)).size).toBe(body.length);
  });

  it('x12.send_850 drops the 850 into a folder partner\'s outbound folder, once per idempotency key', async () => {
    const handler = x12Send850Handler([profile], { now: () => new Date('2026-03-02T09:00:00Z') });
    const delivery = { idempotencyKey: `po-folder-${profile.id}`, correlationId: 'c1', payload: { partner: profile.id, purchaseOrder: { poNumber: 'PO-OUT-1', orderDate: '2026-03-02', shipTo: { id: 'S1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '1.00', vendorPartNumber: 'A' }] } } };
    const context = { pool: db.pool, log: console as never, signal: new AbortController().signal };
    await handler.run(delivery as never, context);
    await handler.run(delivery as never, context); // a retry: same file, same bytes
    const files = await list(profile.endpoint);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^850-\d+\.x12$/);
    const document = readX12(await readFile(path.join(profile.endpoint, files[0]!), 'utf8'));
    expect(allIssues(document)).toEqual([]);
    expect(document.interchanges[0]!.header.receiverId).toBe('GATEWAY');
    const { rows } = await db.pool.query<{ sent_at: Date | null }>('select sent_at from carelane.x12_outbound where idempotency_key = $1', [delivery.idempotencyKey]);
    expect(rows[0]!.sent_at).not.toBeNull();
  });

  it('x12.send_850 lookup: a later 997 with AK9 A is applied, one with AK9 R is the partner refusing it (permanent)', async () => {
    const handler = x12Send850Handler([profile], { now: () => new Date('2026-03-02T09:00:00Z') });
    const context = { pool: db.pool, log: console as never, signal: new AbortController().signal };
    const order = (n: string) => ({ idempotencyKey: `po-lookup-${n}-${profile.id}`, correlationId: 'c1', payload: { partner: profile.id, purchaseOrder: { poNumber: `PO-LK-${n}`, orderDate: '2026-03-02', shipTo: { id: 'S1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '1.00', vendorPartNumber: 'A' }] } } });
    const accepted = order('A');
    const refused = order('R');
    const gs06Of = (r: Awaited<ReturnType<typeof handler.run>>) => String((r?.stages?.[0]?.detail as { gs06: number }).gs06);
    const gsAccepted = gs06Of(await handler.run(accepted as never, context));
    const gsRefused = gs06Of(await handler.run(refused as never, context));
    expect(await handler.lookup!(refused as never, context)).toBe('not_applied'); // no 997 yet
    await recordFunctionalAcks(db.pool, profile.id, [
      { kind: '997', functionalId: 'PO', groupControlNumber: gsAccepted, status: 'A', transactions: [] },
      { kind: '997', functionalId: 'PO', groupControlNumber: gsRefused, status: 'R', transactions: [] },
    ]);
    expect(await handler.lookup!(accepted as never, context)).toBe('applied');
    await expect(handler.lookup!(refused as never, context)).rejects.toMatchObject({ failureClass: 'permanent', code: 'x12_rejected_by_partner' });
  });
});
