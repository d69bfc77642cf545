import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarelaneError, permanentError, transientError } from '../src/contracts/errors.ts';
import { enqueueDeliveries, type DeliveryHandler, type NewDelivery } from '../src/engine/index.ts';
import { claimDeliveries, reapExpiredLeases } from '../src/store/queue.ts';
import { webhookPostHandler } from '../src/connectors/webhook/index.ts';
import { createTestDatabase, databaseTargets, type TestDatabase } from './support/databases.ts';
import { countByStatus, startEngine, testConfig, waitFor } from './support/engine-harness.ts';
import { TestPeer } from './support/test-peer.ts';

const fastRetry = `
engine:
  pollIntervalMs: 50
  reaperIntervalMs: 200
  leaseMs: 2000
  retry: { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 100, maxAgeMs: 60000 }
  circuit: { failureThreshold: 3, openMs: 300, maxOpenMs: 1000, drainRatePerSecond: 1000, drainWindowMs: 1000 }
`;

const work = (n: number, make: (i: number) => Partial<NewDelivery>): NewDelivery[] =>
  Array.from({ length: n }, (_, i) => ({ lane: 'standard', action: 'test.record', endpoint: 'internal', idempotencyKey: `k-${i}`, correlationId: `c-${i}`, ...make(i) }));

