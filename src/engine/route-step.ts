import { permanentError } from '../contracts/errors.ts';
import type { DeliveryHandler, HandlerRegistry } from './handlers.ts';
import { loadStoredMessage } from '../store/messages.ts';

/**
 * Checks that a stored payload is well formed for its content type before any flow sees it. Returns facts
 * worth recording on the message's timeline; throws a CarelaneError naming what is wrong and where.
 */
export type PayloadValidator = (payload: Buffer) => Record<string, unknown> | void;

/**
 * The first step of every accepted message: parse and validate it, then hand it to its flow on its lane.
 * Runs as a delivery like any other, so it is retried, parked and replayed by the same rules, and the
 * flow's first delivery is enqueued in the transaction that completes it.
 */
export function routeStep(registry: HandlerRegistry, validators: Record<string, PayloadValidator>): DeliveryHandler {
  return {
    action: 'route',
    async run(delivery, { pool }) {
      if (delivery.messageId === null) throw permanentError('route delivery has no message', { code: 'route_without_message' });
      const message = await loadStoredMessage(pool, delivery.messageId);
      const flow = (delivery.payload as { flow?: string }).flow ?? '';
      const validate = validators[message.contentType];
      const facts = validate ? validate(message.payload) : undefined;
      if (!registry.get(`flow.${flow}`)) throw permanentError(`no flow named "${flow}" is installed`, { code: 'unknown_flow', where: { field: 'routes.flow' } });
      return {
        stages: [
          { stage: 'parsed', detail: { contentType: message.contentType, ...facts } },
          { stage: 'routed', detail: { flow, lane: delivery.lane } },
        ],
        next: [
          {
            lane: delivery.lane,
            action: `flow.${flow}`,
            endpoint: 'internal',
            idempotencyKey: `flow:${flow}:${delivery.messageId}:${delivery.idempotencyKey}`,
            correlationId: delivery.correlationId,
            messageId: delivery.messageId,
            orderingKey: delivery.orderingKey,
            payload: { source: message.source, messageType: message.messageType },
          },
        ],
        inTransaction: async (client) => {
          await client.query(`update carelane.messages set status = 'processing', updated_at = now() where id = $1 and status = 'received'`, [delivery.messageId]);
        },
      };
    },
  };
}

