import { AckPolicy, connect, DeliverPolicy, headers as natsHeaders, nanos, type JetStreamClient, type JetStreamManager, type JsMsg, type MsgHdrs, type NatsConnection } from 'nats';
import type { BusEvent, EventBus, EventHandler, PublishReceipt, SubscribeOptions, Subscription } from './bus.ts';
import { brokerUnavailable, decodeEvent, encodeBody, encodeHeaders } from './wire.ts';

export const NATS_HOW_TO_START = 'start NATS with JetStream: `nats-server -js -a 127.0.0.1 -p 4222` (or `docker run -p 127.0.0.1:4222:4222 nats -js`)';

export interface NatsEventBusOptions {
  /** default 127.0.0.1:4222 */
  servers?: string | string[];
  /** JetStream stream names are `<streamPrefix><FIRST TOPIC TOKEN>` (default `CARELANE_`) */
  streamPrefix?: string;
  /** how long JetStream remembers a message id to drop re-publishes (default 2 min); must exceed the relay's worst retry gap */
  duplicateWindowMs?: number;
  /** an unacknowledged event is redelivered after this long (default 30 s); long handlers extend it while they run */
  ackWaitMs?: number;
  publishTimeoutMs?: number;
  /** how long a stream keeps events (default: until removed by limits; 0 = no age limit) */
  maxAgeMs?: number;
}

/**
 * Event bus on NATS JetStream. Topics are subjects; one stream per first subject token (`orders.created` and
 * `orders.cancelled` share stream CARELANE_ORDERS), created on first use with the configured duplicate window.
 * Publishing sets `Nats-Msg-Id` to the event id, so a re-publish inside the window is stored once.
 * A subscription is a durable pull consumer with explicit acks, processed one event at a time in stream order.
 */
export class NatsEventBus implements EventBus {
  readonly name = 'nats';
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly options: Required<Omit<NatsEventBusOptions, 'servers'>>;
  private readonly ensured = new Map<string, Promise<string>>();
  private readonly subscriptions = new Set<Subscription>();

  private constructor(nc: NatsConnection, jsm: JetStreamManager, options: NatsEventBusOptions) {
    this.nc = nc;
    this.jsm = jsm;
    this.js = nc.jetstream();
    this.options = { streamPrefix: 'CARELANE_', duplicateWindowMs: 120_000, ackWaitMs: 30_000, publishTimeoutMs: 5_000, maxAgeMs: 0, ...options };
  }

  static async connect(options: NatsEventBusOptions = {}): Promise<NatsEventBus> {
    const servers = options.servers ?? '127.0.0.1:4222';
    let nc: NatsConnection;
    try {
      // Reconnect for as long as it takes: a broker restart must never leave the relay without a connection.
      nc = await connect({ servers, name: 'carelane-events', timeout: 3_000, maxReconnectAttempts: -1, reconnectTimeWait: 1_000 });
    } catch (error) {
      throw brokerUnavailable(`NATS at ${String(servers)}`, NATS_HOW_TO_START, error);
    }
    try {
      return new NatsEventBus(nc, await nc.jetstreamManager({ timeout: 3_000 }), options);
    } catch (error) {
      await nc.close().catch(() => {});
      throw brokerUnavailable(`JetStream on NATS at ${String(servers)} (is the server started with -js?)`, NATS_HOW_TO_START, error);
    }
  }

  /** The stream that holds a topic's events. */
  streamName(topic: string): string {
    const first = topic.split('.')[0] ?? topic;
    return `${this.options.streamPrefix}${first.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}`;
  }

  private ensureStream(topic: string): Promise<string> {
    const name = this.streamName(topic);
    let ensured = this.ensured.get(name);
    if (!ensured) {
      const first = topic.split('.')[0] ?? topic;
      ensured = this.jsm.streams.info(name).then(
        () => name,
        async () => {
          await this.jsm.streams.add({
            name,
            subjects: [first, `${first}.>`],
            duplicate_window: nanos(this.options.duplicateWindowMs),
            ...(this.options.maxAgeMs > 0 ? { max_age: nanos(this.options.maxAgeMs) } : {}),
          });
          return name;
        },
      );
      // A failed attempt is not remembered: the next call tries again.
      ensured.catch(() => this.ensured.delete(name));
      this.ensured.set(name, ensured);
    }
    return ensured;
  }

