import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { findRoute } from '../../engine/index.ts';
import { countPendingOnLane } from '../../store/messages.ts';
import { inTransaction } from '../../store/database.ts';
import { appendAudit } from '../../governance/index.ts';
import { actorOf } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply, InboundReply } from '../schemas.ts';

/**
 * The generic HTTP inbound endpoint: any system may POST a message here. It is stored before the 2xx is sent
 * (202 for a new message, 200 for a duplicate of one already stored); an empty body is stored as rejected
 * and answered 400. The sender's id (X-Message-Id) makes retries safe.
 */
export function inboundRoutes(app: FastifyInstance, context: ApiContext): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/api/v1/inbound/:source',
    {
      config: { permission: 'messages:ingest', acceptsSignedRequests: true },
      bodyLimit: context.config.mllp.maxMessageBytes,
      schema: {
        tags: ['inbound'],
        summary: 'Deliver a message to Carelane (any content type)',
        params: Type.Object({ source: Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,63}$' }) }),
        headers: Type.Object({
          'x-message-id': Type.Optional(Type.String({ maxLength: 200 })),
          'x-message-type': Type.Optional(Type.String({ maxLength: 100 })),
          'x-carelane-key-id': Type.Optional(Type.String({ maxLength: 64, description: 'signed requests: the key id (instead of a bearer token)' })),
          'x-carelane-timestamp': Type.Optional(Type.String({ maxLength: 12, description: 'signed requests: seconds since the epoch' })),
          'x-carelane-signature': Type.Optional(Type.String({ maxLength: 80, description: 'signed requests: hex HMAC-SHA256 of "<timestamp>.<METHOD>.<path>.<body>"' })),
        }),
        response: { 200: InboundReply, 202: InboundReply, 400: ErrorReply, 503: ErrorReply },
      },
    },
    async (request, reply) => {
      const source = `http:${request.params.source}`;
      const messageType = request.headers['x-message-type'] ?? 'unknown';
      const payload = toBuffer(request.body);
      const route = findRoute(context.config.routes, source, messageType);
      const lane = route ? context.config.engine.lanes[route.lane] : undefined;
      if (route && lane && lane.maxBacklog > 0 && (await countPendingOnLane(context.pool, route.lane)) >= lane.maxBacklog) {
        // Backpressure before storing: the sender keeps the message and retries; nothing is lost.
        return reply.code(503).header('retry-after', '5').send({ error: 'backlog_full', message: `lane ${route.lane} is above its backlog limit; retry later` });
      }
      const empty = payload.length === 0;
      const result = await context.ingest.accept({
        source,
        messageType,
        externalId: request.headers['x-message-id'] ?? null,
        payload,
        contentType: request.headers['content-type'] ?? 'application/octet-stream',
        correlationId: request.correlationId,
        ...(empty ? { rejectedReason: 'empty body' } : {}),
      });
      context.ingest.acknowledge(result.messageId);
      if (request.identity?.kind === 'signed-request') {
        // which key delivered what: the key id (never the signature) goes into the audit chain
        await inTransaction(context.pool, (tx) =>
          appendAudit(tx, { actor: actorOf(request), action: 'inbound.signed', targetType: 'message', targetId: String(result.messageId), detail: { keyId: request.identity?.name ?? null, source, duplicate: result.duplicate } }),
        );
      }
      const answer = { messageId: result.messageId, correlationId: result.correlationId, duplicate: result.duplicate, status: result.status };
      if (empty) return reply.code(400).send({ error: 'empty_body', message: `the request body is empty; stored as rejected message ${result.messageId}` });
      return reply.code(result.duplicate ? 200 : 202).send(answer);
    },
  );
}

function toBuffer(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}
