import type http from 'node:http';
import https from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from '../observability/logger.ts';
import { correlationIdFrom } from '../observability/correlation.ts';
import { requirePermission, verifySignedBody, type AuthOptions } from './auth.ts';
import type { ApiContext } from './context.ts';
import { healthRoutes } from './routes/health.ts';
import { messageRoutes } from './routes/messages.ts';
import { exceptionRoutes } from './routes/exceptions.ts';
import { replayRoutes } from './routes/replay.ts';
import { inboundRoutes } from './routes/inbound.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { reidentifyRoutes } from './routes/reidentify.ts';
import { contractRoutes } from './routes/contracts.ts';
import { crosswalkRoutes } from './routes/crosswalks.ts';
import { transactionRoutes } from './routes/transactions.ts';
import { receiptRoutes } from './routes/receipts.ts';
import { invoiceMatchRoutes } from './routes/invoice-matches.ts';
import { costAllocationRoutes } from './routes/cost-allocation.ts';
import { kpiRoutes } from './routes/kpis.ts';
import { configRoutes } from './routes/config.ts';
import { consoleRoutes, operationsRoutes } from './routes/console.ts';
import { kpiHistoryRoutes } from './routes/kpi-history.ts';
import { OidcLogin, OidcVerifier } from '../governance/index.ts';
import { consoleLoginRoutes } from './routes/console-login.ts';
import type { Permission } from '../governance/index.ts';
import { RateLimiter } from './rate-limit.ts';

/** A route as registered, with the permission it declares (for the authorization test and audits of the API). */
export interface ApiRoute {
  method: string;
  url: string;
  permission: Permission | undefined;
}

const registered = new WeakMap<FastifyInstance, ApiRoute[]>();

/** Every route the app registered, in registration order. */
export function registeredRoutes(app: FastifyInstance): readonly ApiRoute[] {
  return registered.get(app) ?? [];
}

// Sent on every answer: the API serves JSON and the docs page, neither of which may be framed, sniffed into
// another type, or leak its URL (which may carry ids) to another site.
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
} as const;

/** server.tls read from its files (config/tls.ts); the API then speaks HTTPS only. */
export interface ApiTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
  requestClientCert: boolean;
}

export async function buildApi(context: ApiContext, log: Logger, tls?: ApiTls): Promise<FastifyInstance> {
  const app = Fastify({
    // HTTPS through a server factory keeps the app's type (and every route module's) that of an HTTP server.
    // A client certificate is asked for but not required at the handshake: people still come with bearer
    // tokens; requirePermission accepts only a certificate the handshake verified (socket.authorized).
    ...(tls
      ? {
          serverFactory: (handler: http.RequestListener) =>
            https.createServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requestClientCert, rejectUnauthorized: false }, handler) as unknown as http.Server,
        }
      : {}),
    // pino's Logger is a FastifyBaseLogger; the cast keeps fastify's default instance type for the route modules.
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    // ids come from the correlation id below; fastify's own counter would mean nothing across nodes
    genReqId: (request) => correlationIdFrom({ correlationId: header(request.headers['x-correlation-id']), traceparent: header(request.headers.traceparent) }),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  });
  const routes: ApiRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, permission: route.config?.permission });
  });
  app.decorateRequest('correlationId', '');
  app.addHook('onRequest', async (request, reply) => {
    request.correlationId = request.id;
    void reply.header('x-correlation-id', request.id);
    void reply.headers(SECURITY_HEADERS);
  });

  // Internal failures are logged with their detail and answered without it (no SQL or stack to the client).
  app.setErrorHandler((error: { statusCode?: number; message: string; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: error.code ?? 'bad_request', message: error.message });
    request.log.error({ err: error }, 'request failed');
    return reply.code(status).send({ error: 'internal_error', message: `internal error; correlation id ${request.correlationId}` });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Carelane API', version: '1', description: 'Messages, exceptions, replay and inbound delivery. Every /api route needs a bearer token.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  healthRoutes(app, context);
  // the web console's static files (no data: every number it shows comes through the /api routes below)
  consoleRoutes(app);
  const { oidc } = context.config.auth;
  const oidcVerifier = oidc ? new OidcVerifier(oidc) : undefined;
  // the console's sign-in redirect, when the console has a client id at the issuer (docs/console.md)
  consoleLoginRoutes(app, oidc?.clientId && oidcVerifier ? new OidcLogin({ ...oidc, clientId: oidc.clientId }, oidcVerifier) : undefined);
  await app.register(async (api) => {
    const { rateLimit, signedRequests } = context.config.auth;
    const authOptions: AuthOptions = {
      pool: context.pool,
      oidc: oidcVerifier,
      rateLimiter: rateLimit.perMinute > 0 ? new RateLimiter(rateLimit.perMinute) : undefined,
      signingKeys: new Map(signedRequests.keys.map((key) => [key.id, key])),
      maxSkewSeconds: signedRequests.maxSkewSeconds,
      clientCertificates: new Map((tls?.requestClientCert ? (context.config.server.tls?.clients ?? []) : []).map((client) => [client.commonName, client.name])),
    };
    api.addHook('onRequest', requirePermission(authOptions));
    api.addHook('preHandler', verifySignedBody(authOptions));
    messageRoutes(api, context);
    exceptionRoutes(api, context);
    replayRoutes(api, context);
    tokenRoutes(api, context);
    reidentifyRoutes(api, context);
    contractRoutes(api, context);
    transactionRoutes(api, context);
    receiptRoutes(api, context);
    invoiceMatchRoutes(api, context);
    costAllocationRoutes(api, context);
    kpiRoutes(api, context);
    configRoutes(api, context);
    operationsRoutes(api, context);
    kpiHistoryRoutes(api, context);
    await api.register(crosswalkRoutes(context));
    await api.register(async (inbound) => {
      // Inbound messages are stored byte for byte whatever they claim to be (even broken JSON): the route
      // step validates them later, so a bad one is parked with its evidence instead of bounced unrecorded.
      inbound.removeAllContentTypeParsers();
      inbound.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      inboundRoutes(inbound, context);
    });
  });
  return app;
}

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
