import { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import {
  authenticate,
  can,
  checkSignatureHeaders,
  claimSignature,
  InvalidJwtError,
  looksLikeJwt,
  SIGNATURE_HEADERS,
  signatureMatches,
  signRequest,
  type OidcVerifier,
  type Permission,
  type SignatureProblem,
  type SigningKey,
} from '../governance/index.ts';
import type { RateLimiter } from './rate-limit.ts';

/**
 * Who is calling: an API token (programs), an OIDC-authenticated person, or a system identified by a signed
 * request (its key id) or a client certificate (the name its subject CN is mapped to).
 */
export interface Identity {
  kind: 'api-token' | 'oidc' | 'signed-request' | 'client-certificate';
  /** the token's name, the person's subject (sub claim), the signing key id or the certificate's system name */
  name: string;
  role: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
    correlationId: string;
    /** a signed request whose headers passed; its body is checked in the preHandler (verifySignedBody) */
    pendingSignature?: { key: SigningKey; timestamp: number; signature: string };
  }
  interface FastifyContextConfig {
    /** the permission a route needs; every /api route must declare one */
    permission?: Permission;
    /** a system may sign the request (auth.signedRequests) instead of sending a bearer token */
    acceptsSignedRequests?: boolean;
  }
}

export interface AuthOptions {
  pool: pg.Pool;
  oidc?: OidcVerifier | undefined;
  rateLimiter?: RateLimiter | undefined;
  /** auth.signedRequests keys by id */
  signingKeys?: ReadonlyMap<string, SigningKey> | undefined;
  maxSkewSeconds?: number | undefined;
  /** server.tls.clients: client certificate subject CN → system name */
  clientCertificates?: ReadonlyMap<string, string> | undefined;
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
    let identity: Identity | undefined;
    if (match) {
      identity = await identify(options, match[1]!);
    } else {
      const signed = signedRequestIdentity(request, options);
      if (typeof signed === 'string') {
        await reply.code(401).send({ error: 'unauthorized', message: `signed request refused: ${signed}` });
        return;
      }
      identity = clientCertificateIdentity(request, options) ?? signed;
      if (!identity) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a bearer token is required: Authorization: Bearer <token>' });
        return;
      }
    }
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

/** A client certificate that the TLS handshake verified against server.tls.ca, whose CN is a configured system. */
function clientCertificateIdentity(request: FastifyRequest, options: AuthOptions): Identity | undefined {
  const socket = request.raw.socket;
  if (!options.clientCertificates?.size || !(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const commonName = socket.getPeerCertificate().subject?.CN;
  const name = typeof commonName === 'string' ? options.clientCertificates.get(commonName) : undefined;
  return name === undefined ? undefined : { kind: 'client-certificate', name, role: 'system' };
}

/**
 * The body-free half of a signed request's check (key, source, timestamp window), so a stale or unknown
 * signature is refused before the body is read. The caller becomes a `system` only provisionally: the
 * signature itself is verified over the body in verifySignedBody, before any handler runs.
 */
function signedRequestIdentity(request: FastifyRequest, options: AuthOptions): Identity | SignatureProblem | undefined {
  const signature = headerValue(request.headers[SIGNATURE_HEADERS.signature]);
  if (!signature || !options.signingKeys?.size || !request.routeOptions.config.acceptsSignedRequests) return undefined;
  const source = (request.params as { source?: string }).source ?? '';
  const checked = checkSignatureHeaders(
    options.signingKeys,
    { keyId: headerValue(request.headers[SIGNATURE_HEADERS.keyId]) ?? '', timestamp: headerValue(request.headers[SIGNATURE_HEADERS.timestamp]) ?? '' },
    source,
    options.maxSkewSeconds ?? 300,
  );
  if ('problem' in checked) return checked.problem;
  request.pendingSignature = { key: checked.key, timestamp: checked.timestamp, signature };
  return { kind: 'signed-request', name: checked.key.id, role: 'system' };
}

/** preHandler for every /api route: a signed request's HMAC over the body, then its one-time use. */
export function verifySignedBody(options: AuthOptions) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const pending = request.pendingSignature;
    if (!pending) return;
    const body = Buffer.isBuffer(request.body) ? request.body : typeof request.body === 'string' ? request.body : request.body === undefined ? '' : JSON.stringify(request.body);
    const expected = signRequest(pending.key.secret, pending.timestamp, request.method, request.url, body);
    if (!signatureMatches(expected, pending.signature)) {
      await reply.code(401).send({ error: 'unauthorized', message: 'the request signature does not match' });
      return;
    }
    if (!(await claimSignature(options.pool, pending.key.id, expected, options.maxSkewSeconds ?? 300))) {
      await reply.code(401).send({ error: 'unauthorized', message: 'this signed request was already received (replay)' });
      return;
    }
    request.pendingSignature = undefined;
  };
}

const headerValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Permissions a route needs beyond its own, decided from the request (e.g. forcing a replay). */
export function hasPermission(request: FastifyRequest, permission: Permission): boolean {
  return request.identity !== undefined && can(request.identity.role, permission);
}

export function actorOf(request: FastifyRequest): string {
  const identity = request.identity;
  if (!identity) return 'token:unknown';
  const prefix = { 'api-token': 'token', oidc: 'oidc', 'signed-request': 'key', 'client-certificate': 'cert' } as const;
  return `${prefix[identity.kind]}:${identity.name}`;
}
