import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { connect as natsConnect } from 'nats';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InboundMessage, InboundReceipt, InboundSink } from '../src/contracts/inbound.ts';
import {
  appendEvent,
  consumeIntoEngine,
  eventSource,
  NATS_HOW_TO_START,
  NatsEventBus,
  OutboxRelay,
  RABBITMQ_HOW_TO_START,
  RabbitMqEventBus,
  type BusEvent,
  type EventBus,
  type ReceivedEvent,
  type Subscription,
} from '../src/connectors/events/index.ts';
import { Ingest } from '../src/engine/ingest.ts';
import { inTransaction } from '../src/store/database.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// Both adapters run the same scenarios against the real brokers on loopback. A broker that does not answer
// fails its tests (never skips them) with the command that starts it, so CI cannot pass without it.

interface BrokerUnderTest {
  name: 'nats' | 'rabbitmq';
  /** a new connection to the broker, configured for this test's unique names */
  connect(): Promise<EventBus>;
  /** makes sure published events are kept for `group` before anyone consumes (RabbitMQ queues) */
  prepare(bus: EventBus, topic: string, group: string): Promise<void>;
  /** does the broker itself drop a re-published id? */
  dedupesOnPublish: boolean;
  /** events of the topic the broker holds (JetStream stream count); undefined where not observable */
  storedCount(topic: string): Promise<number | undefined>;
  /** deletes every stream, exchange and queue this test created */
  cleanup(): Promise<void>;
}

const unique = () => randomBytes(4).toString('hex');

async function reachable(what: string, howToStart: string, probe: () => Promise<void>): Promise<void> {
  try {
    await probe();
  } catch (error) {
    throw new Error(`${what} is not reachable on 127.0.0.1 (${(error as Error).message}). These tests need it: ${howToStart}`);
  }
}

function natsBroker(): BrokerUnderTest {
  const streams = new Set<string>();
  return {
    name: 'nats',
    dedupesOnPublish: true,
    connect: async () => {
      // short ack wait: a consumer that dies is redelivered in a second, not thirty
      const bus = await NatsEventBus.connect({ streamPrefix: 'CARELANE_TEST_', ackWaitMs: 1_000 });
      return bus;
    },
    prepare: async () => {},
    storedCount: async (topic) => {
      const nc = await natsConnect({ servers: '127.0.0.1:4222' });
      try {
        const jsm = await nc.jetstreamManager();
        const name = `CARELANE_TEST_${topic.split('.')[0]!.toUpperCase()}`;
        streams.add(name);
        return (await jsm.streams.info(name)).state.messages;
      } finally {
        await nc.close();
      }
    },
    cleanup: async () => {
      const nc = await natsConnect({ servers: '127.0.0.1:4222' });
      try {
        const jsm = await nc.jetstreamManager();
        for (const name of streams) await jsm.streams.delete(name).catch(() => {});
      } finally {
        await nc.close();
      }
    },
    // every test's first topic token is unique, so its stream is too; remember it for cleanup
    ...{ track: (topic: string) => streams.add(`CARELANE_TEST_${topic.split('.')[0]!.toUpperCase()}`) },
  };
}

function rabbitBroker(): BrokerUnderTest {
  const exchange = `carelane.test.${unique()}`;
  const queues = new Set<string>();
  return {
    name: 'rabbitmq',
    dedupesOnPublish: false,
    connect: () => RabbitMqEventBus.connect({ exchange }),
    prepare: async (bus, topic, group) => {
      queues.add(await (bus as RabbitMqEventBus).declareQueue(topic, group));
    },
    storedCount: async () => undefined,
    cleanup: async () => {
      const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
      try {
        const channel = await connection.createChannel();
        for (const queue of queues) await channel.deleteQueue(queue).catch(() => {});
        await channel.deleteExchange(exchange).catch(() => {});
        await channel.close();
      } finally {
        await connection.close();
      }
    },
  };
}

const brokers: Array<{ name: string; make: () => BrokerUnderTest; probe: () => Promise<void>; howToStart: string }> = [
  {
    name: 'NATS JetStream',
    make: natsBroker,
    howToStart: NATS_HOW_TO_START,
    probe: async () => {
      const nc = await natsConnect({ servers: '127.0.0.1:4222', timeout: 2_000 });
      await (await nc.jetstreamManager({ timeout: 2_000 })).getAccountInfo();
      await nc.close();
    },
  },
  {
    name: 'RabbitMQ',
    make: rabbitBroker,
    howToStart: RABBITMQ_HOW_TO_START,
    probe: async () => {
      const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672', { timeout: 2_000 });
      await connection.close();
    },
  },
];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(embeddedTarget(), 6);
});
afterAll(async () => {
  await db?.drop();
});

