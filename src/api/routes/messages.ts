import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getMessage, listMessages } from '../../store/browse.ts';
import { hasPermission } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply, IdParams, MessageDetail, MessageQuery, MessageSummary } from '../schemas.ts';

export function messageRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/messages',
    {
      config: { permission: 'messages:read' },
      schema: { tags: ['messages'], summary: 'List messages, newest first', querystring: MessageQuery, response: { 200: Type.Object({ messages: Type.Array(MessageSummary) }) } },
    },
    async (request) => {
      const q = request.query;
      const messages = await listMessages(context.pool, {
        source: q.source,
        type: q.type,
        status: q.status,
        correlationId: q.correlationId,
        externalId: q.externalId,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        before: q.before,
        limit: q.limit,
      });
      return { messages: jsonify(messages) };
    },
  );

  api.get(
    '/api/v1/messages/:id',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        summary: 'One message with its stages, deliveries and exceptions',
        params: IdParams,
        querystring: Type.Object({ payload: Type.Optional(Type.Boolean({ default: false })) }),
        response: { 200: MessageDetail, 403: ErrorReply, 404: ErrorReply },
      },
    },
    async (request, reply) => {
      const wantsPayload = request.query.payload === true;
      if (wantsPayload && !hasPermission(request, 'messages:read_payload')) {
        return reply.code(403).send({ error: 'forbidden', message: 'reading payloads needs the messages:read_payload permission' });
      }
      const message = await getMessage(context.pool, request.params.id, wantsPayload);
      if (!message) return reply.code(404).send({ error: 'not_found', message: `message ${request.params.id} does not exist` });
      return jsonify(message);
    },
  );
}
