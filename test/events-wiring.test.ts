import { randomBytes } from 'node:crypto';
import { connect as natsConnect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/index.ts';
import { startCarelane, type RunningCarelane } from '../src/app.ts';
import { appendEvent } from '../src/connectors/events/index.ts';
import { inTransaction } from '../src/store/database.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// carelane.yaml `events`: a running Carelane publishes its outbox to the broker and consumes configured topics
// back into the engine, on both brokers of this machine (NATS JetStream 4222, RabbitMQ 5672).

describe.each(['nats', 'rabbitmq'] as const)('events through a running Carelane on %s', (broker) => {
  let db: TestDatabase;
  let app: RunningCarelane;
  const topic = `wiring${randomBytes(3).toString('hex')}.reservation.confirmed`;

  beforeAll(async () => {
    db = await createTestDatabase(embeddedTarget());
    const config = parseConfigText(
      `
server: { port: 0 }
mllp: { enabled: false }
engine: { pollIntervalMs: 50 }
events:
  broker: ${broker}
  namespace: t${randomBytes(4).toString('hex')}
  consume: [{ topic: "${topic}", group: "g${randomBytes(3).toString('hex')}", messageType: RESERVATION_EVENT }]
routes:
  - { source: "events:*", type: RESERVATION_EVENT, lane: standard, flow: noop }
`,
      { DATABASE_URL: db.url, CARELANE_ADMIN_TOKEN: 'events-wiring-admin' },
    );
    app = await startCarelane({ config, origin: 'test' }, { log: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    if (broker === 'nats') {
      // The test's stream (named by the topic's first token) is removed from the shared broker.
      const nc = await natsConnect({ servers: '127.0.0.1:4222' });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(`CARELANE_${topic.split('.')[0]!.toUpperCase()}`).catch(() => {});
      await nc.close();
    }
  });

  it('publishes committed outbox events and takes them back in as processed messages, once each', async () => {
    for (const n of [1, 2, 3]) {
      await inTransaction(app.database.pool, (tx) => appendEvent(tx, { topic, key: 'demand-1', payload: { n }, correlationId: `corr-${n}` }).then(() => undefined));
    }
    const rows = await waitFor(async () => {
      const { rows } = await app.database.pool.query<{ status: string; correlation_id: string; source: string }>(
        `select status, correlation_id, source from carelane.messages where message_type = 'RESERVATION_EVENT' order by id`,
      );
      return rows.length === 3 && rows.every((r) => r.status === 'processed') && rows;
    }, 20_000, 'three processed events');
    expect(rows.map((r) => r.correlation_id)).toEqual(['corr-1', 'corr-2', 'corr-3']);
    expect(rows[0]!.source).toBe(`events:${broker}:${topic}`);
    const { rows: outbox } = await app.database.pool.query(`select 1 from carelane.event_outbox where published_at is null`);
    expect(outbox).toHaveLength(0);
  });
});