describe.each(databaseTargets())('delivery queue on $name PostgreSQL', (target) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(target);
  });
  afterAll(async () => {
    await db.drop();
  });

  const reset = () => db.pool.query('truncate carelane.deliveries, carelane.exceptions, carelane.endpoints restart identity cascade');

  it('runs every delivery exactly once and keeps per-key order under concurrency', async () => {
    await reset();
    const seen: Array<{ key: string; seq: number }> = [];
    const record: DeliveryHandler = {
      action: 'test.record',
      async run(d) {
        const { key, seq } = d.payload as { key: string; seq: number };
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        seen.push({ key, seq });
      },
    };
    await enqueueDeliveries(db.pool, work(400, (i) => ({ orderingKey: `item-${i % 10}`, payload: { key: `item-${i % 10}`, seq: i } })));
    const engine = await startEngine(db, testConfig(fastRetry), [record]);
    try {
      await waitFor(() => seen.length >= 400 || undefined, 30_000, '400 deliveries');
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toHaveLength(400);
      expect(new Set(seen.map((s) => s.seq)).size).toBe(400);
      for (let k = 0; k < 10; k++) {
        const sequence = seen.filter((s) => s.key === `item-${k}`).map((s) => s.seq);
        expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
      }
      expect(await countByStatus(db)).toEqual({ done: 400 });
    } finally {
      await engine.stop();
    }
  });

  it('enqueueing the same idempotency key twice creates one delivery', async () => {
    await reset();
    const first = await enqueueDeliveries(db.pool, work(3, () => ({})));
    const second = await enqueueDeliveries(db.pool, work(3, () => ({})));
    expect(first).toHaveLength(3);
    expect(second).toHaveLength(0);
  });

  it('retries a transient failure with backoff and then succeeds', async () => {
    await reset();
    let calls = 0;
    const flaky: DeliveryHandler = {
      action: 'test.record',
      async run() {
        calls++;
        if (calls < 3) throw transientError('try later', { code: 'busy' });
      },
    };
    await enqueueDeliveries(db.pool, work(1, () => ({})));
    const engine = await startEngine(db, testConfig(fastRetry), [flaky]);
    try {
      await waitFor(async () => (await countByStatus(db)).done === 1 || undefined, 10_000, 'done');
      const { rows } = await db.pool.query('select attempts, last_error_class from carelane.deliveries');
      expect(calls).toBe(3);
      expect(rows[0]).toMatchObject({ attempts: 3, last_error_class: 'transient' });
    } finally {
      await engine.stop();
    }
  });

  it('parks a poison delivery as an exception at once while the rest of its key flows', async () => {
    await reset();
    const done: number[] = [];
    const handler: DeliveryHandler = {
      action: 'test.record',
      async run(d) {
        const { seq } = d.payload as { seq: number };
        if (seq === 1) throw permanentError('field PID-3 is not a valid identifier', { code: 'invalid', where: { segment: 'PID', field: 'PID-3' } });
        done.push(seq);
      },
    };
    await enqueueDeliveries(db.pool, work(4, (i) => ({ orderingKey: 'same', payload: { seq: i } })));
    const engine = await startEngine(db, testConfig(fastRetry), [handler]);
    try {
      await waitFor(() => done.length === 3 || undefined, 10_000, 'the other three');
      expect(done).toEqual([0, 2, 3]);
      const { rows } = await db.pool.query('select type, classification, attempts, last_error, status from carelane.exceptions');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ type: 'delivery_failed', classification: 'permanent', attempts: 1, status: 'open' });
      expect(rows[0].last_error).toContain('segment PID, field PID-3');
    } finally {
      await engine.stop();
    }
  });

  it('gives up after maxAttempts and records the attempts and the last error', async () => {
    await reset();
    const always: DeliveryHandler = {
      action: 'test.record',
      async run() {
        throw transientError('still failing', { code: 'busy' });
      },
    };
    await enqueueDeliveries(db.pool, work(1, () => ({})));
    const engine = await startEngine(db, testConfig(fastRetry), [always]);
    try {
      const exception = await waitFor(async () => (await db.pool.query('select * from carelane.exceptions')).rows[0], 10_000, 'exception');
      expect(exception).toMatchObject({ classification: 'transient', attempts: 4 });
      expect(exception.reason).toContain('maxAttempts 4');
    } finally {
      await engine.stop();
    }
  });

  it('opens the circuit while the peer is down without burning attempts, then drains when it is back', async () => {
    await reset();
    const peer = await new TestPeer().start();
    const port = peer.port;
    await peer.stop();
    const config = testConfig(`${fastRetry}\nendpoints:\n  peer: { url: "http://127.0.0.1:${port}/effects", timeoutMs: 2000 }\n`);
    await enqueueDeliveries(db.pool, work(30, (i) => ({ action: 'webhook.post', endpoint: 'peer', payload: { body: { n: i } } })));
    const engine = await startEngine(db, config, [webhookPostHandler(config)]);
    try {
      await waitFor(async () => (await db.pool.query(`select 1 from carelane.endpoints where name = 'peer' and state <> 'closed'`)).rowCount === 1 || undefined, 10_000, 'circuit open');
      await new Promise((r) => setTimeout(r, 1500)); // several probe cycles while down
      // A probe in flight holds one attempt until it fails and is refunded: count only attempts that stay spent.
      const during = await db.pool.query<{ total: number; max: number }>(
        `select sum(attempts)::int as total, max(attempts - case when status = 'running' then 1 else 0 end)::int as max from carelane.deliveries`,
      );
      expect(during.rows[0]!.max).toBeLessThanOrEqual(1);
      expect((await countByStatus(db)).exception ?? 0).toBe(0);
      await peer.start(port);
      await waitFor(async () => (await countByStatus(db)).done === 30 || undefined, 20_000, 'drain');
      expect(peer.applied.size).toBe(30);
      const after = await db.pool.query(`select state, consecutive_failures from carelane.endpoints where name = 'peer'`);
      expect(after.rows[0]).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    } finally {
      await engine.stop();
      await peer.stop();
    }
  });

  it('after an ambiguous timeout, looks at the peer before retrying and does not apply twice', async () => {
    await reset();
    let applied = 0;
    let runs = 0;
    const slowThenApplied: DeliveryHandler = {
      action: 'test.record',
      async run() {
        runs++;
        applied++;
        await new Promise((r) => setTimeout(r, 400)); // applied at the peer, but the answer comes too late
      },
      async lookup() {
        return applied > 0 ? 'applied' : 'not_applied';
      },
    };
    const config = testConfig(`${fastRetry}\nendpoints:\n  slow: { timeoutMs: 100 }\n`);
    await enqueueDeliveries(db.pool, work(1, () => ({ endpoint: 'slow' })));
    const engine = await startEngine(db, config, [slowThenApplied]);
    try {
      await waitFor(async () => (await countByStatus(db)).done === 1 || undefined, 10_000, 'done');
      expect(runs).toBe(1);
      expect(applied).toBe(1);
      const { rows } = await db.pool.query('select attempts, needs_lookup from carelane.deliveries');
      expect(rows[0]).toMatchObject({ attempts: 2, needs_lookup: false });
    } finally {
      await engine.stop();
    }
  });

  it('takes over a delivery whose lease expired and marks it for lookup', async () => {
    await reset();
    await enqueueDeliveries(db.pool, work(1, () => ({})));
    const claimed = await claimDeliveries(db.pool, 'standard', 'dead-node', 10, 1000);
    expect(claimed).toHaveLength(1);
    await db.pool.query(`update carelane.deliveries set lease_expires_at = now() - interval '1 second'`);
    expect(await reapExpiredLeases(db.pool)).toBe(1);
    const { rows } = await db.pool.query('select status, needs_lookup, locked_by from carelane.deliveries');
    expect(rows[0]).toMatchObject({ status: 'pending', needs_lookup: true, locked_by: null });
  });

  it('classifies handler errors by class: a business error opens an exception of its own type', async () => {
    await reset();
    const mapping: DeliveryHandler = {
      action: 'test.record',
      async run() {
        throw new CarelaneError('business', 'no Odoo product for EHR code 12345', { code: 'unmapped', exceptionType: 'mapping_failure' });
      },
    };
    await enqueueDeliveries(db.pool, work(1, () => ({})));
    const engine = await startEngine(db, testConfig(fastRetry), [mapping]);
    try {
      const exception = await waitFor(async () => (await db.pool.query('select * from carelane.exceptions')).rows[0], 10_000, 'exception');
      expect(exception).toMatchObject({ type: 'mapping_failure', classification: 'business', attempts: 1 });
    } finally {
      await engine.stop();
    }
  });
});
