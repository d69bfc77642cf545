import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listExceptions } from '../../store/browse.ts';
import { ExceptionNotOpenError, ResolutionRefusedError, resolveException } from '../../engine/exceptions.ts';
import { OwnershipRules } from '../../governance/ownership.ts';
import { actorOf } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply, ExceptionQuery, ExceptionWithSla, IdParams, ResolveBody } from '../schemas.ts';

export function exceptionRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/exceptions',
    {
      config: { permission: 'exceptions:read' },
      schema: { tags: ['exceptions'], summary: 'List exceptions, newest first, with owners and SLA', querystring: ExceptionQuery, response: { 200: Type.Object({ exceptions: Type.Array(ExceptionWithSla) }) } },
    },
    async (request) => {
      const exceptions = await listExceptions(context.pool, request.query);
      const { rows } = await context.pool.query<{ id: number; breached_at: Date | null }>('select id::int as id, breached_at from carelane.exceptions where id = any ($1)', [exceptions.map((e) => e.id)]);
      const breachedAt = new Map(rows.map((row) => [row.id, row.breached_at]));
      const owners = context.config.owners.exceptions;
      return {
        exceptions: jsonify(
          exceptions.map((exception) => {
            const owner = owners[exception.type];
            return {
              ...exception,
              owner: owner ? { business: owner.business, technical: owner.technical } : null,
              slaMinutes: owner?.slaMinutes ?? null,
              slaDueAt: owner ? new Date(new Date(exception.createdAt).getTime() + owner.slaMinutes * 60_000) : null,
              breachedAt: breachedAt.get(exception.id) ?? null,
              runbook: owner?.runbook ?? null,
            };
          }),
        ),
      };
    },
  );

  const resolved = Type.Object({ id: Type.Integer(), action: Type.String(), deliveryId: Type.Union([Type.Integer(), Type.Null()]), messageId: Type.Union([Type.Integer(), Type.Null()]) });

  api.post(
    '/api/v1/exceptions/:id/resolve',
    {
      config: { permission: 'exceptions:resolve' },
      schema: { tags: ['exceptions'], summary: 'Resolve an exception: replay, dismiss or cancel, with a note', params: IdParams, body: ResolveBody, response: { 200: resolved, 409: ErrorReply } },
    },
    async (request, reply) => {
      try {
        const { masterData } = context.config;
        const ownership = new OwnershipRules({ domains: masterData.owners, fields: masterData.fieldOwners });
        const result = await resolveException(context.pool, request.params.id, { action: request.body.action, note: request.body.note, actor: actorOf(request) }, { ownership, onSettled: context.onSettled });
        return { id: request.params.id, action: request.body.action, ...result };
      } catch (error) {
        if (error instanceof ExceptionNotOpenError) return reply.code(409).send({ error: 'not_open', message: error.message });
        if (error instanceof ResolutionRefusedError) return reply.code(409).send({ error: 'refused', message: error.message });
        throw error;
      }
    },
  );

  api.post(
    '/api/v1/exceptions/:id/replay',
    {
      config: { permission: 'replay:run' },
      schema: {
        tags: ['exceptions'],
        summary: "Replay an exception's parked delivery (same idempotency key)",
        params: IdParams,
        body: Type.Object({ note: Type.String({ minLength: 1 }) }),
        response: { 200: resolved, 409: ErrorReply },
      },
    },
    async (request, reply) => {
      try {
        const result = await resolveException(context.pool, request.params.id, { action: 'replay', note: request.body.note, actor: actorOf(request) });
        return { id: request.params.id, action: 'replay', ...result };
      } catch (error) {
        if (error instanceof ExceptionNotOpenError) return reply.code(409).send({ error: 'not_open', message: error.message });
        throw error;
      }
    },
  );
}
