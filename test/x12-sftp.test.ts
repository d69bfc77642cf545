import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InboundMessage, InboundReceipt, InboundSink } from '../src/contracts/inbound.ts';
import { allIssues, dropX12Sftp, generate850, newSettleState, nextEnvelopeNumbers, parsePartnerProfiles, pollX12Sftp, readX12, sshFingerprint, x12Send850Handler, type X12PartnerProfile, type X12SftpOptions } from '../src/connectors/x12/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { startSftpServer, type SftpServer } from '../simulators/supplier/sftp-server.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// X12 over SFTP against a real SSH-2/SFTP peer: ssh2's Server on loopback, serving a temporary directory.
const US = { qualifier: 'ZZ', id: 'CARELANE', applicationCode: 'CARELANE' };
const THEM = { qualifier: 'ZZ', id: 'MAILBOX', applicationCode: 'MAILBOX' };

const hostKeys = ssh2.utils.generateKeyPairSync('ed25519');
const clientKeys = ssh2.utils.generateKeyPairSync('ed25519');
const hostKeyBlob = (ssh2.utils.parseKey(hostKeys.public) as ssh2.ParsedKey).getPublicSSH();

function po(poNumber: string, isa13: number): string {
  return generate850(
    { poNumber, orderDate: '2026-03-01', shipTo: { id: 'SITE-1' }, lines: [{ quantity: 2, unitOfMeasure: 'EA', unitPrice: '3.10', vendorPartNumber: 'GLV-1' }] },
    { sender: THEM, receiver: US, version: '004010', interchangeControlNumber: isa13, groupControlNumber: isa13, transactionControlNumber: 1, usage: 'P', at: new Date('2026-03-01T10:00:00Z') },
  ).text;
}

let db: TestDatabase;
let ingest: Ingest;
let root: string;
let server: SftpServer;
let profile: X12PartnerProfile;
let options: X12SftpOptions;

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 4);
  ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
});
afterAll(async () => {
  await ingest?.flush();
  await db?.drop();
});
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'carelane-x12-sftp-'));
  await mkdir(path.join(root, 'in'));
  await mkdir(path.join(root, 'out'));
  server = await startSftpServer({ root, username: 'carelane', publicKey: clientKeys.public, password: 'mailbox-password', hostKey: hostKeys.private });
  // Through the config validation, as carelane.yaml would give it (the key already resolved from ${file:…}).
  [profile] = parsePartnerProfiles([
    {
      id: `mb${Math.floor(Math.random() * 1e6)}`,
      ours: US,
      theirs: THEM,
      version: '004010',
      transport: 'sftp',
      endpoint: `sftp://127.0.0.1:${server.port}/`,
      sftp: { host: '127.0.0.1', port: server.port, username: 'carelane', privateKey: clientKeys.private, hostKeySha256: sshFingerprint(hostKeyBlob), inbound: '/in', outbound: '/out', archive: '/archive' },
      acknowledgment: { kind: '997', withinMinutes: 60 },
      usage: 'P',
    },
  ]) as [X12PartnerProfile];
  options = { partner: profile, profiles: [profile], sink: ingest, envelopeNumbers: (partner) => nextEnvelopeNumbers(db.pool, partner) };
  return async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  };
});

const list = (dir: string) => readdir(path.join(root, dir)).catch(() => [] as string[]);

