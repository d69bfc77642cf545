import type pg from 'pg';
import { permanentError } from '../contracts/errors.ts';
import type { DeliveryHandler, HandlerRegistry } from './handlers.ts';

/**
 * Checks that a stored payload is well formed for its content type before any flow sees it. Returns facts
 * worth recording on the message's timeline; throws a CarelaneError naming what is wrong and where.
 */
export type PayloadValidator = (payload: Buffer) => Record<string, unknown> | void;

interface StoredMessage {
  source: string;
  message_type: string;
  content_type: string;
  payload: Buffer | null;
}

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
      const message = await loadMessage(pool, delivery.messageId);
      if (!message.payload) throw permanentError('the payload was purged by retention; it cannot be processed again', { code: 'payload_purged' });
      const flow = (delivery.payload as { flow?: string }).flow ?? '';
      const validate = validators[message.content_type];
      const facts = validate ? validate(message.payload) : undefined;
      if (!registry.get(`flow.${flow}`)) throw permanentError(`no flow named "${flow}" is installed`, { code: 'unknown_flow', where: { field: 'routes.flow' } });
      return {
        stages: [
          { stage: 'parsed', detail: { contentType: message.content_type, ...facts } },
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
            payload: { source: message.source, messageType: message.message_type },
          },
        ],
        inTransaction: async (client) => {
          await client.query(`update carelane.messages set status = 'processing', updated_at = now() where id = $1 and status = 'received'`, [delivery.messageId]);
        },
      };
    },
  };
}

async function loadMessage(pool: pg.Pool, id: number): Promise<StoredMessage> {
  const { rows } = await pool.query<StoredMessage>('select source, message_type, content_type, payload from carelane.messages where id = $1', [id]);
  if (!rows[0]) throw permanentError(`message ${id} does not exist`, { code: 'message_missing' });
  return rows[0];
}
