import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDeliveries, type DeliveryHandler, type NewDelivery } from '../src/engine/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { startEngine, testConfig, waitFor } from './support/engine-harness.ts';

describe('lanes isolate workloads', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget(), 20);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('a flood of bulk work does not delay critical work', async () => {
    const slowBulk: DeliveryHandler = { action: 'test.bulk', run: () => new Promise((r) => setTimeout(r, 5)) };
    const quickCritical: DeliveryHandler = { action: 'test.critical', async run() {} };
    const deliveries = (lane: string, action: string, n: number, prefix: string): NewDelivery[] =>
      Array.from({ length: n }, (_, i) => ({ lane, action, endpoint: 'internal', idempotencyKey: `${prefix}-${i}`, correlationId: `${prefix}-${i}`, orderingKey: `${prefix}-${i % 50}` }));
    // 5,000 bulk deliveries at 5 ms each with 4 workers is about 6 s of work: still flooding when critical work arrives.
    for (let i = 0; i < 5; i++) await enqueueDeliveries(db.pool, deliveries('bulk', 'test.bulk', 1000, `bulk${i}`));
    const engine = await startEngine(
      db,
      testConfig(`
engine:
  pollIntervalMs: 200
  lanes:
    critical: { concurrency: 4, priority: 90 }
    bulk: { concurrency: 4, priority: 10, claimBatch: 50 }
routes: [{ lane: bulk, flow: noop }]
`),
      [slowBulk, quickCritical],
    );
    try {
      await new Promise((r) => setTimeout(r, 500));
      await enqueueDeliveries(db.pool, deliveries('critical', 'test.critical', 20, 'urgent'));
      await waitFor(async () => (await db.pool.query(`select 1 from carelane.deliveries where lane = 'critical' and status <> 'done'`)).rowCount === 0 || undefined, 20_000, 'critical done');
      const { rows } = await db.pool.query<{ max_ms: number; bulk_left: number }>(
        `select (select max(extract(epoch from completed_at - created_at) * 1000) from carelane.deliveries where lane = 'critical')::float8 as max_ms,
                (select count(*) from carelane.deliveries where lane = 'bulk' and status = 'pending')::int as bulk_left`,
      );
      const { max_ms: maxMs, bulk_left: bulkLeft } = rows[0]!;
      expect(bulkLeft).toBeGreaterThan(1000); // the flood was still going on
      expect(maxMs).toBeLessThan(1500); // generous: critical work waits for no bulk work (typically well under 100 ms)
    } finally {
      await engine.stop(1000);
    }
  });
});
