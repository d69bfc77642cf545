import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { transientError } from '../../contracts/errors.ts';
import type { BusEvent, EventBus, EventHandler, PublishReceipt, SubscribeOptions, Subscription } from './bus.ts';
import { brokerUnavailable, decodeEvent, encodeBody, encodeHeaders, EVENT_HEADERS, withTimeout } from './wire.ts';

export const RABBITMQ_HOW_TO_START = 'start RabbitMQ on 127.0.0.1:5672 with user guest/guest: `rabbitmq-server` (or `docker run -p 127.0.0.1:5672:5672 rabbitmq:3`)';

export interface RabbitMqEventBusOptions {
  /** default amqp://guest:guest@127.0.0.1:5672 */
  url?: string;
  /** the durable topic exchange every event goes through (default `carelane.events`) */
  exchange?: string;
  publishTimeoutMs?: number;
  /**
   * Refuse a publish that no queue receives (default true). RabbitMQ confirms an unroutable message and drops
   * it; with this on, the relay keeps the event and retries until a queue is bound to its topic.
   */
  requireRoute?: boolean;
}

/**
 * Event bus on RabbitMQ. Events go through one durable topic exchange with the topic as routing key, persistent,
 * with `messageId` = event id, on a confirm channel: publish resolves once the broker has confirmed them all.
 * A subscription is a durable quorum-free classic queue `<group>.<topic>` declared single-active-consumer, so
 * however many processes subscribe, one receives at a time, in queue order (per-key order follows). Acks are
 * manual, after the handler; RabbitMQ has no broker-side deduplication, so consumers deduplicate on the id.
 */
export class RabbitMqEventBus implements EventBus {
  readonly name = 'rabbitmq';
  private readonly connection: ChannelModel;
  private readonly confirm: ConfirmChannel;
  private readonly options: Required<Omit<RabbitMqEventBusOptions, 'url'>>;
  private readonly subscriptions = new Set<Subscription>();
  private readonly returned = new Set<string>();
  private publishing: Promise<unknown> = Promise.resolve();

  private constructor(connection: ChannelModel, confirm: ConfirmChannel, options: RabbitMqEventBusOptions) {
    this.connection = connection;
    this.confirm = confirm;
    this.options = { exchange: 'carelane.events', publishTimeoutMs: 5_000, requireRoute: true, ...options };
    // Returned (unroutable) messages arrive before their confirm, so publish can look for them after confirming.
    confirm.on('return', (message: ConsumeMessage) => {
      if (typeof message.properties.messageId === 'string') this.returned.add(message.properties.messageId);
    });
  }

  static async connect(options: RabbitMqEventBusOptions = {}): Promise<RabbitMqEventBus> {
    const url = options.url ?? 'amqp://guest:guest@127.0.0.1:5672';
    let connection: ChannelModel;
    try {
      connection = await amqp.connect(url, { timeout: 3_000 });
    } catch (error) {
      throw brokerUnavailable(`RabbitMQ at ${new URL(url).host}`, RABBITMQ_HOW_TO_START, error);
    }
    // A lost connection surfaces through the next publish or the subscription's channel; never as a crash.
    connection.on('error', () => {});
    const confirm = await connection.createConfirmChannel();
    confirm.on('error', () => {});
    const bus = new RabbitMqEventBus(connection, confirm, options);
    await confirm.assertExchange(bus.options.exchange, 'topic', { durable: true });
    return bus;
  }

  get exchange(): string {
    return this.options.exchange;
  }

  publish(events: BusEvent[]): Promise<PublishReceipt[]> {
    // One batch at a time on the confirm channel: waitForConfirms covers everything outstanding on it.
    const next = this.publishing.catch(() => {}).then(() => this.publishBatch(events));
    this.publishing = next;
    return next;
  }

