import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { parseConfigText } from '../src/config/index.ts';
import { allIssues, readX12 } from '../src/connectors/x12/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// carelane.yaml → `carelane start`: a partner with transport folder has its inbound folder watched by the running
// app (as SFTP partners' mailboxes are polled), and the watcher stops with the app.

const REALDATA = path.resolve(import.meta.dirname, '../../shared/realdata/x12');
// A real 855 (node-x12 fixtures): ISA sender ZZ/1556150 → receiver ZZ/123MILL, ISA13 000000005, 004010.
const ACK_855 = readFileSync(path.join(REALDATA, 'node-x12/855.edi'), 'latin1');

let db: TestDatabase;
let app: RunningCarelane | undefined;
let root: string;
const inbound = () => path.join(root, 'in');
const outbound = () => path.join(root, 'out');
const list = (dir: string) => readdir(dir).catch(() => [] as string[]);

async function startApp(): Promise<RunningCarelane> {
  const config = parseConfigText(
    `
server: { port: 0 }
mllp: { enabled: false }
logging: { level: silent }
engine: { pollIntervalMs: 100 }
x12:
  http: { enabled: false }
  partners:
    - id: bookmill
      ours: { qualifier: ZZ, id: 123MILL, applicationCode: 123MILL }
      theirs: { qualifier: ZZ, id: "1556150", applicationCode: "1556150" }
      version: "004010"
      transport: folder
      endpoint: "${outbound()}"
      folder: { inbound: "${inbound()}", pollSeconds: 1, settleMs: 0 }
      acknowledgment: { kind: "997", withinMinutes: 60 }
      usage: P
`,
    { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'x12-folder-admin-token' },
  );
  return startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
}

beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget());
  root = await mkdtemp(path.join(os.tmpdir(), 'carelane-x12-app-folder-'));
  await mkdir(inbound(), { recursive: true });
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

async function messagesOf(externalId: string) {
  const { rows } = await app!.database.pool.query<{ id: string; message_type: string; status: string; status_reason: string | null; ack_payload: string | null }>(
    `select id, message_type, status, status_reason, ack_payload from carelane.messages where source = 'x12:bookmill' and external_id = $1 order by id`,
    [externalId],
  );
  return rows;
}

describe('watched-folder partners in a running Carelane', () => {
  it('stores a file dropped in the inbound folder, drops its 997, and moves the file to processed/', async () => {
    await writeFile(path.join(inbound(), 'ack-5.edi'), ACK_855);
    await waitFor(async () => (await list(path.join(inbound(), 'processed'))).includes('ack-5.edi'), 15_000, 'the 855 moved to processed/');
    const rows = await messagesOf('000000005');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ message_type: 'X12_855' });
    expect(rows[0]!.status).not.toBe('rejected');
    const ackText = await readFile(path.join(outbound(), 'ack-5.ack.x12'), 'utf8');
    expect(rows[0]!.ack_payload).toBe(ackText);
    const ack = readX12(ackText);
    expect(allIssues(ack)).toEqual([]);
    const ackSet = ack.interchanges[0]!.groups[0]!.transactions[0]!;
    expect(ackSet.type).toBe('997');
    expect(ackSet.segments.find((s) => s.id === 'AK9')?.elements[1]).toBe('A');
    expect(await list(inbound())).toEqual(['processed', 'rejected']);
  });

  it('refuses an interchange that reuses a received ISA13 on different content: TA1 025, parked in rejected/', async () => {
    const reused = ACK_855.replace('BAK*00*AD*POTEST1112', 'BAK*00*AD*POTEST9999');
    await writeFile(path.join(inbound(), 'ack-5-again.edi'), reused);
    await waitFor(async () => (await list(path.join(inbound(), 'rejected'))).includes('ack-5-again.edi'), 15_000, 'the reused ISA13 moved to rejected/');
    const ta1 = await readFile(path.join(outbound(), 'ack-5-again.ack.x12'), 'utf8');
    expect(ta1.split('\n')[1]).toMatch(/^TA1\*000000005\*201015\*1534\*R\*025~$/);
    const rows = await messagesOf('000000005');
    expect(rows).toHaveLength(2);
    expect(rows[0]!.status).not.toBe('rejected'); // the first interchange is untouched
    expect(rows[1]).toMatchObject({ status: 'rejected', ack_payload: ta1, status_reason: expect.stringMatching(/^x12_control_number_duplicate: ISA13 000000005 from ZZ\/1556150 was already received with different content/) });
  });

  it('stops watching when the app stops', async () => {
    await app!.stop();
    app = undefined;
    await writeFile(path.join(inbound(), 'late.edi'), ACK_855.replaceAll('000000005', '000000006'));
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // more than two poll intervals
    expect(await list(inbound())).toContain('late.edi');
    expect(await list(path.join(inbound(), 'processed'))).not.toContain('late.edi');
  });
});
