import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane } from '../src/app.ts';
import { verifyAuditChain } from '../src/governance/index.ts';
import { recordConfiguration } from '../src/governance/config-audit.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

// Issue 8: configuration changes are in the audit trail. carelane.yaml changes by a restart, so each start
// compares the (redacted) configuration with the last one recorded.

const ADMIN = 'config-audit-admin-token';

describe('configuration changes in the audit trail', () => {
  let db: TestDatabase;
  const changes = async () =>
    (await db.pool.query<{ actor: string; reason: string; detail: { hash: string; previousHash: string | null; changed: string[]; config: unknown } }>(
      `select actor, reason, detail from carelane.audit_log where action = 'config.change' order by id`,
    )).rows;
  const yaml = (concurrency: number, nodeId: string) =>
    [
      'server: { port: 0 }',
      'mllp: { enabled: false }',
      'logging: { level: silent }',
      `engine: { nodeId: ${nodeId}, lanes: { standard: { concurrency: ${concurrency} } } }`,
      'governance: { tokenization: { keys: [{ id: k1, secret: "${env:PTK}" }], activeKeyId: k1 } }',
      'endpoints: { partner: { url: "https://partner.example/in", headers: { Authorization: "Bearer ${env:PARTNER_TOKEN}" } } }',
    ].join('\n');
  const start = async (concurrency: number, secrets: { PTK: string; PARTNER_TOKEN: string }, nodeId = 'node-a') => {
    const config = parseConfigText(yaml(concurrency, nodeId), { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: ADMIN, ...secrets });
    const app = await startCarelane({ config, origin: 'carelane.yaml' }, { log: pino({ level: 'silent' }) });
    await app.stop();
  };

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 4);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('records the first configuration, nothing for an unchanged restart or a rotated secret, and the paths of a change', async () => {
    await start(8, { PTK: 'tokenization-secret-one-0123456789abcdef', PARTNER_TOKEN: 'partner-token-first-value' });
    expect(await changes()).toHaveLength(1);
    const [first] = await changes();
    expect(first).toMatchObject({ actor: 'node:node-a', reason: 'first configuration recorded (carelane.yaml)', detail: { previousHash: null, changed: [] } });

    // same file, secrets rotated behind the same references, started by another node: not a configuration change
    await start(8, { PTK: 'tokenization-secret-two-0123456789abcdef', PARTNER_TOKEN: 'partner-token-second-value' }, 'node-b');
    expect(await changes()).toHaveLength(1);

    await start(3, { PTK: 'tokenization-secret-two-0123456789abcdef', PARTNER_TOKEN: 'partner-token-second-value' });
    const all = await changes();
    expect(all).toHaveLength(2);
    expect(all[1]!.detail).toMatchObject({ previousHash: first!.detail.hash, changed: ['engine.lanes.standard.concurrency'] });
    expect(all[1]!.reason).toContain('differs from the last one recorded');

    const text = JSON.stringify(all);
    for (const secret of ['tokenization-secret-one', 'tokenization-secret-two', 'partner-token-first-value', 'partner-token-second-value', ADMIN]) expect(text).not.toContain(secret);
    expect(text).toContain('Bearer ${env:PARTNER_TOKEN}');
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('ignores key order, and lists added and removed settings', async () => {
    const before = (await changes()).length;
    await recordConfiguration(db.pool, { a: 1, b: { c: [1, 2], d: 'x' } }, { node: 'n', origin: 'test' });
    expect(await recordConfiguration(db.pool, { b: { d: 'x', c: [1, 2] }, a: 1 }, { node: 'n', origin: 'test' })).toBeUndefined();
    const change = await recordConfiguration(db.pool, { a: 1, b: { c: [1, 2, 3] }, e: true }, { node: 'n', origin: 'test' });
    expect(change?.changed).toEqual(['b.c', 'b.d', 'e']);
    expect((await changes()).length).toBe(before + 2);
  });
});
