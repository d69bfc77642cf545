import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { transactionTimeline } from '../../store/timeline.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply } from '../schemas.ts';

const TimelineEntry = Type.Object({
  at: Type.String({ format: 'date-time' }),
  correlationId: Type.String(),
  kind: Type.String({ description: 'message | stage | delivery | exception | demand | purchase_order' }),
  what: Type.String(),
  status: Type.Optional(Type.String()),
  messageId: Type.Optional(Type.Integer()),
  deliveryId: Type.Optional(Type.Integer()),
  detail: Type.Optional(Type.Unknown()),
});

const TimelineReply = Type.Object({
  correlationId: Type.String(),
  related: Type.Array(Type.Object({ correlationId: Type.String(), relation: Type.String() })),
  entries: Type.Array(TimelineEntry),
});

export function transactionRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/api/v1/transactions/:id',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        summary: "A business transaction's timeline: messages, stages, deliveries, exceptions, demands and purchase orders under one correlation id and the ids linked to it",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: TimelineReply, 404: ErrorReply },
      },
    },
    async (request, reply) => {
      const timeline = await transactionTimeline(context.pool, request.params.id);
      if (!timeline) return reply.code(404).send({ error: 'not_found', message: `no transaction with correlation id ${request.params.id}` });
      return jsonify(timeline);
    },
  );
}
