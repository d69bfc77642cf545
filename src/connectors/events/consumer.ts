import type { InboundMessage, InboundSink } from '../../contracts/inbound.ts';
import type { EventBus, ReceivedEvent, SubscribeOptions, Subscription } from './bus.ts';

export interface EventConsumerOptions extends SubscribeOptions {
  bus: EventBus;
  topic: string;
  /** the engine's Ingest */
  sink: InboundSink;
  /** the message type routes match on (default: the topic) */
  messageType?: string;
}

/** Inbound source name of a bus topic: routes select events with `source: events:nats:*` and the like. */
export function eventSource(busName: string, topic: string): string {
  return `events:${busName}:${topic}`;
}

/**
 * What is stored for an event: the whole envelope as JSON (flows read `payload`, and key, headers and the
 * event id stay available for audit). The event id is the external id, so a redelivered or re-published event
 * is recognised by Ingest's dedupe on source + external id and counted in duplicate_count, not stored twice.
 * The ordering key is scoped by source so equal keys on different topics do not wait for each other.
 */
export function toInboundMessage(busName: string, event: ReceivedEvent, messageType?: string): InboundMessage {
  const source = eventSource(busName, event.topic);
  const envelope = { id: event.id, topic: event.topic, key: event.key, correlationId: event.correlationId, createdAt: event.createdAt.toISOString(), headers: event.headers, payload: event.payload };
  return {
    source,
    messageType: messageType ?? event.topic,
    externalId: event.id,
    payload: Buffer.from(JSON.stringify(envelope)),
    contentType: 'application/json',
    correlationId: event.correlationId,
    orderingKey: `${source}|${event.key}`,
  };
}

/**
 * Consumes a topic into the engine with the internal queue's guarantees: each event is persisted through the
 * sink (persist-before-ack, DESIGN.md principle 1) and only then acknowledged to the broker. A consumer that
 * dies between the two leaves the event unacknowledged; its redelivery is answered as a duplicate. Events are
 * stored one at a time in delivery order, so per-key order (and the stored message ids) follow the broker's.
 */
export function consumeIntoEngine(options: EventConsumerOptions): Promise<Subscription> {
  const { bus, topic, sink, messageType, ...subscribe } = options;
  return bus.subscribe(
    topic,
    async (event) => {
      const receipt = await sink.accept(toInboundMessage(bus.name, event, messageType));
      // Only a timestamp, batched; the broker ack follows as soon as this handler returns.
      sink.acknowledge(receipt.messageId);
    },
    subscribe,
  );
}
