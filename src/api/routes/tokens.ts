import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { appendAudit, createToken, listTokens, revokeToken } from '../../governance/index.ts';
import { inTransaction } from '../../store/database.ts';
import { actorOf } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { CreatedToken, CreateTokenBody, ErrorReply, TokenName, TokenSummary } from '../schemas.ts';

/** API token management for admins: every creation and revocation is in the audit chain with who did it. */
export function tokenRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/tokens',
    {
      config: { permission: 'tokens:manage' },
      schema: { tags: ['tokens'], summary: 'List API tokens (names, roles, dates; never the token or its hash)', response: { 200: Type.Object({ tokens: Type.Array(TokenSummary) }) } },
    },
    async () => ({ tokens: jsonify(await listTokens(context.pool)) }),
  );

  api.post(
    '/api/v1/tokens',
    {
      config: { permission: 'tokens:manage' },
      schema: { tags: ['tokens'], summary: 'Create an API token; the answer is the only time it is shown', body: CreateTokenBody, response: { 201: CreatedToken, 400: ErrorReply, 409: ErrorReply } },
    },
    async (request, reply) => {
      const { name, role } = request.body;
      const expiresAt = request.body.expiresAt ? new Date(request.body.expiresAt) : undefined;
      if (expiresAt && expiresAt.getTime() <= Date.now()) return reply.code(400).send({ error: 'bad_request', message: 'expiresAt is in the past' });
      const token = await inTransaction(context.pool, async (tx) => {
        const taken = await tx.query('select 1 from carelane.api_tokens where name = $1', [name]);
        if (taken.rowCount) return undefined;
        const created = await createToken(tx, name, role, expiresAt);
        await appendAudit(tx, { actor: actorOf(request), action: 'token.create', targetType: 'api_token', targetId: name, detail: { role, expiresAt: expiresAt?.toISOString() ?? null } });
        return created;
      });
      if (!token) return reply.code(409).send({ error: 'exists', message: `a token named "${name}" exists (revoked names are not reused)` });
      return reply.code(201).send({ name, role, expiresAt: expiresAt?.toISOString() ?? null, token });
    },
  );

  api.delete(
    '/api/v1/tokens/:name',
    {
      config: { permission: 'tokens:manage' },
      schema: { tags: ['tokens'], summary: 'Revoke an API token at once', params: Type.Object({ name: TokenName }), response: { 204: Type.Null(), 404: ErrorReply } },
    },
    async (request, reply) => {
      const { name } = request.params;
      const revoked = await inTransaction(context.pool, async (tx) => {
        if (!(await revokeToken(tx, name))) return false;
        await appendAudit(tx, { actor: actorOf(request), action: 'token.revoke', targetType: 'api_token', targetId: name });
        return true;
      });
      if (!revoked) return reply.code(404).send({ error: 'not_found', message: `no active token named "${name}"` });
      return reply.code(204).send(null);
    },
  );
}
