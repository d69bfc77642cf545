import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { reidentify, UnknownTokenError } from '../../governance/index.ts';
import { actorOf } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ErrorReply, ReidentifyBody, ReidentifyReply } from '../schemas.ts';

/** The one way from a patient token back to the identifier: needs phi:reidentify and a reason; always audited. */
export function reidentifyRoutes(app: FastifyInstance, context: ApiContext): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/api/v1/reidentify',
    {
      config: { permission: 'phi:reidentify' },
      schema: {
        tags: ['governance'],
        summary: 'Re-identify a patient token (audited with who and why)',
        body: ReidentifyBody,
        response: { 200: ReidentifyReply, 404: ErrorReply, 409: ErrorReply },
      },
    },
    async (request, reply) => {
      if (!context.tokenizer) return reply.code(409).send({ error: 'not_configured', message: 'patient tokenization is not configured (governance.tokenization)' });
      try {
        const identifier = await reidentify(context.pool, context.tokenizer, { token: request.body.token, reason: request.body.reason, actor: actorOf(request) });
        return { token: request.body.token, identifier };
      } catch (error) {
        if (error instanceof UnknownTokenError) return reply.code(404).send({ error: 'not_found', message: error.message });
        throw error;
      }
    },
  );
}