  async publish(events: BusEvent[]): Promise<PublishReceipt[]> {
    for (const topic of new Set(events.map((e) => e.topic))) await this.ensureStream(topic);
    // Sent in call order on one connection, so the stream stores them in this order; confirmed together.
    const acks = events.map((event) =>
      this.js.publish(event.topic, encodeBody(event), { msgID: event.id, headers: toNatsHeaders(encodeHeaders(event)), timeout: this.options.publishTimeoutMs }),
    );
    const confirmed = await Promise.all(acks);
    return confirmed.map((ack, i) => ({ id: events[i]!.id, duplicate: ack.duplicate }));
  }

  async subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    const stream = await this.ensureStream(topic);
    const durable = `${options.group}__${topic}`.replace(/[.*>\s]/g, '_');
    const prefetch = options.prefetch ?? 64;
    const config = { ack_wait: nanos(this.options.ackWaitMs), max_ack_pending: prefetch };
    const existing = await this.jsm.consumers.info(stream, durable).catch(() => undefined);
    if (existing) await this.jsm.consumers.update(stream, durable, config);
    else
      await this.jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: topic,
        // Redelivered for as long as it takes: an event is never given up by the broker, only by a person.
        max_deliver: -1,
        ...config,
      });
    const consumer = await this.js.consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: prefetch });
    const retryDelayMs = options.retryDelayMs ?? 1_000;
    let stopped = false;

    const loop = (async () => {
      // A failed event is retried here, in place, while the events after it wait in the consumer's buffer: the
      // handler never sees an event before an earlier one. (Nak-ing the later events instead does not keep order:
      // JetStream redelivers by nak deadline, and repeated failures interleave those deadlines.) The broker is
      // told the event is still being worked on, so it is not redelivered behind our back.
      for await (const m of messages) {
        if (stopped) break;
        let event: BusEvent;
        try {
          event = decodeEvent(m.subject, m.data, fromNatsHeaders(m.headers));
        } catch (error) {
          // Undecodable (no event id): it can never be deduplicated, so it is not handed on; term stops redelivery.
          options.onError?.(error, undefined);
          m.term();
          continue;
        }
        const received = { ...event, redelivered: m.redelivered };
        for (let attempt = 1; !stopped; attempt++) {
          try {
            await this.whileWorking(m, handler({ ...received, redelivered: received.redelivered || attempt > 1 }));
            await m.ackAck();
            break;
          } catch (error) {
            options.onError?.(error, received);
            if (!stopped) await this.whileWorking(m, new Promise<void>((resolve) => setTimeout(resolve, retryDelayMs)));
          }
        }
        // Stopped while this event was failing: left unacknowledged, JetStream redelivers it (and what follows) in order.
      }
    })();

    const subscription: Subscription = {
      stop: async () => {
        stopped = true;
        this.subscriptions.delete(subscription);
        await messages.close().catch(() => {});
        await loop.catch(() => {});
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Tells JetStream the handler is still busy, so a slow handler is not raced by a redelivery of its event. */
  private async whileWorking(m: JsMsg, work: Promise<void>): Promise<void> {
    const timer = setInterval(() => m.working(), Math.max(100, Math.floor(this.options.ackWaitMs / 2)));
    try {
      await work;
    } finally {
      clearInterval(timer);
    }
  }

  /** Closes the connection at once: unacknowledged events are redelivered after the ack wait. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    if (!this.nc.isClosed()) await this.nc.close();
  }

  /** The underlying manager, for operators' tools and tests (stream and consumer inspection, cleanup). */
  get manager(): JetStreamManager {
    return this.jsm;
  }
}

function toNatsHeaders(values: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(values)) h.set(name, value);
  return h;
}

function fromNatsHeaders(h: MsgHdrs | undefined): Record<string, string> {
  if (!h) return {};
  const out: Record<string, string> = {};
  // Nats-* headers are the broker's own (Nats-Msg-Id duplicates the event id), not the event's.
  for (const name of h.keys()) if (!name.startsWith('Nats-')) out[name] = h.get(name);
  return out;
}
