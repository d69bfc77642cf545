import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { redactedConfig } from '../../config/index.ts';
import { can, PERMISSIONS } from '../../governance/index.ts';
import { jsonify } from '../json.ts';
import type { ApiContext } from '../context.ts';

// The configuration as the engine runs it, for the console's read-only configuration views: the file is the
// source of truth (changes go through it and a restart), so nothing here writes. Secrets are redacted by key
// name (redactedConfig: password, secret, token, apiKey, privateKey …) and credentials inside URLs are removed.

const Circuit = Type.Object({
  endpoint: Type.String(),
  state: Type.String(),
  consecutiveFailures: Type.Integer(),
  openedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  retryAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
});

export function configRoutes(app: FastifyInstance, context: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/config',
    {
      config: { permission: 'config:read' },
      schema: {
        tags: ['config'],
        summary: 'The running configuration with secrets redacted: flows and modes, routes, lanes, endpoints and their circuits, ownership, owners and SLAs',
        response: {
          200: Type.Object({
            config: Type.Unknown({ description: 'carelane.yaml as validated, defaults filled in, secrets shown as [set]' }),
            circuits: Type.Array(Circuit, { description: 'circuit breaker state of every endpoint the engine has called' }),
          }),
        },
      },
    },
    async () => {
      const { rows } = await context.pool.query(
        `select name as endpoint, state, consecutive_failures as "consecutiveFailures", opened_at as "openedAt", retry_at as "retryAt", last_error as "lastError"
         from carelane.endpoints order by name`,
      );
      return { config: redactedConfig(context.config), circuits: jsonify(rows) };
    },
  );

  api.get(
    '/api/v1/me',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['config'],
        summary: 'Who the caller is and what the role may do (the console hides what it cannot do; the server still checks every call)',
        response: {
          200: Type.Object({ kind: Type.String(), name: Type.String(), role: Type.String(), permissions: Type.Array(Type.String()), oidcConfigured: Type.Boolean() }),
        },
      },
    },
    async (request) => {
      const identity = request.identity!;
      return {
        kind: identity.kind,
        name: identity.name,
        role: identity.role,
        permissions: PERMISSIONS.filter((permission) => can(identity.role, permission)),
        oidcConfigured: context.config.auth.oidc !== undefined,
      };
    },
  );
}
