// The event bus connector (issue #10): outbox, relay, broker adapters and the consumer into the engine.
export type { BusEvent, EventBus, EventHandler, PublishReceipt, ReceivedEvent, SubscribeOptions, Subscription } from './bus.ts';
export { appendEvent, appendEvents, outboxBacklog, prunePublishedEvents, type NewEvent, type OutboxBacklog } from './outbox.ts';
export { OutboxRelay, type OutboxRelayOptions, type RelayPass } from './relay.ts';
export { NatsEventBus, NATS_HOW_TO_START, type NatsEventBusOptions } from './nats.ts';
export { RabbitMqEventBus, RABBITMQ_HOW_TO_START, type RabbitMqEventBusOptions } from './rabbitmq.ts';
export { consumeIntoEngine, eventSource, toInboundMessage, type EventConsumerOptions } from './consumer.ts';