describe('X12 over SFTP', () => {
  it('picks up a settled 850, stores it, drops the 997, then archives the file — only after the store', async () => {
    await writeFile(path.join(root, 'in', 'po-1.edi'), po('PO-S1', 21));
    await writeFile(path.join(root, 'in', '.po-2.edi.part'), 'ISA*half'); // an upload in progress
    const settle = newSettleState();
    expect(await pollX12Sftp(options, settle)).toEqual([]); // first sight
    const [outcome] = await pollX12Sftp(options, settle);
    expect(outcome).toMatchObject({ file: 'po-1.edi', kind: 'processed', duplicate: false });
    expect(await list('in')).toEqual(['.po-2.edi.part']);
    expect(await list('archive')).toEqual(['po-1.edi']);
    const ackText = await readFile(path.join(root, 'out', 'po-1.ack.x12'), 'utf8');
    const ack = readX12(ackText);
    expect(allIssues(ack)).toEqual([]);
    expect(ack.interchanges[0]!.groups[0]!.transactions[0]!.type).toBe('997');
    const { rows } = await db.pool.query<{ ack_payload: string }>('select ack_payload from carelane.messages where external_id = $1 and source = $2', ['000000021', `x12:${profile.id}`]);
    expect(rows.map((r) => r.ack_payload)).toEqual([ackText]);
    expect((await list('out')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // the ack went up under a temporary name and was renamed (never visible half-written)
    expect(server.requests.get('RENAME')).toBeGreaterThanOrEqual(2);
  });

  it('leaves the file on the server, with no ack, when the store is down; the next poll takes it', async () => {
    await writeFile(path.join(root, 'in', 'po-3.x12'), po('PO-S3', 23));
    const down: InboundSink = { accept: async (_m: InboundMessage): Promise<InboundReceipt> => Promise.reject(new Error('connection refused')), acknowledge: () => {} };
    const settle = newSettleState();
    await pollX12Sftp({ ...options, sink: down }, settle);
    const [left] = await pollX12Sftp({ ...options, sink: down }, settle);
    expect(left).toMatchObject({ file: 'po-3.x12', kind: 'left' });
    expect(await list('in')).toEqual(['po-3.x12']);
    expect(await list('out')).toEqual([]);
    expect(await list('archive')).toEqual([]);
    await pollX12Sftp(options, settle);
    const [taken] = await pollX12Sftp(options, settle);
    expect(taken).toMatchObject({ kind: 'processed' });
    expect(await list('archive')).toEqual(['po-3.x12']);
  });

  it('leaves a file the partner overwrote while it was being stored, and receives the new content on a later poll', async () => {
    const noArchive = { ...profile, sftp: { ...profile.sftp!, archive: undefined } } as X12PartnerProfile;
    delete (noArchive.sftp as { archive?: string }).archive;
    const file = path.join(root, 'in', 'orders.edi'); // a partner that always writes the same name
    await writeFile(file, po('PO-S8', 28));
    let overwritten = false;
    // The partner writes its next interchange over the same name while Carelane stores the first one.
    const racing: InboundSink = {
      accept: async (message) => {
        if (!overwritten) {
          overwritten = true;
          await writeFile(file, po('PO-S8-NEXT', 29));
        }
        return ingest.accept(message);
      },
      acknowledge: (id) => ingest.acknowledge(id),
    };
    const opts = { ...options, partner: noArchive, profiles: [noArchive], sink: racing };
    const settle = newSettleState();
    await pollX12Sftp(opts, settle);
    const [left] = await pollX12Sftp(opts, settle);
    expect(left).toMatchObject({ file: 'orders.edi', kind: 'left', error: { code: 'sftp_file_changed' } });
    expect(await list('in')).toEqual(['orders.edi']);
    await pollX12Sftp(opts, settle);
    const [next] = await pollX12Sftp(opts, settle);
    expect(next).toMatchObject({ file: 'orders.edi', kind: 'processed', duplicate: false });
    expect(await list('in')).toEqual([]);
    const { rows } = await db.pool.query<{ external_id: string }>('select external_id from carelane.messages where source = $1 and external_id in ($2, $3) order by external_id', [`x12:${noArchive.id}`, '000000028', '000000029']);
    expect(rows.map((r) => r.external_id)).toEqual(['000000028', '000000029']); // both interchanges stored, none lost
  });

  it('deletes instead of archiving when the profile has no archive folder; non-X12 is stored as rejected', async () => {
    const noArchive = { ...profile, sftp: { ...profile.sftp!, archive: undefined } } as X12PartnerProfile;
    delete (noArchive.sftp as { archive?: string }).archive;
    await writeFile(path.join(root, 'in', 'junk.edi'), 'this is not an interchange');
    await writeFile(path.join(root, 'in', 'po-4.edi'), po('PO-S4', 24));
    const settle = newSettleState();
    await pollX12Sftp({ ...options, partner: noArchive, profiles: [noArchive] }, settle);
    const outcomes = await pollX12Sftp({ ...options, partner: noArchive, profiles: [noArchive] }, settle);
    expect(outcomes.map((o) => [o.file, o.kind])).toEqual([
      ['junk.edi', 'rejected'],
      ['po-4.edi', 'processed'],
    ]);
    expect(await list('in')).toEqual([]);
    expect(await list('archive')).toEqual([]);
    expect(server.requests.get('REMOVE')).toBe(2);
  });

  it('x12.send_850 uploads to a temporary name and renames; a retry replaces the same file', async () => {
    const handler = x12Send850Handler([profile], { now: () => new Date('2026-03-02T09:00:00Z') });
    const delivery = { idempotencyKey: `po-sftp-${profile.id}`, correlationId: 'c1', payload: { partner: profile.id, purchaseOrder: { poNumber: 'PO-OUT-S', orderDate: '2026-03-02', shipTo: { id: 'S1' }, lines: [{ quantity: 1, unitOfMeasure: 'EA', unitPrice: '1.00', vendorPartNumber: 'A' }] } } };
    const context = { pool: db.pool, log: console as never, signal: new AbortController().signal };
    const first = await handler.run(delivery as never, context);
    await handler.run(delivery as never, context);
    const files = await list('out');
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^850-\d+\.x12$/);
    expect(first?.stages?.[0]?.detail).toMatchObject({ file: `/out/${files[0]}`, ack: 'awaited' });
    const document = readX12(await readFile(path.join(root, 'out', files[0]!), 'utf8'));
    expect(allIssues(document)).toEqual([]);
    expect(document.interchanges[0]!.header.receiverId).toBe('MAILBOX');
  });

  it('authenticates by password too, and refuses a server whose host key is not the pinned one (permanent)', async () => {
    const byPassword = { ...profile, sftp: { ...profile.sftp!, privateKey: undefined, password: 'mailbox-password' } } as X12PartnerProfile;
    delete (byPassword.sftp as { privateKey?: string }).privateKey;
    expect(await dropX12Sftp(byPassword, 'hello.x12', 'ISA')).toBe('/out/hello.x12');
    const otherKey = ssh2.utils.generateKeyPairSync('ed25519');
    const pinnedElsewhere = { ...profile, sftp: { ...profile.sftp!, hostKeySha256: sshFingerprint((ssh2.utils.parseKey(otherKey.public) as ssh2.ParsedKey).getPublicSSH()) } } as X12PartnerProfile;
    await expect(dropX12Sftp(pinnedElsewhere, 'never.x12', 'ISA')).rejects.toMatchObject({ failureClass: 'permanent', code: 'sftp_auth_failed' });
    const wrongPassword = { ...byPassword, sftp: { ...byPassword.sftp!, password: 'nope' } } as X12PartnerProfile;
    await expect(dropX12Sftp(wrongPassword, 'never.x12', 'ISA')).rejects.toMatchObject({ failureClass: 'permanent' });
    expect(await list('out')).toEqual(['hello.x12']);
    // A server that is not there is worth retrying.
    await server.close();
    await expect(dropX12Sftp(byPassword, 'later.x12', 'ISA')).rejects.toMatchObject({ failureClass: 'transient' });
  });
});
