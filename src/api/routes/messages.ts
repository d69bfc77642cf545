import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getMessage, listMessages } from '../../store/browse.ts';
import { EditReplayConflictError, editAndReplay } from '../../engine/edit-replay.ts';
import { maskPayload, maskStructured } from '../../governance/phi-mask.ts';
import { actorOf, hasPermission } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { EditReplayBody, EditReplayReply, ErrorReply, IdParams, MessageDetail, MessageQuery, MessageSummary } from '../schemas.ts';

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
        q: q.q,
        // raw payloads may hold PHI: searching them would tell a role that may not read them what they contain
        searchRawPayloads: hasPermission(request, 'messages:read_payload'),
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
        querystring: Type.Object({
          payload: Type.Optional(Type.Boolean({ default: false, description: 'the payload as received (messages:read_payload)' })),
          masked: Type.Optional(Type.Boolean({ default: false, description: 'the payload with PHI masked (messages:read is enough)' })),
        }),
        response: { 200: MessageDetail, 403: ErrorReply, 404: ErrorReply },
      },
    },
    async (request, reply) => {
      const wantsPayload = request.query.payload === true;
      if (wantsPayload && !hasPermission(request, 'messages:read_payload')) {
        return reply.code(403).send({ error: 'forbidden', message: 'reading payloads needs the messages:read_payload permission' });
      }
      const wantsMasked = !wantsPayload && request.query.masked === true;
      const message = await getMessage(context.pool, request.params.id, wantsPayload || wantsMasked);
      if (!message) return reply.code(404).send({ error: 'not_found', message: `message ${request.params.id} does not exist` });
      if (!wantsMasked) return jsonify(message);
      const masked = message.payload === null ? undefined : maskPayload(message.payload, message.contentType);
      return jsonify({
        ...message,
        payload: masked && masked.method !== 'withheld' ? masked.text : null,
        payloadMasking: masked?.method ?? 'withheld',
        ackPayload: null,
        deliveries: message.deliveries.map((delivery) => ({ ...delivery, payload: maskStructured(delivery.payload) })),
      });
    },
  );

  api.post(
    '/api/v1/messages/:id/edit-replay',
    {
      config: { permission: 'replay:edit' },
      schema: {
        tags: ['replay'],
        summary: 'Edit and replay: store a corrected copy as a new message linked to the original (same correlation id), route it, close the original’s open exceptions as superseded (audited)',
        params: IdParams,
        body: EditReplayBody,
        response: { 201: EditReplayReply, 404: ErrorReply, 409: ErrorReply },
      },
    },
    async (request, reply) => {
      try {
        const outcome = await editAndReplay(context.pool, context.config.routes, {
          messageId: request.params.id,
          payload: Buffer.from(request.body.payload, 'utf8'),
          contentType: request.body.contentType,
          actor: actorOf(request),
          reason: request.body.reason,
        }, { onSettled: context.onSettled, unroutedLane: context.unroutedLane });
        if (!outcome) return reply.code(404).send({ error: 'not_found', message: `message ${request.params.id} does not exist` });
        return reply.code(201).send(outcome);
      } catch (error) {
        if (error instanceof EditReplayConflictError) return reply.code(409).send({ error: 'in_progress', message: error.message });
        throw error;
      }
    },
  );
}
