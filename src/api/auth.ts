import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { authenticate, can, type Permission, type TokenIdentity } from '../governance/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: TokenIdentity;
    correlationId: string;
  }
  interface FastifyContextConfig {
    /** the permission a route needs; every /api route must declare one */
    permission?: Permission;
  }
}

/**
 * Bearer-token authentication and the permission check, for every route under /api. A route without a
 * declared permission is refused rather than left open by mistake.
 */
export function requirePermission(pool: pg.Pool) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'an API token is required: Authorization: Bearer <token>' });
      return;
    }
    const identity = await authenticate(pool, match[1]!);
    if (!identity) {
      await reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'unauthorized', message: 'the token is unknown, expired or revoked' });
      return;
    }
    const permission = request.routeOptions.config.permission;
    if (!permission || !can(identity.role, permission)) {
      await reply.code(403).send({ error: 'forbidden', message: `role "${identity.role}" may not ${permission ?? 'use this route'}` });
      return;
    }
    request.identity = identity;
  };
}

/** Permissions a route needs beyond its own, decided from the request (e.g. forcing a replay). */
export function hasPermission(request: FastifyRequest, permission: Permission): boolean {
  return request.identity !== undefined && can(request.identity.role, permission);
}

export function actorOf(request: FastifyRequest): string {
  return `token:${request.identity?.name ?? 'unknown'}`;
}
