import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { OidcLoginError, type OidcLogin } from '../../governance/index.ts';
import { RateLimiter } from '../rate-limit.ts';

// The console's sign-in redirect (docs/console.md "Signing in"), outside /api: the person has no token yet.
// GET tells the console where to send the browser; POST relays the authorization code with the browser's PKCE
// verifier to the issuer's token endpoint and answers the bearer token (src/governance/oidc-login.ts). Neither
// holds data; the POST is rate limited per client address, as each one calls the identity provider.

const SIGN_INS_PER_MINUTE = 20;

const LoginOptionsReply = Type.Union([
  Type.Object({ enabled: Type.Literal(false) }),
  Type.Object({
    enabled: Type.Literal(true),
    issuer: Type.String(),
    authorizationEndpoint: Type.String(),
    clientId: Type.String(),
    redirectUri: Type.Union([Type.String(), Type.Null()], { description: "null: the console's own address (<origin>/)" }),
    scope: Type.String(),
  }),
]);

const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() });

export function consoleLoginRoutes(app: FastifyInstance, login: OidcLogin | undefined): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const limiter = new RateLimiter(SIGN_INS_PER_MINUTE);

  api.get(
    '/console/oidc',
    {
      schema: {
        tags: ['console'],
        summary: "The console's OpenID Connect sign-in: the issuer's authorization endpoint, client id, redirect URI and scope (no token needed)",
        security: [],
        response: { 200: LoginOptionsReply, 502: ErrorReply },
      },
    },
    async (_request, reply) => {
      if (!login) return { enabled: false as const };
      try {
        return { enabled: true as const, ...(await login.options()) };
      } catch (error) {
        if (error instanceof OidcLoginError) return reply.code(502).send({ error: 'oidc_unavailable', message: error.message });
        throw error;
      }
    },
  );

  api.post(
    '/console/oidc/token',
    {
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['console'],
        summary: 'Relays an authorization code and its PKCE verifier to the issuer; answers the bearer token for the API (no token needed)',
        security: [],
        body: Type.Object(
          {
            code: Type.String({ minLength: 1, maxLength: 4096 }),
            codeVerifier: Type.String({ minLength: 43, maxLength: 128 }),
            redirectUri: Type.String({ pattern: '^https?://', maxLength: 2048 }),
            nonce: Type.String({ minLength: 16, maxLength: 256 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), tokenType: Type.String(), expiresIn: Type.Union([Type.Number(), Type.Null()]), subject: Type.String(), role: Type.String() }),
          400: ErrorReply,
          404: ErrorReply,
          429: ErrorReply,
          502: ErrorReply,
        },
      },
    },
    async (request, reply) => {
      if (!login) return reply.code(404).send({ error: 'not_found', message: 'sign-in with OpenID Connect is not configured (auth.oidc.clientId)' });
      const decision = limiter.take(request.ip);
      if (!decision.allowed) {
        return reply.code(429).header('retry-after', String(decision.retryAfterSeconds)).send({ error: 'rate_limited', message: `too many sign-ins from this address; retry in ${decision.retryAfterSeconds} s` });
      }
      // the answer is a credential: never cached (as RFC 6749 §5.1 asks of the token endpoint itself)
      void reply.header('cache-control', 'no-store');
      try {
        return await login.exchange(request.body);
      } catch (error) {
        if (error instanceof OidcLoginError) {
          request.log.warn({ status: error.status, reason: error.message }, 'console sign-in refused');
          return reply.code(error.status).send({ error: error.status === 400 ? 'sign_in_refused' : 'oidc_unavailable', message: error.message });
        }
        throw error;
      }
    },
  );
}
