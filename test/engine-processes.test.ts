import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDeliveries, type NewDelivery } from '../src/engine/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { countByStatus, waitFor } from './support/engine-harness.ts';
import { startEngineProcess, writeConfig, type EngineProcess } from './support/engine-process.ts';
import { TestPeer } from './support/test-peer.ts';

const configFor = (peer: TestPeer) =>
  writeConfig(`
mllp: { enabled: false }
logging: { level: info }
engine:
  leaseMs: 2000
  reaperIntervalMs: 300
  pollIntervalMs: 100
  lanes:
    standard: { concurrency: 8, claimBatch: 8 }
endpoints:
  peer: { url: "${peer.url}", timeoutMs: 5000 }
routes: [{ lane: standard, flow: noop }]
`);

const webhookWork = (count: number, keys: number): NewDelivery[] =>
  Array.from({ length: count }, (_, i) => ({
    lane: 'standard',
    action: 'webhook.post',
    endpoint: 'peer',
    idempotencyKey: `effect-${i}`,
    correlationId: `corr-${i}`,
    orderingKey: `key-${i % keys}`,
    payload: { body: { key: `key-${i % keys}`, seq: i } },
  }));

function keyOrderViolations(peer: TestPeer): number {
  const lastSeq = new Map<string, number>();
  let violations = 0;
  for (const effectKey of peer.order) {
    const { key, seq } = peer.applied.get(effectKey)!.body as { key: string; seq: number };
    if ((lastSeq.get(key) ?? -1) > seq) violations++;
    lastSeq.set(key, seq);
  }
  return violations;
}

describe('engine processes on one database', () => {
  let db: TestDatabase;
  const processes: EngineProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await db.drop();
  });

  it('after kill -9 mid-delivery, a restarted engine loses nothing and no effect is applied twice', async () => {
    const peer = await new TestPeer().start();
    peer.delayMs = 30; // effects take a while, so some are in flight when the process dies
    try {
      await enqueueDeliveries(db.pool, webhookWork(300, 10));
      const first = startEngineProcess(configFor(peer), db.url, 'node-a');
      processes.push(first);
      await first.httpUrl;
      await waitFor(() => peer.applied.size >= 60 || undefined, 30_000, '60 effects');
      await first.kill('SIGKILL');
      const appliedAtKill = peer.applied.size;
      expect(appliedAtKill).toBeLessThan(300);

      const second = startEngineProcess(configFor(peer), db.url, 'node-b');
      processes.push(second);
      await waitFor(async () => (await countByStatus(db)).done === 300 || undefined, 60_000, 'all 300 done after restart');

      expect(peer.applied.size).toBe(300); // nothing lost
      // Re-sent after the crash with the same idempotency key, so the peer applied them once. At most the
      // deliveries whose effect may have happened without their completion being committed were sent twice: the
      // 8 running (lane concurrency) and the 8 whose outcome was being written (the lane's settling bound).
      expect(peer.requests - peer.applied.size).toBe(peer.duplicates);
      expect(peer.duplicates).toBeLessThanOrEqual(16);
      expect(keyOrderViolations(peer)).toBe(0);
      expect(await countByStatus(db)).toEqual({ done: 300 });
      await second.kill();
    } finally {
      await peer.stop();
    }
  });

  it('two engines share the work: every delivery done exactly once, per-key order kept, both did work', async () => {
    // Whatever the previous test left running must not take this test's work.
    await Promise.all(processes.splice(0).map((p) => p.kill('SIGKILL')));
    await db.pool.query('truncate carelane.deliveries, carelane.exceptions, carelane.endpoints restart identity cascade');
    const peer = await new TestPeer().start();
    peer.delayMs = 2;
    try {
      const config = configFor(peer);
      const a = startEngineProcess(config, db.url, 'node-1');
      const b = startEngineProcess(config, db.url, 'node-2');
      processes.push(a, b);
      const [urlA, urlB] = await Promise.all([a.httpUrl, b.httpUrl]);
      await enqueueDeliveries(db.pool, webhookWork(1000, 20));
      await waitFor(async () => (await countByStatus(db)).done === 1000 || undefined, 60_000, 'all 1000 done');

      expect(peer.applied.size).toBe(1000);
      expect(peer.requests).toBe(1000); // not even a re-send: no delivery was run by both engines
      expect(keyOrderViolations(peer)).toBe(0);
      const processed = async (url: string) => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return [...text.matchAll(/^carelane_deliveries_processed_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      };
      const [byA, byB] = await Promise.all([processed(urlA), processed(urlB)]);
      expect(byA + byB).toBe(1000);
      expect(byA).toBeGreaterThan(0);
      expect(byB).toBeGreaterThan(0);
      await Promise.all([a.kill(), b.kill()]);
    } finally {
      await peer.stop();
    }
  });
});
