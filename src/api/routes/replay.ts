import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { replayMessages } from '../../engine/replay.ts';
import { actorOf, hasPermission } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply, ReplayBody, ReplayReply } from '../schemas.ts';

export function replayRoutes(app: FastifyInstance, context: ApiContext): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/api/v1/replay',
    {
      config: { permission: 'replay:run' },
      schema: {
        tags: ['replay'],
        summary: 'Replay messages by id or filter (dry run by default; rate-limited; audited)',
        body: ReplayBody,
        response: { 200: ReplayReply, 400: ErrorReply, 403: ErrorReply },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.force && !hasPermission(request, 'replay:force')) {
        return reply.code(403).send({ error: 'forbidden', message: 'forcing a replay of delivered effects needs the replay:force permission' });
      }
      if (!body.messageIds?.length && !body.filter) return reply.code(400).send({ error: 'bad_request', message: 'give messageIds or a filter' });
      const filter = body.filter
        ? {
            source: body.filter.source,
            type: body.filter.type,
            status: body.filter.status,
            from: body.filter.from ? new Date(body.filter.from) : undefined,
            to: body.filter.to ? new Date(body.filter.to) : undefined,
            q: body.filter.q,
            searchRawPayloads: hasPermission(request, 'messages:read_payload'),
          }
        : undefined;
      const outcome = await replayMessages(context.pool, context.config.routes, {
        messageIds: body.messageIds,
        filter,
        limit: body.limit,
        dryRun: body.dryRun,
        force: body.force,
        reason: body.reason,
        actor: actorOf(request),
        ratePerSecond: context.config.engine.replayRatePerSecond,
      });
      return jsonify(outcome);
    },
  );
}
