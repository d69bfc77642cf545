import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { authenticate, can, InvalidJwtError, looksLikeJwt, type OidcVerifier, type Permission } from '../governance/index.ts';
import type { RateLimiter } from './rate-limit.ts';

/** Who is calling: an API token (programs) or an OIDC-authenticated person. */
export interface Identity {
  kind: 'api-token' | 'oidc';
  /** the token's name, or the person's subject (sub claim) */
  name: string;
  role: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
    correlationId: string;
  }
  interface FastifyContextConfig {
    /** the permission a route needs; every /api route must declare one */
    permission?: Permission;
  }
}

export interface AuthOptions {
  pool: pg.Pool;
  oidc?: OidcVerifier | undefined;
  rateLimiter?: RateLimiter | undefined;
}

/**
 * Authentication, the permission check and the rate limit, for every route under /api. It runs on onRequest,
 * before the body is parsed or validated, so a caller without the permission learns nothing about a route's
 * schema and a refused request costs no parsing. A route without a declared permission is refused rather
 * than left open by mistake.
 */
export function requirePermission(options: AuthOptions) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a bearer token is required: Authorization: Bearer <token>' });
      return;
    }
    const identity = await identify(options, match[1]!);
    if (!identity) {
      await reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'unauthorized', message: 'the token is unknown, expired, revoked or not valid for this server' });
      return;
    }
    if (options.rateLimiter) {
      const decision = options.rateLimiter.take(`${identity.kind}:${identity.name}`);
      if (!decision.allowed) {
        await reply.code(429).header('retry-after', String(decision.retryAfterSeconds)).send({ error: 'rate_limited', message: `too many requests; retry in ${decision.retryAfterSeconds} s` });
        return;
      }
    }
    const permission = request.routeOptions.config.permission;
    if (!permission || !can(identity.role, permission)) {
      const role = identity.role || 'none';
      await reply.code(403).send({ error: 'forbidden', message: `role "${role}" may not ${permission ?? 'use this route'}` });
      return;
    }
    request.identity = identity;
  };
}

async function identify(options: AuthOptions, bearer: string): Promise<Identity | undefined> {
  if (options.oidc && looksLikeJwt(bearer)) {
    try {
      const person = await options.oidc.verify(bearer);
      // A valid token without a known role is authenticated but may do nothing: an empty role fails every check.
      return { kind: 'oidc', name: person.subject, role: person.role ?? '' };
    } catch (error) {
      if (error instanceof InvalidJwtError) return undefined;
      throw error;
    }
  }
  const token = await authenticate(options.pool, bearer);
  return token && { kind: 'api-token', name: token.name, role: token.role };
}

/** Permissions a route needs beyond its own, decided from the request (e.g. forcing a replay). */
export function hasPermission(request: FastifyRequest, permission: Permission): boolean {
  return request.identity !== undefined && can(request.identity.role, permission);
}

export function actorOf(request: FastifyRequest): string {
  const identity = request.identity;
  if (!identity) return 'token:unknown';
  return identity.kind === 'oidc' ? `oidc:${identity.name}` : `token:${identity.name}`;
}
