import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ApiContext } from '../context.ts';

// The web console (console/, docs/console.md): a static React bundle served at / by the engine, calling only
// /api/v1 with the person's bearer token. The pages themselves are public (they hold no data); every piece of
// data comes through an API route that checks the caller's permission.

/** console/dist, built by `npm install` (prepare) or `npm run build:console`. */
export const CONSOLE_DIST = path.resolve(import.meta.dirname, '../../../console/dist');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

// Only the console's own bundle runs: no inline script, no other origin, nothing framed; data only from the API.
const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Carelane console</title></head>
<body><h1>The console is not built</h1><p>Run <code>npm run build:console</code> (it runs on <code>npm install</code>), then reload.
The API is at <a href="/docs">/docs</a>.</p></body></html>`;

/** GET / and /assets/*: the console's files, outside the /api scope (no token needed to load the page). */
export function consoleRoutes(app: FastifyInstance, dist: string = CONSOLE_DIST): void {
  // read per request, without blocking the event loop: a rebuilt console is served without a restart
  const sendIndex = async (reply: FastifyReply) => {
    const html = (await readIfExists(path.join(dist, 'index.html'))) ?? NOT_BUILT;
    return reply.header('content-security-policy', CONSOLE_CSP).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  };
  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
  app.get('/console', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/'));
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params;
    // one flat folder of hashed names: anything else (.., slashes, dotfiles) is not ours
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(file) || file.includes('..')) return reply.code(404).send({ error: 'not_found', message: 'no such console file' });
    const content = await readIfExists(path.join(dist, 'assets', file));
    if (!content) return reply.code(404).send({ error: 'not_found', message: 'no such console file' });
    return reply
      .header('content-security-policy', CONSOLE_CSP)
      // file names carry a content hash: a new build has new names
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream')
      .send(content);
  });
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const Bucketed = Type.Object({
  lane: Type.String(),
  endpoint: Type.String(),
  bucket: Type.String({ format: 'date-time' }),
  done: Type.Integer(),
  failed: Type.Integer(),
  p50Seconds: Type.Union([Type.Number(), Type.Null()]),
  p95Seconds: Type.Union([Type.Number(), Type.Null()]),
});

const OperationsReply = Type.Object({
  windowMinutes: Type.Integer(),
  bucketSeconds: Type.Integer(),
  now: Type.String({ format: 'date-time' }),
  deliveries: Type.Array(Bucketed, { description: 'steps ended per lane, endpoint and time bucket: done, parked (failed), latency enqueue→done' }),
  received: Type.Array(Type.Object({ source: Type.String(), bucket: Type.String({ format: 'date-time' }), count: Type.Integer() })),
  queue: Type.Array(
    Type.Object({ lane: Type.String(), endpoint: Type.String(), pending: Type.Integer(), running: Type.Integer(), retrying: Type.Integer(), oldestPendingSeconds: Type.Number() }),
    { description: 'work waiting now, per lane and endpoint; retrying = pending after a failed attempt' },
  ),
  circuits: Type.Array(Type.Object({ endpoint: Type.String(), state: Type.String(), consecutiveFailures: Type.Integer(), retryAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), lastError: Type.Union([Type.String(), Type.Null()]) })),
});

/**
 * GET /api/v1/operations: the technical view's numbers, read from the store (the truth every engine process
 * shares, where /metrics is one process's counters): throughput, failures and latency per lane and endpoint
 * over a window, inbound volume per source, queue depth and circuit states now.
 */
export function operationsRoutes(app: FastifyInstance, context: ApiContext): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/api/v1/operations',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['messages'],
        summary: 'Throughput, failure rate, latency and queue depth per lane and endpoint; circuit states (for the console)',
        querystring: Type.Object({ minutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 10_080, default: 60, description: 'window, up to 7 days' })) }),
        response: { 200: OperationsReply },
      },
    },
    async (request) => {
      const minutes = request.query.minutes ?? 60;
      // about 30 buckets per window, on round sizes so buckets line up between refreshes
      const bucketSeconds = [10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600].find((size) => (minutes * 60) / size <= 36) ?? 21600;
      const since = `now() - make_interval(mins => $1)`;
      const [deliveries, received, queue, circuits, now] = await Promise.all([
        context.pool.query(
          `select lane, endpoint, to_timestamp(floor(extract(epoch from completed_at) / $2) * $2) as bucket,
                  count(*) filter (where status = 'done')::int as done,
                  count(*) filter (where status = 'exception')::int as failed,
                  percentile_cont(0.5) within group (order by extract(epoch from completed_at - created_at)) filter (where status = 'done') as "p50Seconds",
                  percentile_cont(0.95) within group (order by extract(epoch from completed_at - created_at)) filter (where status = 'done') as "p95Seconds"
           from carelane.deliveries
           where completed_at >= ${since} and status in ('done', 'exception')
           group by 1, 2, 3 order by 3, 1, 2`,
          [minutes, bucketSeconds],
        ),
        context.pool.query(
          `select source, to_timestamp(floor(extract(epoch from received_at) / $2) * $2) as bucket, count(*)::int as count
           from carelane.messages where received_at >= ${since} group by 1, 2 order by 2, 1`,
          [minutes, bucketSeconds],
        ),
        context.pool.query(
          `select lane, endpoint,
                  count(*) filter (where status = 'pending')::int as pending,
                  count(*) filter (where status = 'running')::int as running,
                  count(*) filter (where status = 'pending' and attempts > 0)::int as retrying,
                  coalesce(extract(epoch from now() - min(created_at) filter (where status = 'pending')), 0)::float8 as "oldestPendingSeconds"
           from carelane.deliveries where status in ('pending', 'running') group by 1, 2 order by 1, 2`,
        ),
        context.pool.query(
          `select name as endpoint, state, consecutive_failures as "consecutiveFailures", retry_at as "retryAt", last_error as "lastError"
           from carelane.endpoints order by name`,
        ),
        context.pool.query<{ now: Date }>('select now()'),
      ]);
      const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : value);
      const dated = <T extends Record<string, unknown>>(rows: T[], ...keys: string[]) => rows.map((row) => ({ ...row, ...Object.fromEntries(keys.map((key) => [key, iso(row[key])])) }));
      return {
        windowMinutes: minutes,
        bucketSeconds,
        now: now.rows[0]!.now.toISOString(),
        deliveries: dated(deliveries.rows, 'bucket'),
        received: dated(received.rows, 'bucket'),
        queue: queue.rows,
        circuits: dated(circuits.rows, 'retryAt'),
      };
    },
  );
}