describe.each(brokers)('event bus on $name', ({ name, make, probe, howToStart }) => {
  let broker: BrokerUnderTest;
  let topic: string;
  let group: string;
  let namespace: string;
  let ingest: Ingest;
  const open: Array<EventBus | Subscription> = [];

  beforeAll(() => reachable(name, howToStart, probe));

  beforeEach(async () => {
    broker = make();
    const id = unique();
    topic = `t${id}.orders`;
    group = `g${id}`;
    namespace = `test-${id}`;
    (broker as { track?: (t: string) => void }).track?.(topic);
    ingest = new Ingest(db.pool, [{ lane: 'standard', flow: 'noop' }]);
    await db.pool.query('truncate carelane.event_outbox');
  });

  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await ('close' in thing ? thing.close() : thing.stop()).catch(() => {});
    await ingest.flush();
    await broker.cleanup();
  });

  async function connectBus(): Promise<EventBus> {
    const bus = await broker.connect();
    open.push(bus);
    return bus;
  }

  async function collect(bus: EventBus): Promise<ReceivedEvent[]> {
    const received: ReceivedEvent[] = [];
    open.push(await bus.subscribe(topic, async (event) => void received.push(event), { group, retryDelayMs: 100 }));
    return received;
  }

  function busEvent(n: number, key = 'k'): BusEvent {
    return { id: `${namespace}:${n}`, topic, key, payload: { n }, headers: { 'x-test': 'yes' }, correlationId: `corr-${n}`, createdAt: new Date() };
  }

  async function stored(): Promise<Array<{ external_id: string; duplicate_count: number; payload: { key: string; payload: { n: number } } }>> {
    const { rows } = await db.pool.query<{ external_id: string; duplicate_count: number; payload: Buffer }>(
      'select external_id, duplicate_count, payload from carelane.messages where source = $1 order by id',
      [eventSource(broker.name, topic)],
    );
    return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload.toString('utf8')) as { key: string; payload: { n: number } } }));
  }

  it('publishes a committed transaction’s events exactly once and a rolled-back one’s never', async () => {
    const bus = await connectBus();
    await broker.prepare(bus, topic, group);
    const received = await collect(bus);
    await inTransaction(db.pool, async (tx) => {
      for (let n = 1; n <= 3; n++) await appendEvent(tx, { topic, key: 'patient-1', payload: { n }, correlationId: `corr-${n}` });
    });
    await expect(
      inTransaction(db.pool, async (tx) => {
        await appendEvent(tx, { topic, key: 'patient-1', payload: { n: 99 }, correlationId: 'rolled-back' });
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');

    const relay = new OutboxRelay({ pool: db.pool, bus, namespace });
    expect(await relay.drain()).toBe(3);
    expect(await relay.drain()).toBe(0); // stamped: never published again
    await waitFor(() => received.length >= 3, 10_000, 'three events');
    await new Promise((r) => setTimeout(r, 300)); // room for a wrong extra delivery to show up
    expect(received.map((e) => (e.payload as { n: number }).n)).toEqual([1, 2, 3]);
    expect(new Set(received.map((e) => e.id)).size).toBe(3);
    expect(received[0]).toMatchObject({ topic, key: 'patient-1', correlationId: 'corr-1', redelivered: false });
    const { rows } = await db.pool.query<{ unpublished: number; total: number }>(
      'select count(*) filter (where published_at is null)::int as unpublished, count(*)::int as total from carelane.event_outbox',
    );
    expect(rows[0]).toEqual({ unpublished: 0, total: 3 });
    if (broker.dedupesOnPublish) expect(await broker.storedCount(topic)).toBe(3);
  });

  it('re-publishes with the same ids after a relay crash between publish and mark; one copy is stored', async () => {
    const bus = await connectBus();
    await broker.prepare(bus, topic, group);
    await inTransaction(db.pool, async (tx) => {
      for (let n = 1; n <= 3; n++) await appendEvent(tx, { topic, key: 'k', payload: { n }, correlationId: `corr-${n}` });
    });
    // The broker confirms, then the relay dies before its commit stamps the rows.
    const crashing: EventBus = {
      name: bus.name,
      publish: async (events) => {
        await bus.publish(events);
        throw new Error('relay process died after publishing');
      },
      subscribe: (...args) => bus.subscribe(...args),
      close: async () => {},
    };
    await expect(new OutboxRelay({ pool: db.pool, bus: crashing, namespace }).relayOnce()).rejects.toThrow('died after publishing');
    const { rows: afterCrash } = await db.pool.query<{ published_at: Date | null; attempts: number; last_error: string | null }>(
      'select published_at, attempts, last_error from carelane.event_outbox order by id',
    );
    expect(afterCrash.every((r) => r.published_at === null && r.attempts === 1 && r.last_error?.includes('died'))).toBe(true);

    const pass = await new OutboxRelay({ pool: db.pool, bus, namespace }).relayOnce();
    expect(pass.published).toBe(3);
    expect(pass.duplicates).toBe(broker.dedupesOnPublish ? 3 : 0);
    if (broker.dedupesOnPublish) expect(await broker.storedCount(topic)).toBe(3);

    // Whatever the broker kept, the engine stores each event once.
    open.push(await consumeIntoEngine({ bus, topic, group, sink: ingest, retryDelayMs: 100 }));
    const expectedDuplicates = broker.dedupesOnPublish ? 0 : 3;
    const rows = await waitFor(
      async () => {
        const r = await stored();
        return r.length === 3 && r.reduce((sum, m) => sum + m.duplicate_count, 0) === expectedDuplicates && r;
      },
      10_000,
      'three stored events',
    );
    expect(rows.map((r) => r.external_id)).toEqual([1, 2, 3].map((n) => expect.stringMatching(new RegExp(`^${namespace}:\\d+$`)) as unknown as string));
    expect(rows.map((r) => r.payload.payload.n)).toEqual([1, 2, 3]);
  });

  it('stores before acking: a consumer that dies after storing gets the event redelivered and it is stored once', async () => {
    const bus = await connectBus();
    await broker.prepare(bus, topic, group);
    await bus.publish([busEvent(1), busEvent(2), busEvent(3)]);

    // The first consumer stores event 1 through Ingest, then its process "dies" (connection gone) before the ack.
    const doomed = await broker.connect();
    let storedBeforeDeath = 0;
    let died = false;
    const dying: InboundSink = {
      accept: async (message: InboundMessage): Promise<InboundReceipt> => {
        const receipt = await ingest.accept(message);
        storedBeforeDeath = (await stored()).length;
        died = true;
        void doomed.close();
        throw new Error('consumer process killed before its ack');
      },
      acknowledge: () => {},
    };
    await consumeIntoEngine({ bus: doomed, topic, group, sink: dying, retryDelayMs: 100 });
    await waitFor(() => died, 10_000, 'the first consumer to die');
    expect(storedBeforeDeath).toBe(1);

    open.push(await consumeIntoEngine({ bus, topic, group, sink: ingest, retryDelayMs: 100 }));
    const rows = await waitFor(async () => {
      const r = await stored();
      return r.length === 3 && r[0]!.duplicate_count === 1 && r;
    }, 15_000, 'the redelivered event counted as a duplicate');
    expect(rows.map((r) => [r.external_id, r.duplicate_count])).toEqual([
      [`${namespace}:1`, 1],
      [`${namespace}:2`, 0],
      [`${namespace}:3`, 0],
    ]);
  });

  it('keeps order per key, also when storing an event fails and it is redelivered', async () => {
    const bus = await connectBus();
    await broker.prepare(bus, topic, group);
    const keys = ['patient-a', 'patient-b', 'patient-c'];
    const events = Array.from({ length: 30 }, (_, i) => busEvent(i + 1, keys[i % keys.length]));
    await bus.publish(events);

    // The database refuses event 5 (of patient-b) twice: it and everything after it must wait.
    let refusals = 0;
    const flaky: InboundSink = {
      accept: async (message) => {
        if (message.externalId === `${namespace}:5` && refusals < 2) {
          refusals++;
          throw new Error('database unavailable');
        }
        return ingest.accept(message);
      },
      acknowledge: (id) => ingest.acknowledge(id),
    };
    open.push(await consumeIntoEngine({ bus, topic, group, sink: flaky, retryDelayMs: 100, prefetch: 8 }));
    const rows = await waitFor(async () => {
      const r = await stored();
      return r.length === 30 && r;
    }, 15_000, 'thirty stored events');
    expect(refusals).toBe(2);
    for (const key of keys) {
      const order = rows.filter((r) => r.payload.key === key).map((r) => r.payload.payload.n);
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(order).toHaveLength(10);
    }
    expect(rows.every((r) => r.duplicate_count === 0)).toBe(true);
  });
});
