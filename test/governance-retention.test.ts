import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, purgeExpiredMessages, type RetentionPolicy } from '../src/governance/index.ts';
import { inTransaction } from '../src/store/database.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';

const POLICY: RetentionPolicy = { payloadDays: 7, metadataDays: 90, keepFailed: true, keepUnfinished: true, batchSize: 2, classes: [] };

describe('retention purge', () => {
  let db: TestDatabase;
  let seq = 0;

  /** A message received `daysAgo` days ago, with a stage and a delivery of the given status. */
  async function message(source: string, daysAgo: number, status: string, deliveryStatus = 'done'): Promise<number> {
    seq += 1;
    const { rows } = await db.pool.query<{ id: number }>(
      `insert into carelane.messages (source, dedupe_key, content_hash, correlation_id, status, payload, payload_size, received_at)
       values ($1, $2, 'h', $2, $3, 'PID|1||MRN-1', 12, now() - make_interval(days => $4)) returning id`,
      [source, `m${seq}`, status, daysAgo],
    );
    const id = rows[0]!.id;
    await db.pool.query(`insert into carelane.message_stages (message_id, stage, outcome) values ($1, 'parsed', 'ok')`, [id]);
    await db.pool.query(
      `insert into carelane.deliveries (message_id, correlation_id, lane, action, endpoint, idempotency_key, status) values ($1, 'c', 'standard', 'a', 'e', $2, $3)`,
      [id, `k${seq}`, deliveryStatus],
    );
    return id;
  }
  const state = async (id: number) => {
    const { rows } = await db.pool.query<{ payload: Buffer | null }>('select payload from carelane.messages where id = $1', [id]);
    if (!rows[0]) return 'deleted';
    return rows[0].payload ? 'kept' : 'payload erased';
  };

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 3);
  });
  afterAll(async () => db.drop());
  beforeEach(async () => {
    await db.pool.query('delete from carelane.deliveries; delete from carelane.messages');
  });

  it('erases old payloads, deletes old messages with their stages and deliveries, in batches', async () => {
    const fresh = await message('mllp', 1, 'processed');
    const week = [await message('mllp', 10, 'processed'), await message('mllp', 11, 'processed'), await message('mllp', 12, 'processed')];
    const ancient = [await message('mllp', 100, 'processed'), await message('mllp', 120, 'processed'), await message('mllp', 365, 'processed')];

    const result = await purgeExpiredMessages(db.pool, POLICY);
    expect(result).toEqual({ payloadsErased: 3, messagesDeleted: 3 });
    expect(await state(fresh)).toBe('kept');
    for (const id of week) expect(await state(id)).toBe('payload erased');
    for (const id of ancient) expect(await state(id)).toBe('deleted');
    const orphans = await db.pool.query('select (select count(*) from carelane.message_stages where message_id = any($1))::int as stages, (select count(*) from carelane.deliveries where message_id is null or message_id = any($1))::int as deliveries', [ancient]);
    expect(orphans.rows[0]).toEqual({ stages: 0, deliveries: 0 });
  });

  it('keeps failed, rejected and unfinished messages when told to, and purges them when not', async () => {
    const failed = await message('mllp', 200, 'failed');
    const rejected = await message('mllp', 200, 'rejected');
    const inFlight = await message('mllp', 200, 'processing');
    const pendingWork = await message('mllp', 200, 'processed', 'pending');
    const parked = await message('mllp', 200, 'processed', 'exception');
    await purgeExpiredMessages(db.pool, POLICY);
    for (const id of [failed, rejected, inFlight, pendingWork, parked]) expect(await state(id)).toBe('kept');

    await purgeExpiredMessages(db.pool, { ...POLICY, keepFailed: false, keepUnfinished: false });
    for (const id of [failed, rejected, inFlight, pendingWork, parked]) expect(await state(id)).toBe('deleted');
  });

  it('applies per-source classes, first match wins, and never touches the audit log', async () => {
    await inTransaction(db.pool, (tx) => appendAudit(tx, { actor: 'test', action: 'replay', reason: 'before purge' }));
    const ehr = await message('http:ehr', 3, 'processed');
    const ehrLab = await message('http:ehr-lab', 3, 'processed');
    const x12 = await message('x12', 3, 'processed');
    const other = await message('mllp', 3, 'processed');
    const policy: RetentionPolicy = { ...POLICY, classes: [{ source: 'http:ehr-lab' }, { source: 'http:ehr*', payloadDays: 1 }, { source: 'x12', metadataDays: 2 }] };
    await purgeExpiredMessages(db.pool, policy);
    expect([await state(ehr), await state(ehrLab), await state(x12), await state(other)]).toEqual(['payload erased', 'kept', 'deleted', 'kept']);
    const audit = await db.pool.query('select count(*)::int as n from carelane.audit_log');
    expect(audit.rows[0]).toEqual({ n: 1 });
  });
});
