import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permanentError } from '../src/contracts/errors.ts';
import { Ingest, routeStep, HandlerRegistry, Engine, type DeliveryHandler } from '../src/engine/index.ts';
import { replayMessages } from '../src/engine/replay.ts';
import { verifyAuditChain } from '../src/governance/index.ts';
import { createTestDatabase, databaseTargets, type TestDatabase } from './support/databases.ts';
import { silentLog, testConfig, waitFor } from './support/engine-harness.ts';

describe.each(databaseTargets())('replay on $name PostgreSQL', (target) => {
  let db: TestDatabase;
  let engine: Engine;
  let failing = true;
  const config = testConfig('engine: { pollIntervalMs: 50 }\nroutes: [{ lane: standard, flow: picky }]');
  const picky: DeliveryHandler = {
    action: 'flow.picky',
    async run(delivery) {
      const { messageType } = delivery.payload as { messageType: string };
      if (failing && messageType === 'BAD') throw permanentError('the supplier refused this order', { code: 'refused' });
    },
  };

  beforeAll(async () => {
    db = await createTestDatabase(target);
    const registry = new HandlerRegistry().register(picky);
    registry.register(routeStep(registry, {}));
    engine = new Engine({ config, pool: db.pool, databaseUrl: db.url, registry, log: silentLog });
    await engine.start();
  });
  afterAll(async () => {
    await engine.stop();
    await db.drop();
  });

  const statusOf = async (id: number) => (await db.pool.query<{ status: string }>('select status from carelane.messages where id = $1', [id])).rows[0]!.status;

  it('replays failed messages by filter: dry run first, then rate-limited, audited, and parked work completes', async () => {
    const ingest = new Ingest(db.pool, config.routes);
    const ids: Record<string, number> = {};
    for (const [key, type] of [['ok-1', 'GOOD'], ['bad-1', 'BAD'], ['bad-2', 'BAD'], ['bad-3', 'BAD']] as const) {
      ids[key] = (await ingest.accept({ source: 'ehr', messageType: type, externalId: key, payload: Buffer.from(key), contentType: 'text/plain', correlationId: key })).messageId;
    }
    await waitFor(async () => (await statusOf(ids['bad-3']!)) === 'failed' && (await statusOf(ids['ok-1']!)) === 'processed' || undefined, 15_000, 'outcomes');

    const request = { filter: { source: 'ehr', status: 'failed' }, force: false, actor: 'test:operator', reason: 'supplier fixed its catalogue', ratePerSecond: 10 };
    const dry = await replayMessages(db.pool, config.routes, { ...request, dryRun: true });
    expect(dry.items.map((i) => i.decision)).toEqual(['requeue_failed_deliveries', 'requeue_failed_deliveries', 'requeue_failed_deliveries']);
    expect(await statusOf(ids['bad-1']!)).toBe('failed'); // a dry run changes nothing

    failing = false;
    const real = await replayMessages(db.pool, config.routes, { ...request, dryRun: false });
    expect(real.requeued).toBe(3);
    const readyAt = real.items.map((i) => i.readyAt!.getTime());
    expect(readyAt[1]! - readyAt[0]!).toBeCloseTo(100, -1); // 10 per second
    expect(readyAt[2]! - readyAt[0]!).toBeCloseTo(200, -1);

    await waitFor(async () => (await statusOf(ids['bad-3']!)) === 'processed' || undefined, 15_000, 'replayed messages processed');
    const { rows: exceptions } = await db.pool.query(`select status, resolution_action, resolved_by from carelane.exceptions`);
    expect(exceptions).toHaveLength(3);
    for (const e of exceptions) expect(e).toEqual({ status: 'resolved', resolution_action: 'replay', resolved_by: 'test:operator' });
    const { rows: audit } = await db.pool.query(`select actor, action, reason from carelane.audit_log`);
    expect(audit).toEqual([{ actor: 'test:operator', action: 'replay', reason: 'supplier fixed its catalogue' }]);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('refuses to replay a delivered message unless forced, and refuses a rejected input', async () => {
    const ingest = new Ingest(db.pool, config.routes);
    const done = await ingest.accept({ source: 'ehr', messageType: 'GOOD', externalId: 'ok-2', payload: Buffer.from('x'), contentType: 'text/plain', correlationId: 'ok-2' });
    const junk = await ingest.accept({ source: 'ehr', messageType: 'unknown', payload: Buffer.from([0, 1, 2]), contentType: 'application/octet-stream', correlationId: 'junk', rejectedReason: 'binary' });
    await waitFor(async () => (await statusOf(done.messageId)) === 'processed' || undefined);
    const outcome = await replayMessages(db.pool, config.routes, { messageIds: [done.messageId, junk.messageId], dryRun: false, force: false, actor: 'test', reason: 'check', ratePerSecond: 50 });
    expect(outcome.items.map((i) => i.decision)).toEqual(['refused_already_delivered', 'refused_rejected_input']);
    expect(outcome.requeued).toBe(0);
  });
});
