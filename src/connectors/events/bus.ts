/**
 * The event bus contract (DESIGN.md "Scale-out"): canonical events published to and consumed from a broker with
 * the same guarantees as the internal queue. Adapters: NATS JetStream (nats.ts) and RabbitMQ (rabbitmq.ts);
 * Kafka is planned behind this same interface (docs/event-bus.md).
 */

/** An event as it travels: the id is stable across re-publishes, so brokers and consumers can deduplicate. */
export interface BusEvent {
  /** `<namespace>:<outbox id>`: unique per Carelane installation, identical on every re-publish */
  id: string;
  /** dotted name, e.g. `carelane.orders.created`; its first token picks the JetStream stream */
  topic: string;
  /** ordering key: events with one key are delivered in the order they were committed */
  key: string;
  payload: unknown;
  headers: Record<string, string>;
  correlationId: string;
  createdAt: Date;
}

export interface ReceivedEvent extends BusEvent {
  /** the broker says it delivered this before (a consumer died or refused it) */
  redelivered: boolean;
}

export interface PublishReceipt {
  id: string;
  /** the broker recognised the id and kept only the first copy (JetStream); RabbitMQ always says false */
  duplicate: boolean;
}

/**
 * Called for each event in delivery order. It resolves only once the event's effect is committed; the adapter
 * acknowledges the event after that, and treats a rejection as "not handled": the event is redelivered.
 */
export type EventHandler = (event: ReceivedEvent) => Promise<void>;

export interface SubscribeOptions {
  /** the durable consumer (JetStream) or queue (RabbitMQ) name: subscribers with one group share its position */
  group: string;
  /** events the broker may hand over before the first is acknowledged (default 64) */
  prefetch?: number;
  /** after a handler failure, wait this long before taking events again (default 1000 ms) */
  retryDelayMs?: number;
  /** reports a handler or broker failure; the event is redelivered either way */
  onError?: (error: unknown, event: ReceivedEvent | undefined) => void;
}

export interface Subscription {
  /** stops taking events; unacknowledged ones go back to the broker */
  stop(): Promise<void>;
}

export interface EventBus {
  /** `nats` or `rabbitmq`: part of the inbound source name `events:<bus>:<topic>` */
  readonly name: string;
  /**
   * Publishes in order and resolves once the broker has confirmed every event (JetStream PubAck, RabbitMQ
   * publisher confirm). Rejects if any event is not confirmed: the caller publishes them all again, with the
   * same ids.
   */
  publish(events: BusEvent[]): Promise<PublishReceipt[]>;
  subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}
