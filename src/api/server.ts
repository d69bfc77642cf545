import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from '../observability/logger.ts';
import { correlationIdFrom } from '../observability/correlation.ts';
import { requirePermission } from './auth.ts';
import type { ApiContext } from './context.ts';
import { healthRoutes } from './routes/health.ts';
import { messageRoutes } from './routes/messages.ts';
import { exceptionRoutes } from './routes/exceptions.ts';
import { replayRoutes } from './routes/replay.ts';
import { inboundRoutes } from './routes/inbound.ts';

export async function buildApi(context: ApiContext, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps fastify's default instance type for the route modules.
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: false,
    // ids come from the correlation id below; fastify's own counter would mean nothing across nodes
    genReqId: (request) => correlationIdFrom({ correlationId: header(request.headers['x-correlation-id']), traceparent: header(request.headers.traceparent) }),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  });
  app.decorateRequest('correlationId', '');
  app.addHook('onRequest', async (request, reply) => {
    request.correlationId = request.id;
    void reply.header('x-correlation-id', request.id);
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
  await app.register(async (api) => {
    api.addHook('preHandler', requirePermission(context.pool));
    messageRoutes(api, context);
    exceptionRoutes(api, context);
    replayRoutes(api, context);
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
