import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ContractError, decideChangeRequest, listChangeRequests, listContractVersions, proposeContractVersion } from '../../contracts/registry.ts';
import { actorOf } from '../auth.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';
import { ChangeRequestSummary, ContractVersionSummary, DecisionBody, ErrorReply, IdParams, ProposalReply, ProposeContractBody } from '../schemas.ts';

const ContractName = Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,99}$', description: 'contract name, e.g. demand or partner.acme.850' });

/** Contract versions and the change requests breaking versions wait in; every change is audited. */
export function contractRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/contracts',
    {
      config: { permission: 'contracts:read' },
      schema: {
        tags: ['contracts'],
        summary: 'List contract versions, newest first per contract',
        querystring: Type.Object({ name: Type.Optional(ContractName), status: Type.Optional(Type.Enum(['proposed', 'active', 'retired'])) }),
        response: { 200: Type.Object({ versions: Type.Array(ContractVersionSummary) }) },
      },
    },
    async (request) => ({ versions: jsonify(await listContractVersions(context.pool, request.query)) }),
  );

  api.get(
    '/api/v1/contracts/change-requests',
    {
      config: { permission: 'contracts:read' },
      schema: {
        tags: ['contracts'],
        summary: 'List change requests (breaking versions waiting for, or decided by, an admin)',
        querystring: Type.Object({ status: Type.Optional(Type.Enum(['pending', 'approved', 'rejected'])) }),
        response: { 200: Type.Object({ changeRequests: Type.Array(ChangeRequestSummary) }) },
      },
    },
    async (request) => ({ changeRequests: jsonify(await listChangeRequests(context.pool, { status: request.query.status })) }),
  );

  api.post(
    '/api/v1/contracts/:name/versions',
    {
      config: { permission: 'contracts:propose' },
      schema: {
        tags: ['contracts'],
        summary: 'Propose a new schema version: compatible changes activate at once, breaking ones wait for an admin',
        params: Type.Object({ name: ContractName }),
        body: ProposeContractBody,
        response: { 201: ProposalReply, 202: ProposalReply, 404: ErrorReply, 409: ErrorReply },
      },
    },
    async (request, reply) => {
      try {
        const outcome = await proposeContractVersion(context.pool, { name: request.params.name, ...request.body, actor: actorOf(request) });
        return reply.code(outcome.status === 'proposed' ? 202 : 201).send(outcome);
      } catch (error) {
        return contractFailure(error, reply);
      }
    },
  );

  for (const verb of ['approve', 'reject'] as const) {
    api.post(
      `/api/v1/contracts/change-requests/:id/${verb}`,
      {
        config: { permission: 'contracts:approve' },
        schema: {
          tags: ['contracts'],
          summary: verb === 'approve' ? 'Approve a breaking change (not by its proposer): its version becomes active beside the older major' : 'Reject a breaking change: its version is retired unused',
          params: IdParams,
          body: DecisionBody,
          response: { 200: ChangeRequestSummary, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply },
        },
      },
      async (request, reply) => {
        try {
          return jsonify(await decideChangeRequest(context.pool, request.params.id, { approve: verb === 'approve', note: request.body.note, actor: actorOf(request) }));
        } catch (error) {
          return contractFailure(error, reply);
        }
      },
    );
  }
}

function contractFailure(error: unknown, reply: FastifyReply) {
  if (!(error instanceof ContractError)) throw error;
  // four_eyes: the caller may approve change requests, just not this one (they proposed it)
  const status = { not_found: 404, four_eyes: 403, conflict: 409, no_change: 409 }[error.code];
  return reply.code(status).send({ error: error.code, message: error.message });
}
