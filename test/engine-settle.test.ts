import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDeliveries, type DeliveryHandler, type NewDelivery } from '../src/engine/index.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { startEngine, testConfig, waitFor } from './support/engine-harness.ts';

// A message settles (processed / failed) when its last delivery ends. Two deliveries of one message that end at
// the same moment, in two transactions, each saw the other still running: neither settled, and the message
// stayed 'processing' for ever (found by the soak: a DFT^P03 with several charges fans out one cost.record per
// charge). Settling is serialised per message.

const MESSAGES = 30;

describe('message settlement', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
  });
  afterAll(async () => {
    await db.drop();
  });

  it('settles a message whose deliveries complete at the same moment', async () => {
    const ids: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const { rows } = await db.pool.query<{ id: string }>(
        `insert into carelane.messages (source, message_type, dedupe_key, content_hash, correlation_id, status, payload, payload_size)
         values ('test', 'FANOUT', $1, $1, $1, 'processing', '\\x00', 1) returning id`,
        [`m-${i}`],
      );
      ids.push(Number(rows[0]!.id));
    }
    // Both deliveries of a message wait for each other, then complete together.
    const arrived = new Map<number, Array<() => void>>();
    const together: DeliveryHandler = {
      action: 'test.together',
      run: async (delivery) =>
        new Promise<void>((resolve) => {
          const waiting = [...(arrived.get(delivery.messageId!) ?? []), resolve];
          arrived.set(delivery.messageId!, waiting);
          if (waiting.length === 2) for (const release of waiting) release();
        }),
    };
    const deliveries: NewDelivery[] = ids.flatMap((id) =>
      [1, 2].map((n) => ({ lane: 'standard', action: 'test.together', endpoint: 'internal', idempotencyKey: `together-${id}-${n}`, correlationId: `m-${id}`, messageId: id, orderingKey: `part-${id}-${n}` })),
    );
    await enqueueDeliveries(db.pool, deliveries);
    const engine = await startEngine(db, testConfig('engine: { pollIntervalMs: 20 }'), [together]);
    try {
      await waitFor(async () => {
        const { rows } = await db.pool.query<{ n: string }>(`select count(*) as n from carelane.deliveries where status = 'done'`);
        return Number(rows[0]!.n) === MESSAGES * 2;
      }, 30_000, 'every delivery done');
      const { rows } = await db.pool.query<{ status: string; n: string }>('select status, count(*) as n from carelane.messages group by status');
      expect(Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))).toEqual({ processed: MESSAGES });
    } finally {
      await engine.stop();
    }
  });
});