  private async publishBatch(events: BusEvent[]): Promise<PublishReceipt[]> {
    for (const event of events) this.returned.delete(event.id);
    for (const event of events) {
      const fits = this.confirm.publish(this.options.exchange, event.topic, encodeBody(event), {
        messageId: event.id,
        correlationId: event.correlationId,
        headers: encodeHeaders(event),
        contentType: 'application/json',
        persistent: true,
        mandatory: this.options.requireRoute,
        timestamp: Math.floor(event.createdAt.getTime() / 1000),
      });
      if (!fits) await new Promise((resolve) => this.confirm.once('drain', resolve));
    }
    await withTimeout(this.confirm.waitForConfirms(), this.options.publishTimeoutMs, 'RabbitMQ publish');
    const unroutable = events.filter((e) => this.returned.has(e.id));
    if (unroutable.length > 0) {
      throw transientError(`no RabbitMQ queue is bound for topic ${unroutable[0]!.topic} on exchange ${this.options.exchange}: ${unroutable.length} event(s) not delivered`, {
        code: 'event_unroutable',
      });
    }
    return events.map((e) => ({ id: e.id, duplicate: false }));
  }

  /** The queue a group consumes a topic from; declared by subscribe, or ahead of time by declareQueue. */
  queueName(group: string, topic: string): string {
    return `${group}.${topic}`;
  }

  /** Declares and binds a group's queue without consuming, so events published before its first subscriber are kept. */
  async declareQueue(topic: string, group: string): Promise<string> {
    const channel = await this.connection.createChannel();
    try {
      return await this.declareOn(channel, topic, group);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  private async declareOn(channel: Channel, topic: string, group: string): Promise<string> {
    const queue = this.queueName(group, topic);
    await channel.assertExchange(this.options.exchange, 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-single-active-consumer': true } });
    await channel.bindQueue(queue, this.options.exchange, topic);
    return queue;
  }

  async subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    const prefetch = options.prefetch ?? 64;
    const retryDelayMs = options.retryDelayMs ?? 1_000;
    let stopped = false;
    let channel: Channel | undefined;
    let backlog: ConsumeMessage[] = [];
    let draining: Promise<void> | undefined;
    let restartTimer: NodeJS.Timeout | undefined;

    const open = async (): Promise<void> => {
      const ch = await this.connection.createChannel();
      ch.on('error', () => {});
      const queue = await this.declareOn(ch, topic, options.group);
      await ch.prefetch(prefetch);
      channel = ch;
      backlog = [];
      await ch.consume(queue, (message) => {
        if (!message || ch !== channel) return;
        backlog.push(message);
        draining ??= drain(ch).finally(() => (draining = undefined));
      });
    };

    // One event at a time, in delivery order; the ack goes out only after the handler has resolved.
    const drain = async (ch: Channel): Promise<void> => {
      while (!stopped && ch === channel && backlog.length > 0) {
        const message = backlog.shift()!;
        let received;
        try {
          received = { ...decodeEvent(message.fields.routingKey, message.content, rabbitHeaders(message)), redelivered: message.fields.redelivered };
        } catch (error) {
          // Without an id it can never be deduplicated: dropped (dead-lettered if the queue has a DLX), reported.
          options.onError?.(error, undefined);
          ch.nack(message, false, false);
          continue;
        }
        try {
          await handler(received);
          ch.ack(message);
        } catch (error) {
          options.onError?.(error, received);
          if (stopped) return;
          // Closing the channel returns every unacknowledged event to the queue at its original position, so the
          // failed one comes back before those after it: order holds. Start again after the delay.
          channel = undefined;
          backlog = [];
          await ch.close().catch(() => {});
          restartTimer = setTimeout(() => {
            if (!stopped) open().catch((e: unknown) => options.onError?.(e, undefined));
          }, retryDelayMs);
          return;
        }
      }
    };

    await open();
    const subscription: Subscription = {
      stop: async () => {
        stopped = true;
        clearTimeout(restartTimer);
        this.subscriptions.delete(subscription);
        const ch = channel;
        channel = undefined;
        await draining?.catch(() => {});
        await ch?.close().catch(() => {});
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Closes the connection at once: unacknowledged events go back to their queues for the next consumer. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.connection.close().catch(() => {});
  }
}

function rabbitHeaders(message: ConsumeMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) {
    if (value !== undefined && value !== null) out[name] = typeof value === 'string' ? value : String(value);
  }
  // Events published by other tools may carry the id only as the AMQP message id.
  if (!out[EVENT_HEADERS.id] && typeof message.properties.messageId === 'string') out[EVENT_HEADERS.id] = message.properties.messageId;
  return out;
}
