import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, verifyAuditChain } from '../src/governance/index.ts';
import { purgeExpiredMessages } from '../src/governance/retention.ts';
import { inTransaction } from '../src/store/database.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { writeConfig } from './support/engine-process.ts';

// The audit trail is hash-chained (issue 8): `carelane audit verify` must find an edited or deleted entry. A
// chain alone cannot see its newest entries deleted or the whole chain recomputed; a checkpoint (an entry's id
// and hash kept outside the database) can.

const run = promisify(execFile);

describe('audit trail verification', () => {
  let db: TestDatabase;
  const append = (n: number) =>
    inTransaction(db.pool, async (tx) => {
      for (let i = 0; i < n; i += 1) await appendAudit(tx, { actor: 'token:tester', action: 'test.entry', targetType: 'thing', targetId: String(i), reason: `entry ${i}`, detail: { i, nested: { b: 2, a: 1 } } });
    });
  const ids = async () => (await db.pool.query<{ id: string }>('select id from carelane.audit_log order by id')).rows.map((row) => Number(row.id));

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 3);
    // These tests play the forger who got past the table's append-only guard (migration 021), as the table's owner
    // or a superuser can: what is left to catch them is the chain. The guard itself is tested below.
    await db.pool.query('alter table carelane.audit_log disable trigger audit_log_append_only');
  });
  beforeEach(async () => {
    await db.pool.query('truncate carelane.audit_log');
    await append(12);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('passes an untouched chain across several pages and names its head', async () => {
    const all = await ids();
    const result = await verifyAuditChain(db.pool, { pageSize: 5 });
    const { rows } = await db.pool.query<{ hash: string }>('select hash from carelane.audit_log where id = $1', [all.at(-1)]);
    expect(result).toEqual({ entries: 12, ok: true, head: { id: all.at(-1), hash: rows[0]!.hash } });
  });

  it('passes an entry whose detail held undefined values or a Date: the hash covers what is stored (JSON), not the object in memory', async () => {
    await inTransaction(db.pool, (tx) => appendAudit(tx, { actor: 'token:tester', action: 'test.entry', detail: { note: undefined, at: new Date('2026-11-24T10:00:00Z'), list: [1, undefined] } }));
    expect(await verifyAuditChain(db.pool)).toMatchObject({ entries: 13, ok: true });
  });

  it('finds an edited entry, a deleted one in the middle, and a deleted first one', async () => {
    const all = await ids();
    await db.pool.query(`update carelane.audit_log set detail = jsonb_set(detail, '{i}', '99') where id = $1`, [all[7]]);
    expect(await verifyAuditChain(db.pool, { pageSize: 5 })).toMatchObject({ ok: false, firstBrokenId: all[7], problem: 'this entry was altered' });

    await db.pool.query('truncate carelane.audit_log');
    await append(12);
    const fresh = await ids();
    await db.pool.query('delete from carelane.audit_log where id = $1', [fresh[5]]);
    expect(await verifyAuditChain(db.pool, { pageSize: 5 })).toMatchObject({ ok: false, firstBrokenId: fresh[6], problem: 'an earlier entry was deleted or altered' });

    await db.pool.query('truncate carelane.audit_log');
    await append(3);
    const third = await ids();
    await db.pool.query('delete from carelane.audit_log where id = $1', [third[0]]);
    expect(await verifyAuditChain(db.pool)).toMatchObject({ ok: false, firstBrokenId: third[1] });
  });

  it('with a checkpoint, finds the newest entries deleted and a chain recomputed from scratch', async () => {
    const { head } = await verifyAuditChain(db.pool);
    expect(head).toBeDefined();
    await append(2);
    expect(await verifyAuditChain(db.pool, { checkpoint: head })).toMatchObject({ ok: true, entries: 14 });

    // deleting the tail back past the checkpoint leaves a chain that still links up
    const all = await ids();
    await db.pool.query('delete from carelane.audit_log where id >= $1', [all[10]]);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
    expect(await verifyAuditChain(db.pool, { checkpoint: head })).toMatchObject({ ok: false, problem: expect.stringContaining('newest entries were deleted') });

    // an edit followed by recomputing every hash after it (what someone with write access could do)
    await db.pool.query('truncate carelane.audit_log');
    await append(4);
    const checkpoint = (await verifyAuditChain(db.pool)).head!;
    await db.pool.query(`update carelane.audit_log set reason = 'rewritten' where id = (select min(id) from carelane.audit_log)`);
    await rehashChain(db);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
    expect(await verifyAuditChain(db.pool, { checkpoint })).toMatchObject({ ok: false, firstBrokenId: checkpoint.id, problem: expect.stringContaining('rewritten') });
  });

  it('`carelane audit verify` prints the head, takes it back as --checkpoint, and exits 1 on a broken trail', async () => {
    const config = writeConfig('database: { url: "${env:AUDIT_TEST_DB}" }\nlogging: { level: silent }\n');
    const verify = (...args: string[]) => run(process.execPath, ['bin/carelane.js', '--config', config, 'audit', 'verify', ...args], { env: { ...process.env, AUDIT_TEST_DB: db.url } });

    const first = await verify();
    expect(first.stdout).toContain('audit trail intact (12 entries)');
    const head = /head (\d+:[0-9a-f]{64})/.exec(first.stdout)?.[1];
    expect(head).toBeDefined();
    expect((await verify('--checkpoint', head!)).stdout).toContain(`checkpoint ${head!.split(':')[0]} matches`);

    await db.pool.query('delete from carelane.audit_log where id = (select max(id) from carelane.audit_log)');
    const broken = await verify('--checkpoint', head!).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(broken?.code).toBe(1);
    expect(broken?.stderr).toContain('audit trail BROKEN at entry');

    const badArgument = await verify('--checkpoint', 'not-a-checkpoint').then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(badArgument?.code).toBe(1);
    expect(badArgument?.stderr).toContain('expected <id>:<hash>');
  }, 120_000); // four CLI processes, each importing the app (seconds each on a busy 2-core machine)
});

