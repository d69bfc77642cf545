import type { FastifyInstance } from 'fastify';
import { isSchemaCurrent } from '../../store/migrate.ts';
import type { ApiContext } from '../context.ts';

export function healthRoutes(app: FastifyInstance, context: ApiContext): void {
  // Liveness: the process answers. Never touches the database, so a database outage doesn't get it killed.
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  // Readiness: safe to send traffic — database reachable, schema current, workers running.
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks = { database: false, schema: false, engine: context.engineRunning() };
    try {
      await context.pool.query('select 1');
      checks.database = true;
      checks.schema = await isSchemaCurrent(context.pool);
    } catch {
      // reported below
    }
    const ready = checks.database && checks.schema && checks.engine;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const body = await context.metrics.registry.metrics();
    return reply.header('content-type', context.metrics.registry.contentType).send(body);
  });
}