describe('audit trail: append-only in the database', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 2);
    await inTransaction(db.pool, async (tx) => {
      for (let i = 0; i < 3; i += 1) await appendAudit(tx, { actor: 'token:tester', action: 'test.entry', targetId: String(i), reason: `entry ${i}` });
    });
  });
  afterAll(async () => {
    await db?.drop();
  });
  const entries = async () => (await db.pool.query<{ n: number }>('select count(*)::int as n from carelane.audit_log')).rows[0]!.n;

  it('refuses UPDATE, DELETE and TRUNCATE with a clear error, even one that would touch no row', async () => {
    for (const statement of [
      `update carelane.audit_log set reason = 'edited afterwards' where id = (select max(id) from carelane.audit_log)`,
      'delete from carelane.audit_log where id = (select min(id) from carelane.audit_log)',
      'delete from carelane.audit_log where false',
      'truncate carelane.audit_log',
    ]) {
      const refused = await db.pool.query(statement).then(
        () => undefined,
        (error: { message: string; code: string; hint: string }) => error,
      );
      expect(refused, statement).toMatchObject({ message: expect.stringMatching(/^carelane\.audit_log is append-only: (UPDATE|DELETE|TRUNCATE) is refused$/), code: '42501', hint: expect.stringContaining('new entry') });
    }
    expect(await entries()).toBe(3);
    expect(await verifyAuditChain(db.pool)).toMatchObject({ ok: true, entries: 3 });
  });

  it('keeps appending', async () => {
    await inTransaction(db.pool, (tx) => appendAudit(tx, { actor: 'token:tester', action: 'test.entry', targetId: '3' }));
    expect(await entries()).toBe(4);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('lets the retention purge run to the end without touching an entry', async () => {
    await db.pool.query(
      `insert into carelane.messages (source, dedupe_key, content_hash, correlation_id, status, payload, payload_size, received_at)
       values ('http:lab', 'old-1', 'h', 'corr-old', 'processed', 'x', 1, now() - interval '400 days')`,
    );
    const before = await entries();
    const purged = await purgeExpiredMessages(db.pool, { payloadDays: 30, metadataDays: 90, keepFailed: true, keepUnfinished: true, batchSize: 10, classes: [] });
    expect(purged.messagesDeleted).toBe(1);
    expect(await entries()).toBe(before);
  });
});

/** Recomputes every hash in id order, as a forger with write access to the table would after an edit. */
async function rehashChain(db: TestDatabase): Promise<void> {
  const { createHash } = await import('node:crypto');
  // the same canonical form as src/governance/audit.ts (sorted keys), written out here on purpose: the forger
  // knows the algorithm
  const stable = (value: unknown): string =>
    Array.isArray(value)
      ? `[${value.map(stable).join(',')}]`
      : value && typeof value === 'object'
        ? `{${Object.keys(value)
            .sort()
            .map((key) => `${JSON.stringify(key)}:${stable((value as Record<string, unknown>)[key])}`)
            .join(',')}}`
        : JSON.stringify(value ?? null);
  const { rows } = await db.pool.query<{ id: string; at: Date; actor: string; action: string; target_type: string | null; target_id: string | null; reason: string | null; detail: unknown }>(
    'select id, at, actor, action, target_type, target_id, reason, detail from carelane.audit_log order by id',
  );
  let prev = '0'.repeat(64);
  for (const row of rows) {
    const hash = createHash('sha256').update(stable([prev, row.at.toISOString(), row.actor, row.action, row.target_type, row.target_id, row.reason, row.detail])).digest('hex');
    await db.pool.query('update carelane.audit_log set prev_hash = $2, hash = $3 where id = $1', [row.id, prev, hash]);
    prev = hash;
  }
}
